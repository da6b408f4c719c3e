"""The feature catalogue and feature_frame: hand-computed values, point-in-time correctness, custom attributes."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.utils import translation

from customers import services as customer_services
from customers.models import AttributeType
from scoring.features import CUSTOM, feature_catalogue, feature_frame, reason_text
from tests.customers.factories import (
    AttributeDefinitionFactory,
    CreditReportFactory,
    CustomerFactory,
    FinancialStatementFactory,
    InvoiceFactory,
)

D = dt.date
AS_OF = D(2026, 6, 30)


def _invoice(customer, number, issue, due, amount):
    return InvoiceFactory(customer=customer, number=number, issue_date=issue, due_date=due, amount=Decimal(amount))


def _pay(customer, reference, date, amount, invoice_number):
    customer_services.payment_create(customer=customer, reference=reference, date=date, amount=Decimal(amount),
                                     invoice_number=invoice_number, actor=None)


@pytest.fixture
def portfolio(db):
    AttributeDefinitionFactory(key="employees", label="Employees", type=AttributeType.NUMBER)
    AttributeDefinitionFactory(key="channel", label="Channel", type=AttributeType.CATEGORY,
                               choices=["direct", "dealer"])
    AttributeDefinitionFactory(key="state_owned", label="State owned", type=AttributeType.BOOLEAN)
    AttributeDefinitionFactory(key="founded", label="Founded", type=AttributeType.DATE)
    AttributeDefinitionFactory(key="notes", label="Notes", type=AttributeType.TEXT)
    a = CustomerFactory(code="FEAT-A", size="medium", industry="C38", region="East",
                        relationship_start=D(2020, 1, 1),
                        attributes={"employees": 120.0, "channel": "dealer", "state_owned": True,
                                    "founded": "2016-06-30", "notes": "free text"})
    _invoice(a, "I1", D(2026, 1, 1), D(2026, 1, 31), "1000")   # paid 10 days late
    _invoice(a, "I2", D(2026, 3, 1), D(2026, 3, 31), "2000")   # paid 30 days late
    _invoice(a, "I3", D(2026, 4, 15), D(2026, 5, 15), "500")   # open at AS_OF, 46 days past due
    _invoice(a, "I4", D(2026, 6, 10), D(2026, 7, 10), "1200")  # current
    _invoice(a, "I5", D(2026, 7, 5), D(2026, 8, 4), "9999")    # issued after AS_OF: unknown then
    _pay(a, "P1", D(2026, 2, 10), "1000", "I1")
    _pay(a, "P2", D(2026, 4, 30), "2000", "I2")
    _pay(a, "P3", D(2026, 7, 10), "500", "I3")                 # after AS_OF
    FinancialStatementFactory(customer=a, period_end=D(2025, 12, 31))  # CA 5.0m / CL 3.5m
    FinancialStatementFactory(customer=a, period_end=D(2026, 9, 30), period_type="interim",
                              current_assets=Decimal("1000000"), current_liabilities=Decimal("4000000"))
    CreditReportFactory(customer=a, report_date=D(2026, 1, 10), pd=Decimal("0.02"), legal_events=0, rating="BB")
    CreditReportFactory(customer=a, report_date=D(2026, 8, 1), pd=Decimal("0.30"), legal_events=5, rating="B")
    b = CustomerFactory(code="FEAT-B", size="small", relationship_start=None)
    return a, b


def test_it_computes_behaviour_features_by_hand(portfolio):
    a, _ = portfolio
    row = feature_frame(as_of=AS_OF).loc[a.pk]
    assert row["open_ar"] == pytest.approx(1700)
    assert row["overdue_amount"] == pytest.approx(500)
    assert row["overdue_ratio"] == pytest.approx(500 / 1700)
    assert row["share_31_60"] == pytest.approx(500 / 1700)
    assert row["share_current"] == pytest.approx(1200 / 1700)
    assert row["share_90_plus"] == 0
    assert row["dbt_12m"] == pytest.approx((1000 * 10 + 2000 * 30) / 3000)
    assert row["max_dpd"] == 46
    assert row["relationship_years"] == pytest.approx((AS_OF - D(2020, 1, 1)).days / 365.25)


def test_it_computes_financial_bureau_and_firmographic_features(portfolio):
    a, _ = portfolio
    row = feature_frame(as_of=AS_OF).loc[a.pk]
    assert row["current_ratio"] == pytest.approx(5_000_000 / 3_500_000)
    assert row["debt_to_equity"] == pytest.approx(6_000_000 / 4_000_000)
    assert row["revenue"] == pytest.approx(12_000_000)
    assert row["z_zone"] in ("safe", "grey", "distress")
    assert row["negative_equity"] == 0
    assert row["statement_age_days"] == (AS_OF - D(2025, 12, 31)).days
    assert row["bureau_pd"] == pytest.approx(0.02)
    assert row["bureau_legal_events"] == 0
    assert row["bureau_rating"] == "BB"
    assert row["bureau_report_age_days"] == (AS_OF - D(2026, 1, 10)).days
    assert (row["size"], row["industry"], row["region"], row["country"]) == ("medium", "C38", "East", "CN")


def test_it_is_point_in_time_correct(portfolio):
    a, _ = portfolio
    later = D(2026, 10, 1)
    before, after = feature_frame(as_of=AS_OF).loc[a.pk], feature_frame(as_of=later).loc[a.pk]
    # the statement of 2026-09-30, the report of 2026-08-01, invoice I5 and payment P3 are unknown at AS_OF
    assert before["current_ratio"] == pytest.approx(5 / 3.5)
    assert after["current_ratio"] == pytest.approx(1 / 4)
    assert before["bureau_pd"] == pytest.approx(0.02)
    assert after["bureau_pd"] == pytest.approx(0.30)
    assert after["bureau_legal_events"] == 5
    assert after["bureau_rating_notches_down"] == 3  # BB → B on the agency scale
    assert after["open_ar"] == pytest.approx(1200 + 9999)


def test_it_turns_custom_attributes_into_typed_features(portfolio):
    a, b = portfolio
    frame = feature_frame(as_of=AS_OF)
    row = frame.loc[a.pk]
    assert row["attr_employees"] == 120
    assert row["attr_channel"] == "dealer"
    assert row["attr_state_owned"] == 1.0
    assert row["attr_founded"] == (AS_OF - D(2016, 6, 30)).days
    assert "attr_notes" not in frame.columns  # free text is not a feature
    assert math.isnan(frame.loc[b.pk, "attr_employees"])
    assert frame.loc[b.pk, "attr_channel"] is None


def test_it_gives_every_customer_a_row_even_without_data(portfolio):
    a, b = portfolio
    frame = feature_frame(as_of=AS_OF)
    assert sorted(frame.index) == sorted([a.pk, b.pk])
    row = frame.loc[b.pk]
    assert row["open_ar"] == 0
    assert math.isnan(row["dbt_12m"])
    assert math.isnan(row["current_ratio"])
    assert math.isnan(row["relationship_years"])
    assert row["size"] == "small"
    only_b = feature_frame(as_of=AS_OF, customer_ids=[b.pk])
    assert list(only_b.index) == [b.pk]


def test_it_computes_the_frame_with_a_fixed_number_of_queries(portfolio, django_assert_max_num_queries):
    for n in range(30):
        CustomerFactory(code=f"FEAT-X{n}")
    with django_assert_max_num_queries(10):
        frame = feature_frame(as_of=AS_OF)
    assert len(frame) == 32


def test_it_documents_every_feature_including_custom_ones(portfolio):
    catalogue = feature_catalogue()
    assert {"dbt_12m", "max_dpd", "overdue_ratio", "z_double_prime", "z_zone", "bureau_pd", "relationship_years",
            "size", "industry", "region"} <= set(catalogue)
    assert catalogue["attr_channel"].source == CUSTOM
    assert catalogue["attr_channel"].kind == "categorical"
    assert "attr_notes" not in catalogue
    frame = feature_frame(as_of=AS_OF)
    assert set(catalogue) <= set(frame.columns)
    for spec in catalogue.values():
        assert str(spec.label)


def test_it_explains_a_reason_in_both_languages(portfolio):
    reason = {"code": "dbt_12m_high", "feature": "dbt_12m", "source": "scorecard", "impact": 0.7, "value": 23.3}
    with translation.override("en"):
        text = reason_text(reason)
    assert text == "Days beyond terms, 12 months is high (23 days)."
    margin = {"code": "net_margin_low", "feature": "net_margin", "source": "scorecard", "value": 0.02757}
    with translation.override("en"):
        assert reason_text(margin) == "Net margin is low (2.8%)."
    with translation.override("zh-hans"):
        chinese = reason_text(reason)
    assert "超期天数" in chinese
    assert "23 天" in chinese
