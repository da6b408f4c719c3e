"""Malformed input never escapes as an exception and never writes a row."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.importers import KINDS, ImportFileError, import_file, validate_rows
from customers.models import Customer, FinancialStatement, Invoice, Payment, SalesOrder
from tests.customers.factories import CustomerFactory

HEADER = "customer_code,number,issue_date,due_date,amount,currency,paid_amount,status\n"
cells = st.one_of(
    st.sampled_from(["", "C001", "C404", "2026-03-01", "2026/13/01", "20260230", "1,234.5", "-1", "1e400", "NaN",
                     "¥", "CNY", "XXX", "open", "paid", '"', "\x00", "\ufeff", "45000", "9" * 40, "是", "（1）"]),
    st.text(max_size=12),
)
row = st.lists(cells, min_size=0, max_size=10).map(lambda values: ",".join(values))

DB_TABLES = (Customer, Invoice, Payment, SalesOrder, FinancialStatement)


def snapshot() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in DB_TABLES)


def attempt(kind: str, content: bytes, **options) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(content)
        message = "ok"
        try:
            import_file(kind=kind, path=path, **options)
        except ImportFileError as exc:
            message = exc.message
        assert message


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400), kind=st.sampled_from(KINDS))
def test_it_survives_random_bytes(content, kind):
    before = snapshot()
    attempt(kind, content)
    attempt(kind, b"PK\x03\x04" + content)
    assert snapshot() == before


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=8), encoding=st.sampled_from(["utf-8", "gb18030", "utf-16"]))
def test_it_survives_malformed_invoice_rows(rows, encoding):
    CustomerFactory(code="C001")
    # A row that is bad on purpose makes the whole file bad, so nothing may be written.
    text = HEADER + "\n".join([*rows, "C001,BAD,2026-03-01,2026-02-01,5,CNY,,open"]) + "\n"
    before = snapshot()
    try:
        content = text.encode(encoding)
    except UnicodeEncodeError:
        return
    attempt("invoices", content)
    attempt("invoices", content, encoding="latin-1")
    assert snapshot() == before


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.dictionaries(
    st.sampled_from(["customer_code", "reference", "date", "amount", "currency", "invoice_number", "bogus"]),
    st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.booleans(), st.text(max_size=10), cells),
    max_size=7), max_size=5))
def test_it_validates_api_rows_without_raising(rows):
    CustomerFactory(code="C001")
    clean, errors = validate_rows("payments", [*rows, {"customer_code": "C001"}])
    assert errors  # the last row misses required values
    assert all(e.row is not None for e in errors)
    assert len(clean) <= len(rows)
