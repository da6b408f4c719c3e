"""An invoice import's paid_amount is the ERP's settlement outside the payments recorded here
(Invoice.paid_outside): payments recorded later add to it instead of replacing it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection

from creditrisk.core.exceptions import DomainError
from customers import services
from customers.bulk import invoices_upsert, payments_upsert
from customers.importers import import_file
from customers.models import Invoice, InvoiceStatus, Payment, PaymentAllocation
from tests.customers.factories import CustomerFactory, InvoiceFactory

D = dt.date


def write(tmp_path, text: str, name: str = "file.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def row(number: str = "I-1", **extra) -> dict:
    return {"customer_code": "C001", "number": number, "issue_date": "2026-01-01", "due_date": "2026-01-31",
            "amount": "100.00", "currency": "CNY", **extra}


def state(number: str = "I-1") -> tuple:
    invoice = Invoice.objects.get(number=number)
    return (invoice.paid_outside, invoice.amount_paid, invoice.status, invoice.paid_date)


@pytest.fixture
def customer(db):
    return CustomerFactory(code="C001", currency="CNY")


def test_it_keeps_the_imported_paid_part_when_a_payment_completes_the_invoice(customer, tmp_path):
    path = write(tmp_path, "客户编码,发票号,开票日期,到期日,金额,已付金额\nC001,I-1,2026-01-01,2026-01-31,100,60\n")
    assert import_file(kind="invoices", path=path).ok
    assert state() == (Decimal("60.00"), Decimal("60.00"), InvoiceStatus.OPEN, None)

    services.payment_create(customer=customer, reference="P-1", date=D(2026, 2, 10), amount=Decimal("40"),
                            actor=None)

    assert state() == (Decimal("60.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 2, 10))
    assert PaymentAllocation.objects.get().amount == Decimal("40.00")
    # Re-importing the same file changes nothing: the payment recorded here stays counted.
    again = import_file(kind="invoices", path=path)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 1}
    assert state() == (Decimal("60.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 2, 10))


def test_it_does_not_allocate_more_than_the_part_not_paid_outside(customer, analyst):
    invoices_upsert(rows=[row(paid_amount="60"), row("I-2", issue_date="2026-02-01", due_date="2026-03-01")],
                    actor=analyst)

    payment = services.payment_create(customer=customer, reference="P-1", date=D(2026, 3, 5),
                                      amount=Decimal("70"), invoice_number="I-1", actor=None)

    assert dict(payment.allocations.values_list("invoice__number", "amount")) == {
        "I-1": Decimal("40.00"), "I-2": Decimal("30.00")}
    assert state("I-1")[1:] == (Decimal("100.00"), InvoiceStatus.PAID, D(2026, 3, 5))
    assert state("I-2")[1:] == (Decimal("30.00"), InvoiceStatus.OPEN, None)


def test_it_adds_imported_and_api_payments_to_the_outside_part(customer, analyst, tmp_path):
    invoices_upsert(rows=[row(paid_amount="60"), row("I-2", paid_amount="25")], actor=analyst)
    payments = write(tmp_path, "customer_code,reference,date,amount,invoice_number\nC001,P-1,2026-02-01,40,I-1\n")

    assert import_file(kind="payments", path=payments).ok
    payments_upsert(rows=[{"customer_code": "C001", "reference": "P-2", "date": "2026-02-03", "amount": "500",
                           "invoice_number": "I-2"}], actor=analyst)
    services.payments_allocate(payment_ids=[Payment.objects.get(reference="P-2").pk])  # nothing left to do

    assert state("I-1") == (Decimal("60.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 2, 1))
    assert state("I-2") == (Decimal("25.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 2, 3))
    assert PaymentAllocation.objects.get(payment__reference="P-2").amount == Decimal("75.00")


def test_it_allocates_bulk_payments_only_to_what_is_not_paid_outside(customer, analyst):
    invoices_upsert(rows=[row(paid_amount="90"), row("I-2", due_date="2026-02-28")], actor=analyst)
    payment = Payment.objects.create(customer=customer, reference="P-1", date=D(2026, 3, 1),
                                     amount=Decimal("50"), currency="CNY")

    assert services.payments_allocate(payment_ids=[payment.pk]) == 2

    assert dict(payment.allocations.values_list("invoice__number", "amount")) == {
        "I-1": Decimal("10.00"), "I-2": Decimal("40.00")}
    assert state("I-1")[1:3] == (Decimal("100.00"), InvoiceStatus.PAID)


def test_it_updates_the_outside_part_on_a_reimport_with_a_new_paid_amount(customer, analyst):
    invoices_upsert(rows=[row(paid_amount="20")], actor=analyst)
    services.payment_create(customer=customer, reference="P-1", date=D(2026, 2, 1), amount=Decimal("30"),
                            actor=None)
    assert state()[:3] == (Decimal("20.00"), Decimal("50.00"), InvoiceStatus.OPEN)

    counts = invoices_upsert(rows=[row(paid_amount="70", paid_date="2026-02-20")], actor=analyst)

    assert (counts["updated"], counts["unchanged"]) == (1, 0)
    assert state() == (Decimal("70.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 2, 20))
    assert Invoice.objects.get().paid_outside_date == D(2026, 2, 20)
    assert invoices_upsert(rows=[row(paid_amount="70", paid_date="2026-02-20")], actor=analyst)["unchanged"] == 1

    invoices_upsert(rows=[row(paid_amount="0")], actor=analyst)
    assert state() == (Decimal("0.00"), Decimal("30.00"), InvoiceStatus.OPEN, None)
    assert Invoice.objects.get().paid_outside_date is None


def test_it_refuses_a_paid_amount_that_the_recorded_payments_leave_no_room_for(customer, analyst, tmp_path):
    invoices_upsert(rows=[row()], actor=analyst)
    services.payment_create(customer=customer, reference="P-1", date=D(2026, 2, 1), amount=Decimal("30"),
                            actor=None)
    before = state()

    with pytest.raises(DomainError) as caught:
        invoices_upsert(rows=[row(paid_amount="80")], actor=analyst)
    assert set(caught.value.errors["0"]) == {"paid_amount"}
    path = write(tmp_path, "customer_code,number,issue_date,due_date,amount\nC001,I-1,2026-01-01,2026-01-31,20\n")
    result = import_file(kind="invoices", path=path)
    assert not result.ok
    assert [(e.row, e.column) for e in result.errors] == [(2, "amount")]
    assert state() == before


def test_it_settles_an_invoice_marked_paid_outside_with_its_paid_date(customer, analyst):
    invoices_upsert(rows=[row(status="paid", paid_date="2026-02-05"), row("I-2", status="paid")], actor=analyst)

    assert state() == (Decimal("100.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 2, 5))
    # Without a date the outside settlement counts at the due date.
    assert state("I-2") == (Decimal("100.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 1, 31))
    assert invoices_upsert(rows=[row(status="paid", paid_date="2026-02-05"), row("I-2", status="paid")],
                           actor=analyst)["unchanged"] == 2


def test_it_marks_paid_the_part_not_covered_by_payments_recorded_here(customer, analyst):
    invoices_upsert(rows=[row()], actor=analyst)
    services.payment_create(customer=customer, reference="P-1", date=D(2026, 2, 1), amount=Decimal("30"),
                            actor=None)

    invoices_upsert(rows=[row(status="paid", paid_date="2026-02-10")], actor=analyst)

    assert state() == (Decimal("70.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 2, 10))


def test_it_refuses_a_row_marked_paid_whose_paid_amount_does_not_cover_it(customer, analyst):
    with pytest.raises(DomainError) as caught:
        invoices_upsert(rows=[row(status="paid", paid_amount="50")], actor=analyst)

    assert set(caught.value.errors["0"]) == {"paid_amount"}
    assert not Invoice.objects.exists()


def test_it_takes_the_later_of_the_outside_date_and_the_last_payment_as_paid_date(customer, analyst):
    invoices_upsert(rows=[row(paid_amount="60", paid_date="2026-03-20")], actor=analyst)

    services.payment_create(customer=customer, reference="P-1", date=D(2026, 3, 10), amount=Decimal("40"),
                            actor=None)

    assert state() == (Decimal("60.00"), Decimal("100.00"), InvoiceStatus.PAID, D(2026, 3, 20))
    assert services.invoice_paid_recompute(invoice_ids=None) == 0


def test_it_keeps_the_outside_part_of_a_written_off_invoice(customer, analyst):
    invoices_upsert(rows=[row(paid_amount="60", status="written_off", written_off_date="2026-06-30")],
                    actor=analyst)

    assert state() == (Decimal("60.00"), Decimal("60.00"), InvoiceStatus.WRITTEN_OFF, None)
    assert Invoice.objects.get().open_amount == 0
    assert services.invoice_paid_recompute(invoice_ids=None) == 0


def test_it_exposes_the_outside_part_read_only_in_the_api(customer, analyst, api_for):
    api = api_for(analyst)
    response = api.post("/api/v1/invoices/bulk/", {"rows": [row(paid_amount="60", paid_date="2026-01-20")]},
                        format="json")
    assert response.status_code == 200, response.json()
    invoice = Invoice.objects.get()
    payments = api.post("/api/v1/payments/bulk/", {"rows": [{
        "customer_code": "C001", "reference": "P-1", "date": "2026-02-01", "amount": "40", "currency": "CNY"}]},
        format="json")
    assert payments.status_code == 200, payments.json()

    data = api.get(f"/api/v1/invoices/{invoice.pk}/").json()

    assert (data["paid_outside"], data["paid_outside_date"], data["amount_paid"], data["status"],
            data["paid_date"]) == ("60.00", "2026-01-20", "100.00", "paid", "2026-02-01")
    patched = api.patch(f"/api/v1/invoices/{invoice.pk}/", {"paid_outside": "0"}, format="json")
    assert patched.status_code in (200, 400)
    assert Invoice.objects.get().paid_outside == Decimal("60.00")


def test_it_moves_amounts_imported_before_the_field_existed_into_the_outside_part(customer):
    """The data step of migration 0003: amount_paid that no allocation explains was paid outside."""
    from importlib import import_module

    migration = import_module("customers.migrations.0003_invoice_paid_outside")
    imported = InvoiceFactory(customer=customer, number="I-1", amount=Decimal("100"), amount_paid=Decimal("100"),
                              status=InvoiceStatus.PAID, paid_date=D(2026, 2, 1))
    undated = InvoiceFactory(customer=customer, number="I-2", amount=Decimal("100"), amount_paid=Decimal("100"),
                             status=InvoiceStatus.PAID, due_date=D(2026, 3, 1))
    partly = InvoiceFactory(customer=customer, number="I-3", amount=Decimal("100"), amount_paid=Decimal("60"))
    mixed = InvoiceFactory(customer=customer, number="I-4", amount=Decimal("100"))
    services.payment_create(customer=customer, reference="P-1", date=D(2026, 2, 1), amount=Decimal("30"),
                            invoice_number="I-4", actor=None)
    Invoice.objects.filter(pk=mixed.pk).update(amount_paid=Decimal("50"))  # 20 imported on top of 30 allocated

    migration.move_imported_paid_amounts(None, SimpleNamespace(connection=connection))

    got = {i.number: (i.paid_outside, i.paid_outside_date, i.paid_date)
           for i in Invoice.objects.filter(pk__in=[imported.pk, undated.pk, partly.pk, mixed.pk])}
    assert got == {"I-1": (Decimal("100.00"), D(2026, 2, 1), D(2026, 2, 1)),
                   "I-2": (Decimal("100.00"), None, D(2026, 3, 1)),
                   "I-3": (Decimal("60.00"), None, None),
                   "I-4": (Decimal("20.00"), None, None)}
    services.invoice_paid_recompute(invoice_ids=None)
    assert Invoice.objects.get(pk=mixed.pk).amount_paid == Decimal("50.00")
    assert Invoice.objects.get(pk=partly.pk).amount_paid == Decimal("60.00")
