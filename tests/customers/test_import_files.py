"""Importing real-world files: GB18030 from Chinese Excel, UTF-8 with BOM, XLSX with date cells."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from openpyxl import Workbook

from creditrisk.core.models import AuditEvent
from customers.importers import ImportFileError, import_file
from customers.models import (
    AttributeDefinition,
    CreditReport,
    Customer,
    CustomerGroup,
    FinancialStatement,
    Invoice,
    OutcomeFlag,
    SalesOrder,
)
from tests.customers.factories import VALID_USCCS, CustomerFactory


def write(tmp_path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.django_db
def test_it_imports_a_gb18030_csv_with_chinese_headers(tmp_path, analyst):
    text = (
        "客户编码,客户名称,统一社会信用代码,国家,规模,状态,集团编码,合作开始日期\r\n"
        f"C001,上海华东贸易有限公司,{VALID_USCCS[0]},中国,中型,活跃,G-EAST,2020/03/01\r\n"
        f"C002,北京北方机械股份有限公司,{VALID_USCCS[1]},CN,大,暂停,G-EAST,20190115\r\n"
    )
    path = write(tmp_path, "客户.csv", text, "gb18030")

    result = import_file(kind="customers", path=path, actor=analyst)

    assert result.ok, result.errors
    assert result.encoding == "gb18030"
    assert result.counts["created"] == 2
    first = Customer.objects.get(code="C001")
    assert first.name == "上海华东贸易有限公司"
    assert (first.size, first.status, first.country) == ("medium", "active", "CN")
    assert first.relationship_start == dt.date(2020, 3, 1)
    second = Customer.objects.get(code="C002")
    assert (second.size, second.status) == ("large", "on_hold")
    assert second.relationship_start == dt.date(2019, 1, 15)
    assert first.group == second.group == CustomerGroup.objects.get(code="G-EAST")
    event = AuditEvent.objects.get(action="import.customers")
    assert event.after["sha256"] == result.sha256
    assert event.after["counts"]["created"] == 2
    assert event.after["dry_run"] is False
    assert event.actor == analyst


@pytest.mark.django_db
def test_it_imports_utf8_bom_with_thousands_separators_and_slash_dates(tmp_path):
    CustomerFactory(code="C001", currency="CNY")
    text = (
        "客户编码;发票号;开票日期;到期日;金额;币种\n"
        'C001;INV-1;2026/03/01;2026/03/31;"1,234,567.89";CNY\n'
        "C001;INV-2;2026.3.2;2026-04-01;¥1,234.00;\n"
        "C001;INV-3;20260303;46116;1 234,56;RMB\n"
    )
    path = write(tmp_path, "invoices.csv", text, "utf-8-sig")

    result = import_file(kind="invoices", path=path)

    assert result.ok, result.errors
    assert result.encoding == "utf-8-sig"
    invoices = {i.number: i for i in Invoice.objects.all()}
    assert invoices["INV-1"].amount == Decimal("1234567.89")
    assert invoices["INV-1"].issue_date == dt.date(2026, 3, 1)
    assert invoices["INV-2"].amount == Decimal("1234.00")
    assert invoices["INV-2"].currency == "CNY"  # blank currency: the customer's
    assert invoices["INV-3"].amount == Decimal("1234.56")
    assert invoices["INV-3"].due_date == dt.date(2026, 4, 4)  # Excel serial 46116
    assert invoices["INV-3"].currency == "CNY"


@pytest.mark.django_db
def test_it_imports_xlsx_with_real_date_cells(tmp_path):
    CustomerFactory(code="C001")
    CustomerFactory(code="C002")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Customer Code", "Number", "Order Date", "Amount", "Currency", "Status"])
    sheet.append(["C001", "SO-1", dt.datetime(2026, 3, 1), 50000.5, "CNY", "open"])
    sheet.append(["C002", 1002, dt.date(2026, 3, 2), 1200, "USD", "Held"])
    sheet.append([None, None, None, None, None, None])  # trailing empty row
    path = tmp_path / "orders.xlsx"
    workbook.save(path)

    result = import_file(kind="orders", path=path)

    assert result.ok, result.errors
    assert result.format == "xlsx"
    first, second = SalesOrder.objects.order_by("number")
    assert (first.number, first.order_date, first.amount) == ("1002", dt.date(2026, 3, 2), Decimal("1200.00"))
    assert first.status == "held"
    assert (second.order_date, second.amount, second.currency) == (dt.date(2026, 3, 1), Decimal("50000.50"), "CNY")


@pytest.mark.django_db
def test_it_imports_financials_credit_reports_and_outcomes(tmp_path):
    CustomerFactory(code="C001")
    financials = write(tmp_path, "fin.csv", (
        "customer_code,period_end,period_type,audited,currency,revenue,ebit,net_income,total_assets,"
        "current_assets,total_liabilities,current_liabilities,equity\n"
        "C001,2025-12-31,年报,是,CNY,\"10,000,000\",900000,600000,8000000,5000000,5000000,3500000,3000000\n"
        "C001,2025-06-30,interim,0,CNY,4000000,300000,200000,7600000,4600000,4700000,3300000,2900000\n"
    ))
    reports = write(tmp_path, "reports.csv", (
        "客户编码,机构,报告日期,评分,评级,违约概率,建议额度,法律事件\n"
        "C001,bureau,2026-02-15,72,BBB,1.5%,\"500,000\",2\n"
    ))
    outcomes = write(tmp_path, "outcomes.csv", "customer_code,observation_date,defaulted\nC001,2025-06-30,1\n")

    assert import_file(kind="financials", path=financials).ok
    assert import_file(kind="credit_reports", path=reports).ok
    assert import_file(kind="outcomes", path=outcomes).ok

    annual = FinancialStatement.objects.get(period_type="annual")
    assert annual.audited is True
    assert annual.revenue == Decimal("10000000.00")
    assert FinancialStatement.objects.get(period_type="interim").audited is False
    report = CreditReport.objects.get()
    assert (report.pd, report.recommended_limit, report.legal_events) == (Decimal("0.015"), Decimal("500000"), 2)
    assert OutcomeFlag.objects.get().defaulted is True


@pytest.mark.django_db
def test_it_creates_custom_attributes_with_inferred_types(tmp_path):
    path = write(tmp_path, "customers.csv", (
        "code,name,country,注册资本,tier,listed,founded\n"
        "C1,A Ltd,US,1000000,gold,yes,2001-05-01\n"
        "C2,B Ltd,US,\"2,500,000\",silver,no,1999-01-01\n"
        "C3,C Ltd,US,300000,gold,yes,2010-07-07\n"
        "C4,D Ltd,US,,gold,no,2015-02-02\n"
    ))
    with pytest.raises(ImportFileError, match="注册资本"):
        import_file(kind="customers", path=path)

    dry = import_file(kind="customers", path=path, dry_run=True, create_attributes=True)
    assert dry.ok
    assert not AttributeDefinition.objects.exists()
    result = import_file(kind="customers", path=path, create_attributes=True)

    assert result.ok, result.errors
    types = dict(AttributeDefinition.objects.values_list("label", "type"))
    assert types == {"注册资本": "number", "tier": "category", "listed": "boolean", "founded": "date"}
    tier = AttributeDefinition.objects.get(label="tier")
    assert tier.choices == ["gold", "silver"]
    capital = AttributeDefinition.objects.get(label="注册资本")
    c2 = Customer.objects.get(code="C2")
    assert c2.attributes == {capital.key: 2500000.0, "tier": "silver", "listed": False, "founded": "1999-01-01"}
    assert capital.key not in Customer.objects.get(code="C4").attributes
    # The same file again: the attribute columns map to the definitions now and nothing changes.
    again = import_file(kind="customers", path=path)
    assert again.ok
    assert again.counts["unchanged"] == 4


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"customer_code,number,issue_date,due_date,amount\n", "no data rows"),
    (b"customer_code,number,issue_date,amount\nC1,I1,2026-01-01,5\n", "missing: due_date"),
    (b"customer_code,number,issue_date,due_date,amount,colour\nC1,I1,2026-01-01,2026-01-02,5,red\n",
     "Unknown columns: colour"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "xls"),
    (b"PK\x03\x04broken zip", "damaged"),
])
def test_it_refuses_unreadable_files_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(ImportFileError, match=message):
        import_file(kind="invoices", path=path)


@pytest.mark.django_db
def test_it_detects_tab_separated_gbk(tmp_path):
    path = write(tmp_path, "customers.txt", "客户编码\t客户名称\t地区\r\nC1\t甲公司\t华东\r\n", "gbk")

    result = import_file(kind="customers", path=path)

    assert result.ok, result.errors
    assert Customer.objects.get(code="C1").region == "华东"


@pytest.mark.django_db
def test_it_updates_only_the_columns_the_file_has(tmp_path):
    AttributeDefinition.objects.create(key="tier", label="Tier", type="category", choices=["gold", "silver"])
    AttributeDefinition.objects.create(key="employees", label="Employees", type="number")
    CustomerFactory(code="C1", name="Old", region="East", industry="Steel", attributes={"tier": "gold"})
    path = write(tmp_path, "c.csv", "code,name,employees,region\nC1,New,120,\n")

    result = import_file(kind="customers", path=path)

    assert result.counts == {"created": 0, "updated": 1, "unchanged": 0}
    customer = Customer.objects.get(code="C1")
    assert (customer.name, customer.region, customer.industry) == ("New", "East", "Steel")
    assert customer.attributes == {"tier": "gold", "employees": 120.0}
