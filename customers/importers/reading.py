"""Reading CSV and XLSX files as a stream of rows, whatever the encoding and delimiter.

A Table can be iterated more than once (the importer validates in one pass and writes in a
second); each pass reopens the file, so memory stays bounded by one row.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from creditrisk.core.exceptions import DomainError

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
DELIMITERS = ",;\t|"
_BLOCK = 1 << 20


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (unreadable, empty, wrong columns)."""

    def __init__(self, message: str, *, errors: dict | None = None):
        super().__init__(message, errors=errors, code="import_file")


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as handle:
            while block := handle.read(_BLOCK):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """utf-8 (BOM or not), then GB18030 (Chinese Excel, a superset of GBK), then charset-normalizer's guess."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes(path, encoding):
            return encoding
    from charset_normalizer import from_path

    best = from_path(path, steps=8, chunk_size=4096).best()
    if best is not None and _decodes(path, best.encoding):
        return best.encoding
    raise ImportFileError(_("The file's text encoding could not be recognised; save it as UTF-8 or give the encoding."))


def _sniff_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines() if line.strip()][:20]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


class Table:
    """Header plus a re-iterable stream of (row number as the user sees it, cells) pairs."""

    format = ""

    def __init__(self, path: Path):
        self.path = path
        self.header: list = []

    def rows(self) -> Iterator[tuple[int, list]]:
        raise NotImplementedError


class CsvTable(Table):
    format = "csv"

    def __init__(self, path: Path, encoding: str | None = None):
        super().__init__(path)
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ImportFileError(_("Unknown text encoding %(enc)s.") % {"enc": encoding[:40]}) from None
            self.encoding = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
        else:
            self.encoding = detect_encoding(path)
        with self._open() as text:
            try:
                sample = text.read(64 * 1024)
            except UnicodeDecodeError:
                raise self._decode_error(1) from None
        self.delimiter = _sniff_delimiter(sample)
        iterator = self.rows(with_header=True)
        first = next(iterator, None)
        if first is None:
            raise ImportFileError(_("The file is empty."))
        self.header = first[1]

    def _open(self):
        return io.TextIOWrapper(self.path.open("rb"), encoding=self.encoding, errors="strict", newline="")

    def _decode_error(self, row: int) -> ImportFileError:
        return ImportFileError(_("The file cannot be read as %(enc)s (near row %(row)d); give the right encoding.")
                               % {"enc": self.encoding, "row": row})

    def rows(self, with_header: bool = False) -> Iterator[tuple[int, list]]:
        number = 0
        with self._open() as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError:
                    raise self._decode_error(number + 1) from None
                except csv.Error as exc:
                    raise ImportFileError(_("Row %(row)d is not valid CSV: %(error)s")
                                          % {"row": number + 1, "error": str(exc)[:200]}) from None
                number += 1
                if number == 1:
                    if with_header:
                        yield number, cells
                    continue
                yield number, cells


class XlsxTable(Table):
    format = "xlsx"
    encoding = None

    def __init__(self, path: Path):
        super().__init__(path)
        iterator = self.rows(with_header=True)
        try:
            first = next(iterator, None)
        finally:
            iterator.close()
        if first is None:
            raise ImportFileError(_("The file is empty."))
        self.header = first[1]

    def rows(self, with_header: bool = False) -> Iterator[tuple[int, list]]:
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise ImportFileError(_("The Excel file cannot be opened (%(error)s).") % {"error": str(exc)[:200]}) from None
        try:
            if not workbook.worksheets:
                return
            sheet = workbook.worksheets[0]
            number = 0
            try:
                for values in sheet.iter_rows(values_only=True):
                    number += 1
                    if number == 1 and not with_header:
                        continue
                    yield number, list(values)
            except ImportFileError:
                raise
            except Exception as exc:
                raise ImportFileError(_("The Excel file is damaged near row %(row)d (%(error)s).")
                                      % {"row": number + 1, "error": str(exc)[:200]}) from None
        finally:
            workbook.close()


def open_table(path: Path | str, *, encoding: str | None = None) -> Table:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise ImportFileError(_("The file cannot be read (%(error)s).") % {"error": exc.strerror or exc}) from None
    if not head:
        raise ImportFileError(_("The file is empty."))
    if head.startswith(OLE_MAGIC):
        raise ImportFileError(_("Old Excel .xls files are not supported; save the sheet as .xlsx or CSV."))
    if head.startswith(XLSX_MAGIC):
        if not zipfile.is_zipfile(path):
            raise ImportFileError(_("The Excel file is damaged (not a valid .xlsx archive)."))
        return XlsxTable(path)
    return CsvTable(path, encoding=encoding)
