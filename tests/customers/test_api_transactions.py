"""The transaction APIs: invoices, payments, orders, financial statements and credit reports."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditrisk.core.models import AuditEvent
from customers.models import CreditReport, FinancialStatement, Invoice, Payment, SalesOrder
from tests.customers.factories import (
    CreditReportFactory,
    CustomerFactory,
    FinancialStatementFactory,
    InvoiceFactory,
    PaymentFactory,
    SalesOrderFactory,
)

INVOICES = "/api/v1/invoices/"
PAYMENTS = "/api/v1/payments/"
ORDERS = "/api/v1/orders/"
STATEMENTS = "/api/v1/financial-statements/"
REPORTS = "/api/v1/credit-reports/"


@pytest.fixture
def customer(db):
    return CustomerFactory(code="C-1", currency="CNY")


def _invoice(**overrides):
    body = {"customer": "C-1", "number": "INV-1", "issue_date": "2026-01-10", "due_date": "2026-02-09",
            "amount": "1200.50"}
    body.update(overrides)
    return body


# --- invoices -------------------------------------------------------------------------------------

def test_it_creates_an_invoice_with_the_customer_referenced_by_code(analyst, api_for, customer):
    response = api_for(analyst).post(INVOICES, _invoice(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["customer"] == "C-1"
    assert (data["currency"], data["amount"], data["amount_paid"], data["open_amount"], data["status"]) == (
        "CNY", "1200.50", "0.00", "1200.50", "open")
    invoice = Invoice.objects.get(number="INV-1")
    assert invoice.customer == customer
    assert AuditEvent.objects.filter(action="invoice.create", subject_id=str(invoice.pk)).exists()


def test_it_returns_the_same_invoice_when_it_is_posted_twice(analyst, api_for, customer):
    api = api_for(analyst)
    first = api.post(INVOICES, _invoice(), format="json")
    second = api.post(INVOICES, _invoice(amount="1200.5"), format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Invoice.objects.count() == 1


def test_it_refuses_a_reused_invoice_number_with_other_values(analyst, api_for, customer):
    api = api_for(analyst)
    api.post(INVOICES, _invoice(), format="json")
    response = api.post(INVOICES, _invoice(amount="999.00"), format="json")
    assert response.status_code == 409
    assert list(response.json()["errors"]) == ["amount"]
    assert Invoice.objects.get().amount == Decimal("1200.50")


@pytest.mark.parametrize(("field", "value"), [
    ("customer", "NOPE"), ("due_date", "2026-01-01"), ("amount", "0"), ("amount", "-5"), ("amount", "1.001"),
    ("currency", "XYZ"), ("issue_date", "yesterday"), ("number", ""),
])
def test_it_names_the_bad_invoice_field(analyst, api_for, customer, field, value):
    response = api_for(analyst).post(INVOICES, _invoice(**{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not Invoice.objects.exists()


def test_it_patches_an_invoice_and_keeps_its_identity(analyst, api_for, customer):
    invoice = InvoiceFactory(customer=customer, number="INV-9")
    response = api_for(analyst).patch(f"{INVOICES}{invoice.pk}/", {"status": "written_off", "number": "X",
                                                                   "due_date": "2026-03-01"}, format="json")
    assert response.status_code == 200, response.json()
    invoice.refresh_from_db()
    assert (invoice.number, invoice.status, invoice.due_date) == ("INV-9", "written_off", dt.date(2026, 3, 1))
    assert invoice.written_off_date is not None
    assert AuditEvent.objects.filter(action="invoice.update", subject_id=str(invoice.pk)).exists()


def test_it_refuses_marking_an_invoice_paid_by_hand(analyst, api_for, customer):
    invoice = InvoiceFactory(customer=customer)
    response = api_for(analyst).patch(f"{INVOICES}{invoice.pk}/", {"status": "paid"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_it_filters_invoices_by_customer_code_dates_and_status(analyst, api_for, customer):
    other = CustomerFactory(code="C-2")
    InvoiceFactory(customer=customer, number="A", issue_date=dt.date(2026, 1, 5))
    InvoiceFactory(customer=customer, number="B", issue_date=dt.date(2026, 2, 5), status="written_off",
                   written_off_date=dt.date(2026, 6, 1))
    InvoiceFactory(customer=other, number="C", issue_date=dt.date(2026, 2, 6))
    api = api_for(analyst)

    def numbers(query):
        response = api.get(INVOICES, query)
        assert response.status_code == 200, response.json()
        return sorted(row["number"] for row in response.json()["results"])

    assert numbers({"customer": "C-1"}) == ["A", "B"]
    assert numbers({"issue_date_from": "2026-02-01"}) == ["B", "C"]
    assert numbers({"issue_date_to": "2026-01-31"}) == ["A"]
    assert numbers({"status": "open"}) == ["A", "C"]
    assert numbers({"customer": "C-1", "status": "written_off"}) == ["B"]
    assert api.get(INVOICES, {"issue_date_from": "not-a-date"}).status_code == 400


def test_it_refuses_invoice_writes_to_the_auditor(auditor, api_for, customer):
    invoice = InvoiceFactory(customer=customer)
    api = api_for(auditor)
    assert api.get(f"{INVOICES}{invoice.pk}/").status_code == 200
    assert api.post(INVOICES, _invoice(number="NEW"), format="json").status_code == 403
    assert api.patch(f"{INVOICES}{invoice.pk}/", {"status": "cancelled"}, format="json").status_code == 403
    assert Invoice.objects.count() == 1


# --- payments -------------------------------------------------------------------------------------

def test_it_records_a_payment_and_shows_its_allocations(analyst, api_for, customer):
    InvoiceFactory(customer=customer, number="OLD", issue_date=dt.date(2026, 1, 1), amount=Decimal("300"))
    InvoiceFactory(customer=customer, number="NEW", issue_date=dt.date(2026, 1, 20), amount=Decimal("500"))
    body = {"customer": "C-1", "reference": "BANK-77", "date": "2026-02-15", "amount": "400.00"}
    api = api_for(analyst)
    response = api.post(PAYMENTS, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["allocations"] == [{"invoice": "OLD", "amount": "300.00"},
                                              {"invoice": "NEW", "amount": "100.00"}]
    assert Invoice.objects.get(number="OLD").status == "paid"
    again = api.post(PAYMENTS, body, format="json")
    assert again.status_code == 200
    assert Payment.objects.count() == 1


def test_it_allocates_a_payment_to_the_named_invoice_first(analyst, api_for, customer):
    InvoiceFactory(customer=customer, number="OLD", issue_date=dt.date(2026, 1, 1))
    InvoiceFactory(customer=customer, number="NEW", issue_date=dt.date(2026, 1, 20))
    response = api_for(analyst).post(PAYMENTS, {"customer": "C-1", "reference": "R", "date": "2026-02-15",
                                                "amount": "1000.00", "invoice_number": "NEW"}, format="json")
    assert response.status_code == 201
    assert response.json()["allocations"] == [{"invoice": "NEW", "amount": "1000.00"}]


def test_it_names_an_unknown_invoice_of_a_payment(analyst, api_for, customer):
    response = api_for(analyst).post(PAYMENTS, {"customer": "C-1", "reference": "R", "date": "2026-02-15",
                                                "amount": "10.00", "invoice_number": "GHOST"}, format="json")
    assert response.status_code == 400
    assert "invoice_number" in response.json()["errors"]
    assert not Payment.objects.exists()


def test_it_filters_payments_by_customer_and_date(analyst, api_for, customer):
    PaymentFactory(customer=customer, reference="P1", date=dt.date(2026, 1, 1))
    PaymentFactory(customer=customer, reference="P2", date=dt.date(2026, 3, 1))
    PaymentFactory(customer=CustomerFactory(code="C-2"), reference="P3", date=dt.date(2026, 3, 1))
    rows = api_for(analyst).get(PAYMENTS, {"customer": "C-1", "date_from": "2026-02-01"}).json()["results"]
    assert [row["reference"] for row in rows] == ["P2"]


# --- orders ---------------------------------------------------------------------------------------

def test_it_creates_an_order_and_moves_its_status(analyst, api_for, customer):
    api = api_for(analyst)
    response = api.post(ORDERS, {"customer": "C-1", "number": "SO-1", "order_date": "2026-03-01",
                                 "amount": "5000.00"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "open"
    order_id = response.json()["id"]
    assert api.patch(f"{ORDERS}{order_id}/", {"status": "held", "reason": "limit"}, format="json").status_code == 200
    assert SalesOrder.objects.get().status == "held"
    assert AuditEvent.objects.filter(action="sales_order.status").count() == 1


def test_it_refuses_an_impossible_order_transition(analyst, api_for, customer):
    order = SalesOrderFactory(customer=customer, status="shipped")
    api = api_for(analyst)
    response = api.patch(f"{ORDERS}{order.pk}/", {"status": "open"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]
    assert api.patch(f"{ORDERS}{order.pk}/", {}, format="json").status_code == 400
    order.refresh_from_db()
    assert order.status == "shipped"


def test_it_filters_orders_by_status(analyst, api_for, customer):
    SalesOrderFactory(customer=customer, number="S1", status="open")
    SalesOrderFactory(customer=customer, number="S2", status="cancelled")
    rows = api_for(analyst).get(ORDERS, {"customer": "C-1", "status": ["open", "held"]}).json()["results"]
    assert [row["number"] for row in rows] == ["S1"]


# --- financial statements -------------------------------------------------------------------------

STATEMENT = {
    "customer": "C-1", "period_end": "2025-12-31", "period_type": "annual", "audited": True, "source": "audit",
    "revenue": "12000000.00", "cogs": "9000000.00", "ebit": "900000.00", "net_income": "600000.00",
    "interest_expense": "150000.00", "total_assets": "10000000.00", "current_assets": "5000000.00",
    "cash": "800000.00", "inventory": "1500000.00", "receivables": "2000000.00",
    "total_liabilities": "6000000.00", "current_liabilities": "3500000.00", "retained_earnings": "2000000.00",
    "equity": "4000000.00", "operating_cash_flow": "1000000.00",
}


def test_it_adds_a_statement_and_derives_ratios_and_z_scores(analyst, api_for, customer):
    response = api_for(analyst).post(STATEMENTS, STATEMENT, format="json")
    assert response.status_code == 201, response.json()
    analysis = response.json()["analysis"]
    assert analysis["current_ratio"] == pytest.approx(5_000_000 / 3_500_000)
    assert analysis["debt_to_equity"] == pytest.approx(1.5)
    assert analysis["z_prime"] is not None
    assert analysis["z_prime_zone"] in ("safe", "grey", "distress")
    assert response.json()["currency"] == "CNY"


def test_it_ignores_typed_in_ratios(analyst, api_for, customer):
    response = api_for(analyst).post(STATEMENTS, {**STATEMENT, "analysis": {"current_ratio": 99}}, format="json")
    assert response.status_code == 201
    assert response.json()["analysis"]["current_ratio"] != 99


def test_it_refuses_a_statement_that_does_not_balance(analyst, api_for, customer):
    response = api_for(analyst).post(STATEMENTS, {**STATEMENT, "equity": "1000.00"}, format="json")
    assert response.status_code == 400
    assert "total_assets" in response.json()["errors"]
    assert not FinancialStatement.objects.exists()


def test_it_lists_statements_with_the_same_analysis_as_one_statement(analyst, api_for, customer):
    FinancialStatementFactory(customer=customer, period_end=dt.date(2024, 12, 31))
    FinancialStatementFactory(customer=customer, period_end=dt.date(2025, 12, 31), equity=Decimal("-100"),
                              total_liabilities=Decimal("10000100"))
    api = api_for(analyst)
    rows = api.get(STATEMENTS, {"customer": "C-1"}).json()["results"]
    assert [row["period_end"] for row in rows] == ["2025-12-31", "2024-12-31"]
    for row in rows:
        assert api.get(f"{STATEMENTS}{row['id']}/").json()["analysis"] == row["analysis"]
    assert rows[0]["analysis"]["negative_equity"] is True
    assert rows[0]["analysis"]["debt_to_equity"] is None


# --- credit reports -------------------------------------------------------------------------------

def test_it_adds_a_manual_credit_report(analyst, api_for, customer):
    body = {"customer": "C-1", "report_date": "2026-01-10", "score": "72.5", "rating": "BB", "pd": "0.025",
            "recommended_limit": "500000.00", "legal_events": 1, "raw_data": {"source": "phone"}}
    api = api_for(analyst)
    response = api.post(REPORTS, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["provider"], data["rating"], data["pd"], data["raw_data"]) == (
        "manual", "BB", "0.025000", {"source": "phone"})
    assert api.post(REPORTS, body, format="json").status_code == 200
    assert CreditReport.objects.count() == 1


@pytest.mark.parametrize(("field", "value"), [("pd", "1.5"), ("provider", "no-such-bureau"),
                                              ("legal_events", -1), ("raw_data", "text")])
def test_it_names_the_bad_credit_report_field(analyst, api_for, customer, field, value):
    body = {"customer": "C-1", "report_date": "2026-01-10", field: value}
    response = api_for(analyst).post(REPORTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not CreditReport.objects.exists()


# --- query counts ---------------------------------------------------------------------------------

def _queries(api_for, user, url, page_size):
    api = api_for(type(user).objects.get(pk=user.pk))
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url, {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return len(queries)


@pytest.mark.parametrize(("url", "make"), [
    (INVOICES, lambda c, i: InvoiceFactory(customer=c)),
    (PAYMENTS, lambda c, i: PaymentFactory(customer=c)),
    (ORDERS, lambda c, i: SalesOrderFactory(customer=c)),
    (STATEMENTS, lambda c, i: FinancialStatementFactory(customer=c, period_end=dt.date(2000 + i, 12, 31))),
    (REPORTS, lambda c, i: CreditReportFactory(customer=c, report_date=dt.date(2000 + i, 1, 1))),
])
def test_it_lists_in_a_fixed_number_of_queries(analyst, api_for, url, make):
    customers = [CustomerFactory() for _ in range(4)]
    for i in range(24):
        make(customers[i % 4], i)
    if url == PAYMENTS:
        for payment, invoice in zip(Payment.objects.all(), Invoice.objects.bulk_create(
                [Invoice(customer=p.customer, number=f"I{p.pk}", issue_date=dt.date(2026, 1, 1),
                         due_date=dt.date(2026, 2, 1), amount=Decimal(10), currency="CNY")
                 for p in Payment.objects.all()]), strict=True):
            payment.allocations.create(invoice=invoice, amount=Decimal(5))
    assert _queries(api_for, analyst, url, 2) == _queries(api_for, analyst, url, 24)
    assert _queries(api_for, analyst, url, 24) <= 5


# --- malformed input ------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
VALUES = JSON | st.sampled_from(["C-1", "", "2026-01-10", "2026-13-01", "1e999", "NaN", "-0.00", "12.345",
                                 "99999999999999999999", "CNY", "open", "paid", "\x00", "manual"])
FIELDS = {
    INVOICES: ["customer", "number", "issue_date", "due_date", "amount", "currency", "status"],
    PAYMENTS: ["customer", "reference", "date", "amount", "currency", "invoice_number"],
    ORDERS: ["customer", "number", "order_date", "amount", "currency", "status"],
    STATEMENTS: ["customer", "period_end", "period_type", "currency", "revenue", "ebit", "net_income",
                 "total_assets", "current_assets", "total_liabilities", "current_liabilities", "equity"],
    REPORTS: ["customer", "provider", "report_date", "score", "pd", "legal_events", "raw_data"],
}
MODELS = {INVOICES: Invoice, PAYMENTS: Payment, ORDERS: SalesOrder, STATEMENTS: FinancialStatement,
          REPORTS: CreditReport}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=st.sampled_from(list(FIELDS)), data=st.data())
def test_it_never_answers_random_bodies_with_a_server_error(analyst, api_for, customer, url, data):
    body = data.draw(JSON | st.dictionaries(st.sampled_from(FIELDS[url]), VALUES, max_size=12))
    model = MODELS[url]
    before = model.objects.count()
    response = api_for(analyst).post(url, body, format="json")
    assert response.status_code in (200, 201, 400, 409), response.content
    if response.status_code != 201:
        assert model.objects.count() == before
        assert set(response.json()) == {"message", "code", "errors"} or response.status_code == 200
    if url in (INVOICES, ORDERS):
        target = (InvoiceFactory if url == INVOICES else SalesOrderFactory)(customer=customer)
        patched = api_for(analyst).patch(f"{url}{target.pk}/", body, format="json")
        assert patched.status_code in (200, 400), patched.content


@pytest.mark.parametrize("url", list(FIELDS))
def test_it_refuses_nul_characters_in_filters_and_ids(analyst, api_for, url):
    api = api_for(analyst)
    assert api.get(url, {"customer": "C\x00"}).status_code == 400
    assert api.get(f"{url}%00/").status_code == 404
    assert api.get("/api/v1/customers/", {"q": "\x00"}).status_code == 400
    assert api.get("/api/v1/customers/%00/").status_code == 404


def test_it_links_an_attached_report_file_to_its_guarded_download(analyst, api_for, customer):
    from django.core.files.base import ContentFile

    report = CreditReportFactory(customer=customer)
    report.file.save("report.csv", ContentFile(b"score\n70\n"))
    plain = CreditReportFactory(customer=customer, report_date=dt.date(2026, 2, 1))
    api = api_for(analyst)
    linked = api.get(f"{REPORTS}{report.pk}/").json()["file"]
    assert linked.endswith(f"/customers/C-1/reports/{report.pk}/file/")
    assert api.get(f"{REPORTS}{plain.pk}/").json()["file"] is None
    report.file.delete(save=False)
