"""seed_demo's portfolio: deterministic, internally consistent, and its hidden risk really drives behaviour."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from creditrisk.core.audit import audit_verify
from creditrisk.core.models import AuditEvent
from customers.demo import INDUSTRIES, seed_portfolio
from customers.models import (
    Contact,
    CreditReport,
    Customer,
    CustomerGroup,
    FinancialStatement,
    Industry,
    Invoice,
    Payment,
    PaymentAllocation,
    SalesOrder,
)
from customers.services import invoice_paid_recompute, statement_validate
from customers.validators import validate_uscc

pytestmark = pytest.mark.django_db


def _fingerprint() -> dict:
    invoices = Invoice.objects.order_by("customer__code", "number")
    digest = hashlib.sha256()
    for code, number, amount, status in invoices.values_list("customer__code", "number", "amount", "status"):
        digest.update(f"{code}|{number}|{amount}|{status}\n".encode())
    return {
        "customers": list(Customer.objects.order_by("code").values_list("code", "name", "registration_no",
                                                                        "group__code", "status")),
        "invoices": digest.hexdigest(),
        "invoice_total": Invoice.objects.aggregate(s=Sum("amount"))["s"],
        "paid_total": Payment.objects.aggregate(s=Sum("amount"))["s"],
        "statements": FinancialStatement.objects.aggregate(s=Sum("total_assets"))["s"],
        "reports": list(CreditReport.objects.order_by("customer__code", "report_date")
                        .values_list("customer__code", "provider", "score")),
    }


def _wipe() -> None:
    PaymentAllocation.objects.all().delete()
    for model in (Payment, Invoice, SalesOrder, FinancialStatement, CreditReport, Contact, Customer, CustomerGroup):
        model.objects.all().delete()


def test_it_is_deterministic_for_a_seed():
    seed_portfolio(customers=50, months=24, seed=7)
    first = _fingerprint()
    _wipe()
    seed_portfolio(customers=50, months=24, seed=7)
    assert _fingerprint() == first
    _wipe()
    seed_portfolio(customers=50, months=24, seed=8)
    assert _fingerprint()["invoices"] != first["invoices"]


def test_it_makes_about_thirty_invoices_per_customer_within_the_window():
    counts = seed_portfolio(customers=100, months=24, seed=1)
    assert counts["customer"] == Customer.objects.count() == 100
    assert 25 <= Invoice.objects.count() / 100 <= 35
    today = timezone.localdate()
    window = Invoice.objects.aggregate(first=Max("issue_date"), last=Max("issue_date"))
    assert window["last"] <= today
    assert not Invoice.objects.filter(issue_date__lt=today - dt.timedelta(days=24 * 31)).exists()
    assert not Invoice.objects.filter(due_date__lt=F("issue_date")).exists()
    assert CustomerGroup.objects.exists()
    sizes = Customer.objects.filter(group__isnull=False).values("group").annotate(n=Count("id"))
    assert all(2 <= row["n"] <= 6 for row in sizes)
    assert Contact.objects.filter(is_primary=True).count() == 100
    assert SalesOrder.objects.filter(status__in=["open", "held", "released"]).exists()
    assert set(Industry.objects.values_list("code", flat=True)) >= {code for code, *_ in INDUSTRIES}
    assert set(Customer.objects.values_list("industry", flat=True)) <= {code for code, *_ in INDUSTRIES}
    assert Customer.objects.exclude(country="CN").exists()
    assert counts["invoice"] == Invoice.objects.count()


def test_it_gives_every_chinese_customer_and_group_a_valid_uscc():
    seed_portfolio(customers=200, months=12, seed=3)
    codes = list(Customer.objects.filter(country="CN").values_list("registration_no", flat=True))
    codes += list(CustomerGroup.objects.values_list("registration_no", flat=True))
    assert len(codes) > 150
    for code in codes:
        validate_uscc(code)
    assert len(set(codes)) == len(codes)


def test_it_balances_every_financial_statement():
    seed_portfolio(customers=100, months=24, seed=4)
    statements = list(FinancialStatement.objects.all())
    assert statements
    assert FinancialStatement.objects.filter(customer__size__in=["medium", "large"]).exists()
    for statement in statements:
        assert statement.total_assets == statement.total_liabilities + statement.equity
        statement_validate(statement)
        assert statement.cash + statement.inventory + statement.receivables <= statement.current_assets


def test_it_keeps_paid_amounts_consistent_with_allocations():
    seed_portfolio(customers=100, months=24, seed=5)
    allocated = dict(PaymentAllocation.objects.values("invoice_id").annotate(s=Sum("amount"))
                     .values_list("invoice_id", "s"))
    for invoice in Invoice.objects.all():
        assert invoice.amount_paid == allocated.get(invoice.pk, Decimal("0.00"))
        assert (invoice.status == "paid") == (invoice.amount_paid == invoice.amount)
        assert (invoice.paid_date is not None) == (invoice.status == "paid")
        assert (invoice.written_off_date is not None) == (invoice.status == "written_off")
    assert not Payment.objects.exclude(amount=F("allocations__amount")).exists()
    assert not Payment.objects.filter(date__gt=timezone.localdate()).exists()
    # The services' own derivation agrees with what the seeder wrote.
    before = list(Invoice.objects.order_by("pk").values_list("pk", "amount_paid", "paid_date", "status"))
    invoice_paid_recompute(invoice_ids=None)
    after = list(Invoice.objects.order_by("pk").values_list("pk", "amount_paid", "paid_date", "status"))
    assert after == before


def test_it_has_defaulters_and_deteriorating_customers():
    seed_portfolio(customers=300, months=24, seed=6)
    today = timezone.localdate()
    severe = Q(invoices__status="open", invoices__due_date__lt=today - dt.timedelta(days=90)) | Q(
        invoices__status="written_off")
    defaulted = Customer.objects.filter(severe).distinct()
    assert 3 <= defaulted.count() <= 45
    assert Invoice.objects.filter(status="written_off", written_off_date__lte=today).exists()
    assert defaulted.filter(status="blocked").exists()
    # Bureau downgrades: the latest report is much worse than the one a year ago for a share of customers.
    downgraded = {code for code, reports in _reports_by_customer().items()
                  if len(reports) >= 2 and reports[-1] < reports[0] - 12}
    assert len(downgraded) >= 6
    # Falling Z-scores: the downgraded customers' latest annual statements are weaker than their earlier ones,
    # while the others' stay about level.
    z_change = {True: [], False: []}
    for code, zs in _annual_z_scores().items():
        if len(zs) >= 3:
            z_change[code in downgraded].append(zs[-1] - zs[0])
    assert z_change[True]
    assert z_change[False]
    mean = {key: sum(values) / len(values) for key, values in z_change.items()}
    assert mean[True] < -0.5
    assert mean[True] < mean[False] - 0.5
    assert FinancialStatement.objects.filter(period_type="interim").exists()


def _annual_z_scores() -> dict[str, list[float]]:
    """Altman Z'' (non-manufacturers / emerging markets) per customer, oldest statement first."""
    out: dict[str, list[float]] = {}
    rows = FinancialStatement.objects.filter(period_type="annual").order_by("customer__code", "period_end")
    for s in rows.select_related("customer"):
        ta, tl = float(s.total_assets), float(s.total_liabilities)
        z = (6.56 * float(s.current_assets - s.current_liabilities) / ta + 3.26 * float(s.retained_earnings) / ta
             + 6.72 * float(s.ebit) / ta + 1.05 * float(s.equity) / max(tl, 1.0))
        out.setdefault(s.customer.code, []).append(z)
    return out


def _reports_by_customer() -> dict[str, list[Decimal]]:
    out: dict[str, list[Decimal]] = {}
    rows = CreditReport.objects.order_by("customer__code", "report_date").values_list("customer__code", "score")
    for code, score in rows:
        out.setdefault(code, []).append(score)
    return out


def test_it_lets_the_hidden_risk_drive_payment_behaviour():
    seed_portfolio(customers=300, months=24, seed=9)

    def mean_days_late(customers):
        paid = Invoice.objects.filter(customer__in=customers, status="paid")
        total = sum(((i.paid_date - i.due_date).days for i in paid.only("paid_date", "due_date")), 0)
        return total / max(1, paid.count())

    blocked = Customer.objects.filter(status="blocked")
    active = Customer.objects.filter(status="active")
    assert blocked.exists()
    assert mean_days_late(blocked) > mean_days_late(active) + 5
    score = {"blocked": [], "active": []}
    for status, value in CreditReport.objects.filter(customer__status__in=score).values_list("customer__status",
                                                                                             "score"):
        score[status].append(value)
    assert sum(score["blocked"]) / len(score["blocked"]) < sum(score["active"]) / len(score["active"]) - 10


def test_it_records_one_audit_event_and_the_chain_verifies():
    counts = seed_portfolio(customers=30, months=6, seed=2)
    events = AuditEvent.objects.filter(action="demo.seed")
    assert events.count() == 1
    event = events.get()
    assert event.subject_type == "customers.portfolio"
    assert event.after["counts"]["invoice"] == counts["invoice"] == Invoice.objects.count()
    assert list(audit_verify()) == []
    call_command("verify_audit")


def test_it_builds_fifty_customers_in_a_few_seconds():
    started = time.perf_counter()
    seed_portfolio(customers=50, months=24, seed=11)
    assert time.perf_counter() - started < 5
    assert Customer.objects.count() == 50


def test_the_command_refuses_a_non_empty_customer_table_unless_told_to_skip():
    call_command("seed_demo", customers=20, months=6, seed=1)
    assert Customer.objects.count() == 20
    with pytest.raises(CommandError, match="empty customer table"):
        call_command("seed_demo", customers=20, months=6, seed=1)
    call_command("seed_demo", "--if-empty", customers=20, months=6, seed=1)
    call_command("seed_demo", customers=0)
    assert Customer.objects.count() == 20
    assert AuditEvent.objects.filter(action="demo.seed").count() == 1


def test_the_command_rejects_bad_sizes_without_writing():
    with pytest.raises(CommandError):
        call_command("seed_demo", customers=-1)
    with pytest.raises(CommandError):
        call_command("seed_demo", customers=5, months=0)
    assert not Customer.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bulk index rebuild is PostgreSQL only")
def test_it_restores_every_index_and_constraint_after_a_bulk_load():
    def schema():
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'customers_%%'")
            indexes = sorted(cursor.fetchall())
            cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                           "WHERE conrelid::regclass::text LIKE 'customers_%%' AND convalidated")
            return indexes, sorted(cursor.fetchall())

    before = schema()
    seed_portfolio(customers=40, months=12, seed=12, bulk=True)
    assert schema() == before
    assert Invoice.objects.count() > 0
    # Sequences continue after the explicit ids.
    customer = Customer.objects.create(code="AFTER-SEED", name="After")
    assert customer.pk > Customer.objects.exclude(pk=customer.pk).aggregate(m=Max("pk"))["m"]
