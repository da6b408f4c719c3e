"""Import validation and upsert rules: bad files are refused whole, re-imports change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from creditrisk.core.models import AuditEvent
from customers.importers import import_file
from customers.models import Customer, FinancialStatement, Invoice, Payment, PaymentAllocation
from tests.customers.factories import VALID_USCCS, CustomerFactory, InvoiceFactory


def write(tmp_path, text: str, name: str = "file.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def table_counts() -> tuple[int, ...]:
    return (Customer.objects.count(), Invoice.objects.count(), Payment.objects.count(),
            PaymentAllocation.objects.count(), FinancialStatement.objects.count())


@pytest.mark.django_db
def test_it_refuses_a_file_with_bad_rows_whole_and_reports_every_one(tmp_path):
    CustomerFactory(code="C001")
    path = write(tmp_path, (
        "customer_code,number,issue_date,due_date,amount,currency,status\n"
        "C001,INV-1,2026-03-01,2026-03-31,100.00,CNY,open\n"      # 2: fine
        "C999,INV-2,2026-03-01,2026-03-31,100.00,CNY,open\n"      # 3: unknown customer
        "C001,INV-3,2026-03-31,2026-03-01,100.00,CNY,open\n"      # 4: due before issue
        "C001,INV-4,2026-02-30,2026-03-31,100.00,CNY,open\n"      # 5: no such date
        "C001,INV-5,2026-03-01,2026-03-31,-5,CNY,open\n"          # 6: negative amount
        "C001,INV-6,2026-03-01,2026-03-31,12a,CNY,open\n"         # 7: not a number
        "C001,INV-7,2026-03-01,2026-03-31,100,XXX,open\n"         # 8: bad currency
        "C001,INV-8,2026-03-01,2026-03-31,100,CNY,lost\n"         # 9: bad status
        "C001,,2026-03-01,2026-03-31,100,CNY,open\n"              # 10: missing number
        "C001,INV-1,2026-03-02,2026-04-01,200.00,CNY,open\n"      # 11: duplicate of row 2
        "\n"                                                      # 12: blank, skipped
        "C001,INV-9,01/03/2026,2026-03-31,100,CNY,open\n"         # 13: ambiguous date
        "C001,INV-10,2026-03-01,2026-03-31,1.234,CNY,open\n"      # 14: three decimals
    ))
    before = table_counts()

    result = import_file(kind="invoices", path=path)

    assert not result.ok
    assert not result.committed
    reported = {(e.row, e.column) for e in result.errors}
    assert reported == {(3, "customer_code"), (4, "due_date"), (5, "issue_date"), (6, "amount"), (7, "amount"),
                        (8, "currency"), (9, "status"), (10, "number"), (11, "number"), (13, "issue_date"),
                        (14, "amount")}
    assert result.error_count == 11
    messages = {e.row: e.message for e in result.errors}
    assert "row 2" in messages[11]
    assert "C999" in messages[3]
    assert table_counts() == before
    assert AuditEvent.objects.get(action="import.invoices").reason == "refused"


@pytest.mark.django_db
def test_it_reports_errors_under_the_header_the_file_uses(tmp_path):
    path = write(tmp_path, "客户编码,客户名称,统一社会信用代码,国家\nC1,甲公司,91350100M000100Y44,CN\nC2,乙公司,X1,US\n")

    result = import_file(kind="customers", path=path, dry_run=True)

    assert [(e.row, e.column) for e in result.errors] == [(2, "统一社会信用代码")]
    assert "check digit" in result.errors[0].message


@pytest.mark.django_db
def test_it_refuses_an_unbalanced_balance_sheet(tmp_path):
    CustomerFactory(code="C001")
    header = ("customer_code,period_end,revenue,ebit,net_income,total_assets,current_assets,total_liabilities,"
              "current_liabilities,equity\n")
    path = write(tmp_path, header + "C001,2025-12-31,100,10,5,1000,500,600,300,380\n")  # 1000 vs 980: > 5.00

    result = import_file(kind="financials", path=path)

    assert [(e.row, e.column) for e in result.errors] == [(2, "total_assets")]
    assert "does not balance" in result.errors[0].message
    ok = write(tmp_path, header + "C001,2025-12-31,100,10,5,1000,500,600,300,396\n", "ok.csv")  # within 0.5 %
    assert import_file(kind="financials", path=ok).ok


@pytest.mark.django_db
def test_it_reimports_the_same_file_without_rewriting_a_row(tmp_path):
    CustomerFactory(code="C001")
    CustomerFactory(code="C002")
    text = "customer_code,number,issue_date,due_date,amount,currency\n" + "".join(
        f"C00{1 + n % 2},INV-{n},2026-01-{1 + n:02d},2026-02-{1 + n:02d},{100 + n}.50,CNY\n" for n in range(20))
    path = write(tmp_path, text)
    first = import_file(kind="invoices", path=path)
    assert first.counts == {"created": 20, "updated": 0, "unchanged": 0}
    stamps = dict(Invoice.objects.values_list("number", "updated_at"))

    again = import_file(kind="invoices", path=path)

    assert again.counts == {"created": 0, "updated": 0, "unchanged": 20}
    assert dict(Invoice.objects.values_list("number", "updated_at")) == stamps
    changed = write(tmp_path, text.replace("INV-3,2026-01-04,2026-02-04,103.50", "INV-3,2026-01-04,2026-02-04,999"),
                    "changed.csv")
    third = import_file(kind="invoices", path=changed)
    assert third.counts == {"created": 0, "updated": 1, "unchanged": 19}
    assert Invoice.objects.get(number="INV-3").amount == Decimal("999.00")
    assert AuditEvent.objects.filter(action="import.invoices").count() == 3


@pytest.mark.django_db
def test_it_reimports_customers_without_changes(tmp_path):
    path = write(tmp_path, (
        "code,name,registration_no,country,status,size,currency,relationship_start\n"
        f"C1,Alpha,{VALID_USCCS[2]},CN,active,small,CNY,2021-01-01\n"
        "C2,Beta,,US,prospect,large,USD,\n"
    ))
    assert import_file(kind="customers", path=path).counts["created"] == 2
    stamps = dict(Customer.objects.values_list("code", "updated_at"))

    again = import_file(kind="customers", path=path)

    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2}
    assert dict(Customer.objects.values_list("code", "updated_at")) == stamps


@pytest.mark.django_db
def test_it_allocates_payments_to_the_named_invoice_then_fifo(tmp_path):
    customer = CustomerFactory(code="C001", currency="CNY")
    old = InvoiceFactory(customer=customer, number="I-OLD", issue_date=dt.date(2026, 1, 1),
                         due_date=dt.date(2026, 1, 31), amount=Decimal("100"))
    new = InvoiceFactory(customer=customer, number="I-NEW", issue_date=dt.date(2026, 2, 1),
                         due_date=dt.date(2026, 2, 28), amount=Decimal("300"))
    later = InvoiceFactory(customer=customer, number="I-LATER", issue_date=dt.date(2026, 5, 1),
                           due_date=dt.date(2026, 5, 31), amount=Decimal("50"))
    path = write(tmp_path, (
        "客户编码,付款编号,付款日期,金额,币种,发票号\n"
        "C001,P-1,2026-03-01,250,CNY,I-NEW\n"
        "C001,P-2,2026-03-05,120,CNY,\n"
    ))

    result = import_file(kind="payments", path=path)

    assert result.ok, result.errors
    assert result.counts["created"] == 2
    assert result.counts["allocations"] == 3
    allocations = {(a.payment.reference, a.invoice.number): a.amount
                   for a in PaymentAllocation.objects.select_related("payment", "invoice")}
    # P-1 pays I-NEW; P-2 pays I-OLD (oldest due) then the rest of I-NEW; I-LATER was issued after P-2.
    assert allocations == {("P-1", "I-NEW"): Decimal("250.00"), ("P-2", "I-OLD"): Decimal("100.00"),
                           ("P-2", "I-NEW"): Decimal("20.00")}
    for invoice in (old, new, later):
        invoice.refresh_from_db()
    assert (old.status, old.amount_paid, old.paid_date) == ("paid", Decimal("100.00"), dt.date(2026, 3, 5))
    assert (new.status, new.amount_paid) == ("open", Decimal("270.00"))
    assert later.amount_paid == Decimal("0.00")

    again = import_file(kind="payments", path=path)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2}
    assert PaymentAllocation.objects.count() == 3


@pytest.mark.django_db
def test_it_refuses_a_payment_for_an_unknown_invoice(tmp_path):
    CustomerFactory(code="C001")
    CustomerFactory(code="C002")
    InvoiceFactory(customer=Customer.objects.get(code="C002"), number="I-1")
    path = write(tmp_path, "customer_code,reference,date,amount,invoice_number\nC001,P-1,2026-03-01,10,I-1\n")

    result = import_file(kind="payments", path=path)

    assert [(e.row, e.column) for e in result.errors] == [(2, "invoice_number")]
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_it_reports_at_most_a_thousand_errors_but_counts_them_all(tmp_path):
    rows = "".join(f"C404,I-{n},2026-01-01,2026-01-31,10\n" for n in range(1500))
    path = write(tmp_path, "customer_code,number,issue_date,due_date,amount\n" + rows)

    result = import_file(kind="invoices", path=path, chunk_size=400)

    assert result.error_count == 1500
    assert len(result.errors) == 1000
    assert result.more_errors == 500
    assert result.errors[0].row == 2


@pytest.mark.django_db
def test_it_finds_duplicates_across_chunks(tmp_path):
    CustomerFactory(code="C001")
    rows = "".join(f"C001,I-{n % 700},2026-01-01,2026-01-31,10\n" for n in range(1000))
    path = write(tmp_path, "customer_code,number,issue_date,due_date,amount\n" + rows)

    result = import_file(kind="invoices", path=path, chunk_size=128)

    assert result.error_count == 300
    assert {e.row for e in result.errors} == set(range(702, 1002))
    assert not Invoice.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "text"), [
    ("financials", "customer_code,period_end,period_type,revenue,ebit,net_income,total_assets,current_assets,"
                   "total_liabilities,current_liabilities,equity\n"
                   "C001,2025-12-31,annual,100,10,5,1000,500,600,300,400\n"
                   "C001,2025-12-31,interim,50,5,2,900,450,500,250,400\n"),
    ("credit_reports", "customer_code,provider,report_date,score,pd\nC001,bureau,2026-01-01,70,0.02\n"
                       "C001,agency,2026-01-01,65,3%\n"),
    ("outcomes", "customer_code,observation_date,defaulted\nC001,2025-06-30,0\nC001,2025-12-31,是\n"),
    ("orders", "customer_code,number,order_date,amount,currency,status\nC001,SO-1,2026-01-01,5,CNY,open\n"
               "C001,SO-2,2026-01-02,6,CNY,shipped\n"),
])
def test_it_reimports_every_kind_as_a_no_op(tmp_path, kind, text):
    CustomerFactory(code="C001")
    path = write(tmp_path, text)
    assert import_file(kind=kind, path=path).counts == {"created": 2, "updated": 0, "unchanged": 0}

    assert import_file(kind=kind, path=path).counts == {"created": 0, "updated": 0, "unchanged": 2}


@pytest.mark.django_db
def test_it_reports_every_problem_of_a_row(tmp_path):
    path = write(tmp_path, "customer_code,number,issue_date,due_date,amount\nC404,I-1,2026-02-01,2026-01-01,abc\n")

    result = import_file(kind="invoices", path=path)

    assert [(e.row, e.column) for e in result.errors] == [(2, "amount"), (2, "customer_code"), (2, "due_date")]
