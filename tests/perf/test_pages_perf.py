"""Page and API timings on a big portfolio (on demand; needs a seeded, scored database).

    seed_demo --customers 1000000 --no-scores && rescore --sync   # into DATABASE_URL
    CREDITRISK_PERF_EXISTING_DB=1 DATABASE_URL=postgres://…/db make perf PYTEST_ARGS="-k pages"

Prints milliseconds and SQL query counts per page, read-only GETs as a credit manager (inside a
transaction that is rolled back). The dashboard is timed cold (computed) and warm (from the cache the
``monitoring.refresh_dashboard`` beat task keeps fresh).
"""

from __future__ import annotations

import os
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

EXISTING_DB = os.environ.get("CREDITRISK_PERF_EXISTING_DB") == "1"
pytestmark = [pytest.mark.perf, pytest.mark.skipif(not EXISTING_DB, reason="needs CREDITRISK_PERF_EXISTING_DB=1")]

if EXISTING_DB:
    @pytest.fixture(scope="session")
    def django_db_setup():
        """Use the configured database as it is (no test database is created)."""


@pytest.mark.django_db
def test_pages_on_a_big_portfolio(client, settings):
    from django.contrib.auth import get_user_model

    from customers.models import Customer

    settings.ALLOWED_HOSTS = ["*"]
    client.force_login(get_user_model().objects.get(username="manager"))
    customers = Customer.objects.count()
    code = Customer.objects.order_by("id").values_list("code", flat=True)[customers // 2]
    group = Customer.objects.exclude(group=None).order_by("id").values_list("group__code", flat=True).first()
    cache.clear()
    paths = ["/dashboard/", "/dashboard/", "/customers/", "/customers/?q=%E4%B8%8A%E6%B5%B7&status=active",
             "/customers/?sort=-name&page=200", f"/customers/{code}/", f"/customers/{code}/transactions/",
             f"/customers/{code}/history/", f"/scoring/customers/{code}/", f"/groups/{group}/", "/scoring/",
             "/scoring/runs/", "/audit/", "/api/v1/customers/?page_size=100", "/api/v1/invoices/?page_size=100",
             "/api/v1/scores/?page_size=100"]
    print(f"\n{customers:,} customers")
    for path in paths:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
        print(f"{response.status_code} {elapsed * 1000:8.0f} ms {len(queries.captured_queries):3d} queries  {path}")
        assert response.status_code == 200, path
