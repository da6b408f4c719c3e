"""Scoring in the browser: a manager edits and previews a scorecard draft, reads the model registry and a
model's charts; an analyst reads a customer's Score tab and proposes an override; a second manager approves.

Runs once in English and once in Simplified Chinese, with a screenshot of every step
(tests/browser/screenshots/scoring-*-en.png / -zh.png). Nothing may load from outside the server and the
pages may raise no JavaScript error.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.translation import gettext, override

from creditrisk.core.models import AuditEvent
from customers.demo import seed_portfolio
from customers.models import Customer
from scoring.defaults import install_defaults
from scoring.models import (
    Grade,
    MasterScale,
    ModelStatus,
    ModelVersion,
    OverrideStatus,
    Scorecard,
    ScorecardFactor,
    ScorecardSegment,
    ScorecardStatus,
    ScoreOverride,
)
from scoring.services import scoring_run_portfolio
from scoring.training import model_train
from tests.browser.conftest import login, switch_language
from tests.conftest import PASSWORD

SUFFIX = {"en": "en", "zh-hans": "zh"}
ZH = {"Scoring": "评分", "Score": "评分"}
REASON = "Parent company guarantee received; payables are covered in full."


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


def _chart_drawn(page, chart: str) -> bool:
    page.wait_for_selector(f"canvas[data-chart='{chart}']")
    return page.eval_on_selector(f"canvas[data-chart='{chart}']",
                                 "c => !!(window.Chart && window.Chart.getChart(c))")


def _open_section(page, key: str, label: str):
    with page.expect_response(lambda r: r.url.endswith(f"/scoring/{key}/")) as response:
        page.locator("#scoring-panel nav.tabs a", has_text=label).first.click()
    assert response.value.status == 200
    assert response.value.request.headers.get("hx-request") == "true"
    page.wait_for_selector(f"#scoring-panel nav.tabs a.active[href$='/scoring/{key}/']")
    page.wait_for_load_state("networkidle")


def _log_in_as(page, username: str, language: str):
    page.context.clear_cookies()
    login(page, username, PASSWORD)
    if language != "en":
        switch_language(page, language)
        assert page.locator("html").get_attribute("lang") == language


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_it_edits_previews_trains_scores_and_overrides(language, page, analyst, manager, manager2, screenshot,
                                                       scoring_defaults):
    seed_portfolio(customers=120, months=24, seed=7)
    model = model_train(algorithm="logistic", labels="derived", actor=manager, promote=True)
    today = timezone.localdate()
    for days_ago in (60, 30, 0):  # three runs: the Score tab draws a history
        scoring_run_portfolio(as_of=today - dt.timedelta(days=days_ago))
    assert model.metrics["auc"] > 0.6  # 120 customers are enough for a model worth showing
    assert ModelVersion.objects.get(version=model.version).status == ModelStatus.CHAMPION
    suffix = SUFFIX[language]
    page.emulate_media(reduced_motion="reduce")  # no fading indicators in the screenshots
    errors = watch_errors(page)

    # 1. The manager opens /scoring/: the scorecards of every segment, active.
    _log_in_as(page, "mgr", language)
    page.goto("/scoring/")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == _t(language, "Scoring")
    if language == "zh-hans":
        assert page.locator("h1").inner_text() == ZH["Scoring"]
    assert page.locator("#scoring-panel .card .badge-ok").all_inner_texts() == [_t(language, "Active")] * 2
    screenshot(page, f"scoring-index-{suffix}")

    # 2. A new draft of the medium/large segment's card; one factor's points are edited inline (htmx).
    page.select_option("#id_segment", ScorecardSegment.MEDIUM_LARGE)
    with page.expect_navigation():
        page.locator("form[action$='/scorecards/new/'] button[type=submit]").click()
    draft = Scorecard.objects.get(status=ScorecardStatus.DRAFT, segment=ScorecardSegment.MEDIUM_LARGE)
    assert page.url.endswith(f"/scoring/scorecards/{draft.pk}/")
    factor = draft.factors.order_by("order").first()
    card = page.locator(f"#factor-{factor.feature}")
    screenshot(page, f"scoring-draft-{suffix}")
    with page.expect_response(lambda r: f"/factors/{factor.feature}/?edit=1" in r.url):
        card.get_by_role("link", name=_t(language, "Edit")).click()
    page.wait_for_selector(f"form#factor-{factor.feature} input[name=points]")
    assert page.url.endswith(f"/scoring/scorecards/{draft.pk}/")  # edited in place, no navigation
    points = page.locator(f"form#factor-{factor.feature} input[name=points]").first
    new_points = str(int(float(points.input_value() or 0)) + 25)
    points.fill(new_points)
    screenshot(page, f"scoring-factor-editing-{suffix}")
    with page.expect_response(lambda r: r.url.endswith(f"/factors/{factor.feature}/") and r.request.method == "POST"):
        page.locator(f"form#factor-{factor.feature} button[type=submit]").click()
    page.wait_for_selector(f"section#factor-{factor.feature}")
    first_points = page.locator(f"section#factor-{factor.feature} tbody tr:first-child td:last-child").inner_text()
    assert first_points.strip() == new_points
    factor.refresh_from_db()
    assert [float(b["points"]) for b in factor.bins][:1] == [float(new_points)]
    screenshot(page, f"scoring-factor-saved-{suffix}")

    # 3. Preview on the portfolio: KPIs, histogram and grade charts, the grade-count table.
    with page.expect_navigation():
        page.get_by_role("link", name=_t(language, "Preview on the portfolio")).click()
    page.wait_for_load_state("networkidle")
    assert int(page.locator("#preview .kpi .value").first.inner_text()) > 0
    assert _chart_drawn(page, "preview-histogram")
    assert _chart_drawn(page, "preview-grades")
    assert page.locator("#grade-counts tbody tr").count() == 10
    screenshot(page, f"scoring-preview-{suffix}")

    # 3b. Activate from the preview (htmx post behind a confirm dialog): audited, v1 retired.
    page.fill("#preview input[name=reason]", "Recent payment behaviour weighs more.")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation(url=f"**/scoring/scorecards/{draft.pk}/"):
        page.locator("#preview button[type=submit]").click()
    draft.refresh_from_db()
    assert draft.status == ScorecardStatus.ACTIVE
    assert Scorecard.objects.get(segment=draft.segment, version=1).status == ScorecardStatus.RETIRED
    event = AuditEvent.objects.get(action="scorecard.activate")
    assert (event.actor.username, event.reason) == ("mgr", "Recent payment behaviour weighs more.")
    screenshot(page, f"scoring-activated-{suffix}")

    # 4. Master scale and policy, then the model registry: tabs of /scoring/ swapped in by htmx.
    page.goto("/scoring/")
    _open_section(page, "scale", _t(language, "Master scale & policy"))
    assert page.locator("#scoring-panel table tbody tr").count() >= 10
    screenshot(page, f"scoring-scale-{suffix}")
    _open_section(page, "models", _t(language, "Models"))
    registry = page.locator("#model-registry tbody tr")
    assert registry.count() == 1
    assert f"v{model.version}" in registry.first.inner_text()
    screenshot(page, f"scoring-models-{suffix}")
    with page.expect_navigation():
        registry.first.get_by_role("link", name=f"v{model.version}").click()
    page.wait_for_load_state("networkidle")
    for chart in ("model-roc", "model-calibration", "model-importance"):
        assert _chart_drawn(page, chart), f"{chart} is drawn"
    assert page.locator("#calibration tbody tr").count() >= 2
    assert page.locator("#psi tbody tr").count() >= 1
    screenshot(page, f"scoring-model-{suffix}")
    page.goto("/scoring/models/")
    _open_section(page, "runs", _t(language, "Runs"))
    assert page.locator("#scoring-panel table tbody tr").count() == 3
    screenshot(page, f"scoring-runs-{suffix}")

    # 5. The analyst opens a customer's Score tab (htmx) and proposes a better grade with a reason.
    customer = Customer.objects.exclude(current_grade="A1").order_by("code").first()
    computed = customer.current_grade
    _log_in_as(page, "ana", language)
    page.goto(f"/customers/{customer.code}/")
    score_tab = page.locator("#credit-file nav.tabs a", has_text=_t(language, "Score"))
    if language == "zh-hans":
        assert score_tab.inner_text() == ZH["Score"]
    with page.expect_response(lambda r: r.url.endswith(f"/scoring/customers/{customer.code}/")) as response:
        score_tab.click()
    assert response.value.request.headers.get("hx-request") == "true"
    page.wait_for_selector("#score-tab")
    page.wait_for_load_state("networkidle")
    assert page.locator("#score-tab [data-grade]").first.get_attribute("data-grade") == computed
    reasons = page.locator("#reasons li").all_inner_texts()
    assert 1 <= len(reasons) <= 4, reasons
    assert _chart_drawn(page, "score-history")
    screenshot(page, f"scoring-customer-score-{suffix}")
    page.select_option("#override-form select[name=proposed_grade]", "A1")
    page.fill("#override-form textarea[name=reason]", REASON)
    with page.expect_response(lambda r: r.url.endswith("/override/")):
        page.locator("#override-form button[type=submit]").click()
    page.wait_for_selector("#pending-override")
    assert REASON in page.locator("#pending-override").inner_text()
    pending = ScoreOverride.objects.get(customer=customer)
    assert (pending.status, pending.proposed_by.username) == (OverrideStatus.PENDING, "ana")
    customer.refresh_from_db()
    assert customer.current_grade == computed  # nothing changes until a manager approves
    screenshot(page, f"scoring-override-proposed-{suffix}")

    # 6. The second manager approves it on the Overrides page; the grade changes, marked as an override.
    _log_in_as(page, "mgr2", language)
    page.goto("/scoring/overrides/")
    row = page.locator("#pending-overrides tbody tr", has_text=customer.code)
    assert REASON in row.inner_text()
    screenshot(page, f"scoring-overrides-pending-{suffix}")
    row.locator("input[name=note]").fill("Guarantee on file.")
    with page.expect_navigation():
        row.locator("button", has_text=_t(language, "Approve")).click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#pending-overrides").count() == 0
    pending.refresh_from_db()
    customer.refresh_from_db()
    assert (pending.status, pending.decided_by.username, customer.current_grade) == (
        OverrideStatus.APPROVED, "mgr2", "A1")
    screenshot(page, f"scoring-overrides-decided-{suffix}")
    page.goto(f"/scoring/customers/{customer.code}/")
    assert page.locator("#score-tab [data-grade]").first.get_attribute("data-grade") == "A1"
    assert page.locator("#score-tab .kpi .badge-warn").count() == 1  # marked as an override
    screenshot(page, f"scoring-customer-overridden-{suffix}")

    assert errors == []
    assert page.external_requests == []
