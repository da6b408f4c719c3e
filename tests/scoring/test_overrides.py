"""Grade overrides: proposed with a reason, effective only when a second person (a manager) approves; audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditrisk.core.exceptions import DomainError
from creditrisk.core.models import AuditEvent
from scoring import services
from scoring.models import OverrideStatus, Score, ScoreOverride
from tests.customers.factories import CustomerFactory, InvoiceFactory


@pytest.fixture
def scored(db):
    """A small customer 20 days past due on its only invoice (a D on the default small card), scored today."""
    today = timezone.localdate()
    customer = CustomerFactory(code="OVR-1", size="small", relationship_start=dt.date(2015, 1, 1))
    InvoiceFactory(customer=customer, number="LATE", issue_date=today - dt.timedelta(days=50),
                   due_date=today - dt.timedelta(days=20))
    services.scoring_run_portfolio(as_of=today, customer_ids=[customer.pk])
    customer.refresh_from_db()
    return customer


def _propose(customer, actor, grade="B2"):
    return services.score_override_propose(customer=customer, proposed_grade=grade, actor=actor,
                                           reason="Parent company guarantees all payables; confirmed in writing.")


def test_it_takes_effect_only_after_a_second_persons_approval(scored, analyst, manager2):
    computed = scored.current_grade
    override = _propose(scored, analyst)
    assert override.status == OverrideStatus.PENDING
    assert override.from_grade == computed
    scored.refresh_from_db()
    assert scored.current_grade == computed  # nothing changes while pending

    services.score_override_approve(override=override, actor=manager2, note="Guarantee on file.")
    override.refresh_from_db()
    scored.refresh_from_db()
    assert (override.status, override.decided_by, scored.current_grade) == (OverrideStatus.APPROVED, manager2, "B2")
    latest = Score.objects.filter(customer=scored).latest("created_at", "id")
    assert (latest.override, latest.final_grade, latest.computed_grade) == (override, "B2", computed)
    assert 0.0075 <= latest.final_pd < 0.0125  # the PD moves into B2's band
    assert scored.current_pd == latest.final_pd
    assert AuditEvent.objects.filter(action="score_override.propose", actor=analyst).exists()
    event = AuditEvent.objects.get(action="score_override.approve")
    assert event.actor == manager2
    assert event.reason == "Guarantee on file."


def test_it_keeps_applying_the_override_while_the_computed_grade_stands(scored, analyst, manager2):
    services.score_override_approve(override=_propose(scored, analyst), actor=manager2)
    services.scoring_run_portfolio(as_of=timezone.localdate())
    scored.refresh_from_db()
    assert scored.current_grade == "B2"


def test_it_refuses_approval_by_the_proposer(scored, manager, analyst):
    override = _propose(scored, manager)
    with pytest.raises(DomainError, match="second person"):
        services.score_override_approve(override=override, actor=manager)
    other = ScoreOverride.objects.get(pk=override.pk)
    assert other.status == OverrideStatus.PENDING
    scored.refresh_from_db()
    assert scored.current_grade == other.from_grade
    assert not AuditEvent.objects.filter(action="score_override.approve").exists()


def test_it_refuses_approval_by_an_analyst(scored, analyst, analyst2):
    override = _propose(scored, analyst)
    with pytest.raises(PermissionDenied):
        services.score_override_approve(override=override, actor=analyst2)
    with pytest.raises(PermissionDenied):
        services.score_override_approve(override=override, actor=analyst)
    assert ScoreOverride.objects.get(pk=override.pk).status == OverrideStatus.PENDING


def test_it_rejects_with_a_note_and_leaves_the_grade(scored, analyst, manager):
    override = _propose(scored, analyst)
    with pytest.raises(ValidationError):
        services.score_override_reject(override=override, actor=manager, note="  ")
    services.score_override_reject(override=override, actor=manager, note="No guarantee on file.")
    override.refresh_from_db()
    assert (override.status, override.decided_by) == (OverrideStatus.REJECTED, manager)
    with pytest.raises(DomainError):
        services.score_override_approve(override=override, actor=manager)
    assert AuditEvent.objects.filter(action="score_override.reject", actor=manager).exists()


def test_it_allows_one_pending_override_per_customer(scored, analyst, analyst2):
    _propose(scored, analyst)
    with pytest.raises(DomainError):
        _propose(scored, analyst2, grade="B3")
    assert ScoreOverride.objects.count() == 1


def test_it_refuses_outsiders_and_auditors(scored, outsider, auditor):
    for actor in (outsider, auditor):
        with pytest.raises(PermissionDenied):
            _propose(scored, actor)
    assert not ScoreOverride.objects.exists()


def test_it_needs_a_score_first(db, analyst):
    customer = CustomerFactory(code="OVR-NEW")
    with pytest.raises(DomainError):
        _propose(customer, analyst)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grade=st.one_of(st.text(max_size=6), st.sampled_from(["A1", "E", "C1", "Z9", ""])),
       reason=st.one_of(st.text(max_size=20), st.just("   ")),
       expires=st.one_of(st.none(), st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1))))
def test_it_refuses_bad_proposals_writing_nothing(scored, analyst, grade, reason, expires):
    before = (ScoreOverride.objects.count(), AuditEvent.objects.count())
    try:
        override = services.score_override_propose(customer=scored, proposed_grade=grade, reason=reason,
                                                   actor=analyst, expires_on=expires)
    except (ValidationError, DomainError):
        assert (ScoreOverride.objects.count(), AuditEvent.objects.count()) == before
    else:
        assert override.reason.strip()
        assert override.proposed_grade != override.from_grade
        override.delete()
