"""The group page: header, members and summed figures, computed set-based with fixed queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.customers.factories import CustomerFactory, CustomerGroupFactory, InvoiceFactory, SalesOrderFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _members(group, start: int, n: int):
    for i in range(start, start + n):
        customer = CustomerFactory(code=f"M{i:03d}", name=f"Member {i}", group=group, current_grade="C1")
        # one overdue invoice and one not yet due
        InvoiceFactory(customer=customer, issue_date=dt.date(2025, 1, 1), amount=Decimal("100.00"))
        InvoiceFactory(customer=customer, issue_date=dt.date(2099, 1, 1), amount=Decimal("999.00"))
        InvoiceFactory(customer=customer, issue_date=dt.date(2025, 2, 1), due_date=dt.date(2200, 1, 1),
                       amount=Decimal("50.00"))
        SalesOrderFactory(customer=customer, amount=Decimal("30.00"), status="held")
        SalesOrderFactory(customer=customer, amount=Decimal("70.00"), status="shipped")


def test_it_sums_open_ar_overdue_and_open_orders_over_the_members(client_for, analyst):
    group = CustomerGroupFactory(code="G1", name="Holding Ltd")
    _members(group, 0, 3)
    outsider_customer = CustomerFactory(code="NOT-A-MEMBER-X1")
    InvoiceFactory(customer=outsider_customer, issue_date=dt.date(2025, 1, 1), amount=Decimal("5000.00"))
    response = client_for(analyst).get("/groups/G1/")
    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals["open_ar"] == Decimal("450.00")  # 3 × (100 overdue + 50 current); future invoices not issued yet
    assert totals["overdue"] == Decimal("300.00")
    assert totals["open_orders"] == Decimal("90.00")
    assert totals["exposure"] == Decimal("540.00")
    body = response.content.decode()
    assert "Holding Ltd" in body
    assert "Member 2" in body
    assert "NOT-A-MEMBER-X1" not in body
    assert [c.open_ar for c in response.context["rows"]] == [Decimal("150.00")] * 3


def test_it_uses_the_same_number_of_queries_for_3_and_30_members(client_for, analyst, django_assert_max_num_queries):
    group = CustomerGroupFactory(code="G1")
    _members(group, 0, 3)
    client = client_for(analyst)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/groups/G1/").status_code == 200
        return len(ctx.captured_queries)

    small = count()
    _members(group, 3, 27)
    assert count() == small
    with django_assert_max_num_queries(12):
        client.get("/groups/G1/")


def test_it_returns_the_members_partial_to_htmx(client_for, auditor):
    group = CustomerGroupFactory(code="G1")
    _members(group, 0, 1)
    body = client_for(auditor).get("/groups/G1/", **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="members">')
    assert "<html" not in body


def test_it_shows_an_empty_group_and_refuses_outsiders(client_for, analyst, outsider):
    CustomerGroupFactory(code="G0")
    response = client_for(analyst).get("/groups/G0/")
    assert response.status_code == 200
    assert response.context["totals"]["open_ar"] == 0
    assert client_for(outsider).get("/groups/G0/").status_code == 403
    assert client_for(analyst).get("/groups/NOPE/").status_code == 404
