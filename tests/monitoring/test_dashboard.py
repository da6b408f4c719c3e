"""The portfolio dashboard: aggregate figures that match the invoices, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from customers.models import Customer, Invoice
from monitoring.selectors import portfolio_summary


def _invoice(customer, number, due_days_ago, amount, paid="0"):
    today = timezone.localdate()
    due = today - dt.timedelta(days=due_days_ago)
    return Invoice.objects.create(customer=customer, number=number, issue_date=due - dt.timedelta(days=30),
                                  due_date=due, amount=Decimal(amount), amount_paid=Decimal(paid), currency="CNY")


@pytest.fixture
def portfolio(db):
    cache.clear()
    a = Customer.objects.create(code="A1", name="Alpha", current_grade="B1")
    b = Customer.objects.create(code="B1", name="Beta", current_grade="D")
    _invoice(a, "I1", -10, "100.00")            # not yet due
    _invoice(a, "I2", 15, "200.00", paid="50")  # 1-30 days, 150 open
    _invoice(b, "I3", 45, "300.00")             # 31-60
    _invoice(b, "I4", 120, "400.00")            # 90+
    _invoice(b, "I5", 70, "500.00", paid="500")  # fully paid: not open
    return a, b


def test_it_sums_open_receivables_into_aging_buckets(portfolio):
    summary = portfolio_summary(as_of=timezone.localdate())
    assert summary["aging"] == {"ar_current": Decimal("100.00"), "ar_1_30": Decimal("150.00"),
                                "ar_31_60": Decimal("300.00"), "ar_61_90": Decimal("0"),
                                "ar_90_plus": Decimal("400.00")}
    assert summary["open_ar"] == Decimal("950.00")
    assert summary["overdue"] == Decimal("850.00")
    assert summary["customers"] == 2
    grades = {row["grade"]: row["open_ar"] for row in summary["exposure_by_grade"]}
    assert grades == {"B1": Decimal("250.00"), "D": Decimal("700.00")}
    assert [row["customer"].code for row in summary["top_exposures"]] == ["B1", "A1"]


def test_the_dashboard_page_shows_the_figures_in_bounded_queries(client_for, manager, portfolio,
                                                                 django_assert_max_num_queries):
    client = client_for(manager)
    with django_assert_max_num_queries(14):
        response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "dashboard-aging" in html
    assert "Beta" in html


def test_every_role_can_open_the_dashboard_but_an_outsider_cannot(client_for, personas, portfolio):
    for role, user in personas.items():
        status = client_for(user).get("/dashboard/").status_code
        assert status == (403 if role == "outsider" else 200), role


def test_the_refresh_task_recomputes_the_cached_figures(portfolio):
    from monitoring.tasks import refresh_dashboard

    today = timezone.localdate()
    assert portfolio_summary(as_of=today)["open_ar"] == Decimal("950.00")
    a, _b = portfolio
    _invoice(a, "I9", 5, "50.00")
    assert portfolio_summary(as_of=today)["open_ar"] == Decimal("950.00")  # served from the cache
    refresh_dashboard()
    assert portfolio_summary(as_of=today)["open_ar"] == Decimal("1000.00")
