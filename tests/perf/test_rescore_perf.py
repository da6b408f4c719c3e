"""Benchmark: whole-portfolio scoring (`rescore --sync`) against the leanest possible pipeline.

    make perf PYTEST_ARGS="-k rescore"                 (CREDITRISK_PERF_RESCORE_CUSTOMERS, default 100,000)
    CREDITRISK_PERF_EXISTING_DB=1 DATABASE_URL=postgres://…/db make perf PYTEST_ARGS="-k rescore"

The first form seeds the demo portfolio (customers.demo) into the test database; the second scores an
already seeded database as it is (inside a transaction that is rolled back, so it changes nothing).

Prints seconds per stage of a real run (features also per source: features.behaviour, …), then the
baseline on the same database: ONE aggregate SQL query over the same invoices (one row per customer),
ONE vectorised computation (a logistic PD from two aggregates, graded with searchsorted) and ONE bulk
write of one row per customer into a logged table — and the ratio (the design's target is 2×).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.utils import timezone

from customers.demo import seed_portfolio
from customers.models import Customer
from scoring.defaults import default_grades
from scoring.masterscale import bands_from_grades, grade_pds
from scoring.services import scoring_run_portfolio

CUSTOMERS = int(os.environ.get("CREDITRISK_PERF_RESCORE_CUSTOMERS", "100000"))
EXISTING_DB = os.environ.get("CREDITRISK_PERF_EXISTING_DB") == "1"
MAX_SECONDS = float(os.environ.get("CREDITRISK_PERF_RESCORE_MAX_SECONDS", "120"))

pytestmark = [pytest.mark.perf]


if EXISTING_DB:
    @pytest.fixture(scope="session")
    def django_db_setup():
        """Use the configured database as it is (no test database is created)."""


def lean_pipeline(as_of) -> tuple[int, dict]:
    """One aggregate query + one vectorised predict + one bulk write. Returns (rows, timings).

    Comparable work, nothing more: the query aggregates the same invoices the behaviour figures read
    (issued by the date, not cancelled) and returns one row for EVERY customer (customers without
    invoices included, as the real run scores them); the write stores one row per customer in an
    ordinary (WAL-logged) table with a primary key, like the real score and customer writes — not in a
    temporary table, which PostgreSQL does not log.
    """
    timings = {}
    started = time.perf_counter()
    days = ("(%(as_of)s::date - i.due_date)" if connection.vendor == "postgresql"
            else "CAST(julianday(%(as_of)s) - julianday(i.due_date) AS INTEGER)")
    sql = f"""
        SELECT c.id, a.open_ar, a.overdue, a.max_dpd
        FROM customers_customer c
        LEFT JOIN (
            SELECT i.customer_id,
                   SUM(CASE WHEN i.status = 'open' THEN i.amount - i.amount_paid ELSE 0 END) AS open_ar,
                   SUM(CASE WHEN i.status = 'open' AND i.due_date < %(as_of)s THEN i.amount - i.amount_paid
                            ELSE 0 END) AS overdue,
                   MAX(CASE WHEN i.status = 'open' AND i.due_date < %(as_of)s THEN {days} ELSE 0 END) AS max_dpd
            FROM customers_invoice i
            WHERE i.issue_date <= %(as_of)s AND i.status <> 'cancelled'
            GROUP BY i.customer_id
        ) a ON a.customer_id = c.id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {"as_of": as_of.isoformat()})
        rows = cursor.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=["customer_id", "open_ar", "overdue", "max_dpd"])
    timings["query"] = time.perf_counter() - started

    started = time.perf_counter()
    open_ar = frame["open_ar"].astype(float).fillna(0.0).to_numpy()
    overdue = frame["overdue"].astype(float).fillna(0.0).to_numpy()
    ratio = np.divide(overdue, open_ar, out=np.zeros_like(overdue), where=open_ar > 0)
    log_odds = -4.0 + 3.0 * ratio + 0.6 * np.log1p(frame["max_dpd"].astype(float).fillna(0.0).to_numpy())
    pd_values = 1 / (1 + np.exp(-log_odds))
    grades = grade_pds(pd_values, bands_from_grades(default_grades()))
    score = 600 + 20 * np.log2((1 - pd_values) / pd_values / 50)
    timings["predict"] = time.perf_counter() - started

    started = time.perf_counter()
    out = list(zip(frame["customer_id"].astype(int).tolist(), np.round(score, 2).tolist(), grades.tolist(),
                   np.round(pd_values, 6).tolist(), strict=True))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE lean_scores (customer_id bigint PRIMARY KEY, score numeric(8,2), "
                       "grade varchar(4), pd numeric(9,6))")
        if connection.vendor == "postgresql":
            from scoring.services import _copy

            _copy("lean_scores", ["customer_id", "score", "grade", "pd"], out)
        else:
            cursor.executemany("INSERT INTO lean_scores VALUES (%s, %s, %s, %s)", out)
        cursor.execute("DROP TABLE lean_scores")
    timings["write"] = time.perf_counter() - started
    return len(out), timings


@pytest.mark.django_db
def test_it_rescores_the_portfolio_in_seconds():
    if not EXISTING_DB or not Customer.objects.exists():
        started = time.perf_counter()
        seed_portfolio(customers=CUSTOMERS, months=24, seed=42)
        print(f"\nseeded {CUSTOMERS:,} customers in {time.perf_counter() - started:.1f} s")
    n = Customer.objects.count()
    as_of = timezone.localdate()

    started = time.perf_counter()
    run = scoring_run_portfolio(as_of=as_of)
    ours = time.perf_counter() - started
    print(f"\nrescore --sync, {n:,} customers on {connection.vendor}: {ours:.2f} s "
          f"({n / ours:,.0f} customers/s)")
    for stage, seconds in run.timings.items():
        if not stage.startswith("features."):
            print(f"  {stage:<18} {seconds:8.3f} s")
        if stage == "features":
            for source, part in run.timings.items():
                if source.startswith("features."):
                    print(f"    {source.removeprefix('features.'):<16} {part:8.3f} s")

    started = time.perf_counter()
    lean_rows, lean_timings = lean_pipeline(as_of)
    lean = time.perf_counter() - started
    print(f"leanest pipeline (1 aggregate query + 1 vectorised predict + 1 bulk write): {lean:.2f} s "
          f"for {lean_rows:,} rows")
    for stage, seconds in lean_timings.items():
        print(f"  {stage:<18} {seconds:8.3f} s")
    print(f"ratio rescore / leanest: {ours / lean:.2f}×")
    assert lean_rows == n, "the baseline writes one row per customer"

    assert run.counts["scored"] == n
    assert run.counts["without_reason"] == 0
    assert ours < MAX_SECONDS, f"{n:,} customers took {ours:.1f} s"
    assert math.isfinite(ours / lean)
