"""Behaviour figures (aging, DSO, DBT, max DPD, payment statistics) against hand-computed values."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers import services
from customers.bulk import invoices_upsert
from customers.models import Invoice, InvoiceStatus
from customers.selectors import aging_buckets, behaviour_frame, customer_behaviour
from tests.customers.factories import CustomerFactory, InvoiceFactory

D = dt.date
AS_OF = D(2026, 6, 30)


def _invoice(customer, number, issue, due, amount, **extra):
    return InvoiceFactory(customer=customer, number=number, issue_date=issue, due_date=due,
                          amount=Decimal(amount), **extra)


def _pay(customer, reference, date, amount, invoice_number):
    return services.payment_create(customer=customer, reference=reference, date=date, amount=Decimal(amount),
                                   invoice_number=invoice_number, actor=None)


@pytest.fixture
def ledger(db):
    """The worked example (numbers in the comments are the hand computation)."""
    c = CustomerFactory(code="BEH-1")
    _invoice(c, "I1", D(2026, 1, 1), D(2026, 1, 31), "1000")     # paid 2026-02-10: 10 days late
    _invoice(c, "I2", D(2026, 3, 1), D(2026, 3, 31), "2000")     # paid 2026-04-30: 30 days late
    _invoice(c, "I3", D(2026, 4, 15), D(2026, 5, 15), "500")     # open, 46 dpd -> 31-60
    _invoice(c, "I4", D(2026, 5, 20), D(2026, 6, 19), "800")     # 300 paid, 500 open, 11 dpd -> 1-30
    _invoice(c, "I5", D(2026, 6, 10), D(2026, 7, 10), "1200")    # current
    _invoice(c, "I6", D(2026, 1, 15), D(2026, 2, 14), "400")     # 136 dpd -> 90+
    _invoice(c, "I7", D(2026, 3, 15), D(2026, 4, 14), "600")     # 77 dpd -> 61-90
    _invoice(c, "I8", D(2026, 5, 1), D(2026, 5, 31), "700")      # paid 2026-07-05, after as-of: 30 dpd
    _invoice(c, "I9", D(2025, 12, 1), D(2025, 12, 31), "900",    # written off before as-of
             status=InvoiceStatus.WRITTEN_OFF, written_off_date=D(2026, 5, 1))
    _invoice(c, "I10", D(2026, 2, 1), D(2026, 3, 3), "100",      # written off after as-of: open, 119 dpd
             status=InvoiceStatus.WRITTEN_OFF, written_off_date=D(2026, 7, 15))
    _invoice(c, "I11", D(2026, 6, 1), D(2026, 7, 1), "5000",     # cancelled: never counts
             status=InvoiceStatus.CANCELLED)
    _pay(c, "P1", D(2026, 2, 10), "1000", "I1")
    _pay(c, "P2", D(2026, 4, 30), "2000", "I2")
    _pay(c, "P3", D(2026, 6, 25), "300", "I4")
    _pay(c, "P4", D(2026, 7, 5), "700", "I8")
    return c


def test_it_computes_aging_buckets_by_hand(ledger):
    b = customer_behaviour(customer=ledger, as_of=AS_OF)
    assert b["open_ar"] == pytest.approx(4000)
    assert b["ar_current"] == pytest.approx(1200)
    assert b["ar_1_30"] == pytest.approx(1200)     # I4 500 + I8 700
    assert b["ar_31_60"] == pytest.approx(500)
    assert b["ar_61_90"] == pytest.approx(600)
    assert b["ar_90_plus"] == pytest.approx(500)   # I6 400 + I10 100
    assert b["overdue_amount"] == pytest.approx(2800)
    assert b["overdue_ratio"] == pytest.approx(0.7)
    assert b["max_dpd"] == 136


def test_it_computes_dso_from_trailing_90_day_sales(ledger):
    b = customer_behaviour(customer=ledger, as_of=AS_OF)
    # sales issued after 2026-04-01: I3 500 + I4 800 + I5 1200 + I8 700 = 3200
    assert b["sales_90d"] == pytest.approx(3200)
    assert b["dso"] == pytest.approx(4000 / 3200 * 90)  # 112.5


def test_it_computes_amount_weighted_days_beyond_terms(ledger):
    b = customer_behaviour(customer=ledger, as_of=AS_OF)
    assert b["dbt_3m"] == pytest.approx(30)                      # only I2 paid after 2026-04-01
    assert b["dbt_6m"] == pytest.approx((1000 * 10 + 2000 * 30) / 3000)
    assert b["dbt_12m"] == pytest.approx((1000 * 10 + 2000 * 30) / 3000)
    assert b["payment_trend"] == pytest.approx(30 - 70000 / 3000)


def test_it_computes_payment_statistics(ledger):
    b = customer_behaviour(customer=ledger, as_of=AS_OF)
    assert b["payment_count_3m"] == 2
    assert b["payment_amount_3m"] == pytest.approx(2300)
    assert b["payment_amount_mean_12m"] == pytest.approx(1100)
    assert b["payment_amount_std_12m"] == pytest.approx(math.sqrt(1_460_000 / 2))
    assert b["payment_interval_mean_days"] == pytest.approx(67.5)     # 79 and 56 days
    assert b["payment_interval_std_days"] == pytest.approx(math.sqrt(2 * 11.5**2))
    assert b["written_off_12m"] == pytest.approx(900)
    assert b["invoice_count_12m"] == 10                               # the cancelled one excluded
    assert b["sales_12m"] == pytest.approx(8200)


def test_it_ignores_payments_after_the_as_of_date(ledger):
    before = customer_behaviour(customer=ledger, as_of=AS_OF)
    after = customer_behaviour(customer=ledger, as_of=D(2026, 7, 10))
    assert before["ar_1_30"] == pytest.approx(1200)
    # On 2026-07-10 I8 is paid (35 days late), I4 is 21 dpd, I5 is due today (current).
    assert after["open_ar"] == pytest.approx(4000 - 700)
    assert after["dbt_3m"] == pytest.approx((2000 * 30 + 700 * 35) / 2700)
    assert after["payment_count_3m"] == 3


def test_it_ignores_invoices_issued_after_the_as_of_date(ledger):
    early = customer_behaviour(customer=ledger, as_of=D(2026, 2, 5))
    # Only I1 (not yet paid, 5 dpd), I6 and I10 (current) exist; I9 is not yet written off: 36 dpd.
    assert early["open_ar"] == pytest.approx(1000 + 400 + 100 + 900)
    assert early["ar_1_30"] == pytest.approx(1000)
    assert early["ar_31_60"] == pytest.approx(900)
    assert early["ar_current"] == pytest.approx(400 + 100)
    assert early["max_dpd"] == 36
    assert early["dbt_12m"] is None
    assert early["written_off_12m"] == 0


def test_it_gives_a_row_with_zeros_to_a_customer_without_invoices(ledger):
    empty = CustomerFactory(code="BEH-EMPTY")
    frame = behaviour_frame(as_of=AS_OF)
    assert set(frame.index) >= {ledger.pk, empty.pk}
    row = frame.loc[empty.pk]
    assert row["open_ar"] == 0
    assert row["overdue_ratio"] == 0
    assert row["max_dpd"] == 0
    assert math.isnan(row["dso"])
    assert math.isnan(row["dbt_3m"])
    assert math.isnan(row["payment_amount_std_12m"])


def test_it_gives_the_same_figures_for_the_portfolio_and_one_customer(ledger):
    other = CustomerFactory(code="BEH-2")
    _invoice(other, "X1", D(2026, 5, 1), D(2026, 5, 31), "250")
    portfolio = behaviour_frame(as_of=AS_OF)
    for customer in (ledger, other):
        single = customer_behaviour(customer=customer, as_of=AS_OF)
        _assert_row_equals(portfolio.loc[customer.pk].to_dict(), single)


def test_it_splits_aging_for_the_chart(ledger):
    buckets = aging_buckets(customer=ledger, as_of=AS_OF)
    assert [b["key"] for b in buckets] == ["ar_current", "ar_1_30", "ar_31_60", "ar_61_90", "ar_90_plus"]
    assert sum(b["amount"] for b in buckets) == pytest.approx(4000)
    assert sum(b["share"] for b in buckets) == pytest.approx(1)


def test_it_filters_a_large_id_list_exactly(ledger):
    others = [CustomerFactory() for _ in range(3)]
    ids = [ledger.pk, others[0].pk, *range(10_000_000, 10_001_500)]  # > IN-list limit: range filter path
    frame = behaviour_frame(as_of=AS_OF, customer_ids=ids)
    assert others[1].pk not in frame.index
    assert frame.loc[ledger.pk, "open_ar"] == pytest.approx(4000)
    assert len(frame) == len(set(ids))


def test_it_runs_a_fixed_number_of_queries_for_any_portfolio_size(ledger, django_assert_max_num_queries):
    for n in range(20):
        c = CustomerFactory()
        _invoice(c, f"Q{n}", D(2026, 5, 1), D(2026, 5, 31), "100")
    # customer ids, invoices, payments (+ on PostgreSQL a savepoint and its session settings)
    with django_assert_max_num_queries(6):
        behaviour_frame(as_of=AS_OF)


def _assert_row_equals(portfolio_row: dict, single: dict) -> None:
    assert set(single) == set(portfolio_row)
    for key, value in single.items():
        expected = portfolio_row[key]
        if value is None:
            assert expected is None or math.isnan(expected), key
        else:
            assert value == pytest.approx(expected), key


# --------------------------------------------------------------------------------------------------
# property: SQL/pandas figures equal a plain Python reference, and portfolio rows equal single ones

def _reference(invoices: list[dict], payments: list[dict], as_of: dt.date) -> dict:
    """Straightforward per-invoice computation of a subset of the figures."""
    open_ar = 0.0
    buckets = dict.fromkeys(("ar_current", "ar_1_30", "ar_31_60", "ar_61_90", "ar_90_plus"), 0.0)
    max_dpd = 0
    dbt = {90: [0.0, 0.0], 365: [0.0, 0.0]}
    for inv in invoices:
        if inv["issue"] > as_of:
            continue
        every = sorted((p["date"], a) for p in payments for (num, a) in p["alloc"] if num == inv["number"])
        allocs = [(date, a) for date, a in every if date <= as_of]
        outside, outside_date = inv.get("outside", 0), inv.get("outside_date")
        paid_date = None  # invoice_paid_recompute's rule
        if outside + sum(a for _, a in every) >= inv["amount"]:
            if not every:
                paid_date = outside_date or inv["due"]
            elif outside <= 0 or outside_date is None or every[-1][0] >= outside_date:
                paid_date = every[-1][0]
            else:
                paid_date = outside_date
        if paid_date is not None and paid_date <= as_of:
            paid = inv["amount"]
        else:
            paid = sum(a for _, a in allocs)
            if outside > 0 and (outside_date or paid_date or inv["due"]) <= as_of:
                paid += outside
        remaining = inv["amount"] - paid
        if remaining > 0:
            open_ar += remaining
            dpd = (as_of - inv["due"]).days
            key = ("ar_current" if dpd <= 0 else "ar_1_30" if dpd <= 30 else "ar_31_60" if dpd <= 60
                   else "ar_61_90" if dpd <= 90 else "ar_90_plus")
            buckets[key] += remaining
            max_dpd = max(max_dpd, dpd)
        else:
            paid_on = paid_date
            for days, acc in dbt.items():
                if paid_on > as_of - dt.timedelta(days=days):
                    acc[0] += inv["amount"] * max((paid_on - inv["due"]).days, 0)
                    acc[1] += inv["amount"]
    return {"open_ar": open_ar, **buckets, "max_dpd": max_dpd,
            "dbt_3m": dbt[90][0] / dbt[90][1] if dbt[90][1] else None,
            "dbt_12m": dbt[365][0] / dbt[365][1] if dbt[365][1] else None}


invoice_strategy = st.lists(
    st.tuples(st.integers(0, 400), st.integers(0, 90), st.integers(1, 500),
              st.one_of(st.none(), st.integers(0, 200)), st.integers(0, 3),
              # paid outside: percent of the amount, days after issue (None: no date known)
              st.one_of(st.none(), st.tuples(st.integers(1, 100), st.one_of(st.none(), st.integers(0, 200))))),
    min_size=0, max_size=6,
)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(specs=st.lists(invoice_strategy, min_size=1, max_size=3), as_of_offset=st.integers(0, 500))
def test_it_matches_a_reference_computation_and_the_portfolio(specs, as_of_offset):
    start = D(2025, 1, 1)
    as_of = start + dt.timedelta(days=as_of_offset)
    customers, expected = [], {}
    for spec in specs:
        customer = CustomerFactory()
        customers.append(customer)
        invoices, payments = [], []
        for n, (issue_off, terms, amount, pay_after, parts, paid_outside) in enumerate(spec):
            issue = start + dt.timedelta(days=issue_off)
            inv = {"number": f"H{n}", "issue": issue, "due": issue + dt.timedelta(days=terms), "amount": amount}
            if paid_outside is not None:
                inv["outside"] = amount * paid_outside[0] // 100
                inv["outside_date"] = (None if paid_outside[1] is None
                                       else issue + dt.timedelta(days=paid_outside[1]))
            Invoice.objects.create(customer=customer, number=inv["number"], issue_date=inv["issue"],
                                   due_date=inv["due"], amount=amount, currency="CNY",
                                   paid_outside=inv.get("outside", 0), amount_paid=inv.get("outside", 0),
                                   paid_outside_date=inv.get("outside_date"))
            invoices.append(inv)
            if pay_after is None:
                continue
            # Pay in `parts` instalments (the last part may be missing: partly paid).
            share = (amount - inv.get("outside", 0)) // max(parts, 1)
            for k in range(parts):
                if share <= 0:
                    break
                date = inv["due"] + dt.timedelta(days=pay_after + 7 * k - 30)
                date = max(date, issue)
                _pay(customer, f"{inv['number']}-{k}", date, share, inv["number"])
                payments.append({"date": date, "alloc": [(inv["number"], share)]})
        expected[customer.pk] = _reference(invoices, payments, as_of)
    services.invoice_paid_recompute(invoice_ids=None)

    ids = [c.pk for c in customers]
    frame = behaviour_frame(as_of=as_of, customer_ids=ids)
    assert sorted(frame.index) == sorted(ids)
    for customer in customers:
        single = customer_behaviour(customer=customer, as_of=as_of)
        _assert_row_equals(frame.loc[customer.pk].to_dict(), single)
        for key, value in expected[customer.pk].items():
            if value is None:
                assert single[key] is None, key
            else:
                assert single[key] == pytest.approx(value, abs=1e-6), key


# --------------------------------------------------------------------------------------------------
# invoices partly paid outside the payments recorded here (an import's paid_amount)

@pytest.fixture
def outside(db):
    c = CustomerFactory(code="OUT-1", currency="CNY")
    rows = [
        # 60 of 100 settled in the ERP on 2026-02-15, 40 open
        {"number": "O1", "issue_date": "2026-01-01", "due_date": "2026-01-31", "amount": "100",
         "paid_amount": "60", "paid_date": "2026-02-15"},
        # 50 of 200 settled in the ERP on an unknown date: counts at the due date
        {"number": "O2", "issue_date": "2026-03-01", "due_date": "2026-03-31", "amount": "200", "paid_amount": "50"},
        # 60 of 100 settled on an unknown date, the last 40 paid here on 2026-03-10 (8 days late)
        {"number": "O3", "issue_date": "2026-02-01", "due_date": "2026-03-02", "amount": "100", "paid_amount": "60"},
    ]
    invoices_upsert(rows=[{"customer_code": "OUT-1", "currency": "CNY", **r} for r in rows], actor=None)
    _pay(c, "P-O3", D(2026, 3, 10), "40", "O3")
    return c


def test_it_counts_the_part_paid_outside_from_its_date(outside):
    before = customer_behaviour(customer=outside, as_of=D(2026, 2, 10))
    after = customer_behaviour(customer=outside, as_of=D(2026, 2, 20))

    # O1 only (O3 is not yet due, O2 not issued): fully open before the ERP settlement, 40 after it.
    assert (before["open_ar"], before["ar_1_30"], before["max_dpd"]) == (pytest.approx(100 + 100),
                                                                         pytest.approx(100), 10)
    assert (after["open_ar"], after["ar_1_30"], after["max_dpd"]) == (pytest.approx(40 + 100),
                                                                      pytest.approx(40), 20)


def test_it_counts_an_undated_outside_part_at_the_due_date_or_the_paid_date(outside):
    early = customer_behaviour(customer=outside, as_of=D(2026, 3, 5))
    late = customer_behaviour(customer=outside, as_of=D(2026, 4, 5))

    # 2026-03-05: O1 40 (33 dpd), O2 200 current, O3 100 (3 dpd; its outside part counts when it was completed)
    assert early["open_ar"] == pytest.approx(40 + 200 + 100)
    assert early["ar_current"] == pytest.approx(200)
    # 2026-04-05: O2's outside 50 counts from its due date: 150 open, 5 dpd; O3 was paid 8 days late.
    assert late["open_ar"] == pytest.approx(40 + 150)
    assert late["ar_1_30"] == pytest.approx(150)
    assert late["dbt_3m"] == pytest.approx(8)
    invoices = Invoice.objects.filter(customer=outside)
    assert late["open_ar"] == pytest.approx(float(sum(i.open_amount for i in invoices)))


def test_it_gives_the_same_outside_figures_for_the_portfolio_and_one_customer(outside):
    for as_of in (D(2026, 2, 10), D(2026, 3, 5), D(2026, 4, 5)):
        frame = behaviour_frame(as_of=as_of)
        _assert_row_equals(frame.loc[outside.pk].to_dict(), customer_behaviour(customer=outside, as_of=as_of))


def test_it_computes_payment_intervals_per_customer_whatever_the_order_payments_were_recorded_in(db):
    from tests.customers.factories import PaymentFactory

    a, b = CustomerFactory(code="GAP-A"), CustomerFactory(code="GAP-B")
    # Recorded out of date order and interleaved between the customers; A pays twice on one day.
    for customer, reference, day, amount in ((a, "A3", D(2026, 6, 20), "30"), (b, "B2", D(2026, 5, 1), "10"),
                                             (a, "A1", D(2026, 6, 1), "10"), (b, "B1", D(2026, 1, 1), "20"),
                                             (a, "A2", D(2026, 6, 1), "20"), (b, "B0", D(2025, 6, 30), "99")):
        PaymentFactory(customer=customer, reference=reference, date=day, amount=Decimal(amount))
    frame = behaviour_frame(as_of=AS_OF)
    row_a, row_b = frame.loc[a.pk], frame.loc[b.pk]
    assert row_a["payment_count_12m"] == 3
    assert row_a["payment_interval_mean_days"] == pytest.approx(9.5)              # gaps 0 and 19 days
    assert row_a["payment_interval_std_days"] == pytest.approx(math.sqrt(2 * 9.5**2))
    assert row_a["payment_amount_std_12m"] == pytest.approx(10)                   # 10, 20, 30
    assert row_b["payment_count_12m"] == 2                                        # B0 is 365 days old
    assert row_b["payment_interval_mean_days"] == pytest.approx(120)              # one gap of 120 days
    assert math.isnan(row_b["payment_interval_std_days"])
    assert (row_a["payment_count_3m"], row_b["payment_count_3m"]) == (3, 1)         # B1 is 180 days old
    for customer in (a, b):
        portfolio_row = {k: None if isinstance(v, float) and math.isnan(v) else v
                         for k, v in frame.loc[customer.pk].to_dict().items()}
        assert customer_behaviour(customer=customer, as_of=AS_OF) == portfolio_row
