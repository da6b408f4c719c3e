"""Bulk idempotent upserts of invoices and payments: batches of thousands, all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditrisk.core.models import AuditEvent
from customers.models import Invoice, Payment
from tests.customers.factories import CustomerFactory, InvoiceFactory

INVOICES = "/api/v1/invoices/bulk/"
PAYMENTS = "/api/v1/payments/bulk/"


@pytest.fixture
def customers(db):
    return [CustomerFactory(code=f"B-{i}", currency="CNY") for i in range(20)]


def _invoice_rows(n, *, amount="1000.00"):
    start = dt.date(2025, 1, 1)
    return [{"customer_code": f"B-{i % 20}", "number": f"INV-{i:05d}",
             "issue_date": (start + dt.timedelta(days=i % 300)).isoformat(),
             "due_date": (start + dt.timedelta(days=i % 300 + 30)).isoformat(),
             "amount": amount, "currency": "CNY"} for i in range(n)]


def test_it_upserts_2000_invoices_and_a_resent_batch_changes_nothing(analyst, api_for, customers):
    api = api_for(analyst)
    rows = _invoice_rows(2000)
    first = api.post(INVOICES, {"rows": rows}, format="json")
    assert first.status_code == 200, first.json()
    assert {k: first.json()[k] for k in ("created", "updated", "unchanged")} == {
        "created": 2000, "updated": 0, "unchanged": 0}
    assert Invoice.objects.count() == 2000
    stamps = dict(Invoice.objects.values_list("number", "updated_at"))

    again = api.post(INVOICES, {"rows": rows}, format="json")
    assert again.status_code == 200
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2000}
    assert dict(Invoice.objects.values_list("number", "updated_at")) == stamps
    assert AuditEvent.objects.filter(action="invoice.bulk_upsert").count() == 2


def test_it_updates_only_the_changed_rows(analyst, api_for, customers):
    api = api_for(analyst)
    rows = _invoice_rows(50)
    api.post(INVOICES, {"rows": rows}, format="json")
    rows[3] = {**rows[3], "amount": "1500.00"}
    rows.append({**rows[0], "number": "INV-NEW"})
    response = api.post(INVOICES, {"rows": rows}, format="json")
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 49}
    assert Invoice.objects.get(number="INV-00003").amount == Decimal("1500.00")


def test_it_refuses_a_batch_with_a_bad_row_and_writes_nothing(analyst, api_for, customers):
    rows = _invoice_rows(300)
    rows[17] = {**rows[17], "amount": "-5"}
    rows[250] = {**rows[250], "customer_code": "NOBODY"}
    events = AuditEvent.objects.count()
    response = api_for(analyst).post(INVOICES, {"rows": rows}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "code", "errors"}
    assert "amount" in body["errors"]["17"]
    assert "customer_code" in body["errors"]["250"]
    assert set(body["errors"]) == {"17", "250"}
    assert not Invoice.objects.exists()
    assert AuditEvent.objects.count() == events


def test_it_refuses_more_than_5000_rows(analyst, api_for, customers):
    response = api_for(analyst).post(INVOICES, {"rows": [{}] * 5001}, format="json")
    assert response.status_code == 400
    assert "rows" in response.json()["errors"]


@pytest.mark.parametrize("body", [{}, {"rows": []}, {"rows": "x"}, [], "rows"])
def test_it_refuses_a_malformed_envelope(analyst, api_for, body):
    response = api_for(analyst).post(INVOICES, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"message", "code", "errors"}


def test_it_reports_a_row_that_is_not_an_object_by_index(analyst, api_for, customers):
    rows = [*_invoice_rows(2), "oops"]
    response = api_for(analyst).post(INVOICES, {"rows": rows}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["2"]
    assert not Invoice.objects.exists()


def test_it_refuses_bulk_writes_to_the_auditor_and_operations(auditor, ops, api_for, customers):
    for user in (auditor, ops):
        assert api_for(user).post(INVOICES, {"rows": _invoice_rows(2)}, format="json").status_code == 403
        assert api_for(user).post(PAYMENTS, {"rows": []}, format="json").status_code == 403
    assert api_for(None).post(INVOICES, {"rows": _invoice_rows(2)}, format="json").status_code == 401
    assert not Invoice.objects.exists()


def test_it_upserts_payments_and_allocates_them(analyst, api_for, customers):
    InvoiceFactory(customer=customers[0], number="I-1", issue_date=dt.date(2026, 1, 1), amount=Decimal("700"))
    rows = [{"customer_code": "B-0", "reference": "PAY-1", "date": "2026-02-01", "amount": "500.00",
             "currency": "CNY", "invoice_number": "I-1"},
            {"customer_code": "B-1", "reference": "PAY-2", "date": "2026-02-01", "amount": "80.00",
             "currency": "CNY"}]
    api = api_for(analyst)
    first = api.post(PAYMENTS, {"rows": rows}, format="json")
    assert first.status_code == 200, first.json()
    assert (first.json()["created"], first.json()["unchanged"]) == (2, 0)
    assert Invoice.objects.get(number="I-1").amount_paid == Decimal("500.00")
    again = api.post(PAYMENTS, {"rows": rows}, format="json")
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2}
    assert Payment.objects.count() == 2
    assert Invoice.objects.get(number="I-1").amount_paid == Decimal("500.00")


CELLS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=15),
                  st.sampled_from(["B-1", "2026-01-01", "2026/02/30", "1,000.00", "-1", "CNY", "paid", "\x00", ""]))
INVOICE_COLUMNS = ["customer_code", "number", "issue_date", "due_date", "amount", "currency", "paid_amount",
                   "status", "bogus"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.dictionaries(st.sampled_from(INVOICE_COLUMNS), CELLS, max_size=9)
                     | st.integers() | st.text(max_size=5), min_size=1, max_size=5))
def test_it_never_answers_random_rows_with_a_server_error(analyst, api_for, customers, rows):
    before = Invoice.objects.count()
    response = api_for(analyst).post(INVOICES, {"rows": rows}, format="json")
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert Invoice.objects.count() == before
        assert set(response.json()) == {"message", "code", "errors"}


@pytest.mark.parametrize("raw", ['{"rows": [{"amount": NaN}]}', '{"rows": [', '\xff\xfe', '{"rows": [1e999]}'])
def test_it_refuses_json_that_is_not_json(analyst, api_for, raw):
    response = api_for(analyst).post(INVOICES, raw.encode("latin-1"), content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"message", "code", "errors"}
