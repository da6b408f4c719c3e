"""The credit file page: tabs (full page and htmx), bounded queries, documents, contacts, history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from creditrisk.core.audit import audit_record
from creditrisk.core.models import AuditEvent
from customers import services
from customers.models import Contact, Document
from tests.customers.factories import (
    ContactFactory,
    CreditReportFactory,
    CustomerFactory,
    FinancialStatementFactory,
    InvoiceFactory,
    PaymentFactory,
    SalesOrderFactory,
)

pytestmark = pytest.mark.django_db

TABS = ["overview", "transactions", "financials", "reports", "documents", "contacts", "history"]
HTMX = {"HTTP_HX_REQUEST": "true"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _tab_url(code, tab):
    return reverse("customers:detail", args=[code]) if tab == "overview" else reverse("customers:tab", args=[code, tab])


def _fill(customer, n: int, actor):
    """n of everything the tabs show."""
    for i in range(n):
        InvoiceFactory(customer=customer, issue_date=dt.date(2026, 1, 1) + dt.timedelta(days=i))
        PaymentFactory(customer=customer)
        SalesOrderFactory(customer=customer)
        FinancialStatementFactory(customer=customer, period_end=dt.date(2000 + i, 12, 31))
        CreditReportFactory(customer=customer, report_date=dt.date(2026, 1, 1) + dt.timedelta(days=i))
        contact = ContactFactory(customer=customer)
        audit_record(actor=actor, action="contact.create", subject_type="customers.contact", subject_id=contact.pk)
        Document.objects.create(customer=customer, title=f"doc {i}", file=f"documents/x{i}.pdf",
                                content_type="application/pdf", size=10, sha256="0" * 64)
        audit_record(actor=actor, action="customer.update", subject_type="customers.customer",
                     subject_id=customer.pk, subject_label=str(customer))


def _queries(client, url, **extra):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("tab", TABS)
def test_it_renders_every_tab_with_a_bounded_number_of_queries(client_for, analyst, tab,
                                                               django_assert_max_num_queries):
    small, large = CustomerFactory(code="S1"), CustomerFactory(code="L1")
    _fill(small, 2, analyst)
    _fill(large, 12, analyst)
    client = client_for(analyst)
    assert _queries(client, _tab_url("S1", tab)) == _queries(client, _tab_url("L1", tab))
    assert _queries(client, _tab_url("S1", tab), **HTMX) == _queries(client, _tab_url("L1", tab), **HTMX)
    with django_assert_max_num_queries(16):
        client.get(_tab_url("L1", tab))


@pytest.mark.parametrize("tab", TABS)
def test_it_returns_the_credit_file_partial_to_htmx(client_for, auditor, tab):
    CustomerFactory(code="C1", name="Alpha Trading")
    full = client_for(auditor).get(_tab_url("C1", tab)).content.decode()
    part = client_for(auditor).get(_tab_url("C1", tab), **HTMX).content.decode()
    assert "<html" in full
    assert "<html" not in part
    assert part.lstrip().startswith('<div id="credit-file">')
    assert f'href="{_tab_url("C1", tab)}"' in part
    assert 'class="active" aria-current="page"' in part


def test_it_shows_the_key_figures_on_the_overview(client_for, analyst):
    customer = CustomerFactory(code="C1", current_grade="B2")
    InvoiceFactory(customer=customer, issue_date=dt.date(2025, 1, 1), amount=1000)
    SalesOrderFactory(customer=customer, amount=500, status="open")
    SalesOrderFactory(customer=customer, amount=700, status="shipped")
    response = client_for(analyst).get(_tab_url("C1", "overview"))
    assert response.context["behaviour"]["open_ar"] == 1000
    assert response.context["exposure"] == 1500
    body = response.content.decode()
    assert "1,500" in body
    assert "grade grade-B" in body


def test_it_returns_one_table_of_the_transactions_tab_with_its_filters(client_for, analyst):
    customer = CustomerFactory(code="C1")
    InvoiceFactory(customer=customer, number="INV-OPEN")
    InvoiceFactory(customer=customer, number="INV-PAID", status="paid", amount_paid=1000)
    url = _tab_url("C1", "transactions")
    body = client_for(analyst).get(url, {"part": "invoices", "inv_status": "paid"}, **HTMX).content.decode()
    assert body.lstrip().startswith('<section class="card" id="invoices">')
    assert "INV-PAID" in body
    assert "INV-OPEN" not in body
    full = client_for(analyst).get(url).content.decode()
    assert 'data-chart="aging-chart"' in full
    assert 'data-chart-spec="{&quot;type&quot;: &quot;bar&quot;' in full


def test_it_filters_payments_by_date(client_for, analyst):
    customer = CustomerFactory(code="C1")
    PaymentFactory(customer=customer, reference="PAY-JAN", date=dt.date(2026, 1, 10))
    PaymentFactory(customer=customer, reference="PAY-MAR", date=dt.date(2026, 3, 10))
    body = client_for(analyst).get(_tab_url("C1", "transactions"), {"part": "payments", "pay_from": "2026-02-01"},
                                   **HTMX).content.decode()
    assert body.lstrip().startswith('<section class="card" id="payments">')
    assert "PAY-MAR" in body
    assert "PAY-JAN" not in body


def test_it_draws_the_z_score_trend_from_the_statements(client_for, analyst):
    customer = CustomerFactory(code="C1")
    FinancialStatementFactory(customer=customer, period_end=dt.date(2024, 12, 31))
    FinancialStatementFactory(customer=customer, period_end=dt.date(2025, 12, 31))
    response = client_for(analyst).get(_tab_url("C1", "financials"))
    chart = response.context["z_chart"]
    assert chart["labels"] == ["2024-12-31", "2025-12-31"]
    assert all(isinstance(v, float) for v in chart["datasets"][0]["data"])
    assert 'data-chart="z-chart"' in response.content.decode()


@pytest.mark.parametrize("persona", ["analyst", "manager", "ops", "auditor"])
def test_it_lets_every_role_read_the_credit_file(request, client_for, persona):
    CustomerFactory(code="C1")
    response = client_for(request.getfixturevalue(persona)).get(_tab_url("C1", "overview"))
    assert response.status_code == 200


def test_it_hides_edit_buttons_from_readers(client_for, analyst, auditor, ops):
    CustomerFactory(code="C1")
    edit = reverse("customers:edit", args=["C1"]).encode()
    assert edit in client_for(analyst).get(_tab_url("C1", "overview")).content
    for reader in (auditor, ops):
        assert edit not in client_for(reader).get(_tab_url("C1", "overview")).content
        assert b"contact_add" not in client_for(reader).get(_tab_url("C1", "contacts")).content
        assert b'name="file"' not in client_for(reader).get(_tab_url("C1", "documents")).content


def test_it_refuses_outsiders_and_unknown_codes_and_tabs(client_for, outsider, analyst):
    CustomerFactory(code="C1")
    assert client_for(outsider).get(_tab_url("C1", "overview")).status_code == 403
    assert client_for(analyst).get(_tab_url("NOPE", "overview")).status_code == 404
    assert client_for(analyst).get("/customers/C1/secrets/").status_code == 404


def test_it_adds_a_contact(client_for, analyst):
    CustomerFactory(code="C1")
    url = reverse("customers:contact_add", args=["C1"])
    response = client_for(analyst).post(url, {"name": "Wang Wei", "role": "CFO", "email": "wang@example.com",
                                              "is_primary": "on"}, **HTMX)
    assert response.status_code == 200
    assert "Wang Wei" in response.content.decode()
    assert Contact.objects.get().is_primary
    assert AuditEvent.objects.filter(action="contact.create").count() == 1
    response = client_for(analyst).post(url, {"name": "", "email": "not-an-email"}, **HTMX)
    assert set(response.context["contact_form"].errors) == {"name", "email"}
    assert Contact.objects.count() == 1


@pytest.mark.parametrize("persona", ["auditor", "ops", "outsider"])
def test_it_forbids_readers_to_post_contacts_and_documents(request, client_for, persona, media):
    CustomerFactory(code="C1")
    client = client_for(request.getfixturevalue(persona))
    assert client.post(reverse("customers:contact_add", args=["C1"]), {"name": "X"}).status_code == 403
    upload = SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")
    assert client.post(reverse("customers:document_add", args=["C1"]),
                       {"title": "T", "file": upload}).status_code == 403
    assert not Contact.objects.exists()
    assert not Document.objects.exists()


def test_it_uploads_a_document_and_serves_it_only_after_the_access_check(client_for, analyst, auditor, outsider,
                                                                       media):
    CustomerFactory(code="C1")
    upload = SimpleUploadedFile("report.pdf", PDF, content_type="application/pdf")
    response = client_for(analyst).post(reverse("customers:document_add", args=["C1"]),
                                        {"title": "Annual report", "file": upload})
    assert response.status_code == 302
    document = Document.objects.get()
    url = reverse("customers:document_download", args=["C1", document.pk])
    response = client_for(auditor).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert "attachment" in response["Content-Disposition"]
    assert client_for(outsider).get(url).status_code == 403
    other = CustomerFactory(code="C2")
    assert client_for(auditor).get(reverse("customers:document_download", args=[other.code, document.pk])
                                   ).status_code == 404


def test_it_refuses_a_document_whose_content_does_not_match_and_writes_nothing(client_for, analyst, media):
    CustomerFactory(code="C1")
    upload = SimpleUploadedFile("fake.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = client_for(analyst).post(reverse("customers:document_add", args=["C1"]),
                                        {"title": "Fake", "file": upload}, **HTMX)
    assert response.status_code == 200
    assert "file" in response.context["document_form"].errors
    assert not Document.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not list(media.rglob("*.pdf"))


def test_it_shows_the_customer_history_with_related_objects(client_for, auditor, analyst):
    customer = services.customer_create(code="H1", name="History Ltd", actor=analyst)
    services.contact_create(customer=customer, name="Li Lei", actor=analyst)
    other = CustomerFactory(code="H2")
    audit_record(actor=analyst, action="customer.update", subject_type="customers.customer", subject_id=other.pk)
    response = client_for(auditor).get(_tab_url("H1", "history"))
    actions = [event.action for event in response.context["events_page"].object_list]
    assert actions == ["contact.create", "customer.create"]
