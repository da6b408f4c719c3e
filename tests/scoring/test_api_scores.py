"""Scoring API: scores with reasons (filters, fixed query counts), the model registry and promote, overrides."""

from __future__ import annotations

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditrisk.core.models import AuditEvent
from scoring import services
from scoring.models import ModelStatus, ModelVersion, OverrideStatus, Score, ScoreOverride
from tests.scoring.test_pages_scorecards import build_scored_portfolio

SCORES = "/api/v1/scores/"


@pytest.fixture
def portfolio(db):
    return build_scored_portfolio()


def test_it_lists_scores_with_customer_score_grade_pd_and_reasons(portfolio, analyst, api_for):
    response = api_for(analyst).get(SCORES)
    assert response.status_code == 200
    assert response.data["count"] == 6
    row = response.data["results"][0]
    for key in ("customer", "score", "grade", "pd", "reasons", "run", "as_of", "scorecard_version",
                "model_version", "created_at"):
        assert key in row
    assert row["customer"].startswith("SCP-")
    assert row["reasons"]
    assert {"code", "feature", "text"} <= set(row["reasons"][0])
    assert "features" not in row


def test_it_filters_by_customer_grade_run_and_dates(portfolio, auditor, api_for):
    api = api_for(auditor)
    target = portfolio[5]
    services.scoring_run_portfolio(as_of=timezone.localdate(), actor=None, customer_ids=[target.pk])
    by_customer = api.get(SCORES, {"customer": target.code}).data
    assert by_customer["count"] == 2
    assert {r["customer"] for r in by_customer["results"]} == {target.code}
    grade = by_customer["results"][0]["grade"]
    assert all(r["grade"] == grade for r in api.get(SCORES, {"grade": grade}).data["results"])
    first_run = Score.objects.order_by("run_id").first().run_id
    assert api.get(SCORES, {"run": first_run}).data["count"] == 6
    today = timezone.localdate().isoformat()
    assert api.get(SCORES, {"as_of_from": today, "as_of_to": today}).data["count"] == 7
    assert api.get(SCORES, {"as_of_to": "2000-01-01"}).data["count"] == 0


def test_it_keeps_the_list_query_count_fixed(portfolio, auditor, api_for, django_assert_max_num_queries):
    api = api_for(auditor)
    with django_assert_max_num_queries(6):
        small = api.get(SCORES)
    services.scoring_run_portfolio(as_of=timezone.localdate(), actor=None)
    with django_assert_max_num_queries(6):
        large = api.get(SCORES)
    assert small.data["count"] == 6
    assert large.data["count"] == 12


def test_it_returns_one_score_with_its_feature_values(portfolio, analyst, api_for):
    score = Score.objects.first()
    response = api_for(analyst).get(f"{SCORES}{score.pk}/")
    assert response.status_code == 200
    assert response.data["id"] == score.pk
    assert isinstance(response.data["features"], dict)


def test_it_refuses_scores_to_outsiders_and_anonymous(portfolio, outsider, api_for):
    assert api_for(outsider).get(SCORES).status_code == 403
    assert api_for().get(SCORES).status_code == 401


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(["customer", "grade", "run", "as_of", "as_of_from", "as_of_to",
                                               "ordering", "page"]), st.text(max_size=12)))
def test_it_never_errors_on_malformed_filters(portfolio, analyst, api_for, params):
    response = api_for(analyst).get(SCORES, params)
    assert response.status_code in (200, 400, 404)


def _model(version, status=ModelStatus.CHALLENGER):
    return ModelVersion.objects.create(version=version, algorithm="gbm", label_source="derived", status=status,
                                       metrics={"auc": 0.77, "gini": 0.54, "ks": 0.4, "brier": 0.05,
                                                "profile": {"big": "x"}, "calibration": []},
                                       n_train=10, n_test=5, artefact=b"x", artefact_sha256="cd" * 32)


