"""Exports of the filtered customer list: CSV (streamed) and XLSX (openpyxl write-only).

Both read the list with ONE query (values_list over the filtered queryset, open AR as a correlated
subquery) whatever the number of customers, and stream it in chunks.
"""

from __future__ import annotations

import csv
import tempfile
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import AttributeDefinition, Invoice, InvoiceStatus

CHUNK_SIZE = 2000
CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=18, decimal_places=2)
BASE_COLUMNS = [
    ("code", "code"),
    ("name", "name"),
    ("registration_no", "registration_no"),
    ("country", "country"),
    ("region", "region"),
    ("industry", "industry"),
    ("size", "size"),
    ("group_code", "group__code"),
    ("relationship_start", "relationship_start"),
    ("status", "status"),
    ("owner", "owner__username"),
    ("currency", "currency"),
    ("grade", "current_grade"),
    ("score", "current_score"),
    ("pd", "current_pd"),
    ("open_ar", "export_open_ar"),
    ("attributes", "attributes"),
]


def _open_ar_subquery():
    """Open AR today: what is unpaid on invoices issued so far (written-off and cancelled excluded)."""
    open_amounts = (
        Invoice.objects.filter(customer_id=OuterRef("pk"), status=InvoiceStatus.OPEN,
                               issue_date__lte=timezone.localdate())
        .order_by()
        .values("customer_id")
        .annotate(total=Sum(ExpressionWrapper(F("amount") - F("amount_paid"), output_field=MONEY)))
        .values("total")[:1]
    )
    return Coalesce(Subquery(open_amounts, output_field=MONEY), Value(Decimal("0")), output_field=MONEY)


def header(definitions: list[AttributeDefinition]) -> list[str]:
    return [name for name, _field in BASE_COLUMNS if name != "attributes"] + [d.key for d in definitions]


def rows(queryset, definitions: list[AttributeDefinition]):
    """Yield one list per customer in export column order (one SQL query, fetched in chunks)."""
    fields = [field for _name, field in BASE_COLUMNS]
    values = (queryset.select_related(None).annotate(export_open_ar=_open_ar_subquery())
              .values_list(*fields).iterator(chunk_size=CHUNK_SIZE))
    keys = [d.key for d in definitions]
    open_ar_at = fields.index("export_open_ar")
    for record in values:
        *base, attributes = record
        # SQLite sums lose the scale: always export cents
        base[open_ar_at] = Decimal(str(base[open_ar_at] or 0)).quantize(CENT)
        attributes = attributes or {}
        yield [_cell(v) for v in base] + [_cell(attributes.get(k)) for k in keys]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class _Echo:
    """A file-like object whose write() returns the line (csv.writer into a streaming response)."""

    def write(self, value):
        return value


def _filename(ext: str) -> str:
    return f"customers-{timezone.localdate().isoformat()}.{ext}"


def customers_csv_response(queryset, *, definitions) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # a BOM, so Excel opens UTF-8 (Chinese names) correctly
        yield writer.writerow(header(definitions))
        for row in rows(queryset, definitions):
            yield writer.writerow([_safe_csv(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


def _safe_csv(value):
    """Neutralise spreadsheet formulas in text cells (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def customers_xlsx_response(queryset, *, definitions) -> FileResponse:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Customers")[:31])
    sheet.append(header(definitions))
    for row in rows(queryset, definitions):
        sheet.append([float(v) if isinstance(v, Decimal) else _safe_csv(v) for v in row])
    # Write-only workbooks stream rows to a temp file; the response streams that file back.
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by FileResponse
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=_filename("xlsx"),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
