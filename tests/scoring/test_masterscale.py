"""The master scale: shipped defaults, score and PD bands, the worse-of rule, versions and activation."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from creditrisk.core.exceptions import DomainError
from creditrisk.core.models import AuditEvent
from scoring import selectors, services
from scoring.defaults import default_grades, score_for_pd
from scoring.masterscale import bands_from_grades, clip_pd_to_grade, grade_pds, worse_of
from scoring.models import Grade, MasterScale

CODES = ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "D", "E"]


@pytest.fixture
def bands():
    return bands_from_grades(default_grades())


def test_it_ships_an_active_ten_grade_scale_with_policy(db):
    scale = selectors.master_scale_active()
    grades = list(scale.grades.order_by("rank"))
    assert [g.code for g in grades] == CODES
    assert [g.rank for g in grades] == list(range(1, 11))
    assert grades[0].max_score is None
    assert grades[-1].min_score is None
    for better, worse in itertools.pairwise(grades):
        assert better.min_score == worse.max_score
        assert better.pd_max == worse.pd_min
        assert better.review_months >= worse.review_months
    assert grades[0].auto_approve
    assert not grades[-1].auto_approve
    assert grades[-1].required_security == "prepayment"
    assert selectors.grade_policy(code="B2").standard_terms_days == 30


def test_it_derives_score_bands_from_pd_bands_on_the_scorecard_scale():
    for grade in default_grades()[:-1]:
        assert abs(float(grade["min_score"]) - score_for_pd(float(grade["pd_max"]))) <= 0.5


def test_it_grades_pds_with_half_open_bands(bands):
    pds = [0.0, 0.000999, 0.001, 0.0125, 0.19, 0.2, 1.0, np.nan]
    assert list(grade_pds(pds, bands)) == ["A1", "A1", "A2", "B3", "D", "E", "E", ""]


def test_it_takes_the_worse_of_two_grades_and_lets_a_missing_one_yield(bands):
    assert list(worse_of(["A1", "C1", "", "B2", ""], ["B1", "A2", "D", "", ""], bands)) == ["B1", "C1", "D", "B2", ""]


def test_it_moves_a_pd_into_an_overridden_grade(bands):
    clipped = clip_pd_to_grade([0.5, 0.0005, np.nan], ["B1", "B1", "C1"], bands)
    assert 0.004 <= clipped[0] < 0.0075
    assert 0.004 <= clipped[1] < 0.0075
    assert 0.025 <= clipped[2] < 0.05


def _grades(**changes):
    rows = [{k: g[k] for k in ("code", "label", "min_score", "pd_max", "standard_terms_days", "required_security",
                               "review_months", "auto_approve", "max_limit_pct_revenue", "max_limit_amount")}
            for g in default_grades()]
    for index, fields in changes.items():
        rows[int(index[1:])].update(fields)
    return rows


def test_it_creates_a_new_version_and_activates_it_audited(manager):
    old = selectors.master_scale_active()
    scale = services.master_scale_new_version(actor=manager, grades=_grades(g0={"min_score": 700}), name="Stricter")
    assert (scale.version, scale.active) == (old.version + 1, False)
    assert scale.grades.get(code="A1").min_score == 700
    assert scale.grades.get(code="A2").max_score == 700  # derived from the neighbour
    services.master_scale_activate(scale=scale, actor=manager, reason="annual review")
    old.refresh_from_db()
    assert selectors.master_scale_active() == scale
    assert not old.active
    assert AuditEvent.objects.filter(action="masterscale.activate", actor=manager, reason="annual review").exists()
    with pytest.raises(DomainError):
        services.master_scale_activate(scale=scale, actor=manager)


@pytest.mark.parametrize("grades", [
    _grades(g1={"min_score": 690}),               # score bands not falling
    _grades(g2={"pd_max": "0.0015"}),             # PD bands not rising
    _grades(g3={"code": "A1"}),                   # duplicate code
    _grades(g4={"min_score": "abc"}),             # not a number
    _grades(g5={"required_security": "hope"}),    # unknown security
    _grades()[:1],                                 # too few grades
])
def test_it_refuses_an_inconsistent_scale_writing_nothing(manager, grades):
    scales, rows, events = MasterScale.objects.count(), Grade.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        services.master_scale_new_version(actor=manager, grades=grades)
    assert (MasterScale.objects.count(), Grade.objects.count(), AuditEvent.objects.count()) == (scales, rows, events)


def test_it_copies_the_active_scale_when_no_grades_are_given(manager):
    scale = services.master_scale_new_version(actor=manager)
    assert list(scale.grades.order_by("rank").values_list("code", "min_score")) == \
        list(selectors.master_scale_active().grades.order_by("rank").values_list("code", "min_score"))
    assert scale.grades.get(code="E").pd_max == Decimal(1)