def test_it_lists_and_shows_model_versions(analyst, api_for, django_assert_max_num_queries):
    _model(1, ModelStatus.CHAMPION)
    _model(2)
    api = api_for(analyst)
    with django_assert_max_num_queries(4):
        response = api.get("/api/v1/models/")
    assert [r["version"] for r in response.data["results"]] == [2, 1]
    assert response.data["results"][0]["auc"] == 0.77
    detail = api.get("/api/v1/models/1/").data
    assert detail["status"] == "champion"
    assert "calibration" in detail["metrics"]
    assert "profile" not in detail["metrics"]
    assert api.get("/api/v1/models/9/").status_code == 404


def test_it_promotes_for_managers_only(manager, analyst, api_for):
    _model(1, ModelStatus.CHAMPION)
    _model(2)
    assert api_for(analyst).post("/api/v1/models/2/promote/", {"reason": "x"}).status_code == 403
    response = api_for(manager).post("/api/v1/models/2/promote/", {"reason": "higher AUC"}, format="json")
    assert response.status_code == 200
    assert response.data["status"] == "champion"
    assert ModelVersion.objects.get(version=1).status == ModelStatus.CHALLENGER
    assert AuditEvent.objects.filter(action="model.promote", reason="higher AUC").exists()
    assert api_for(manager).post("/api/v1/models/9/promote/").status_code == 404


def test_it_proposes_and_approves_overrides_with_four_eyes(portfolio, analyst, manager, manager2, api_for):
    customer = portfolio[1]
    current = customer.scores.order_by("-id").first().computed_grade
    target = "E" if current != "E" else "D"
    bad = api_for(analyst).post("/api/v1/overrides/", {"customer": customer.code, "proposed_grade": target,
                                                       "reason": ""}, format="json")
    assert bad.status_code == 400
    assert set(bad.data) == {"message", "code", "errors"}
    created = api_for(manager).post("/api/v1/overrides/", {"customer": customer.code, "proposed_grade": target,
                                                          "reason": "Lost its main client."}, format="json")
    assert created.status_code == 201
    assert created.data["status"] == "pending"
    pk = created.data["id"]
    own = api_for(manager).post(f"/api/v1/overrides/{pk}/approve/", {}, format="json")
    assert own.status_code == 400
    assert own.data["code"] == "four_eyes"
    assert api_for(analyst).post(f"/api/v1/overrides/{pk}/approve/", {}, format="json").status_code == 403
    approved = api_for(manager2).post(f"/api/v1/overrides/{pk}/approve/", {"note": "agreed"}, format="json")
    assert approved.status_code == 200
    assert approved.data["status"] == OverrideStatus.APPROVED
    latest = api_for(analyst).get(SCORES, {"customer": customer.code}).data["results"][0]
    assert latest["grade"] == target
    assert latest["override"] == pk
    listed = api_for(analyst).get("/api/v1/overrides/", {"status": "approved"}).data
    assert listed["count"] == 1


def test_it_rejects_with_a_note_and_refuses_unknown_customers(portfolio, analyst, manager, api_for):
    customer = portfolio[0]
    target = "E" if customer.current_grade != "E" else "D"
    assert api_for(analyst).post("/api/v1/overrides/", {"customer": "NOPE", "proposed_grade": target,
                                                       "reason": "x"}, format="json").status_code == 404
    pk = api_for(analyst).post("/api/v1/overrides/", {"customer": customer.code, "proposed_grade": target,
                                                     "reason": "x"}, format="json").data["id"]
    assert api_for(manager).post(f"/api/v1/overrides/{pk}/reject/", {}, format="json").status_code == 400
    response = api_for(manager).post(f"/api/v1/overrides/{pk}/reject/", {"note": "no"}, format="json")
    assert response.status_code == 200
    assert ScoreOverride.objects.get(pk=pk).status == OverrideStatus.REJECTED


def test_it_documents_the_scoring_endpoints_in_the_schema(analyst, api_for):
    schema = api_for(analyst).get("/api/v1/schema/", {"format": "json"}).json()
    for path in ("/api/v1/scores/", "/api/v1/scores/{id}/", "/api/v1/models/", "/api/v1/models/{version}/",
                 "/api/v1/models/{version}/promote/", "/api/v1/overrides/", "/api/v1/overrides/{id}/approve/"):
        assert path in schema["paths"], path
