"""The customer list page: search, filters, sorting, htmx partials, exports and fixed query counts."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from customers.models import AttributeType
from tests.customers.factories import (
    VALID_USCCS,
    AttributeDefinitionFactory,
    CustomerFactory,
    CustomerGroupFactory,
    InvoiceFactory,
)

pytestmark = pytest.mark.django_db

LIST_URL = "/customers/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _portfolio(n: int, *, owner=None):
    group = CustomerGroupFactory(code="GRP1")
    AttributeDefinitionFactory(key="channel", label="Channel", type=AttributeType.CATEGORY,
                               choices=["direct", "online"])
    AttributeDefinitionFactory(key="employees", label="Employees", type=AttributeType.NUMBER)
    customers = []
    for i in range(n):
        customer = CustomerFactory(code=f"K{i:04d}", name=f"Kunde {i}", owner=owner, group=group if i % 2 else None,
                                   current_grade="B1" if i % 3 else "",
                                   attributes={"channel": "direct" if i % 2 else "online", "employees": i * 10})
        InvoiceFactory(customer=customer)
        customers.append(customer)
    return customers


@pytest.mark.parametrize("persona", ["analyst", "manager", "ops", "auditor"])
def test_it_lists_customers_for_every_role(request, client_for, persona):
    user = request.getfixturevalue(persona)
    CustomerFactory(code="C1", name="Alpha Trading")
    response = client_for(user).get(LIST_URL)
    assert response.status_code == 200
    assert b"Alpha Trading" in response.content


def test_it_refuses_an_outsider(client_for, outsider):
    CustomerFactory(code="C1", name="Alpha Trading")
    assert client_for(outsider).get(LIST_URL).status_code == 403
    assert client_for(outsider).get(reverse("customers:export_csv")).status_code == 403


def test_it_shows_the_new_button_only_to_those_who_may_add(client_for, analyst, auditor):
    new_url = reverse("customers:create").encode()
    assert new_url in client_for(analyst).get(LIST_URL).content
    assert new_url not in client_for(auditor).get(LIST_URL).content


def test_it_returns_only_the_results_partial_to_htmx(client_for, analyst):
    CustomerFactory(code="C1", name="Alpha Trading")
    response = client_for(analyst).get(LIST_URL, {"q": "alpha"}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results">')
    assert "<html" not in body
    assert "Alpha Trading" in body


@pytest.mark.parametrize(("query", "expected"), [("C2", "Beta"), ("gamma", "Gamma"), (VALID_USCCS[0][:10], "Alpha")])
def test_it_searches_by_code_name_and_registration_number(client_for, analyst, query, expected):
    CustomerFactory(code="C1", name="Alpha Ltd", registration_no=VALID_USCCS[0])
    CustomerFactory(code="C2", name="Beta Ltd")
    CustomerFactory(code="C3", name="Gamma Ltd")
    body = client_for(analyst).get(LIST_URL, {"q": query}, **HTMX).content.decode()
    names = {"Alpha", "Beta", "Gamma"}
    assert expected in body
    assert not any(other in body for other in names - {expected})


def test_it_filters_by_status_size_group_owner_and_custom_attributes(client_for, analyst):
    customers = _portfolio(6, owner=analyst)
    CustomerFactory(code="X1", name="Blocked One", status="blocked", size="large")
    client = client_for(analyst)
    body = client.get(LIST_URL, {"status": "blocked"}, **HTMX).content.decode()
    assert "Blocked One" in body
    assert "Kunde 0" not in body
    body = client.get(LIST_URL, {"size": "large"}, **HTMX).content.decode()
    assert "Blocked One" in body
    assert "Kunde 0" not in body
    body = client.get(LIST_URL, {"group": "GRP1"}, **HTMX).content.decode()
    assert "Kunde 1<" in body
    assert "Kunde 0<" not in body
    body = client.get(LIST_URL, {"owner": analyst.username}, **HTMX).content.decode()
    assert "Kunde 0" in body
    assert "Blocked One" not in body
    body = client.get(LIST_URL, {"attr_channel": "online"}, **HTMX).content.decode()
    assert "Kunde 0<" in body
    assert "Kunde 1<" not in body
    body = client.get(LIST_URL, {"attr_employees_min": "30", "attr_employees_max": "40"}, **HTMX).content.decode()
    assert [c.name for c in customers if f"{c.name}<" in body] == ["Kunde 3", "Kunde 4"]


def test_it_ignores_malformed_filters(client_for, analyst):
    _portfolio(2)
    response = client_for(analyst).get(LIST_URL, {"attr_employees_min": "lots", "status": "nonsense",
                                                  "page": "x", "sort": "; drop"})
    assert response.status_code == 200


def test_it_sorts_by_name_both_ways(client_for, analyst):
    for code, name in (("C1", "Bravo"), ("C2", "Alpha"), ("C3", "Charlie")):
        CustomerFactory(code=code, name=name)
    client = client_for(analyst)

    def order(sort):
        body = client.get(LIST_URL, {"sort": sort}, **HTMX).content.decode()
        return sorted(("Alpha", "Bravo", "Charlie"), key=body.index)

    assert order("name") == ["Alpha", "Bravo", "Charlie"]
    assert order("-name") == ["Charlie", "Bravo", "Alpha"]


def test_it_paginates_with_push_url_links(client_for, analyst):
    for i in range(55):
        CustomerFactory(code=f"P{i:03d}")
    body = client_for(analyst).get(LIST_URL, {"status": "active"}, **HTMX).content.decode()
    assert "P049" in body
    assert "P050" not in body
    assert 'hx-push-url="true"' in body
    assert "page=2" in body
    body = client_for(analyst).get(LIST_URL, {"status": "active", "page": 2}, **HTMX).content.decode()
    assert "P050" in body
    assert "P049" not in body


def _count_queries(client, url, params=None, *, consume=False):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
        if consume:
            b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("params", [{}, {"q": "K", "sort": "-grade", "attr_channel": "direct"}])
def test_it_uses_the_same_number_of_queries_for_5_and_50_customers(client_for, analyst, params,
                                                                   django_assert_max_num_queries):
    client = client_for(analyst)
    _portfolio(5)
    small = _count_queries(client, LIST_URL, params)
    for i in range(5, 50):
        InvoiceFactory(customer=CustomerFactory(code=f"K{i:04d}", attributes={"channel": "direct"}))
    large = _count_queries(client, LIST_URL, params)
    assert small == large
    with django_assert_max_num_queries(12):
        client.get(LIST_URL, params)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_it_exports_with_a_fixed_number_of_queries(client_for, analyst, fmt, django_assert_max_num_queries):
    client = client_for(analyst)
    url = reverse(f"customers:export_{fmt}")
    _portfolio(5)
    small = _count_queries(client, url, consume=True)
    for i in range(5, 50):
        CustomerFactory(code=f"K{i:04d}")
    large = _count_queries(client, url, consume=True)
    assert small == large
    with django_assert_max_num_queries(10):
        response = client.get(url)
        b"".join(response.streaming_content)


def test_it_exports_the_filtered_list_as_csv(client_for, analyst):
    _portfolio(4)
    CustomerFactory(code="Z9", name="=HYPERLINK(evil)")
    response = client_for(analyst).get(reverse("customers:export_csv"), {"attr_channel": "direct"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["code"] for r in rows] == ["K0001", "K0003"]
    assert rows[0]["group_code"] == "GRP1"
    assert rows[0]["channel"] == "direct"
    assert rows[0]["open_ar"] == "1000.00"
    formula = client_for(analyst).get(reverse("customers:export_csv"), {"q": "Z9"})
    assert "'=HYPERLINK" in b"".join(formula.streaming_content).decode("utf-8-sig")


def test_it_exports_the_filtered_list_as_xlsx(client_for, analyst):
    _portfolio(3)
    response = client_for(analyst).get(reverse("customers:export_xlsx"), {"sort": "-code"})
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:2] == ("code", "name")
    assert [r[0] for r in rows[1:]] == ["K0002", "K0001", "K0000"]
    assert rows[1][rows[0].index("open_ar")] == 1000


def test_it_pushes_only_the_filters_in_use_to_the_address_bar(client_for, analyst):
    CustomerFactory(code="C1", name="Alpha Trading")
    response = client_for(analyst).get(LIST_URL, {"q": "alpha", "status": "", "size": "", "sort": "name"}, **HTMX)
    assert response["HX-Push-Url"] == "/customers/?q=alpha&sort=name"
    response = client_for(analyst).get(LIST_URL, {"q": " ", "status": ""}, **HTMX)
    assert response["HX-Push-Url"] == "/customers/"
