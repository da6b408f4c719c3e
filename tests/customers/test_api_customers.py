"""The customers API: auth, roles, create/PATCH by code with the forms' validation, filters, query counts."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from creditrisk.core.models import AuditEvent
from customers.models import AttributeType, Customer
from tests.conftest import PASSWORD
from tests.customers.factories import (
    VALID_USCCS,
    AttributeDefinitionFactory,
    CustomerFactory,
    CustomerGroupFactory,
)

URL = "/api/v1/customers/"
ENDPOINTS = [URL, "/api/v1/invoices/", "/api/v1/payments/", "/api/v1/orders/",
             "/api/v1/financial-statements/", "/api/v1/credit-reports/"]
BAD_USCC = VALID_USCCS[0][:-1] + ("4" if VALID_USCCS[0][-1] != "4" else "5")


def _body(**overrides):
    body = {"code": "ERP-001", "name": "Hangzhou Widgets Co., Ltd.", "registration_no": VALID_USCCS[1],
            "country": "CN", "region": "East", "industry": "Manufacturing", "size": "large",
            "relationship_start": "2021-03-01", "status": "active", "currency": "CNY"}
    body.update(overrides)
    return body


@pytest.mark.parametrize("url", ENDPOINTS)
def test_it_refuses_anonymous_callers_with_401_in_the_error_shape(db, api_for, url):
    response = api_for(None).get(url)
    assert response.status_code == 401
    assert set(response.json()) == {"message", "code", "errors"}
    assert "Token" in response["WWW-Authenticate"]


def test_it_accepts_a_token_from_the_token_endpoint(analyst):
    CustomerFactory(code="TOK-1")
    api = APIClient()
    token = api.post("/api/v1/auth/token/", {"username": analyst.username, "password": PASSWORD},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.get(URL)
    assert response.status_code == 200
    assert [row["code"] for row in response.json()["results"]] == ["TOK-1"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_it_lets_the_auditor_read_every_resource(auditor, api_for, url):
    assert api_for(auditor).get(url).status_code == 200


def test_it_refuses_writes_to_the_auditor(auditor, api_for):
    customer = CustomerFactory(code="AUD-1", name="Before")
    api = api_for(auditor)
    assert api.post(URL, _body(), format="json").status_code == 403
    response = api.patch(f"{URL}AUD-1/", {"name": "After"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    customer.refresh_from_db()
    assert customer.name == "Before"
    assert not Customer.objects.filter(code="ERP-001").exists()


def test_it_refuses_users_without_a_role(outsider, api_for):
    assert api_for(outsider).get(URL).status_code == 403


def test_it_lets_an_analyst_create_a_customer_with_an_audit_event(analyst, api_for):
    group = CustomerGroupFactory(code="GRP-1")
    response = api_for(analyst).post(URL, _body(group_code="GRP-1", owner=analyst.username), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["code"] == "ERP-001"
    assert data["group_code"] == "GRP-1"
    assert data["owner"] == analyst.username
    assert data["current_grade"] == ""
    customer = Customer.objects.get(code="ERP-001")
    assert customer.group == group
    assert customer.owner == analyst
    assert AuditEvent.objects.filter(action="customer.create", subject_id=str(customer.pk)).count() == 1


def test_it_refuses_a_bad_uscc_check_digit_naming_registration_no(analyst, api_for):
    response = api_for(analyst).post(URL, _body(registration_no=BAD_USCC), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "registration_no" in body["errors"]
    assert body["message"]
    assert not Customer.objects.exists()
    assert not AuditEvent.objects.filter(action="customer.create").exists()


def test_it_refuses_a_bad_uscc_on_patch_too(analyst, api_for):
    CustomerFactory(code="P-1", registration_no=VALID_USCCS[0])
    response = api_for(analyst).patch(f"{URL}P-1/", {"registration_no": BAD_USCC}, format="json")
    assert response.status_code == 400
    assert "registration_no" in response.json()["errors"]
    assert Customer.objects.get(code="P-1").registration_no == VALID_USCCS[0]


@pytest.mark.parametrize(("field", "value"), [
    ("currency", "XXX"), ("country", "ZZ"), ("size", "huge"), ("status", "asleep"), ("group_code", "NOPE"),
    ("owner", "ghost"), ("relationship_start", "2021-02-30"), ("attributes", [1, 2]), ("name", ""),
])
def test_it_names_the_bad_field(analyst, api_for, field, value):
    response = api_for(analyst).post(URL, _body(**{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Customer.objects.exists()


def test_it_validates_custom_attributes_against_their_definition(analyst, api_for):
    AttributeDefinitionFactory(key="tier", type=AttributeType.CATEGORY, choices=["gold", "silver"])
    api = api_for(analyst)
    response = api.post(URL, _body(attributes={"tier": "bronze"}), format="json")
    assert response.status_code == 400
    assert "attributes.tier" in response.json()["errors"]
    response = api.post(URL, _body(attributes={"tier": "Gold"}), format="json")
    assert response.status_code == 201
    assert response.json()["attributes"] == {"tier": "gold"}
    replay = api.post(URL, _body(attributes={"tier": "Gold"}, registration_no=VALID_USCCS[1].lower()), format="json")
    assert replay.status_code == 200, replay.json()


def test_it_returns_the_existing_customer_when_the_same_create_is_repeated(analyst, api_for):
    api = api_for(analyst)
    first = api.post(URL, _body(), format="json")
    second = api.post(URL, _body(), format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["code"] == "ERP-001"
    assert Customer.objects.count() == 1
    assert AuditEvent.objects.filter(action="customer.create").count() == 1


def test_it_refuses_a_repeated_code_with_other_values_naming_them(analyst, api_for):
    api = api_for(analyst)
    api.post(URL, _body(), format="json")
    response = api.post(URL, _body(name="Someone Else Ltd"), format="json")
    assert response.status_code == 409
    assert list(response.json()["errors"]) == ["name"]
    assert Customer.objects.get().name == "Hangzhou Widgets Co., Ltd."


def test_it_replays_a_create_with_the_same_idempotency_key(analyst, api_for):
    api = api_for(analyst)
    key = str(uuid.uuid4())
    first = api.post(URL, _body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = api.post(URL, _body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    other = api.post(URL, _body(code="ERP-002"), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert other.json()["code"] == "idempotency_key_reused"
    assert list(Customer.objects.values_list("code", flat=True)) == ["ERP-001"]


def test_it_patches_a_customer_addressed_by_code(analyst, api_for):
    customer = CustomerFactory(code="ERP/9".replace("/", "-"), name="Old Name", status="active")
    response = api_for(analyst).patch(f"{URL}{customer.code}/", {"name": "New Name", "status": "on_hold",
                                                                  "code": "HIJACK"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "New Name"
    customer.refresh_from_db()
    assert (customer.code, customer.name, customer.status) == ("ERP-9", "New Name", "on_hold")
    event = AuditEvent.objects.get(action="customer.update", subject_id=str(customer.pk))
    assert event.actor == analyst


def test_it_gives_404_in_the_error_shape_for_an_unknown_code(analyst, api_for):
    response = api_for(analyst).get(f"{URL}NOPE/")
    assert response.status_code == 404
    assert set(response.json()) == {"message", "code", "errors"}


def test_it_filters_and_orders_customers(analyst, manager, api_for):
    group = CustomerGroupFactory(code="G-1")
    CustomerFactory(code="A-1", name="Alpha Trading", status="active", size="small", industry="Retail",
                    region="North", current_grade="B1", owner=analyst)
    CustomerFactory(code="A-2", name="Beta Steel", status="on_hold", size="large", industry="Steel",
                    region="East", current_grade="C2", group=group, registration_no=VALID_USCCS[0])
    CustomerFactory(code="A-3", name="Gamma Foods", status="blocked", size="large", industry="Food",
                    region="East", current_grade="B1", owner=manager)
    api = api_for(analyst)

    def codes(query):
        response = api.get(URL, query)
        assert response.status_code == 200, response.json()
        return [row["code"] for row in response.json()["results"]]

    assert codes({"q": "steel"}) == ["A-2"]
    assert codes({"q": VALID_USCCS[0][:8]}) == ["A-2"]
    assert codes({"status": ["on_hold", "blocked"]}) == ["A-2", "A-3"]
    assert codes({"size": "large", "region": "east"}) == ["A-2", "A-3"]
    assert codes({"industry": "retail"}) == ["A-1"]
    assert codes({"group_code": "G-1"}) == ["A-2"]
    assert codes({"owner": manager.username}) == ["A-3"]
    assert codes({"grade": "B1", "ordering": "-code"}) == ["A-3", "A-1"]
    assert codes({"ordering": "name"}) == ["A-1", "A-2", "A-3"]


def test_it_refuses_a_bad_filter_value_with_400(analyst, api_for):
    response = api_for(analyst).get(URL, {"status": "asleep"})
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_it_paginates_with_page_size(analyst, api_for):
    CustomerFactory.create_batch(7)
    body = api_for(analyst).get(URL, {"page_size": 3, "page": 2}).json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    assert body["next"]
    assert body["previous"]


def _list_queries(api_for, user, url, page_size):
    """Queries of one list call by a fresh user object (so its permission cache starts empty)."""
    api = api_for(type(user).objects.get(pk=user.pk))
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url, {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return len(queries)


def test_it_lists_customers_in_a_fixed_number_of_queries(analyst, manager, api_for, django_assert_max_num_queries):
    groups = [CustomerGroupFactory() for _ in range(3)]
    for i in range(40):
        CustomerFactory(group=groups[i % 3], owner=(analyst, manager)[i % 2])
    small = _list_queries(api_for, analyst, URL, 2)
    large = _list_queries(api_for, analyst, URL, 40)
    assert small == large
    api = api_for(type(analyst).objects.get(pk=analyst.pk))
    with django_assert_max_num_queries(4):  # permissions (user's, groups'), count, page
        api.get(URL, {"page_size": 40})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
FIELDS = ["code", "name", "registration_no", "country", "region", "industry", "size", "group_code",
          "relationship_start", "status", "owner", "currency", "attributes", "current_grade"]
BODIES = JSON | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=8) | st.dictionaries(
    st.sampled_from(FIELDS),
    st.sampled_from(["", "CN", "ERP-1", "x" * 300, "2026-02-30", "active", "large", VALID_USCCS[0], BAD_USCC,
                     "\x00", "ana", "-1", "1e999"]),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_it_never_answers_random_bodies_with_a_server_error(analyst, api_for, body):
    CustomerFactory(code="EXISTING")
    api = api_for(analyst)
    before = Customer.objects.count()
    events = AuditEvent.objects.count()
    created = api.post(URL, body, format="json")
    patched = api.patch(f"{URL}EXISTING/", body, format="json")
    assert created.status_code in (200, 201, 400, 409), created.content
    assert patched.status_code in (200, 400), patched.content
    assert set(created.json()) >= ({"message", "code", "errors"} if created.status_code >= 400 else {"code"})
    if created.status_code != 201:
        assert Customer.objects.count() == before
    if created.status_code >= 400 and patched.status_code >= 400:
        assert AuditEvent.objects.count() == events


def test_it_filters_on_custom_attributes_like_the_list_page(analyst, api_for):
    AttributeDefinitionFactory(key="tier", type=AttributeType.CATEGORY, choices=["gold", "silver"])
    AttributeDefinitionFactory(key="employees", type=AttributeType.NUMBER)
    CustomerFactory(code="T-1", attributes={"tier": "gold", "employees": 120})
    CustomerFactory(code="T-2", attributes={"tier": "silver", "employees": 8})
    api = api_for(analyst)
    rows = api.get(URL, {"attr_tier": "gold"}).json()["results"]
    assert [row["code"] for row in rows] == ["T-1"]
    assert [row["code"] for row in api.get(URL, {"attr_employees": "8"}).json()["results"]] == ["T-2"]
    assert api.get(URL, {"attr_tier": "gold\x00"}).status_code == 400
    assert api.get(URL, {"attr_ti\x00er": "gold"}).status_code == 400
