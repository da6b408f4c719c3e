"""/audit/ lists the chain newest first and filters by subject, actor, action and date."""

from __future__ import annotations

import pytest

from creditrisk.core.audit import audit_record


@pytest.fixture
def events(db, manager):
    audit_record(actor=manager, action="customer.update", subject_type="customers.customer", subject_id=7,
                 subject_label="C007 Acme", reason="limit review")
    audit_record(actor=None, action="import.invoices", subject_type="customers.import", subject_id="abc",
                 subject_label="invoices.csv")


def test_it_filters_by_subject_actor_and_action(client_for, auditor, events):
    client = client_for(auditor)
    html = client.get("/audit/", {"subject": "customers.customer:7"}).content.decode()
    assert "C007 Acme" in html
    assert "invoices.csv" not in html
    html = client.get("/audit/", {"actor": "system"}).content.decode()
    assert "invoices.csv" in html
    assert "C007 Acme" not in html
    html = client.get("/audit/", {"action": "import."}).content.decode()
    assert "invoices.csv" in html
    assert "C007 Acme" not in html
    html = client.get("/audit/", {"subject": "Acme"}).content.decode()
    assert "C007 Acme" in html


def test_a_date_range_outside_the_events_shows_none(client_for, auditor, events):
    html = client_for(auditor).get("/audit/", {"from": "2001-01-01", "to": "2001-12-31"}).content.decode()
    assert "No audit events match" in html


def test_an_htmx_request_gets_only_the_results_partial(client_for, manager, events, django_assert_max_num_queries):
    client = client_for(manager)
    with django_assert_max_num_queries(8):
        response = client.get("/audit/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert "<html" not in html


def test_actions_read_as_words_in_both_languages(client_for, auditor, events):
    client = client_for(auditor)
    assert "Customer changed" in client.get("/audit/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/audit/"})
    html = client.get("/audit/").content.decode()
    assert "客户已修改" in html
    assert "导入 invoices" in html
