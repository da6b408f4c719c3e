"""Model registry pages: list with metrics, detail charts and PSI badges, promote (managers only, audited), train."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from creditrisk.core.models import AuditEvent
from scoring.models import ModelStatus, ModelVersion

METRICS = {
    "auc": 0.8123, "gini": 0.6246, "ks": 0.51, "brier": 0.0412, "validation": "out_of_time",
    "roc": [[0.0, 0.0], [0.1, 0.5], [0.3, 0.8], [1.0, 1.0]],
    "calibration": [{"bin": i, "n": 50, "n_bad": i, "mean_pd": i / 100, "observed_rate": i / 90,
                     "min_pd": (i - 1) / 100, "max_pd": i / 100} for i in range(1, 11)],
    "feature_importance": [{"feature": "dbt_12m", "importance": 0.08, "std": 0.01},
                           {"feature": "max_dpd", "importance": 0.03, "std": 0.01}],
    "psi": {"score": {"psi": 0.04, "level": "ok"},
            "features": {"dbt_12m": {"psi": 0.31, "level": "alert"}, "max_dpd": {"psi": 0.12, "level": "warning"},
                         "overdue_ratio": {"psi": 0.02, "level": "ok"}}},
    "profile": {"features": {}},
}


def _model(version: int, status: str = ModelStatus.CHALLENGER, metrics: dict | None = None) -> ModelVersion:
    return ModelVersion.objects.create(
        version=version, algorithm="logistic", label_source="derived", status=status,
        features=["dbt_12m", "max_dpd"], metrics=metrics if metrics is not None else METRICS, n_train=400, n_test=100,
        artefact=b"not loaded by these pages", artefact_sha256="ab" * 32)


@pytest.fixture
def registry(db):
    return [_model(1, ModelStatus.CHAMPION), _model(2), _model(3, metrics={})]


def test_it_lists_versions_with_metrics(registry, auditor, client_for, django_assert_max_num_queries):
    client = client_for(auditor)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("scoring:models"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "0.812" in body
    assert "0.625" in body
    assert "0.0412" in body
    assert "400 / 100" in body
    assert "abababababab" in body
    assert "Champion" in body
    assert "Train new model" not in body  # auditors read only


def test_it_keeps_the_registry_query_count_flat(auditor, client_for, django_assert_max_num_queries):
    for version in range(1, 21):
        _model(version)
    client = client_for(auditor)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("scoring:models")).status_code == 200


def test_it_shows_roc_calibration_importance_and_psi_badges(registry, analyst, client_for):
    response = client_for(analyst).get(reverse("scoring:model", args=[2]))
    body = response.content.decode()
    assert response.status_code == 200
    for chart in ("model-roc", "model-calibration", "model-importance"):
        assert f'data-chart="{chart}"' in body
    roc = json.loads(body.split('id="model-roc" type="application/json">')[1].split("</script>")[0])
    assert roc["datasets"][0]["data"][1] == {"x": 0.1, "y": 0.5}
    psi = body.split('id="psi"')[1].split("</table>")[0]
    assert psi.index("dbt_12m") < psi.index("max_dpd") < psi.index("overdue_ratio")  # worst first
    assert "badge-bad" in psi
    assert "badge-warn" in psi
    assert "badge-ok" in psi
    assert body.count("<tr><td class=\"num\">") >= 10  # the calibration table's deciles
    assert "Promote" not in body  # analysts cannot promote


def test_it_shows_what_is_stored_when_metrics_are_missing(registry, manager, client_for):
    response = client_for(manager).get(reverse("scoring:model", args=[3]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "stored no ROC points" in body
    assert "stored no calibration table" in body


def test_it_lets_a_manager_promote_a_challenger_and_audits_it(registry, manager, client_for):
    response = client_for(manager).post(reverse("scoring:model_promote", args=[2]), {"reason": "better AUC"})
    assert response.status_code == 302
    assert ModelVersion.objects.get(version=2).status == ModelStatus.CHAMPION
    assert ModelVersion.objects.get(version=1).status == ModelStatus.CHALLENGER
    assert AuditEvent.objects.filter(action="model.promote", reason="better AUC").exists()


@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_it_refuses_promotion_and_training_to_non_managers(role, registry, personas, client_for):
    client = client_for(personas[role])
    assert client.post(reverse("scoring:model_promote", args=[2])).status_code == 403
    assert client.post(reverse("scoring:model_train"), {"algorithm": "logistic", "labels": "derived"}).status_code == 403
    assert ModelVersion.objects.get(version=1).status == ModelStatus.CHAMPION
    assert ModelVersion.objects.count() == 3


def test_it_reports_a_training_failure_without_a_server_error(manager, client_for):
    # An empty portfolio has no history to learn from: the page says so and stores nothing.
    response = client_for(manager).post(reverse("scoring:model_train"), {"algorithm": "gbm", "labels": "imported"},
                                        follow=True)
    assert response.status_code == 200
    assert ModelVersion.objects.count() == 0
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_it_404s_an_unknown_version(manager, client_for):
    assert client_for(manager).get(reverse("scoring:model", args=[99])).status_code == 404


def test_it_queues_training_on_a_worker_for_a_large_portfolio(manager, client_for, settings,
                                                                 django_capture_on_commit_callbacks):
    from customers.models import Customer
    from scoring.models import ModelVersion

    Customer.objects.create(code="BIG1", name="Big portfolio stand-in")
    settings.CREDITRISK_TRAIN_INLINE_MAX_CUSTOMERS = 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(manager).post(reverse("scoring:model_train"),
                                            {"algorithm": "logistic", "labels": "derived"})
    assert response.status_code == 302
    assert len(callbacks) == 1  # the task is sent only once the request's transaction commits
    assert not ModelVersion.objects.exists()


def test_the_training_task_refuses_too_little_data_without_storing_anything(manager):
    from customers.models import Customer
    from scoring.models import ModelVersion
    from scoring.tasks import train_model

    Customer.objects.create(code="TINY", name="Tiny")
    assert train_model("logistic", "derived", manager.pk) is None
    assert not ModelVersion.objects.exists()
