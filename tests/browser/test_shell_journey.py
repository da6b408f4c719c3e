"""Each role logs in, sees its navigation, switches to Chinese and back; nothing loads from outside."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login, switch_language
from tests.conftest import PASSWORD

ROLE_SEES = {
    "analyst": ("Customers", "Alerts", "Imports"),
    "manager": ("Customers", "Audit", "Settings"),
    "operations": ("Jobs", "Imports"),
    "auditor": ("Audit", "Customers"),
}
ROLE_DOES_NOT_SEE = {
    "analyst": ("Audit", "Settings"),
    "operations": ("Audit", "Settings"),
    "auditor": ("Settings", "Imports"),
    "manager": (),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["analyst", "manager", "operations", "auditor"])
def test_each_role_logs_in_and_switches_language(role, request, page, screenshot):
    user = request.getfixturevalue({"operations": "ops"}.get(role, role))
    login(page, user.username, PASSWORD)
    nav = page.locator("#mainnav")
    for label in ROLE_SEES[role]:
        assert nav.get_by_text(label, exact=True).count() == 1, f"{role} should see {label}"
    for label in ROLE_DOES_NOT_SEE[role]:
        assert nav.get_by_text(label, exact=True).count() == 0, f"{role} should not see {label}"
    screenshot(page, f"shell-{role}-en")

    switch_language(page, "zh-hans")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert nav.get_by_text("客户", exact=True).count() == 1
    screenshot(page, f"shell-{role}-zh")
    switch_language(page, "en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.external_requests == []


@pytest.mark.django_db(transaction=True)
def test_the_login_page_works_in_chinese_and_rejects_a_wrong_password(page, analyst, screenshot):
    page.goto("/accounts/login/")
    switch_language(page, "zh-hans")
    page.fill("#id_username", "ana")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").count() == 1
    screenshot(page, "login-zh-error")
    assert page.external_requests == []


@pytest.mark.django_db(transaction=True)
def test_the_api_docs_render_offline(page, analyst, screenshot):
    login(page, "ana", PASSWORD)
    page.goto("/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=15000)
    screenshot(page, "api-docs")
    assert page.external_requests == []
