"""Capped counts keep pagination fast on huge tables and exact on normal ones."""

from __future__ import annotations

import pytest

from creditrisk.core import pagination
from creditrisk.core.audit import audit_record
from creditrisk.core.models import AuditEvent


@pytest.fixture
def events(db):
    for i in range(12):
        audit_record(actor=None, action="test.page", subject_type="t", subject_id=i)
    return AuditEvent.objects.order_by("seq")


def test_it_counts_exactly_below_the_cap(events):
    paginator = pagination.CappedCountPaginator(events, 5)
    assert paginator.count == 12
    assert paginator.count_exact
    assert paginator.num_pages == 3
    assert [e.seq for e in paginator.page(3)] == [11, 12]


def test_it_caps_the_count_and_still_serves_later_pages(events, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 6)
    paginator = pagination.CappedCountPaginator(events, 5)
    assert paginator.count == 7
    assert not paginator.count_exact
    assert [e.seq for e in paginator.page(3)] == [11, 12]
    assert list(paginator.page(9)) == []


def test_the_api_reports_whether_the_count_is_exact(db, api_for, auditor, monkeypatch):
    from customers.models import Customer

    Customer.objects.bulk_create([Customer(code=f"P{i:03}", name=f"Paged {i}") for i in range(7)])
    api = api_for(auditor)
    body = api.get("/api/v1/customers/", {"page_size": 5}).json()
    assert (body["count"], body["count_exact"], len(body["results"])) == (7, True, 5)
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    body = api.get("/api/v1/customers/", {"page_size": 5, "page": 2}).json()
    assert (body["count"], body["count_exact"], len(body["results"])) == (6, False, 2)
