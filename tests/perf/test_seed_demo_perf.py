"""Benchmark: how fast seed_demo builds a large portfolio (run on demand with `make perf`).

Size with CREDITRISK_PERF_SEED_CUSTOMERS (default 100,000 customers on PostgreSQL, 20,000 on SQLite; 24
months). Prints customers/s, invoices/s, wall time and the process's peak RSS. Meant for PostgreSQL
(binary COPY); on SQLite it measures the executemany path.
"""

from __future__ import annotations

import os
import resource
import time

import pytest
from django.db import connection

from customers.demo import seed_portfolio

pytestmark = [pytest.mark.perf, pytest.mark.django_db]



class _Progress:
    def write(self, text: str) -> None:
        print(text, flush=True)


def test_it_seeds_a_large_portfolio_quickly():
    default = "100000" if connection.vendor == "postgresql" else "20000"
    customers = int(os.environ.get("CREDITRISK_PERF_SEED_CUSTOMERS", default))
    started = time.perf_counter()
    counts = seed_portfolio(customers=customers, months=24, seed=42, stdout=_Progress())
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = sum(v for k, v in counts.items() if k != "industries_added")
    print(
        f"\nseed_demo on {connection.vendor}: {counts['customer']:,} customers, {counts['invoice']:,} invoices, "
        f"{counts['payment']:,} payments, {rows:,} rows in {wall:.1f} s — "
        f"{counts['customer'] / wall:,.0f} customers/s, {counts['invoice'] / wall:,.0f} invoices/s, "
        f"{rows / wall:,.0f} rows/s; peak RSS {peak_mb:,.0f} MB"
    )
    assert counts["customer"] == customers
    assert 25 * customers <= counts["invoice"] <= 35 * customers
    # Memory is bounded by the chunk size, not the portfolio size.
    assert peak_mb < 2048
    if connection.vendor == "postgresql":
        assert counts["customer"] / wall > 500  # 1,000,000 customers in well under an hour even on 2 busy cores
