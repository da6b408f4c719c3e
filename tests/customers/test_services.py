"""Credit-file services: validation, derived payment state, and an audit event for every write."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditrisk.core.audit import audit_verify
from creditrisk.core.models import AuditEvent
from customers import services
from customers.access import customer_get_for_user
from customers.models import (
    Contact,
    CreditReport,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    SalesOrder,
)
from customers.selectors import customer_list
from tests.customers.factories import (
    AttributeDefinitionFactory,
    CustomerFactory,
    CustomerGroupFactory,
    InvoiceFactory,
    PaymentAllocationFactory,
    PaymentFactory,
)

D = dt.date
pytestmark = pytest.mark.django_db


def _events(action: str):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_it_creates_a_customer_with_an_audit_event(analyst):
    customer = services.customer_create(code="C-1", name="Acme Trading", registration_no="91350100m000100y43",
                                        country="CN", size="large", actor=analyst, reason="onboarding")
    assert customer.registration_no == "91350100M000100Y43"
    [event] = _events("customer.create")
    assert event.actor == analyst
    assert event.subject_id == str(customer.pk)
    assert event.after["code"] == "C-1"
    assert event.before is None
    assert event.reason == "onboarding"
    assert list(audit_verify()) == []


def test_it_refuses_a_customer_with_a_bad_uscc_and_writes_nothing(analyst):
    with pytest.raises(ValidationError) as info:
        services.customer_create(code="C-1", name="Acme", registration_no="91350100M000100Y44", country="CN",
                                 actor=analyst)
    assert "registration_no" in info.value.message_dict
    assert not Customer.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_accepts_any_registration_number_outside_china(analyst):
    customer = services.customer_create(code="C-DE", name="Muster GmbH", registration_no="HRB 12345",
                                        country="DE", currency="EUR", actor=analyst)
    assert customer.registration_no == "HRB 12345"


def test_it_refuses_unknown_country_and_currency(analyst):
    with pytest.raises(ValidationError) as info:
        services.customer_create(code="C-X", name="X", country="XX", currency="ABC", actor=analyst)
    assert {"country", "currency"} <= set(info.value.message_dict)


def test_it_refuses_a_duplicate_code(analyst):
    services.customer_create(code="C-1", name="A", actor=analyst)
    with pytest.raises(ValidationError) as info:
        services.customer_create(code="C-1", name="B", actor=analyst)
    assert "code" in info.value.message_dict


def test_it_records_before_and_after_of_an_update(analyst):
    customer = services.customer_create(code="C-1", name="Old name", actor=analyst)
    services.customer_update(customer=customer, data={"name": "New name", "status": "on_hold"}, actor=analyst,
                             reason="merger")
    [event] = _events("customer.update")
    assert event.before == {"name": "Old name", "status": "active"}
    assert event.after["name"] == "New name"
    assert event.after["status"] == "on_hold"
    customer.refresh_from_db()
    assert customer.name == "New name"


def test_it_writes_no_event_when_nothing_changes(analyst):
    customer = services.customer_create(code="C-1", name="Same", actor=analyst)
    services.customer_update(customer=customer, data={"name": "Same"}, actor=analyst)
    assert _events("customer.update") == []


def test_it_refuses_unknown_fields_in_an_update(analyst):
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as info:
        services.customer_update(customer=customer, data={"current_grade": "A1"}, actor=analyst)
    assert "current_grade" in info.value.message_dict


def test_it_validates_and_merges_custom_attributes(analyst):
    AttributeDefinitionFactory(key="employees", type="number", min_value=Decimal(0))
    AttributeDefinitionFactory(key="channel", type="category", choices=["retail", "wholesale"])
    customer = services.customer_create(code="C-1", name="A", attributes={"employees": "120"}, actor=analyst)
    assert customer.attributes == {"employees": 120.0}
    services.customer_update(customer=customer, data={"attributes": {"channel": "retail"}}, actor=analyst)
    customer.refresh_from_db()
    assert customer.attributes == {"employees": 120.0, "channel": "retail"}
    with pytest.raises(ValidationError) as info:
        services.customer_update(customer=customer, data={"attributes": {"channel": "mail order"}}, actor=analyst)
    assert "attributes.channel" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        services.customer_create(code="C-2", name="B", attributes={"employees": "-3"}, actor=analyst)
    assert "attributes.employees" in info.value.message_dict


def test_it_filters_the_customer_list_by_attribute(analyst):
    AttributeDefinitionFactory(key="channel", type="category", choices=["retail", "wholesale"])
    services.customer_create(code="C-1", name="A", attributes={"channel": "retail"}, actor=analyst)
    services.customer_create(code="C-2", name="B", attributes={"channel": "wholesale"}, actor=analyst)
    assert [c.code for c in customer_list(filters={"attr_channel": "retail"})] == ["C-1"]
    assert [c.code for c in customer_list(filters={"q": "c-2"})] == ["C-2"]
    assert [c.code for c in customer_list(filters={"ordering": "-code"})] == ["C-2", "C-1"]


def test_it_lets_only_managers_define_attributes(analyst, manager):
    with pytest.raises(PermissionDenied):
        services.attribute_definition_create(key="employees", label="Employees", type="number", actor=analyst)
    definition = services.attribute_definition_create(key="employees", label="Employees", type="number",
                                                      min_value=Decimal(0), actor=manager)
    with pytest.raises(ValidationError):
        services.attribute_definition_update(definition=definition, data={"key": "staff"}, actor=manager)
    with pytest.raises(ValidationError):
        services.attribute_definition_create(key="tier", label="Tier", type="category", choices=[], actor=manager)
    assert len(_events("attribute_definition.create")) == 1


def test_it_keeps_one_primary_contact(analyst):
    customer = CustomerFactory()
    first = services.contact_create(customer=customer, name="Li Wei", is_primary=True, actor=analyst)
    second = services.contact_create(customer=customer, name="Wang Fang", is_primary=True, actor=analyst)
    first.refresh_from_db()
    assert not first.is_primary
    assert second.is_primary
    services.contact_delete(contact=first, actor=analyst)
    assert list(Contact.objects.filter(customer=customer)) == [second]
    assert len(_events("contact.create")) == 2
    assert len(_events("contact.delete")) == 1


def test_it_refuses_an_invoice_due_before_it_is_issued(analyst):
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as info:
        services.invoice_create(customer=customer, number="I-1", issue_date=D(2026, 3, 1), due_date=D(2026, 2, 1),
                                amount=Decimal("10"), actor=analyst)
    assert "due_date" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        services.invoice_create(customer=customer, number="I-1", issue_date=D(2026, 3, 1), due_date=D(2026, 4, 1),
                                amount=Decimal("-10"), actor=analyst)
    assert "amount" in info.value.message_dict
    assert not Invoice.objects.exists()


def test_it_allocates_a_payment_to_the_named_invoice_then_fifo(analyst):
    customer = CustomerFactory()
    old = InvoiceFactory(customer=customer, number="OLD", issue_date=D(2026, 1, 1), amount=Decimal("100"))
    mid = InvoiceFactory(customer=customer, number="MID", issue_date=D(2026, 2, 1), amount=Decimal("100"))
    new = InvoiceFactory(customer=customer, number="NEW", issue_date=D(2026, 3, 1), amount=Decimal("100"))
    services.payment_create(customer=customer, reference="P1", date=D(2026, 3, 10), amount=Decimal("150"),
                            invoice_number="NEW", actor=analyst)
    for invoice in (old, mid, new):
        invoice.refresh_from_db()
    assert (new.amount_paid, new.status, new.paid_date) == (Decimal("100"), InvoiceStatus.PAID, D(2026, 3, 10))
    assert (old.amount_paid, old.status, old.paid_date) == (Decimal("50"), InvoiceStatus.OPEN, None)
    assert mid.amount_paid == 0
    services.payment_create(customer=customer, reference="P2", date=D(2026, 4, 1), amount=Decimal("500"),
                            actor=analyst)
    for invoice in (old, mid):
        invoice.refresh_from_db()
    assert old.status == mid.status == InvoiceStatus.PAID
    assert old.paid_date == D(2026, 4, 1)
    [p1, p2] = _events("payment.create")
    assert p1.after["allocations"] == [{"invoice": "NEW", "amount": "100.00"}, {"invoice": "OLD", "amount": "50.00"}]
    assert p2.after["unallocated"] == "350.00"


def test_it_refuses_a_payment_for_an_unknown_invoice_and_writes_nothing(analyst):
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as info:
        services.payment_create(customer=customer, reference="P1", date=D(2026, 3, 10), amount=Decimal("1"),
                                invoice_number="NOPE", actor=analyst)
    assert "invoice_number" in info.value.message_dict
    assert not Payment.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_duplicate_payment_reference(analyst):
    customer = CustomerFactory()
    services.payment_create(customer=customer, reference="P1", date=D(2026, 3, 10), amount=Decimal("1"),
                            actor=analyst)
    with pytest.raises(ValidationError):
        services.payment_create(customer=customer, reference="P1", date=D(2026, 3, 10), amount=Decimal("1"),
                                actor=analyst)


def test_it_recomputes_paid_state_for_many_invoices_at_once(django_assert_max_num_queries):
    customer = CustomerFactory()
    invoices = [InvoiceFactory(customer=customer, amount=Decimal("100")) for _ in range(30)]
    written_off = InvoiceFactory(customer=customer, amount=Decimal("100"), status=InvoiceStatus.WRITTEN_OFF,
                                 written_off_date=D(2026, 6, 1))
    for n, invoice in enumerate(invoices):
        payment = PaymentFactory(customer=customer, date=D(2026, 2, 1) + dt.timedelta(days=n), amount=Decimal("100"))
        PaymentAllocationFactory(payment=payment, invoice=invoice, amount=Decimal("100") if n % 2 else Decimal("40"))
    with django_assert_max_num_queries(1):
        updated = services.invoice_paid_recompute(invoice_ids=[i.pk for i in [*invoices, written_off]])
    assert updated == 30  # the written-off invoice has nothing allocated: unchanged, not rewritten
    assert services.invoice_paid_recompute(invoice_ids=[i.pk for i in invoices]) == 0
    paid = Invoice.objects.filter(status=InvoiceStatus.PAID)
    assert paid.count() == 15
    assert all(i.paid_date == D(2026, 2, 1) + dt.timedelta(days=int(i.number[-7:]) - int(invoices[0].number[-7:]))
               for i in paid)
    partial = Invoice.objects.get(pk=invoices[0].pk)
    assert (partial.amount_paid, partial.status, partial.paid_date) == (Decimal("40"), InvoiceStatus.OPEN, None)
    written_off.refresh_from_db()
    assert written_off.status == InvoiceStatus.WRITTEN_OFF


def test_it_reopens_an_invoice_when_an_allocation_goes(analyst):
    customer = CustomerFactory()
    invoice = InvoiceFactory(customer=customer, number="I-1", amount=Decimal("100"))
    payment = services.payment_create(customer=customer, reference="P1", date=D(2026, 2, 1),
                                      amount=Decimal("100"), actor=analyst)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    PaymentAllocation.objects.filter(payment=payment).delete()
    services.invoice_paid_recompute(invoice_ids=[invoice.pk])
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.paid_date) == (InvoiceStatus.OPEN, 0, None)


def test_it_writes_off_an_invoice_with_a_date_and_an_audit_event(analyst):
    invoice = InvoiceFactory(amount=Decimal("100"))
    services.invoice_update(invoice=invoice, data={"status": "written_off", "written_off_date": D(2026, 5, 1)},
                            actor=analyst, reason="insolvency")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.written_off_date) == (InvoiceStatus.WRITTEN_OFF, D(2026, 5, 1))
    [event] = _events("invoice.update")
    assert event.before["status"] == "open"
    assert event.after["status"] == "written_off"
    with pytest.raises(ValidationError):
        services.invoice_update(invoice=invoice, data={"status": "paid"}, actor=analyst)


def test_it_refuses_to_cut_an_invoice_below_what_was_paid(analyst):
    customer = CustomerFactory()
    invoice = InvoiceFactory(customer=customer, number="I-1", amount=Decimal("100"))
    services.payment_create(customer=customer, reference="P1", date=D(2026, 2, 1), amount=Decimal("60"),
                            actor=analyst)
    with pytest.raises(ValidationError) as info:
        services.invoice_update(invoice=invoice, data={"amount": Decimal("50")}, actor=analyst)
    assert "amount" in info.value.message_dict
    invoice.refresh_from_db()
    assert invoice.amount == Decimal("100")


def test_it_moves_orders_only_along_allowed_transitions(analyst):
    customer = CustomerFactory()
    order = services.sales_order_create(customer=customer, number="SO-1", order_date=D(2026, 3, 1),
                                        amount=Decimal("900"), actor=analyst)
    services.sales_order_update_status(order=order, status="held", actor=analyst, reason="over limit")
    services.sales_order_update_status(order=order, status="released", actor=analyst)
    services.sales_order_update_status(order=order, status="shipped", actor=analyst)
    with pytest.raises(ValidationError):
        services.sales_order_update_status(order=order, status="open", actor=analyst)
    assert SalesOrder.objects.get(pk=order.pk).status == "shipped"
    assert [e.after["status"] for e in _events("sales_order.status")] == ["held", "released", "shipped"]


def test_it_stores_a_manual_credit_report_and_a_file_import(analyst):
    customer = CustomerFactory()
    report = services.credit_report_create(customer=customer, data={"report_date": "2026-03-01", "score": "71",
                                                                    "rating": "BB+", "pd": "0.015",
                                                                    "legal_events": "2"}, actor=analyst)
    assert (report.provider, report.score, report.pd, report.legal_events) == ("manual", 71, Decimal("0.015"), 2)
    upload = io.BytesIO(b"report_date,score,rating,pd,recommended_limit\n2026/04/01,65,BB,0.03,\"200,000\"\n")
    upload.name = "bureau.csv"
    second = services.credit_report_create(customer=customer, file=upload, actor=analyst)
    assert (second.report_date, second.rating, second.recommended_limit) == (D(2026, 4, 1), "BB", 200000)
    assert second.raw_data["rating"] == "BB"
    assert len(_events("credit_report.create")) == 2


def test_it_refuses_an_out_of_range_report_pd(analyst):
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as info:
        services.credit_report_create(customer=customer, data={"report_date": "2026-03-01", "pd": "1.5"},
                                      actor=analyst)
    assert "pd" in info.value.message_dict
    with pytest.raises(ValidationError):
        services.credit_report_create(customer=customer, provider="nope", data={"report_date": "2026-03-01"},
                                      actor=analyst)
    assert not CreditReport.objects.exists()


def test_it_updates_groups_with_an_audit_event(analyst):
    group = services.customer_group_create(code="G-1", name="Holding", actor=analyst)
    services.customer_group_update(group=group, data={"name": "Holding Ltd"}, actor=analyst)
    [event] = _events("customer_group.update")
    assert (event.before, event.after) == ({"name": "Holding"}, {"name": "Holding Ltd"})
    with pytest.raises(ValidationError) as info:
        services.customer_group_create(code="G-2", name="Bad", registration_no="91110000802100433X", actor=analyst)
    assert "registration_no" in info.value.message_dict
    CustomerGroupFactory(code="G-3")


def test_it_reaches_customers_only_with_permission(analyst, auditor, outsider):
    customer = CustomerFactory(code="ACC-1")
    assert customer_get_for_user(user=analyst, code="ACC-1", write=True) == customer
    assert customer_get_for_user(user=auditor, code="ACC-1") == customer
    with pytest.raises(PermissionDenied):
        customer_get_for_user(user=auditor, code="ACC-1", write=True)
    with pytest.raises(PermissionDenied):
        customer_get_for_user(user=outsider, code="ACC-1")
    with pytest.raises(Http404):
        customer_get_for_user(user=analyst, code="MISSING")


# --------------------------------------------------------------------------------------------------
# bulk allocation equals one-by-one allocation

_RUNS = itertools.count()


def _allocation_state(customer):
    allocations = sorted((a.payment.reference, a.invoice.number, a.amount)
                         for a in PaymentAllocation.objects.filter(payment__customer=customer)
                         .select_related("payment", "invoice"))
    invoices = sorted(Invoice.objects.filter(customer=customer).values_list("number", "amount_paid", "status",
                                                                            "paid_date"))
    return allocations, invoices


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(
    invoices=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 50_000), st.sampled_from(["CNY", "USD"])),
                      min_size=0, max_size=6),
    payments=st.lists(st.tuples(st.integers(0, 90), st.integers(1, 60_000), st.sampled_from(["CNY", "USD"])),
                      min_size=1, max_size=6),
)
def test_it_allocates_bulk_payments_like_one_by_one(invoices, payments):
    run = next(_RUNS)
    one, bulk = CustomerFactory(code=f"ONE-{run}"), CustomerFactory(code=f"BULK-{run}")
    for customer in (one, bulk):
        for n, (day, cents, currency) in enumerate(invoices):
            InvoiceFactory(customer=customer, number=f"N{n}", issue_date=D(2026, 1, 1) + dt.timedelta(days=day),
                           due_date=D(2026, 2, 1) + dt.timedelta(days=day), amount=Decimal(cents) / 100,
                           currency=currency)
    bulk_ids = []
    for n, (day, cents, currency) in sorted(enumerate(payments), key=lambda item: (item[1][0], item[0])):
        fields = {"reference": f"R{n}", "date": D(2026, 3, 1) + dt.timedelta(days=day),
                  "amount": Decimal(cents) / 100, "currency": currency}
        services.payment_create(customer=one, actor=None, **fields)
        bulk_ids.append(PaymentFactory(customer=bulk, **fields).pk)
    services.payments_allocate(payment_ids=bulk_ids)
    assert _allocation_state(one) == _allocation_state(bulk)
    # A second run finds nothing left to allocate.
    assert services.payments_allocate(payment_ids=bulk_ids) == 0


def test_it_applies_bulk_invoice_hints_before_fifo():
    customer = CustomerFactory()
    old = InvoiceFactory(customer=customer, number="OLD", due_date=D(2026, 1, 31), amount=Decimal("100"))
    new = InvoiceFactory(customer=customer, number="NEW", issue_date=D(2026, 2, 1), due_date=D(2026, 3, 3),
                         amount=Decimal("100"))
    usd = InvoiceFactory(customer=customer, number="USD", currency="USD", amount=Decimal("100"))
    first = PaymentFactory(customer=customer, date=D(2026, 3, 1), amount=Decimal("80"))
    second = PaymentFactory(customer=customer, date=D(2026, 3, 2), amount=Decimal("150"))
    wrong_currency = PaymentFactory(customer=customer, date=D(2026, 3, 2), amount=Decimal("10"))
    created = services.payments_allocate(payment_ids=[first.pk, second.pk, wrong_currency.pk],
                                         invoice_hints={second.pk: new.pk, wrong_currency.pk: usd.pk})
    # second takes its hinted NEW first (100, 50 left); then FIFO in date order: first pays 80 of OLD,
    # second the remaining 20 of OLD (30 stays on account); the CNY payment hinted at a USD invoice
    # falls back to FIFO and finds nothing open.
    assert created == 3
    assert _allocation_state(customer)[0] == sorted([
        (first.reference, "OLD", Decimal("80.00")),
        (second.reference, "NEW", Decimal("100.00")),
        (second.reference, "OLD", Decimal("20.00")),
    ])
    for invoice in (old, new, usd):
        invoice.refresh_from_db()
    assert (old.status, new.status, usd.status) == ("paid", "paid", "open")
    assert old.paid_date == D(2026, 3, 2)


def test_it_reports_every_bad_customer_field_at_once(analyst):
    AttributeDefinitionFactory(key="employees", type="number")
    with pytest.raises(ValidationError) as info:
        services.customer_create(code="", name="A", registration_no="91350100M000100Y44", currency="ABC",
                                 attributes={"employees": "many"}, actor=analyst)
    assert {"code", "registration_no", "currency", "attributes.employees"} <= set(info.value.message_dict)
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as info:
        services.customer_update(customer=customer, data={"attributes": ["not", "a", "mapping"]}, actor=analyst)
    assert "attributes" in info.value.message_dict


@pytest.mark.django_db
def test_it_derives_amount_paid_from_the_outside_part_plus_allocations():
    from django.db import IntegrityError, transaction

    customer = CustomerFactory(currency="CNY")
    invoice = InvoiceFactory(customer=customer, number="I-1", amount=Decimal("100"))
    Invoice.objects.filter(pk=invoice.pk).update(paid_outside=Decimal("60"))
    assert services.invoice_paid_recompute(invoice_ids=[invoice.pk]) == 1
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status, invoice.paid_date) == (Decimal("60.00"), InvoiceStatus.OPEN, None)

    services.payment_create(customer=customer, reference="P-1", date=D(2026, 3, 1), amount=Decimal("100"),
                            actor=None)
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status, invoice.paid_date) == (Decimal("100.00"), InvoiceStatus.PAID,
                                                                         D(2026, 3, 1))
    assert PaymentAllocation.objects.get().amount == Decimal("40.00")
    # The amount cannot drop below what was paid, outside or here; nor can the outside part outgrow the room.
    with pytest.raises(ValidationError):
        services.invoice_update(invoice=invoice, data={"amount": Decimal("90")}, actor=None)
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(paid_outside=Decimal("70"))
        with pytest.raises(IntegrityError), transaction.atomic():
            services.invoice_paid_recompute(invoice_ids=[invoice.pk])
        transaction.set_rollback(True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(paid_outside=Decimal("101"))
