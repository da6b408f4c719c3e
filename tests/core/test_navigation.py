"""The top navigation shows each role its sections and marks the one the page belongs to."""

import pytest


@pytest.mark.django_db
def test_the_score_tab_of_a_credit_file_is_under_customers(client_for, analyst):
    from customers.models import Customer

    Customer.objects.create(code="NAV1", name="Nav Ltd")
    response = client_for(analyst).get("/scoring/customers/NAV1/")
    active = [s["key"] for s in response.context["nav_sections"] if s["active"]]
    assert active == ["customers"]


@pytest.mark.django_db
def test_scoring_pages_are_under_scoring(client_for, manager):
    response = client_for(manager).get("/scoring/")
    active = [s["key"] for s in response.context["nav_sections"] if s["active"]]
    assert active == ["scoring"]


@pytest.mark.django_db
def test_an_auditor_sees_no_settings_or_imports(client_for, auditor):
    keys = {s["key"] for s in client_for(auditor).get("/dashboard/").context["nav_sections"]}
    assert {"audit", "customers", "jobs"} <= keys
    assert not keys & {"settings", "imports"}
