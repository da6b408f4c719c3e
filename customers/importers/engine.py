"""The import run: map the header, validate the whole file in a streaming first pass, then (unless
it is a dry run or a row is bad) write everything in one transaction in a second pass.

Memory is bounded by one chunk of rows plus 16 bytes per row for the duplicate-key check.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.db import DatabaseError, transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from creditrisk.core.audit import audit_record
from customers.attributes import AttributeTypeGuess
from customers.bulk import WRITERS, WriteContext
from customers.importers.columns import KINDS, SPECS, header_lookup, normalise_header
from customers.importers.reading import ImportFileError, Table, open_table
from customers.importers.rows import RowError, coerce_row, natural_key, resolve_chunk
from customers.models import AttributeDefinition
from customers.parsing import clean_text, is_blank

CHUNK_SIZE = 10_000
MAX_REPORTED_ERRORS = 1000


@dataclass
class ImportResult:
    kind: str
    file_name: str
    sha256: str
    size: int
    dry_run: bool
    committed: bool = False
    rows: int = 0
    counts: dict = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    new_attributes: list[dict] = field(default_factory=list)
    encoding: str | None = None
    format: str = ""

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def more_errors(self) -> int:
        return self.error_count - len(self.errors)

    def summary(self) -> dict:
        return {"kind": self.kind, "file": self.file_name, "sha256": self.sha256, "size": self.size,
                "format": self.format, "encoding": self.encoding, "dry_run": self.dry_run,
                "committed": self.committed, "rows": self.rows, "counts": self.counts,
                "errors": self.error_count, "new_attributes": self.new_attributes}


class _ErrorSink:
    def __init__(self, labels: dict[str, str], cap: int = MAX_REPORTED_ERRORS):
        self.labels, self.cap = labels, cap
        self.errors: list[RowError] = []
        self.count = 0

    def extend(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.count += 1
            if len(self.errors) < self.cap:
                self.errors.append(RowError(error.row, self.labels.get(error.column, error.column), error.message))


class _Refused(Exception):
    pass


@dataclass
class HeaderMap:
    columns: list[tuple[int, str]] = field(default_factory=list)
    attributes: list[tuple[int, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    new_attributes: dict[str, str] = field(default_factory=dict)
    width: int = 0


def _attribute_key(header: str, taken: set[str]) -> str:
    key = slugify(header).replace("-", "_")[:50].strip("_")
    if not key or not re.match(r"[a-z]", key):
        key = "attr_" + hashlib.sha256(header.encode()).hexdigest()[:8]
    base, n = key, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def map_header(kind: str, header: list, *, definitions: dict[str, AttributeDefinition],
               create_attributes: bool = False) -> HeaderMap:
    lookup = header_lookup(kind)
    by_label: dict[str, str] = {}
    if kind == "customers":
        for definition in definitions.values():
            for spelling in (definition.key, definition.label, definition.label_zh):
                if spelling:
                    by_label.setdefault(normalise_header(spelling), definition.key)
    hmap = HeaderMap(width=len(header))
    seen: dict[str, str] = {}
    unknown, duplicates = [], []
    taken = set(lookup.values())
    if create_attributes:  # retired definitions keep their keys too
        taken |= set(AttributeDefinition.objects.values_list("key", flat=True))
    for index, cell in enumerate(header):
        try:
            text = clean_text(cell, max_length=200)
        except Exception:  # a header cell that is not even text
            unknown.append(str(cell)[:40])
            continue
        text = text.replace("\ufeff", "")
        if not text:
            continue  # an unnamed column (trailing separators) is ignored
        name = normalise_header(text)
        target = lookup.get(name)
        if target is None and kind == "customers":
            target = by_label.get(name)
            if target is None and create_attributes:
                target = _attribute_key(text, taken)
                taken.add(target)
                hmap.new_attributes[target] = text
                by_label[name] = target
            if target is not None:
                if target in seen:
                    duplicates.append(text)
                    continue
                seen[target] = text
                hmap.attributes.append((index, target))
                hmap.labels[target] = text
                continue
        if target is None:
            unknown.append(text)
            continue
        if target in seen:
            duplicates.append(text)
            continue
        seen[target] = text
        hmap.columns.append((index, target))
        hmap.labels[target] = text
    problems: dict[str, list[str]] = {}
    if unknown:
        hint = (_(" Define them as custom attributes first, or import with --create-attributes.")
                if kind == "customers" else "")
        problems["unknown_columns"] = unknown
        message = _("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown)} + hint
    elif duplicates:
        problems["duplicate_columns"] = duplicates
        message = _("These columns appear twice: %(columns)s.") % {"columns": ", ".join(duplicates)}
    else:
        missing = [name for name in SPECS[kind].required if name not in seen]
        if missing:
            problems["missing_columns"] = missing
            message = _("Required columns are missing: %(columns)s.") % {"columns": ", ".join(missing)}
    if problems:
        raise ImportFileError(message, errors=problems)
    return hmap


def _records(table: Table, hmap: HeaderMap, sink: _ErrorSink) -> Iterator[tuple[int, dict, dict]]:
    """(row number, canonical cells, attribute cells) for every non-blank row."""
    for number, cells in table.rows():
        if all(is_blank(cell) for cell in cells):
            continue
        if len(cells) > hmap.width and any(not is_blank(cell) for cell in cells[hmap.width:]):
            sink.extend([RowError(number, "", _("This row has more values than the header has columns."))])
            continue
        width = len(cells)
        values = {name: cells[i] if i < width else None for i, name in hmap.columns}
        attributes = {key: cells[i] if i < width else None for i, key in hmap.attributes}
        yield number, values, attributes


def _chunked(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _coerce_chunk(kind: str, chunk: list, errors: list[RowError], *, skip_attributes: set[str],
                  partial: list[dict] | None = None) -> list[dict]:
    good = []
    for number, values, attributes in chunk:
        clean = coerce_row(kind, number, values, errors, partial)
        if clean is None:
            continue
        if attributes:
            clean["_attributes"] = {k: v for k, v in attributes.items() if k not in skip_attributes and not is_blank(v)}
        good.append(clean)
    return good


class _DuplicateFinder:
    """Natural keys seen in the file, as 64-bit hashes (16 bytes per row), confirmed exactly at the end."""

    def __init__(self) -> None:
        self.hashes: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []

    def add(self, kind: str, clean_rows: list[dict]) -> None:
        if clean_rows:
            self.hashes.append(np.fromiter((hash(natural_key(kind, r)) for r in clean_rows), dtype=np.int64,
                                           count=len(clean_rows)))
            self.rows.append(np.fromiter((r["_row"] for r in clean_rows), dtype=np.int64, count=len(clean_rows)))

    def candidates(self) -> set[int]:
        if not self.hashes:
            return set()
        hashes = np.concatenate(self.hashes)
        ordered = np.sort(hashes, kind="stable")
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        return set(repeated.tolist())


def _duplicate_errors(kind: str, records: Iterable, candidates: set[int]) -> Iterator[RowError]:
    first_seen: dict[tuple, int] = {}
    key_columns = SPECS[kind].key
    for chunk in _chunked(records, CHUNK_SIZE):
        for clean in _coerce_chunk(kind, chunk, [], skip_attributes=set()):
            key = natural_key(kind, clean)
            if hash(key) not in candidates:
                continue
            if key in first_seen:
                yield RowError(clean["_row"], key_columns[-1], _(
                    "Duplicate of row %(row)d (same %(columns)s).")
                    % {"row": first_seen[key], "columns": ", ".join(key_columns)})
            else:
                first_seen[key] = clean["_row"]


def file_digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with Path(path).open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def import_file(*, kind: str, path: Path | str, file_name: str | None = None, dry_run: bool = False,
                encoding: str | None = None, create_attributes: bool = False, actor=None,
                chunk_size: int = CHUNK_SIZE) -> ImportResult:
    """Validate a CSV/XLSX file of ``kind``; unless dry_run or a row is bad, upsert it all at once.

    Raises ImportFileError when the file as a whole cannot be read (encoding, format, empty, header);
    bad rows are returned in the result (capped at MAX_REPORTED_ERRORS, error_count has them all).
    """
    if kind not in KINDS:
        raise ImportFileError(_("Unknown kind %(kind)s; use one of: %(kinds)s.")
                              % {"kind": str(kind)[:40], "kinds": ", ".join(KINDS)})
    path = Path(path)
    try:
        sha256, size = file_digest(path)
    except OSError as exc:
        raise ImportFileError(_("The file cannot be read (%(error)s).") % {"error": exc.strerror or exc}) from None
    table = open_table(path, encoding=encoding)
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(active=True)} if kind == "customers" else {}
    hmap = map_header(kind, table.header, definitions=definitions, create_attributes=create_attributes)
    file_name = re.sub(r"[\x00-\x1f\x7f]", "", file_name or path.name)[:255] or "upload"
    result = ImportResult(kind=kind, file_name=file_name, sha256=sha256, size=size, dry_run=dry_run,
                          encoding=getattr(table, "encoding", None), format=table.format)
    sink = _ErrorSink(hmap.labels)
    new_keys = set(hmap.new_attributes)
    guesses = {key: AttributeTypeGuess() for key in new_keys}
    duplicates = _DuplicateFinder()
    attribute_columns = dict(hmap.labels)

    # Pass 1: validate everything, streaming.
    for chunk in _chunked(_records(table, hmap, sink), chunk_size):
        result.rows += len(chunk)
        for _number, _values, attributes in chunk:
            for key in new_keys:
                guesses[key].add(attributes.get(key))
        errors: list[RowError] = []
        partial: list[dict] = []
        clean = _coerce_chunk(kind, chunk, errors, skip_attributes=new_keys, partial=partial)
        duplicates.add(kind, clean)
        resolve_chunk(kind, clean, errors, attribute_columns=attribute_columns, definitions=definitions,
                      partial=partial)
        sink.extend(sorted(errors, key=lambda e: e.row or 0))
    candidates = duplicates.candidates()
    if candidates:
        sink.extend(_duplicate_errors(kind, _records(table, hmap, _ErrorSink({})), candidates))
    if result.rows == 0 and sink.count == 0:
        raise ImportFileError(_("The file has a header but no data rows."))

    new_definitions = [
        AttributeDefinition(key=key, label=label[:120], label_zh=label[:120] if _has_cjk(label) else "",
                            type=guesses[key].type, choices=guesses[key].choices)
        for key, label in hmap.new_attributes.items()
    ]
    result.new_attributes = [{"key": d.key, "label": d.label, "type": str(d.type), "choices": d.choices}
                             for d in new_definitions]
    result.errors, result.error_count = sorted(sink.errors, key=_error_order), sink.count
    if dry_run or sink.count:
        _audit(result, actor)
        return result

    # Pass 2: write it all in one transaction; re-check each chunk against the database as it is now.
    ctx = WriteContext()
    try:
        with transaction.atomic():
            if new_definitions:
                AttributeDefinition.objects.bulk_create(new_definitions)
                definitions.update({d.key: d for d in AttributeDefinition.objects.filter(key__in=new_keys)})
                ctx.counts["attributes_created"] = len(new_definitions)
            for chunk in _chunked(_records(table, hmap, sink), chunk_size):
                errors = []
                clean = _coerce_chunk(kind, chunk, errors, skip_attributes=set())
                clean = resolve_chunk(kind, clean, errors, attribute_columns=attribute_columns,
                                      definitions=definitions)
                if errors or sink.count:
                    sink.extend(errors)
                    raise _Refused
                WRITERS[kind](clean, ctx)
            result.committed = True
            result.counts = {name: ctx.counts.get(name, 0) for name in ("created", "updated", "unchanged")} | dict(
                ctx.counts)
            _audit(result, actor)
    except _Refused:
        result.committed = False
        result.counts = {}
        result.errors, result.error_count = sorted(sink.errors, key=_error_order), sink.count
        _audit(result, actor)
    except DatabaseError as exc:
        raise ImportFileError(_("The database refused the import; nothing was written (%(error)s).")
                              % {"error": str(exc)[:200]}) from None
    return result


def _error_order(error: RowError) -> tuple:
    return (error.row if error.row is not None else -1, error.column)


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _audit(result: ImportResult, actor) -> None:
    audit_record(actor=actor, action=f"import.{result.kind}", subject_type="import", subject_id=result.sha256,
                 subject_label=result.file_name[:255], after=result.summary(),
                 reason="dry run" if result.dry_run else ("" if result.committed else "refused"))


def validate_rows(kind: str, rows: list[dict]) -> tuple[list[dict], list[RowError]]:
    """Validate API batch rows (dicts keyed by import column names) with the importer's rules.

    Error rows are the rows' indexes in ``rows``. Returns (clean rows ready for customers.bulk, errors).
    """
    if kind not in KINDS:
        raise ImportFileError(_("Unknown kind %(kind)s.") % {"kind": str(kind)[:40]})
    lookup = header_lookup(kind)
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(active=True)} if kind == "customers" else {}
    errors: list[RowError] = []
    records = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append(RowError(index, "", _("Each row must be an object.")))
            continue
        values, attributes, ok = {}, {}, True
        for key, value in row.items():
            name = lookup.get(normalise_header(key))
            if name is not None:
                values[name] = value
            elif kind == "customers" and key in definitions:
                attributes[key] = value
            elif kind == "customers" and key == "attributes" and isinstance(value, dict):
                attributes.update(value)
            else:
                errors.append(RowError(index, str(key)[:60], _("Unknown field.")))
                ok = False
        if ok:
            records.append((index, values, attributes))
    clean_rows: list[dict] = []
    seen: dict[tuple, int] = {}
    for chunk in _chunked(records, CHUNK_SIZE):
        partial: list[dict] = []
        clean = _coerce_chunk(kind, chunk, errors, skip_attributes=set(), partial=partial)
        unique = []
        for row in clean:
            key = natural_key(kind, row)
            if key in seen:
                errors.append(RowError(row["_row"], SPECS[kind].key[-1],
                                       _("Duplicate of row %(row)d.") % {"row": seen[key]}))
                continue
            seen[key] = row["_row"]
            unique.append(row)
        clean_rows += resolve_chunk(kind, unique, errors, definitions=definitions, partial=partial)
    errors.sort(key=_error_order)
    return clean_rows, errors


def errors_as_dict(errors: Iterable[RowError]) -> dict:
    """{"<row>": {"<column>": [messages]}} for the API's error shape."""
    out: dict[str, dict[str, list[str]]] = {}
    for error in errors:
        out.setdefault(str(error.row), {}).setdefault(error.column or "non_field_errors", []).append(error.message)
    return out
