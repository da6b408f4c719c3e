"""Create and edit forms: services write (audited), bad input shows errors and writes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditrisk.core.models import AuditEvent
from customers.models import AttributeType, Customer
from tests.customers.factories import (
    VALID_USCCS,
    AttributeDefinitionFactory,
    CustomerFactory,
    CustomerGroupFactory,
)

pytestmark = pytest.mark.django_db

CREATE_URL = "/customers/new/"
HTMX = {"HTTP_HX_REQUEST": "true"}
BAD_USCC = VALID_USCCS[0][:-1] + ("0" if VALID_USCCS[0][-1] != "0" else "1")


def _data(**overrides):
    data = {"code": "NEW1", "name": "New Trading Co.", "registration_no": VALID_USCCS[1], "country": "CN",
            "region": "East", "industry": "Retail", "size": "small", "group_code": "", "relationship_start": "",
            "status": "active", "owner": "", "currency": "CNY"}
    data.update(overrides)
    return data


def test_it_creates_a_customer_through_the_service_with_an_audit_event(client_for, analyst):
    group = CustomerGroupFactory(code="G1")
    response = client_for(analyst).post(CREATE_URL, _data(group_code="G1", owner=str(analyst.pk)))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=["NEW1"])
    customer = Customer.objects.get(code="NEW1")
    assert customer.group == group
    assert customer.owner == analyst
    event = AuditEvent.objects.get(action="customer.create")
    assert event.subject_id == str(customer.pk)
    assert event.actor == analyst


def test_it_redirects_htmx_through_hx_redirect(client_for, analyst):
    response = client_for(analyst).post(CREATE_URL, _data(), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("customers:detail", args=["NEW1"])


def test_it_shows_a_bad_uscc_and_writes_nothing(client_for, analyst):
    response = client_for(analyst).post(CREATE_URL, _data(registration_no=BAD_USCC))
    assert response.status_code == 200
    form = response.context["form"]
    assert "registration_no" in form.errors
    assert "check digit" in response.content.decode()
    assert not Customer.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_returns_the_form_partial_with_errors_to_htmx(client_for, analyst):
    response = client_for(analyst).post(CREATE_URL, _data(registration_no=BAD_USCC, currency="XXQ"), **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<form id="customer-form"')
    assert "<html" not in body
    assert "registration_no" in response.context["form"].errors
    assert "currency" in response.context["form"].errors
    assert not Customer.objects.exists()


def test_it_validates_inline_without_saving_and_without_nagging_about_empty_fields(client_for, analyst):
    url = CREATE_URL + "?validate=1"
    response = client_for(analyst).post(url, {"registration_no": BAD_USCC, "country": "CN", "code": ""}, **HTMX)
    errors = response.context["form"].errors
    assert "registration_no" in errors
    assert "code" not in errors
    assert "name" not in errors
    # only the error containers come back (out of band): what the user typed is never replaced
    body = response.content.decode()
    assert '<div id="errors-registration_no" hx-swap-oob="true"' in body
    assert "check digit" in body
    assert "<input" not in body
    assert "<form" not in body
    response = client_for(analyst).post(url, _data(), **HTMX)
    assert not response.context["form"].errors
    assert not Customer.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_duplicate_code(client_for, analyst):
    CustomerFactory(code="NEW1")
    response = client_for(analyst).post(CREATE_URL, _data())
    assert "code" in response.context["form"].errors
    assert Customer.objects.count() == 1


def test_it_refuses_an_unknown_group(client_for, analyst):
    response = client_for(analyst).post(CREATE_URL, _data(group_code="NOPE"))
    assert "group_code" in response.context["form"].errors
    assert not Customer.objects.exists()


def test_it_includes_custom_attributes_as_validated_fields(client_for, analyst):
    AttributeDefinitionFactory(key="employees", label="Employees", type=AttributeType.NUMBER, min_value=1,
                               max_value=1000, required=True)
    AttributeDefinitionFactory(key="channel", label="Channel", type=AttributeType.CATEGORY, choices=["direct"])
    AttributeDefinitionFactory(key="listed", label="Listed", type=AttributeType.BOOLEAN)
    AttributeDefinitionFactory(key="founded", label="Founded", type=AttributeType.DATE)
    client = client_for(analyst)
    page = client.get(CREATE_URL).content.decode()
    assert 'name="attr_employees"' in page
    assert 'name="attr_channel"' in page
    response = client.post(CREATE_URL, _data(attr_employees="5000"))
    assert "attr_employees" in response.context["form"].errors
    response = client.post(CREATE_URL, _data())
    assert "attr_employees" in response.context["form"].errors  # required
    assert not Customer.objects.exists()
    response = client.post(CREATE_URL, _data(attr_employees="12", attr_channel="direct", attr_listed="true",
                                             attr_founded="2001-05-04"))
    assert response.status_code == 302
    assert Customer.objects.get().attributes == {"employees": 12, "channel": "direct", "listed": True,
                                                 "founded": "2001-05-04"}


def test_it_edits_a_customer_and_audits_the_change(client_for, analyst):
    AttributeDefinitionFactory(key="channel", label="Channel", type=AttributeType.CATEGORY, choices=["a", "b"])
    customer = CustomerFactory(code="E1", name="Old Name", attributes={"channel": "a", "retired_key": 1})
    url = reverse("customers:edit", args=["E1"])
    client = client_for(analyst)
    form = client.get(url).context["form"]
    assert form.initial["attr_channel"] == "a"
    data = _data(code="IGNORED", name="New Name", registration_no="", attr_channel="", reason="Renamed in ERP")
    response = client.post(url, data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.code == "E1"
    assert customer.name == "New Name"
    assert "channel" not in customer.attributes
    event = AuditEvent.objects.get(action="customer.update")
    assert event.before["name"] == "Old Name"
    assert event.after["name"] == "New Name"
    assert event.reason == "Renamed in ERP"


def test_it_shows_edit_errors_and_keeps_the_customer_unchanged(client_for, analyst):
    customer = CustomerFactory(code="E1", name="Old Name")
    response = client_for(analyst).post(reverse("customers:edit", args=["E1"]),
                                        _data(name="Changed", registration_no=BAD_USCC))
    assert response.status_code == 200
    assert "registration_no" in response.context["form"].errors
    customer.refresh_from_db()
    assert customer.name == "Old Name"
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("persona", ["auditor", "ops", "outsider"])
def test_it_forbids_creating_and_editing_without_permission(request, client_for, persona):
    user = request.getfixturevalue(persona)
    CustomerFactory(code="E1", name="Old Name")
    client = client_for(user)
    edit_url = reverse("customers:edit", args=["E1"])
    assert client.get(CREATE_URL).status_code == 403
    assert client.post(CREATE_URL, _data()).status_code == 403
    assert client.get(edit_url).status_code == 403
    assert client.post(edit_url, _data(name="Hacked")).status_code == 403
    assert Customer.objects.get().name == "Old Name"
    assert Customer.objects.count() == 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(
    st.sampled_from(["code", "name", "registration_no", "country", "size", "status", "currency", "owner",
                     "group_code", "relationship_start", "attr_employees"]),
    st.text(max_size=30), max_size=11))
def test_it_never_fails_or_writes_on_malformed_input(client_for, analyst, data):
    AttributeDefinitionFactory(key="employees", label="Employees", type=AttributeType.NUMBER, max_value=10)
    before = Customer.objects.count(), AuditEvent.objects.count()
    data = {k: v.replace("\x00", "") for k, v in data.items()}
    response = client_for(analyst).post(CREATE_URL, data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert (Customer.objects.count(), AuditEvent.objects.count()) == before


def test_it_renders_dates_as_iso_for_date_inputs_in_chinese(client_for, analyst):
    AttributeDefinitionFactory(key="founded", label="Founded", type=AttributeType.DATE)
    CustomerFactory(code="E1", attributes={"founded": "2001-05-04"})
    client = client_for(analyst)
    client.cookies["django_language"] = "zh-hans"
    body = client.get(reverse("customers:edit", args=["E1"])).content.decode()
    assert 'lang="zh-hans"' in body
    assert 'value="2020-01-01"' in body  # relationship_start, not the localised 2020/01/01
    assert 'value="2001-05-04"' in body


def test_it_leaks_no_template_source_into_the_page(client_for, analyst):
    body = client_for(analyst).get(CREATE_URL).content.decode()
    assert "{#" not in body
    assert "{%" not in body
