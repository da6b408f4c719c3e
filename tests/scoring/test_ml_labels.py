"""Derived default labels on a hand-made invoice history (pure pandas, no database rows)."""

from __future__ import annotations

import pandas as pd
import pytest

from scoring.ml.labels import derive_labels, monthly_observation_dates

D = pd.Timestamp

# customer, issue, due, paid, written off, status
INVOICES = [
    (1, "2022-12-01", "2023-01-15", "2023-06-01", None, "paid"),       # 90+ dpd on 2023-04-15, cured 06-01
    (2, "2022-11-01", "2022-12-01", "2022-12-20", None, "paid"),       # on time
    (2, "2023-05-01", "2023-06-01", "2023-08-30", None, "paid"),       # paid exactly at due + 90: not a default
    (3, "2022-12-01", "2023-01-31", None, "2023-02-10", "written_off"),  # written off before 90 dpd
    (4, "2023-05-01", "2023-05-31", "2023-08-30", None, "paid"),       # paid at due + 91: default on 08-29
    (5, "2022-12-01", "2023-01-01", None, None, "cancelled"),          # cancelled: ignored
    (6, "2022-12-15", "2023-01-15", None, None, "open"),               # never paid: default from 04-15 on
    (7, "2022-12-15", "2023-01-15", None, None, "paid"),               # paid, date unknown: not a default
]
OBSERVATIONS = ["2022-12-31", "2023-03-31", "2023-04-30", "2023-06-30", "2023-09-30"]


def _invoices() -> pd.DataFrame:
    return pd.DataFrame(INVOICES, columns=["customer_id", "issue_date", "due_date", "paid_date", "written_off_date",
                                           "status"])


def test_it_labels_each_customer_and_date_by_the_definition():
    labels = derive_labels(_invoices(), OBSERVATIONS, as_of="2024-07-31")
    got = {(row.customer_id, row.observation_date.date().isoformat()): int(row.defaulted)
           for row in labels.itertuples()}
    assert got == {
        (1, "2022-12-31"): 1, (1, "2023-03-31"): 1, (1, "2023-06-30"): 0,       # 04-30: in default, excluded
        (2, "2022-12-31"): 0, (2, "2023-03-31"): 0, (2, "2023-04-30"): 0, (2, "2023-06-30"): 0,
        (3, "2022-12-31"): 1,                                                   # then in default (write-off)
        (4, "2023-06-30"): 1,                                                   # no history before May 2023
        (6, "2022-12-31"): 1, (6, "2023-03-31"): 1,                             # then in default, never cured
        (7, "2022-12-31"): 0, (7, "2023-03-31"): 0, (7, "2023-04-30"): 0, (7, "2023-06-30"): 0,
    }


def test_it_skips_observation_dates_whose_outcome_window_is_not_over():
    labels = derive_labels(_invoices(), OBSERVATIONS, as_of="2024-07-31")
    assert labels["observation_date"].max() == D("2023-06-30")  # 2023-09-30 + 12 months is after as_of
    assert derive_labels(_invoices(), OBSERVATIONS, as_of="2023-06-30").empty


def test_it_uses_the_horizon_for_the_outcome_window():
    labels = derive_labels(_invoices(), ["2022-12-31"], horizon_months=3)
    by_customer = dict(zip(labels["customer_id"], labels["defaulted"], strict=True))
    # customer 1 defaults on 2023-04-15, after a 3-month window; customer 3's write-off falls inside it
    assert by_customer[1] == 0
    assert by_customer[3] == 1


def test_it_needs_the_key_columns():
    with pytest.raises(ValueError, match="due_date"):
        derive_labels(pd.DataFrame({"customer_id": [1], "issue_date": ["2023-01-01"]}), ["2023-01-31"])


def test_it_lists_month_ends():
    assert monthly_observation_dates("2023-01-15", "2023-04-30") == [D("2023-01-31"), D("2023-02-28"),
                                                                      D("2023-03-31"), D("2023-04-30")]
    assert monthly_observation_dates("2023-05-01", "2023-04-30") == []
