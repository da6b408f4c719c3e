"""Ratios and Altman Z-scores against hand-computed numbers; the portfolio frames."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from customers.finance import credit_report_frame, financials_frame, statement_analysis, statements_trend
from customers.models import FinancialStatement
from tests.customers.factories import CreditReportFactory, CustomerFactory, FinancialStatementFactory

D = dt.date
pytestmark = pytest.mark.django_db


def test_it_computes_ratios_by_hand():
    # Factory defaults: TA 10m, CA 5m, inventory 1.5m, CL 3.5m, TL 6m, equity 4m, revenue 12m,
    # EBIT 0.9m, net income 0.6m, interest 0.15m, OCF 1m, cash 0.8m.
    a = statement_analysis(FinancialStatementFactory())
    assert a["current_ratio"] == pytest.approx(5 / 3.5)
    assert a["quick_ratio"] == pytest.approx(1.0)
    assert a["cash_ratio"] == pytest.approx(0.8 / 3.5)
    assert a["debt_to_equity"] == pytest.approx(1.5)
    assert a["leverage"] == pytest.approx(0.6)
    assert a["interest_coverage"] == pytest.approx(6.0)
    assert a["gross_margin"] == pytest.approx(0.25)
    assert a["net_margin"] == pytest.approx(0.05)
    assert a["roa"] == pytest.approx(0.06)
    assert a["roe"] == pytest.approx(0.15)
    assert a["asset_turnover"] == pytest.approx(1.2)
    assert a["ocf_ratio"] == pytest.approx(1 / 3.5)
    assert a["working_capital"] == pytest.approx(1_500_000)
    assert a["negative_equity"] is False


def test_it_computes_altman_scores_and_zones_by_hand():
    a = statement_analysis(FinancialStatementFactory())
    # X1 0.15, X2 0.2, X3 0.09, X4 4/6, X5 1.2
    assert a["x4"] == pytest.approx(4 / 6)
    assert a["z_score"] == pytest.approx(1.2 * 0.15 + 1.4 * 0.2 + 3.3 * 0.09 + 0.6 * 4 / 6 + 1.0 * 1.2)  # 2.357
    assert a["z_score_zone"] == "grey"
    assert a["z_prime"] == pytest.approx(0.717 * 0.15 + 0.847 * 0.2 + 3.107 * 0.09 + 0.420 * 4 / 6 + 0.998 * 1.2)
    assert a["z_prime"] == pytest.approx(2.03418)
    assert a["z_prime_zone"] == "grey"
    assert a["z_double_prime"] == pytest.approx(2.9408)
    assert a["z_double_prime_zone"] == "safe"
    assert a["z_em"] == pytest.approx(2.9408 + 3.25)


def test_it_flags_distress():
    statement = FinancialStatementFactory.build(
        total_assets=Decimal(1000), current_assets=Decimal(200), current_liabilities=Decimal(500),
        total_liabilities=Decimal(900), equity=Decimal(100), retained_earnings=Decimal(-300), ebit=Decimal(-50),
        revenue=Decimal(400), net_income=Decimal(-80), interest_expense=Decimal(0), inventory=None,
        operating_cash_flow=None,
    )
    a = statement_analysis(statement)
    assert a["z_double_prime"] == pytest.approx(6.56 * -0.3 + 3.26 * -0.3 + 6.72 * -0.05 + 1.05 / 9)
    assert a["z_double_prime_zone"] == a["z_score_zone"] == a["z_prime_zone"] == "distress"
    # Division by zero or a missing item gives None, never an exception.
    assert a["interest_coverage"] is None
    assert a["quick_ratio"] is None
    assert a["ocf_ratio"] is None


def test_it_treats_negative_equity_and_zero_liabilities_without_errors():
    statement = FinancialStatementFactory.build(total_liabilities=Decimal(0), current_liabilities=Decimal(0),
                                                equity=Decimal("10000000"))
    a = statement_analysis(statement)
    assert a["current_ratio"] is None
    assert a["x4"] is None
    assert a["z_score"] is None
    assert a["z_score_zone"] is None
    negative = statement_analysis(FinancialStatementFactory.build(equity=Decimal(-100)))
    assert negative["negative_equity"] is True
    assert negative["debt_to_equity"] is None


def test_it_builds_a_trend_oldest_first():
    customer = CustomerFactory()
    FinancialStatementFactory(customer=customer, period_end=D(2024, 12, 31), net_income=Decimal("100000"))
    FinancialStatementFactory(customer=customer, period_end=D(2025, 12, 31))
    trend = statements_trend(customer=customer)
    assert [t["period_end"] for t in trend] == [D(2024, 12, 31), D(2025, 12, 31)]
    assert trend[0]["roa"] == pytest.approx(0.01)
    assert trend[1]["roa"] == pytest.approx(0.06)


def test_it_takes_the_latest_statement_known_at_the_as_of_date():
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    FinancialStatementFactory(customer=a, period_end=D(2024, 12, 31), net_income=Decimal("100000"))
    latest = FinancialStatementFactory(customer=a, period_end=D(2025, 12, 31))
    FinancialStatementFactory(customer=a, period_end=D(2025, 12, 31), period_type="interim",
                              net_income=Decimal("1"))
    FinancialStatementFactory(customer=b, period_end=D(2026, 12, 31))
    frame = financials_frame(as_of=D(2026, 3, 31))
    assert list(frame.index) == [a.pk]
    row = frame.loc[a.pk]
    assert row["statement_id"] == latest.pk
    assert row["statement_age_days"] == 90
    single = statement_analysis(latest)
    for key in ("current_ratio", "z_double_prime", "roa", "debt_to_equity"):
        assert row[key] == pytest.approx(single[key])
    assert row["z_double_prime_zone"] == "safe"
    earlier = financials_frame(as_of=D(2025, 6, 30), customer_ids=[a.pk, b.pk, c.pk])
    assert earlier.loc[a.pk, "roa"] == pytest.approx(0.01)
    assert financials_frame(as_of=D(2000, 1, 1)).empty


def test_it_detects_an_external_rating_downgrade():
    customer, other = CustomerFactory(), CustomerFactory()
    CreditReportFactory(customer=customer, report_date=D(2025, 6, 1), rating="BBB", score=Decimal(80))
    CreditReportFactory(customer=customer, report_date=D(2026, 1, 1), rating="BB+", score=Decimal(70))
    CreditReportFactory(customer=customer, report_date=D(2026, 9, 1), rating="B")  # after as-of
    CreditReportFactory(customer=other, report_date=D(2026, 2, 1), rating="A", legal_events=3)
    frame = credit_report_frame(as_of=D(2026, 3, 1))
    row = frame.loc[customer.pk]
    assert (row["rating"], row["previous_rating"], row["rating_notches_down"]) == ("BB+", "BBB", 2)
    assert row["previous_score"] == 80
    assert row["report_age_days"] == 59
    other_row = frame.loc[other.pk]
    assert other_row["legal_events"] == 3
    assert math.isnan(other_row["rating_notches_down"])
    assert credit_report_frame(as_of=D(2020, 1, 1)).empty


def test_it_never_divides_by_zero_in_the_frame():
    FinancialStatement.objects.create(
        customer=CustomerFactory(), period_end=D(2025, 12, 31), currency="CNY", revenue=0, ebit=0, net_income=0,
        total_assets=1, current_assets=0, total_liabilities=0, current_liabilities=0, equity=1,
    )
    frame = financials_frame(as_of=D(2026, 1, 1))
    row = frame.iloc[0]
    assert math.isnan(row["current_ratio"])
    assert math.isnan(row["net_margin"])
    assert math.isnan(row["z_score"])
    assert row["z_score_zone"] is None


def test_it_filters_long_id_lists_exactly():
    inside, outside = CustomerFactory(), CustomerFactory()
    for customer in (inside, outside):
        FinancialStatementFactory(customer=customer)
        CreditReportFactory(customer=customer)
    # More ids than an IN list takes: the SQL range spans `outside` (created later), pandas leaves it out.
    ids = [inside.pk, *range(outside.pk + 1, outside.pk + 2000)]
    assert list(financials_frame(as_of=D(2026, 6, 30), customer_ids=ids).index) == [inside.pk]
    assert list(credit_report_frame(as_of=D(2026, 6, 30), customer_ids=ids).index) == [inside.pk]
