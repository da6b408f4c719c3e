"""The credit file's Score tab: score, grade, PD, reasons in words, history chart, and four-eyes overrides."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from creditrisk.core.models import AuditEvent
from customers.models import Customer
from scoring import services
from scoring.models import OverrideStatus, ScoreOverride
from tests.scoring.test_pages_scorecards import build_scored_portfolio


@pytest.fixture
def customer(db):
    return build_scored_portfolio()[2]  # small, 100 days overdue


def _url(customer):
    return reverse("scoring:customer", args=[customer.code])


def test_it_shows_score_grade_pd_and_reasons(customer, auditor, client_for, django_assert_max_num_queries):
    client = client_for(auditor)
    with django_assert_max_num_queries(16):
        response = client.get(_url(customer))
    body = response.content.decode()
    latest = response.context["latest"]
    assert response.status_code == 200
    assert f'data-grade="{latest.final_grade}"' in body
    assert f"grade-{latest.final_grade[0]}" in body
    reasons = body.split('id="reasons"')[1].split("</ol>")[0]
    assert reasons.count("<li>") >= 1
    assert "is high" in reasons
    assert "Graded on the scorecard alone" in body  # the final-grade rule explained
    assert "Propose override" not in body  # auditors change nothing


def test_it_keeps_queries_flat_with_a_longer_history(customer, analyst, client_for, django_assert_max_num_queries):
    for _ in range(5):
        services.scoring_run_portfolio(as_of=timezone.localdate(), actor=None, customer_ids=[customer.pk])
    client = client_for(analyst)
    with django_assert_max_num_queries(16):
        response = client.get(_url(customer))
    assert response.status_code == 200
    assert 'data-chart="score-history"' in response.content.decode()
    assert 'data-chart="pd-history"' in response.content.decode()


def test_it_gives_htmx_the_credit_file_partial_with_the_score_tab_active(customer, analyst, client_for):
    response = client_for(analyst).get(_url(customer), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="credit-file">')
    assert 'class="active" aria-current="page">Score</a>' in body
    assert reverse("customers:tab", args=[customer.code, "transactions"]) in body


def test_it_links_the_score_tab_from_the_credit_file(customer, analyst, client_for):
    response = client_for(analyst).get(reverse("customers:detail", args=[customer.code]))
    assert _url(customer) in response.content.decode()


def test_it_refuses_the_tab_to_outsiders(customer, outsider, client_for):
    assert client_for(outsider).get(_url(customer)).status_code == 403


def test_it_needs_a_written_reason_to_propose(customer, analyst, client_for):
    response = client_for(analyst).post(reverse("scoring:customer_override", args=[customer.code]),
                                        {"proposed_grade": "A1", "reason": "  "})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not ScoreOverride.objects.exists()


def test_it_refuses_proposals_from_auditors(customer, auditor, client_for):
    response = client_for(auditor).post(reverse("scoring:customer_override", args=[customer.code]),
                                        {"proposed_grade": "A1", "reason": "trust me"})
    assert response.status_code == 403
    assert not ScoreOverride.objects.exists()


def test_it_runs_the_four_eyes_override_journey(customer, analyst, manager, manager2, client_for):
    latest = customer.scores.order_by("-id").first()
    target = "A1" if latest.computed_grade != "A1" else "B1"
    client = client_for(analyst)
    response = client.post(reverse("scoring:customer_override", args=[customer.code]),
                           {"proposed_grade": target, "reason": "Parent guarantee not yet in the system."})
    assert response.status_code == 302
    override = ScoreOverride.objects.get()
    page = client.get(_url(customer)).content.decode()
    assert 'id="pending-override"' in page
    assert "Propose override" not in page
    # the analyst cannot decide
    assert client.post(reverse("scoring:override_approve", args=[override.pk])).status_code == 403
    # a manager who proposed cannot approve their own; another manager can
    client_for(manager2).post(reverse("scoring:override_approve", args=[override.pk]), {"next": "customer"})
    override.refresh_from_db()
    assert override.status == OverrideStatus.APPROVED
    assert override.decided_by == manager2
    customer.refresh_from_db()
    assert customer.current_grade == target
    assert AuditEvent.objects.filter(action="score_override.approve").exists()
    assert "An approved override replaces" in client_for(analyst).get(_url(customer)).content.decode()


def test_it_stops_a_manager_approving_their_own_proposal(customer, manager, client_for):
    latest = customer.scores.order_by("-id").first()
    target = "A1" if latest.computed_grade != "A1" else "B1"
    client = client_for(manager)
    client.post(reverse("scoring:customer_override", args=[customer.code]),
                {"proposed_grade": target, "reason": "Known to us for decades."})
    override = ScoreOverride.objects.get()
    assert "You proposed this" in client.get(_url(customer)).content.decode()
    response = client.post(reverse("scoring:override_approve", args=[override.pk]), follow=True)
    override.refresh_from_db()
    assert override.status == OverrideStatus.PENDING
    assert any("second person" in str(m) for m in response.context["messages"])
    assert Customer.objects.get(pk=customer.pk).current_grade == latest.final_grade


def test_it_needs_a_note_to_reject(customer, analyst, manager, client_for):
    override = services.score_override_propose(customer=customer, proposed_grade="A1" if customer.current_grade != "A1"
                                                else "B1", reason="r", actor=analyst)
    client = client_for(manager)
    client.post(reverse("scoring:override_reject", args=[override.pk]), {"note": ""})
    override.refresh_from_db()
    assert override.status == OverrideStatus.PENDING
    client.post(reverse("scoring:override_reject", args=[override.pk]), {"note": "No evidence."})
    override.refresh_from_db()
    assert override.status == OverrideStatus.REJECTED


def test_it_lists_pending_overrides_for_managers(customer, analyst, manager, client_for):
    services.score_override_propose(customer=customer, proposed_grade="A1" if customer.current_grade != "A1"
                                    else "B1", reason="Strong parent.", actor=analyst)
    body = client_for(manager).get(reverse("scoring:overrides")).content.decode()
    pending = body.split('id="pending-overrides"')[1].split("</table>")[0]
    assert customer.code in pending
    assert "Strong parent." in pending
    assert "Approve" in pending
    assert 'title="Waiting for approval">1</span>' in body  # the tab shows the pending count
