"""customers.bulk: the API's set-based, idempotent, all-or-nothing upserts of invoices and payments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from creditrisk.core.exceptions import DomainError
from creditrisk.core.models import AuditEvent
from customers.bulk import invoices_upsert, payments_upsert
from customers.importers import errors_as_dict, validate_rows
from customers.models import Invoice, Payment, PaymentAllocation
from tests.customers.factories import CustomerFactory


def invoice(n: int, **extra) -> dict:
    return {"customer_code": "C001", "number": f"I-{n}", "issue_date": "2026-01-01", "due_date": "2026-01-31",
            "amount": "100.00", "currency": "CNY", **extra}


@pytest.mark.django_db
def test_it_upserts_invoices_idempotently(analyst, django_assert_max_num_queries):
    CustomerFactory(code="C001")
    rows = [invoice(n) for n in range(50)]

    with django_assert_max_num_queries(12):
        counts = invoices_upsert(rows=rows, actor=analyst)

    assert counts == {"created": 50, "updated": 0, "unchanged": 0}
    assert invoices_upsert(rows=rows, actor=analyst) == {"created": 0, "updated": 0, "unchanged": 50}
    rows[7]["amount"] = 250
    assert invoices_upsert(rows=rows, actor=analyst) == {"created": 0, "updated": 1, "unchanged": 49}
    assert Invoice.objects.get(number="I-7").amount == Decimal("250.00")
    assert AuditEvent.objects.filter(action="invoice.bulk_upsert").count() == 3


@pytest.mark.django_db
def test_it_refuses_a_batch_with_one_bad_row(analyst):
    CustomerFactory(code="C001")
    rows = [invoice(1), invoice(2, due_date="2025-12-01"), invoice(3, customer_code="NOPE"), invoice(1)]

    with pytest.raises(DomainError) as caught:
        invoices_upsert(rows=rows, actor=analyst)

    assert caught.value.errors == {"1": {"due_date": ["The due date is before the issue date."]},
                                   "2": {"customer_code": ["Unknown customer code NOPE."]},
                                   "3": {"number": ["Duplicate of row 0."]}}
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_it_upserts_payments_and_allocates_them(analyst):
    CustomerFactory(code="C001")
    invoices_upsert(rows=[invoice(1), invoice(2, issue_date="2026-01-05", due_date="2026-02-05")], actor=analyst)
    rows = [{"customer_code": "C001", "reference": "P-1", "date": dt.date(2026, 2, 1), "amount": Decimal("150"),
             "invoice_number": "I-2"}]

    assert payments_upsert(rows=rows, actor=analyst)["created"] == 1
    assert dict(PaymentAllocation.objects.values_list("invoice__number", "amount")) == {
        "I-2": Decimal("100.00"), "I-1": Decimal("50.00")}
    assert payments_upsert(rows=rows, actor=analyst) == {"created": 0, "updated": 0, "unchanged": 1}

    rows[0]["amount"] = "60"
    counts = payments_upsert(rows=rows, actor=analyst)

    assert counts["updated"] == 1
    assert dict(PaymentAllocation.objects.values_list("invoice__number", "amount")) == {"I-2": Decimal("60.00")}
    assert dict(Invoice.objects.values_list("number", "amount_paid")) == {"I-1": Decimal("0.00"),
                                                                          "I-2": Decimal("60.00")}
    assert Payment.objects.get().amount == Decimal("60.00")


@pytest.mark.django_db
def test_it_validates_api_rows_like_the_importer():
    CustomerFactory(code="C001")

    clean, errors = validate_rows("invoices", [invoice(1, amount="1,234.50", colour="red"), invoice(2, amount="x")])

    assert clean == []
    assert errors_as_dict(errors) == {"0": {"colour": ["Unknown field."]}, "1": {"amount": ["This is not a number."]}}
    clean, errors = validate_rows("invoices", [invoice(1, amount="1,234.50")])
    assert errors == []
    assert clean[0]["amount"] == Decimal("1234.50")
    assert clean[0]["customer_id"] == CustomerFactory(code="C001").pk
