"""Validation at the edge of the credit file: USCC, balance sheets, uploaded documents."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditrisk.core.models import AuditEvent
from customers import services
from customers.models import Document, FinancialStatement
from customers.validators import USCC_CHARSET, uscc_check_char, validate_uscc
from tests.customers.factories import VALID_USCCS, CustomerFactory

D = dt.date


# --------------------------------------------------------------------------------------------------
# USCC (GB 32100-2015)

@pytest.mark.parametrize("code", VALID_USCCS)
def test_it_accepts_real_unified_social_credit_codes(code):
    validate_uscc(code)
    validate_uscc(code.lower())


@pytest.mark.parametrize("code", VALID_USCCS)
def test_it_refuses_a_wrong_check_digit(code):
    wrong = next(ch for ch in USCC_CHARSET if ch != code[-1])
    with pytest.raises(ValidationError) as info:
        validate_uscc(code[:-1] + wrong)
    assert info.value.code in ("uscc_check", "uscc_org_check")


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433", "12345"])
def test_it_refuses_a_wrong_length(code):
    with pytest.raises(ValidationError) as info:
        validate_uscc(code)
    assert info.value.code == "uscc_length"


@pytest.mark.parametrize("code", ["91350100M000100I43", "9135010OM000100Y43", "91350100M00010-Y43",
                                  "91350100M000100Z43", "91350100M00010中Y43"])
def test_it_refuses_characters_outside_the_charset(code):
    with pytest.raises(ValidationError) as info:
        validate_uscc(code)
    assert info.value.code == "uscc_charset"


@given(st.text(max_size=30))
def test_it_only_ever_raises_validation_error_on_arbitrary_text(text):
    with contextlib.suppress(ValidationError):
        validate_uscc(text)


@given(st.text(alphabet=USCC_CHARSET, min_size=17, max_size=17))
def test_it_detects_every_single_character_typo(first17):
    code = first17 + uscc_check_char(first17)
    for position in range(17):
        original = code[position]
        for replacement in USCC_CHARSET[:5]:
            if replacement == original:
                continue
            typo = code[:position] + replacement + code[position + 1:]
            # The weights are all invertible mod 31, so any single substitution breaks the check digit
            # (the organisation code check may fire first, which is also a refusal).
            assert uscc_check_char(typo[:17]) != typo[17]
            with pytest.raises(ValidationError):
                validate_uscc(typo)


# --------------------------------------------------------------------------------------------------
# balance sheets

BALANCED = {
    "period_end": D(2025, 12, 31), "currency": "CNY", "revenue": Decimal("1000000"), "ebit": Decimal("80000"),
    "net_income": Decimal("50000"), "total_assets": Decimal("10000000"), "current_assets": Decimal("4000000"),
    "total_liabilities": Decimal("6000000"), "current_liabilities": Decimal("3000000"),
    "equity": Decimal("4000000"), "retained_earnings": Decimal("1000000"),
}


@pytest.mark.django_db
def test_it_refuses_an_unbalanced_balance_sheet_and_writes_nothing(analyst):
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as info:
        # 60,000 off on 10m of assets: above the tolerance of 0.5% (50,000).
        services.financial_statement_create(customer=customer, actor=analyst,
                                            **{**BALANCED, "equity": Decimal("3940000")})
    message = " ".join(info.value.message_dict["total_assets"])
    assert "does not balance" in message
    assert "60000" in message
    assert not FinancialStatement.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_it_accepts_rounding_within_the_tolerance(analyst):
    customer = CustomerFactory()
    statement = services.financial_statement_create(customer=customer, actor=analyst,
                                                    **{**BALANCED, "equity": Decimal("3960000")})
    assert statement.pk
    assert AuditEvent.objects.filter(action="financial_statement.create").count() == 1


@pytest.mark.django_db
def test_it_uses_at_least_one_unit_of_tolerance_for_small_statements(analyst):
    small = {**BALANCED, "total_assets": Decimal("100"), "current_assets": Decimal("40"),
             "total_liabilities": Decimal("60"), "current_liabilities": Decimal("30"), "retained_earnings": None}
    customer = CustomerFactory()
    services.financial_statement_create(customer=customer, actor=analyst, **{**small, "equity": Decimal("39.00")})
    with pytest.raises(ValidationError):
        services.financial_statement_create(customer=customer, actor=analyst,
                                            **{**small, "period_end": D(2024, 12, 31), "equity": Decimal("38.99")})


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "field"), [
    ({"current_liabilities": Decimal("7000000")}, "current_liabilities"),
    ({"total_assets": Decimal("-1")}, "total_assets"),
    ({"current_assets": Decimal("-5")}, "current_assets"),
    ({"current_assets": Decimal("11000000")}, "current_assets"),
    ({"cash": Decimal("-1")}, "cash"),
    ({"currency": "XXX"}, "currency"),
])
def test_it_refuses_inconsistent_statements(analyst, change, field):
    with pytest.raises(ValidationError) as info:
        services.financial_statement_create(customer=CustomerFactory(), actor=analyst, **{**BALANCED, **change})
    assert field in info.value.message_dict
    assert not FinancialStatement.objects.exists()


@pytest.mark.django_db
def test_it_refuses_an_update_that_unbalances_the_sheet(analyst):
    statement = services.financial_statement_create(customer=CustomerFactory(), actor=analyst, **BALANCED)
    with pytest.raises(ValidationError):
        services.financial_statement_update(statement=statement, data={"equity": Decimal("1")}, actor=analyst)
    statement.refresh_from_db()
    assert statement.equity == Decimal("4000000")


amounts = st.one_of(st.none(), st.decimals(min_value=-10**9, max_value=10**12, places=2, allow_nan=False),
                    st.text(max_size=5), st.integers(-(10**20), 10**20))


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries(dict.fromkeys(("total_assets", "current_assets", "total_liabilities", "current_liabilities", "equity", "revenue"), amounts)))
def test_it_never_lets_malformed_statements_through_with_a_server_error(analyst, values):
    customer = CustomerFactory(code="HYP")
    before = FinancialStatement.objects.count()
    try:
        statement = services.financial_statement_create(customer=customer, actor=analyst,
                                                        **{**BALANCED, **values, "period_end": D(2025, 12, 31)})
    except ValidationError:
        assert FinancialStatement.objects.count() == before
    else:
        statement.delete()


# --------------------------------------------------------------------------------------------------
# documents

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    buffer = io.BytesIO()
    book = Workbook()
    book.active["A1"] = "hello"
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content", "content_type"), [
    ("accounts.pdf", PDF, "application/pdf"),
    ("logo.png", PNG, "image/png"),
    ("photo.jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 32, "image/jpeg"),
    ("ledger.xlsx", None, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("客户.csv", "编码,名称\nC1,华为\n".encode("gb18030"), "text/csv"),
    ("notes.txt", b"plain note\n", "text/plain"),
])
def test_it_stores_documents_with_their_hash(analyst, media, name, content, content_type):
    content = content if content is not None else _xlsx_bytes()
    document = services.document_upload(customer=CustomerFactory(), file=SimpleUploadedFile(name, content),
                                        title="Annual report", actor=analyst)
    assert document.content_type == content_type
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.size == len(content)
    assert document.uploaded_by == analyst
    with document.file.open("rb") as stored:
        assert stored.read() == content
    assert AuditEvent.objects.filter(action="document.upload", subject_id=str(document.pk)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content"), [
    ("invoice.pdf", PNG),                           # PNG bytes named .pdf
    ("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 64),  # a Windows executable renamed
    ("sheet.xlsx", b"PK\x03\x04not really a zip"),
    ("letter.docx", None),                          # a real XLSX named .docx
    ("data.txt", b"\x00\x01\x02binary\x00"),
    ("script.exe", PDF),                            # allowed content, forbidden type
    ("noextension", PDF),
    ("empty.pdf", b""),
])
def test_it_refuses_documents_whose_bytes_do_not_match(analyst, media, name, content):
    content = content if content is not None else _xlsx_bytes()
    with pytest.raises(ValidationError) as info:
        services.document_upload(customer=CustomerFactory(), file=SimpleUploadedFile(name, content), actor=analyst)
    assert "file" in info.value.message_dict
    assert not Document.objects.exists()
    assert not any(media.rglob("*.*"))


@pytest.mark.django_db
def test_it_refuses_documents_over_the_size_limit(analyst, media, settings):
    settings.CREDITRISK_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(ValidationError) as info:
        services.document_upload(customer=CustomerFactory(), file=SimpleUploadedFile("big.pdf", PDF + b"x" * 2000),
                                 actor=analyst)
    assert "too large" in info.value.message_dict["file"][0]
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_it_caps_documents_at_20_mb_whatever_the_upload_setting(analyst, media, settings):
    settings.CREDITRISK_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
    assert services.document_max_bytes() == 20 * 1024 * 1024


# --------------------------------------------------------------------------------------------------
# malformed service input: a ValidationError and nothing written, never another exception

texts = st.one_of(st.text(max_size=60), st.sampled_from(["", " ", "CN", "cn", "CNY", "USD", "large", "active",
                                                         "91350100M000100Y43", "x" * 500]))


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=texts, name=texts, registration_no=texts, country=texts, currency=texts, size=texts, status=texts,
       attributes=st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=10), st.integers(), st.none()),
                                  max_size=3))
def test_it_refuses_malformed_customers_cleanly(analyst, code, name, registration_no, country, currency, size,
                                                status, attributes):
    from customers.models import Customer

    before = (Customer.objects.count(), AuditEvent.objects.count())
    try:
        customer = services.customer_create(code=code, name=name, registration_no=registration_no, country=country,
                                            currency=currency, size=size, status=status, attributes=attributes,
                                            actor=analyst)
    except ValidationError:
        assert (Customer.objects.count(), AuditEvent.objects.count()) == before
    else:
        if customer.country == "CN" and customer.registration_no:
            validate_uscc(customer.registration_no)
        Customer.objects.filter(pk=customer.pk).delete()


money = st.one_of(st.decimals(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.integers(-(10**20), 10**20),
                  st.floats(), st.none())


@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=money, currency=texts, number=texts,
       issue=st.one_of(st.none(), st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 1, 1))),
       due=st.one_of(st.none(), st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 1, 1))))
def test_it_refuses_malformed_invoices_and_payments_cleanly(analyst, amount, currency, number, issue, due):
    from customers.models import Invoice, Payment, PaymentAllocation

    customer = CustomerFactory(code="MAL")

    def counts():
        return Invoice.objects.count(), Payment.objects.count(), AuditEvent.objects.count()

    for call in (
        lambda: services.invoice_create(customer=customer, number=number, issue_date=issue, due_date=due,
                                        amount=amount, currency=currency, actor=analyst),
        lambda: services.payment_create(customer=customer, reference=number, date=due, amount=amount,
                                        currency=currency, invoice_number=number or None, actor=analyst),
    ):
        before = counts()
        try:
            call()
        except ValidationError:
            assert counts() == before
    PaymentAllocation.objects.filter(payment__customer=customer).delete()
    Payment.objects.filter(customer=customer).delete()
    Invoice.objects.filter(customer=customer).delete()
