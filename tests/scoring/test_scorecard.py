"""Scorecards: points, score, PD and grade for hand-made features; reason codes; drafts, preview, activation."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditrisk.core.exceptions import DomainError
from creditrisk.core.models import AuditEvent
from scoring import services
from scoring.defaults import default_grades
from scoring.masterscale import bands_from_grades, grade_scores
from scoring.models import Scorecard, ScorecardFactor, ScorecardStatus
from scoring.scorecard import (
    CompiledScorecard,
    apply_scorecard,
    assign_scorecards,
    compile_factor,
    pd_to_score,
    score_to_pd,
)
from tests.customers.factories import CustomerFactory, InvoiceFactory

LN2 = math.log(2)


def _card(factors, *, segment="all", rule=None, id=1):
    return CompiledScorecard(id=id, name="t", segment=segment, segment_rule=rule or {}, base_score=600,
                             base_odds=50, pdo=20, factors=tuple(factors))


@pytest.fixture
def card():
    return _card([
        compile_factor(feature="dbt", bins=[{"lower": None, "upper": 5, "points": 200},
                                            {"lower": 5, "upper": 30, "points": 150},
                                            {"lower": 30, "upper": None, "points": 80}], missing_points=140),
        compile_factor(feature="ratio", bins=[{"lower": None, "upper": 1, "points": 100},
                                              {"lower": 1, "upper": 2, "points": 180},
                                              {"lower": 2, "upper": None, "points": 200}], missing_points=150),
        compile_factor(feature="zone", bins={"safe": 220, "grey": 180, "distress": 100}, missing_points=160),
    ])


def test_it_maps_values_to_points_score_and_pd(card):
    features = pd.DataFrame({"dbt": [0, 5, 30, np.nan], "ratio": [2.5, 1.0, 0.5, 1.5],
                             "zone": ["safe", "grey", "distress", "unknown"]}, index=[11, 12, 13, 14])
    result = apply_scorecard(card, features)
    # lower bounds are inclusive, upper bounds exclusive; missing and unknown categories get missing_points
    assert result.points.loc[11].tolist() == [200, 200, 220]
    assert result.points.loc[12].tolist() == [150, 180, 180]
    assert result.points.loc[13].tolist() == [80, 100, 100]
    assert result.points.loc[14].tolist() == [140, 180, 160]
    assert result.total.tolist() == [620, 510, 280, 480]
    assert result.pd.loc[11] == pytest.approx(1 / (1 + 100))  # 620 = base + 1 pdo → odds 100:1


def test_it_follows_the_documented_scale():
    assert score_to_pd(600, base_score=600, base_odds=50, pdo=20) == pytest.approx(1 / 51)
    assert score_to_pd(580, base_score=600, base_odds=50, pdo=20) == pytest.approx(1 / 26)
    for pd_value in (0.001, 0.02, 0.3):
        score = pd_to_score(pd_value, base_score=600, base_odds=50, pdo=20)
        assert score_to_pd(score, base_score=600, base_odds=50, pdo=20) == pytest.approx(pd_value)


def test_it_grades_scores_on_the_default_scale():
    bands = bands_from_grades(default_grades())
    assert list(grade_scores([900, 686, 685.99, 600, 527, 526.9, -50, np.nan], bands)) == \
        ["A1", "A1", "A2", "B3", "D", "E", "E", ""]


def test_it_ranks_reason_codes_by_points_below_the_maximum(card):
    features = pd.DataFrame({"dbt": [45.0], "ratio": [np.nan], "zone": ["grey"]}, index=[1])
    reasons = apply_scorecard(card, features).reasons[0]
    # shortfalls: dbt 200-80=120, ratio 200-150=50, zone 220-180=40
    assert [r["code"] for r in reasons] == ["dbt_high", "ratio_missing", "zone_unfavourable"]
    assert [r["feature"] for r in reasons] == ["dbt", "ratio", "zone"]
    assert reasons[0]["impact"] == pytest.approx(120 * LN2 / 20, abs=1e-4)
    assert reasons[0]["value"] == 45.0
    assert reasons[1]["value"] is None
    assert all(r["source"] == "scorecard" for r in reasons)


def test_it_gives_at_most_four_reasons_and_none_for_a_perfect_factor():
    factors = [compile_factor(feature=f"f{i}", bins=[{"lower": None, "upper": 0, "points": 10 * i},
                                                     {"lower": 0, "upper": None, "points": 100}])
               for i in range(1, 7)]
    card = _card(factors)
    features = pd.DataFrame({f"f{i}": [-1.0] for i in range(1, 7)}, index=[1])
    features["f1"] = 5.0  # best bin: no reason
    reasons = apply_scorecard(card, features).reasons[0]
    assert len(reasons) == 4
    assert [r["feature"] for r in reasons] == ["f2", "f3", "f4", "f5"]
    assert all(r["code"].endswith("_low") for r in reasons)


def test_it_chooses_the_scorecard_by_segment():
    small = _card([], segment="small", id=1)
    large = _card([], segment="medium_large", id=2)
    chemicals = _card([], segment="custom", rule={"industry__in": ["C26"]}, id=3)
    fallback = _card([], segment="all", id=4)
    firmo = pd.DataFrame({"size": ["small", "large", "medium", "small"], "industry": ["C26", "C26", "C38", "F51"]},
                         index=[1, 2, 3, 4])
    assert assign_scorecards([small, large], firmo).tolist() == [1, 2, 2, 1]
    assert assign_scorecards([chemicals, fallback], firmo).tolist() == [3, 3, 4, 4]
    assert assign_scorecards([small], firmo).isna().tolist() == [False, True, True, False]


@pytest.mark.parametrize("bins", [
    [], {}, "x", [{"lower": 5, "upper": 1, "points": 3}], [{"lower": 0, "upper": 10}],
    [{"lower": 0, "upper": 10, "points": 1}, {"lower": 5, "upper": 20, "points": 2}],
])
def test_it_refuses_malformed_bins(bins):
    with pytest.raises(ValueError):  # noqa: PT011
        compile_factor(feature="x", bins=bins)


# --- services -------------------------------------------------------------------------------------


def test_it_creates_a_draft_as_a_copy_of_the_active_card(manager):
    active = Scorecard.objects.get(segment="small", status=ScorecardStatus.ACTIVE)
    draft = services.scorecard_create_draft(actor=manager, segment="small")
    assert draft.status == ScorecardStatus.DRAFT
    assert draft.version == active.version + 1
    assert sorted(draft.factors.values_list("feature", flat=True)) == \
        sorted(active.factors.values_list("feature", flat=True))
    assert AuditEvent.objects.filter(action="scorecard.create", subject_id=str(draft.pk)).exists()


def test_it_edits_only_drafts_and_refuses_bad_factors_writing_nothing(manager):
    draft = services.scorecard_create_draft(actor=manager, segment="small")
    factor = services.scorecard_update_factor(scorecard=draft, feature="dso", actor=manager,
                                              bins=[{"lower": None, "upper": 60, "points": 50},
                                                    {"lower": 60, "upper": None, "points": 20}], missing_points=30)
    assert factor.order == 8
    count, events = ScorecardFactor.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        services.scorecard_update_factor(scorecard=draft, feature="no_such_feature", actor=manager, bins=[])
    with pytest.raises(ValidationError):
        services.scorecard_update_factor(scorecard=draft, feature="dso", actor=manager,
                                         bins=[{"lower": 10, "upper": 0, "points": 1}])
    with pytest.raises(ValidationError):
        services.scorecard_update_factor(scorecard=draft, feature="size", actor=manager,
                                         bins=[{"lower": 0, "upper": 1, "points": 1}])
    active = Scorecard.objects.get(segment="medium_large", status=ScorecardStatus.ACTIVE)
    with pytest.raises(DomainError):
        services.scorecard_update_factor(scorecard=active, feature="dso", actor=manager, missing_points=5)
    assert (ScorecardFactor.objects.count(), AuditEvent.objects.count()) == (count, events)


bin_strategy = st.one_of(
    st.lists(st.fixed_dictionaries({"lower": st.one_of(st.none(), st.floats(allow_nan=True)),
                                     "upper": st.one_of(st.none(), st.floats(allow_nan=True)),
                                     "points": st.one_of(st.floats(), st.text(max_size=3))}), max_size=4),
    st.dictionaries(st.text(max_size=5), st.one_of(st.floats(), st.text(max_size=3)), max_size=3),
    st.text(max_size=5), st.integers(), st.none(),
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bins=bin_strategy, missing=st.one_of(st.floats(), st.text(max_size=4), st.none()))
def test_it_never_lets_malformed_factor_input_escape(manager, bins, missing):
    draft = Scorecard.objects.filter(status=ScorecardStatus.DRAFT).first() or \
        services.scorecard_create_draft(actor=manager, segment="medium_large")
    before = list(ScorecardFactor.objects.filter(scorecard=draft).order_by("id").values_list("bins", "missing_points"))
    try:
        services.scorecard_update_factor(scorecard=draft, feature="dbt_6m", actor=manager, bins=bins,
                                         missing_points=missing)
    except (ValidationError, DomainError):
        after = list(ScorecardFactor.objects.filter(scorecard=draft).order_by("id")
                     .values_list("bins", "missing_points"))
        assert after == before
    else:
        factor = ScorecardFactor.objects.get(scorecard=draft, feature="dbt_6m")
        compile_factor(feature="dbt_6m", bins=factor.bins, missing_points=factor.missing_points)
        factor.delete()


@pytest.fixture
def small_portfolio(db):
    """Small customers: half owe nothing, half owe an invoice 20 days past due."""
    today = timezone.localdate()
    customers = []
    for n in range(10):
        customer = CustomerFactory(code=f"PRV-{n}", size="small", relationship_start=dt.date(2015, 1, 1))
        if n % 2:
            InvoiceFactory(customer=customer, number="LATE", issue_date=today - dt.timedelta(days=50),
                           due_date=today - dt.timedelta(days=20))
        customers.append(customer)
    return customers


def test_it_previews_a_draft_against_the_active_card(manager, small_portfolio):
    draft = services.scorecard_create_draft(actor=manager, segment="small")
    services.scorecard_update_factor(scorecard=draft, feature="max_dpd", actor=manager,
                                     bins=[{"lower": None, "upper": 1, "points": 110},
                                           {"lower": 1, "upper": None, "points": -200}])
    preview = services.scorecard_preview(draft=draft, top=5)
    assert preview["customers"] == 10
    assert sum(g["draft"] for g in preview["grades"]) == 10
    assert sum(g["active"] for g in preview["grades"]) == 10
    assert preview["downgrades"] == 5
    assert preview["upgrades"] == 0
    assert len(preview["movers"]) == 5
    assert all(m["notches"] > 0 and m["score_change"] < 0 for m in preview["movers"])
    assert {m["code"] for m in preview["movers"]} == {c.code for c in small_portfolio[1::2]}
    assert sum(preview["histogram"]["draft"]) == 10
    assert len(preview["histogram"]["edges"]) == len(preview["histogram"]["draft"]) + 1


def test_it_activates_a_draft_retiring_the_previous_version_audited(manager):
    previous = Scorecard.objects.get(segment="small", status=ScorecardStatus.ACTIVE)
    draft = services.scorecard_create_draft(actor=manager, segment="small")
    services.scorecard_activate(scorecard=draft, actor=manager, reason="recalibrated")
    draft.refresh_from_db()
    previous.refresh_from_db()
    assert (draft.status, previous.status) == (ScorecardStatus.ACTIVE, ScorecardStatus.RETIRED)
    assert draft.activated_by == manager
    assert draft.activated_at
    event = AuditEvent.objects.get(action="scorecard.activate", subject_id=str(draft.pk))
    assert event.actor == manager
    assert event.reason == "recalibrated"
    assert AuditEvent.objects.filter(action="scorecard.retire", subject_id=str(previous.pk)).exists()
    with pytest.raises(DomainError):
        services.scorecard_activate(scorecard=draft, actor=manager)


def test_it_refuses_to_activate_an_empty_draft(manager):
    draft = services.scorecard_create_draft(actor=manager, segment="custom", source=None, name="Empty",
                                            segment_rule={"industry__in": ["C26"]})
    with pytest.raises(DomainError):
        services.scorecard_activate(scorecard=draft, actor=manager)
    draft.refresh_from_db()
    assert draft.status == ScorecardStatus.DRAFT


def test_it_explains_a_perfect_customer_with_its_strongest_factor(card):
    features = pd.DataFrame({"dbt": [0.0], "ratio": [3.0], "zone": ["safe"]}, index=[1])
    reasons = apply_scorecard(card, features).reasons[0]
    assert reasons == [{"code": "zone_favourable", "feature": "zone", "source": "scorecard", "impact": 0.0,
                        "value": "safe"}]
