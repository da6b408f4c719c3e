"""On-demand benchmark: stream a large invoice CSV through import_data's engine with bounded memory.

    make perf PYTEST_ARGS="-k import"          (PERF_IMPORT_ROWS=1000000 for the full-size file)

Prints rows/s for the validating pass + commit, for a re-import (all unchanged), and the process's
peak RSS before and after, so a regression to "load the whole file" shows up as a jump in MB.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import pytest
from django.db import connection

from customers.importers import import_file
from customers.models import Customer, Invoice

ROWS = int(os.environ.get("PERF_IMPORT_ROWS", "200000"))
CUSTOMERS = max(1, ROWS // 100)


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@pytest.mark.perf
@pytest.mark.django_db(transaction=True)
def test_it_imports_a_large_invoice_file_with_bounded_memory(tmp_path):
    Customer.objects.bulk_create([Customer(code=f"C{n:07d}", name=f"Customer {n}") for n in range(CUSTOMERS)],
                                 batch_size=5000)
    path = tmp_path / "invoices.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        handle.write("客户编码,发票号,开票日期,到期日,金额,币种\r\n")
        for n in range(ROWS):
            month, day = 1 + n % 12, 1 + n % 28
            handle.write(f'C{n % CUSTOMERS:07d},INV-{n:08d},2025/{month:02d}/{day:02d},2026-{month:02d}-{day:02d},'
                         f'"{1000 + n % 50000:,}.{n % 100:02d}",CNY\r\n')
    size_mb = path.stat().st_size / 1e6
    baseline = peak_mb()

    started = time.perf_counter()
    result = import_file(kind="invoices", path=path)
    first = time.perf_counter() - started
    after_first = peak_mb()

    assert result.ok, result.errors[:5]
    assert result.counts["created"] == ROWS
    assert Invoice.objects.count() == ROWS

    started = time.perf_counter()
    again = import_file(kind="invoices", path=path)
    second = time.perf_counter() - started
    after_second = peak_mb()

    assert again.counts["unchanged"] == ROWS
    print(f"\nimport {ROWS:,} invoices ({size_mb:.1f} MB CSV, {CUSTOMERS:,} customers, "
          f"{connection.vendor}):")
    print(f"  first import  {first:7.1f} s  {ROWS / first:9,.0f} rows/s (validate pass + write pass)")
    print(f"  re-import     {second:7.1f} s  {ROWS / second:9,.0f} rows/s (all unchanged)")
    print(f"  peak RSS      {baseline:7.1f} MB before, {after_first:.1f} MB after import, "
          f"{after_second:.1f} MB after re-import")
    # Streaming: the growth must not scale with the file (a fully loaded 200k-row file costs > 400 MB).
    assert after_second - baseline < 250
