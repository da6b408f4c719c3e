"""Downloadable templates: the canonical header of a kind and one example row."""

from __future__ import annotations

import csv
import io

from customers.importers.columns import SPECS


def template_rows(kind: str) -> tuple[list[str], list[str]]:
    columns = SPECS[kind].columns
    return [c.name for c in columns], [c.example for c in columns]


def template_csv(kind: str) -> bytes:
    header, example = template_rows(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerow(example)
    # UTF-8 with a BOM so Excel opens the Chinese example text correctly.
    return buffer.getvalue().encode("utf-8-sig")


def template_xlsx(kind: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    header, example = template_rows(kind)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = kind
    sheet.append(header)
    sheet.append(example)
    for index, name in enumerate(header, start=1):
        sheet.cell(row=1, column=index).font = Font(bold=True)
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(12, len(name) + 2)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
