"""An analyst imports a customer file (dry run, fix, commit), then opens a credit file and walks every tab.

The whole journey runs once in English and once in Simplified Chinese, with a screenshot of every step
(tests/browser/screenshots/credit-file-*-en.png / -zh.png). Nothing may load from outside the server and
the page may raise no JavaScript error.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from django.utils.translation import gettext, override

from customers.demo import seed_portfolio
from customers.models import Customer
from scoring.defaults import install_defaults
from scoring.models import Grade, MasterScale, Scorecard, ScorecardFactor
from scoring.services import scoring_run_portfolio
from tests.browser.conftest import login, switch_language
from tests.conftest import PASSWORD

HEADER = "code,name,registration_no,country,region,industry,size,relationship_start,currency\n"
BAD_FILE = (
    HEADER
    + "IMP-001,上海示例贸易有限公司,91350100M000100Y43,CN,East,Manufacturing,medium,2020-01-15,CNY\n"
    + "IMP-002,Wrong Check Digit Ltd,91350100M000100Y44,CN,East,Retail,small,2021/03/01,CNY\n"
    + "IMP-003,Nowhere Trading,,XX,West,Retail,small,20220301,EUR\n"
    + "IMP-004,Rotterdam Freight BV,,NL,West,Logistics,large,2019-13-45,EUR\n"
)
# Rows as the dry run numbers them: the header is row 1.
BAD_ROWS = {3: "registration_no", 4: "country", 5: "relationship_start"}
FIXED_FILE = (
    HEADER
    + "IMP-001,上海示例贸易有限公司,91350100M000100Y43,CN,East,Manufacturing,medium,2020-01-15,CNY\n"
    + "IMP-002,Right Check Digit Ltd,,CN,East,Retail,small,2021/03/01,CNY\n"
    + "IMP-003,Nowhere Trading,,DE,West,Retail,small,20220301,EUR\n"
    + "IMP-004,Rotterdam Freight BV,,NL,West,Logistics,large,2019-12-31,EUR\n"
)
TABS = ["overview", "transactions", "financials", "reports", "documents", "contacts", "history"]
ZH_TABS = {"overview": "概览", "transactions": "交易", "financials": "财务数据", "reports": "征信报告",
           "documents": "文档", "contacts": "联系人", "history": "历史记录"}
SUFFIX = {"en": "en", "zh-hans": "zh"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def scoring_defaults(transactional_db):
    """The default master scale and scorecards: a data migration made them, but a transactional test's flush
    removes them, so a later live-server test puts them back (the migration's own code, unchanged)."""
    install_defaults(MasterScale=MasterScale, Grade=Grade, Scorecard=Scorecard, ScorecardFactor=ScorecardFactor)


def _t(language: str, text: str) -> str:
    with override(language):
        return gettext(text)


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    return errors


def _upload(page, content: str):
    page.set_input_files("input[type=file]", files=[{"name": "customers.csv", "mimeType": "text/csv",
                                                     "buffer": content.encode("utf-8")}])


def _submit_import(page):
    with page.expect_response(lambda r: r.url.endswith("/imports/") and r.request.method == "POST") as response:
        page.click("#import-panel button[type=submit]")
    assert response.value.status == 200
    assert response.value.request.headers.get("hx-request") == "true"  # swapped in by htmx, no page load
    page.wait_for_selector("#import-result .card")


def _open_tab(page, key: str, label: str):
    path = "" if key == "overview" else f"{key}/"
    with page.expect_response(lambda r: re.search(rf"/customers/[^/]+/{path}$", r.url) is not None) as response:
        page.locator("#credit-file nav.tabs a", has_text=label).first.click()
    assert response.value.status == 200
    assert response.value.request.headers.get("hx-request") == "true"
    page.wait_for_selector(f"#credit-file nav.tabs a.active[href$='/{path}']")
    page.wait_for_load_state("networkidle")


def _chart_drawn(page, selector: str) -> bool:
    return page.eval_on_selector(selector, "c => !!(window.Chart && window.Chart.getChart(c))")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_it_imports_customers_then_walks_every_tab_of_a_credit_file(language, page, analyst, screenshot,
                                                                  scoring_defaults):
    seed_portfolio(customers=40, months=24, seed=7)
    scoring_run_portfolio(as_of=timezone.localdate())
    customer = (Customer.objects.filter(financial_statements__isnull=False, credit_reports__isnull=False,
                                        orders__isnull=False).distinct().order_by("code").first())
    assert customer is not None, "the demo portfolio should have a customer with statements, reports and orders"
    suffix = SUFFIX[language]
    page.emulate_media(reduced_motion="reduce")  # no fading indicators in the screenshots
    errors = watch_errors(page)

    login(page, "ana", PASSWORD)
    if language != "en":
        switch_language(page, language)
        assert page.locator("html").get_attribute("lang") == language

    # 1. Dry run of a file with three bad rows: every bad row is listed, nothing is written.
    page.goto("/imports/")
    assert page.locator("h1").inner_text() == {"en": "Imports", "zh-hans": "导入"}[language]
    screenshot(page, f"credit-file-import-page-{suffix}")
    page.select_option("#id_kind", "customers")
    _upload(page, BAD_FILE)
    assert page.is_checked("#id_dry_run")
    _submit_import(page)
    listed = {}
    for row in page.locator("#import-errors tbody tr").all():
        cells = [cell.inner_text().strip() for cell in row.locator("td").all()]
        listed[int(cells[0])] = cells[1]
        assert cells[2], "every bad row names its problem"
    assert listed == BAD_ROWS
    alert = page.locator("#import-result [role=alert]").inner_text()
    assert sorted(re.findall(r"\d+", alert)) == ["3", "4"]  # "3 errors in 4 rows: nothing was written…"
    assert page.locator("text=" + _t(language, "Commit this file")).count() == 0
    assert not Customer.objects.filter(code__startswith="IMP-").exists()
    screenshot(page, f"credit-file-import-errors-{suffix}")

    # 2. The fixed file passes the dry run; still nothing is written until the commit.
    _upload(page, FIXED_FILE)
    page.check("#id_dry_run")
    _submit_import(page)
    assert page.locator("#import-errors").count() == 0
    commit = page.locator("#import-result button[type=submit]")
    assert commit.inner_text() == _t(language, "Commit this file")
    assert not Customer.objects.filter(code__startswith="IMP-").exists()
    screenshot(page, f"credit-file-import-valid-{suffix}")

    # 3. Commit: the customers exist, the panel reports the counts, the recent imports list it.
    with page.expect_response(lambda r: r.url.endswith("/imports/commit/")) as response:
        commit.click()
    assert response.value.status == 200
    page.wait_for_selector("#import-result .kpi")
    assert sorted(Customer.objects.filter(code__startswith="IMP-").values_list("code", flat=True)) == [
        "IMP-001", "IMP-002", "IMP-003", "IMP-004"]
    assert Customer.objects.get(code="IMP-004").relationship_start.isoformat() == "2019-12-31"
    kpis = dict(zip(page.locator("#import-result .kpi .label").all_inner_texts(),
                    page.locator("#import-result .kpi .value").all_inner_texts(), strict=True))
    assert kpis[_t(language, "Created")] == "4"
    screenshot(page, f"credit-file-import-committed-{suffix}")
    page.goto("/imports/")
    assert page.locator("#recent-imports tbody tr").first.locator(".badge-ok").count() == 1
    page.goto("/customers/IMP-001/")
    assert page.locator("h1").inner_text() == "上海示例贸易有限公司"
    screenshot(page, f"credit-file-imported-customer-{suffix}")

    # 4. A seeded customer's credit file: every tab loads through htmx and shows its content.
    page.goto(f"/customers/{customer.code}/")
    page.wait_for_load_state("networkidle")
    labels = page.locator("#credit-file nav.tabs a").all_inner_texts()
    if language == "zh-hans":
        for key in TABS:
            assert ZH_TABS[key] in labels
        assert "Overview" not in labels
    assert page.locator("h1").inner_text() == customer.name
    overview = page.locator("#tab-panel")
    assert overview.locator(".kpi").count() >= 8
    assert _t(language, "Open AR") in overview.inner_text()
    assert customer.current_grade in overview.locator(".kpi").nth(6).inner_text()
    screenshot(page, f"credit-file-overview-{suffix}")

    tab_label = {key: _t(language, str(label)) for key, label in [
        ("overview", "Overview"), ("transactions", "Transactions"), ("financials", "Financials"),
        ("reports", "Credit reports"), ("documents", "Documents"), ("contacts", "Contacts"), ("history", "History")]}

    _open_tab(page, "transactions", tab_label["transactions"])
    panel = page.locator("#tab-panel")
    assert _t(language, "Aging of open AR") in panel.inner_text()
    assert _chart_drawn(page, "canvas[data-chart='aging-chart']"), "the aging chart is drawn after the htmx swap"
    invoice_rows = page.locator("#invoices tbody tr")
    assert invoice_rows.count() > 0
    assert page.locator("#payments tbody tr").count() > 0
    assert page.locator("#orders tbody tr").count() > 0
    assert page.url.endswith(f"/customers/{customer.code}/transactions/")  # hx-push-url
    screenshot(page, f"credit-file-transactions-{suffix}")
    # The invoice filter swaps only the invoice table.
    page.eval_on_selector("#invoices", "e => e.setAttribute('data-stale', '1')")
    with page.expect_response(lambda r: "part=invoices" in r.url):
        page.select_option("#f-inv-status", "paid")
    page.wait_for_selector("#invoices:not([data-stale])")  # swapped
    paid = _t(language, "Paid")
    statuses = page.locator("#invoices tbody tr td:nth-child(7)").all_inner_texts()
    assert statuses
    assert {s.strip() for s in statuses} == {paid}
    screenshot(page, f"credit-file-transactions-filtered-{suffix}")

    _open_tab(page, "financials", tab_label["financials"])
    panel = page.locator("#tab-panel")
    assert _t(language, "Statements and ratios") in panel.inner_text()
    assert _t(language, "Current ratio") in panel.inner_text()
    assert _chart_drawn(page, "canvas[data-chart='z-chart']"), "the Z-score trend chart is drawn"
    screenshot(page, f"credit-file-financials-{suffix}")

    _open_tab(page, "reports", tab_label["reports"])
    reports = page.locator("#tab-panel table tbody tr")
    assert reports.count() == customer.credit_reports.count()
    screenshot(page, f"credit-file-reports-{suffix}")

    _open_tab(page, "documents", tab_label["documents"])
    assert _t(language, "No documents yet.") in page.locator("#tab-panel").inner_text()
    page.fill("#tab-panel input[name=title]", "Signed credit application")
    page.set_input_files("#tab-panel input[type=file]", files=[{"name": "application.txt", "mimeType": "text/plain",
                                                                "buffer": b"Signed credit application, 2026.\n"}])
    with page.expect_response(lambda r: r.url.endswith("/documents/add/")) as response:
        page.locator("#tab-panel form button[type=submit]").click()
    assert response.value.status == 200
    page.wait_for_selector("#tab-panel table tbody tr")
    assert "Signed credit application" in page.locator("#tab-panel table").inner_text()
    assert customer.documents.count() == 1
    screenshot(page, f"credit-file-documents-{suffix}")

    _open_tab(page, "contacts", tab_label["contacts"])
    page.fill("#tab-panel input[name=name]", "王芳")
    page.fill("#tab-panel input[name=role]", "CFO")
    page.fill("#tab-panel input[name=email]", "wang.fang@example.com")
    with page.expect_response(lambda r: r.url.endswith("/contacts/add/")) as response:
        page.locator("#tab-panel form button[type=submit]").click()
    assert response.value.status == 200
    page.wait_for_selector("#tab-panel table tbody tr")
    assert "王芳" in page.locator("#tab-panel table").inner_text()
    screenshot(page, f"credit-file-contacts-{suffix}")

    _open_tab(page, "history", tab_label["history"])
    history = page.locator("#tab-panel").inner_text()
    assert "ana" in history  # the document upload and the new contact are in the audit trail
    screenshot(page, f"credit-file-history-{suffix}")

    _open_tab(page, "overview", tab_label["overview"])
    assert page.locator("#tab-panel .kpi").count() >= 8

    # Back/forward work with the pushed URLs.
    page.go_back()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/history/")

    assert errors == []
    assert page.external_requests == []
