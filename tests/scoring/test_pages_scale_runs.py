"""Master scale & policy pages (new version, activation) and the runs page (list, re-score now)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from creditrisk.core.models import AuditEvent
from scoring import selectors
from scoring.models import MasterScale, ScoringRun


def _formset_post(scale: MasterScale, changes: dict | None = None) -> dict:
    changes = changes or {}
    grades = list(scale.grades.order_by("rank"))
    data = {"name": "Tighter scale", "from": scale.version, "grades-TOTAL_FORMS": len(grades),
            "grades-INITIAL_FORMS": len(grades), "grades-MIN_NUM_FORMS": 2, "grades-MAX_NUM_FORMS": 26}
    for i, g in enumerate(grades):
        row = {"code": g.code, "label": g.label, "min_score": "" if g.min_score is None else g.min_score,
               "pd_max": g.pd_max, "max_limit_pct_revenue": g.max_limit_pct_revenue or "",
               "max_limit_amount": g.max_limit_amount or "", "standard_terms_days": g.standard_terms_days,
               "required_security": g.required_security, "review_months": g.review_months,
               "auto_approve": "on" if g.auto_approve else ""}
        row.update(changes.get(i, {}))
        data.update({f"grades-{i}-{k}": v for k, v in row.items() if v != ""})
    return data


def test_it_shows_grades_with_policy(auditor, client_for, django_assert_max_num_queries):
    client = client_for(auditor)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("scoring:scale"))
    body = response.content.decode()
    assert response.status_code == 200
    table = body.split('id="grades"')[1].split("</table>")[0]
    assert table.count("<tr>") == 11  # header + 10 grades
    assert "Letter of credit" in table
    assert "Prepayment" in table
    assert "Edit as a new version" not in body


def test_it_creates_a_new_scale_version_and_activates_it(manager, client_for):
    active = selectors.master_scale_active()
    client = client_for(manager)
    assert client.get(reverse("scoring:scale_new")).status_code == 200
    response = client.post(reverse("scoring:scale_new"), _formset_post(active, {4: {"standard_terms_days": 20}}))
    new = MasterScale.objects.get(version=active.version + 1)
    assert response.status_code == 302
    assert not new.active
    assert new.grades.get(rank=5).standard_terms_days == 20
    client.post(reverse("scoring:scale_activate", args=[new.version]), {"reason": "shorter terms for B2"})
    new.refresh_from_db()
    assert new.active
    assert not MasterScale.objects.get(pk=active.pk).active
    assert AuditEvent.objects.filter(action="masterscale.activate").exists()


def test_it_shows_scale_errors_and_writes_nothing(manager, client_for):
    active = selectors.master_scale_active()
    # band order broken: the second grade starts above the first
    response = client_for(manager).post(reverse("scoring:scale_new"),
                                        _formset_post(active, {1: {"min_score": "900"}}))
    assert response.status_code == 400
    assert "Score bands must fall" in response.content.decode()
    assert MasterScale.objects.count() == 1


@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_it_refuses_scale_edits_to_non_managers(role, personas, client_for):
    client = client_for(personas[role])
    assert client.get(reverse("scoring:scale_new")).status_code == 403
    assert client.post(reverse("scoring:scale_activate", args=[1])).status_code == 403


def test_it_rescores_now_for_managers_and_lists_the_run(manager, client_for, django_assert_max_num_queries):
    from tests.customers.factories import CustomerFactory

    for _ in range(3):
        CustomerFactory(size="small")
    client = client_for(manager)
    response = client.post(reverse("scoring:rescore"), follow=True)
    run = ScoringRun.objects.get()
    assert run.status == "succeeded"
    assert run.counts["scored"] == 3
    assert any("scored 3 customers" in str(m) for m in response.context["messages"])
    with django_assert_max_num_queries(8):
        body = client.get(reverse("scoring:runs")).content.decode()
    assert 'id="runs"' in body
    assert "Succeeded" in body


@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_it_refuses_rescore_to_non_managers(role, personas, client_for):
    assert client_for(personas[role]).post(reverse("scoring:rescore")).status_code == 403
    assert not ScoringRun.objects.exists()
