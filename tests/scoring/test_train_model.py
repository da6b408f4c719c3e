"""train_model end to end through Django: derived labels on a generated history, imported labels on
custom attributes only (with the benchmark against a tuned plain scikit-learn logistic regression),
the model registry (champion, challengers, promotion, audit) and the artefact hash check."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from creditrisk.core.exceptions import DomainError
from creditrisk.core.models import AuditEvent
from customers.demo import seed_portfolio
from customers.models import AttributeDefinition, Customer, OutcomeFlag
from scoring import training
from scoring.features import feature_frame
from scoring.ml.train import split_rows
from scoring.models import ModelStatus, ModelVersion

OBSERVED = dt.date(2025, 6, 30)


def credit_attributes(n: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A credit-like data set: 10 numeric attributes (some skewed like amounts) and 10 categorical ones
    (binned latent factors with shuffled, nominal level names), 5 % of values missing, ~20 % defaults."""
    X, y = make_classification(n_samples=n, n_features=20, n_informative=8, n_redundant=4, n_repeated=0,
                               weights=[0.82], flip_y=0.04, class_sep=0.7, random_state=seed)
    rng = np.random.default_rng(seed)
    columns = {}
    for j in range(10):
        values = X[:, j]
        columns[f"num_{j:02d}"] = np.exp(0.8 * values) * 1000 if j % 3 == 0 else values
    for j in range(10, 20):
        k = 3 + j % 5
        edges = np.quantile(X[:, j], np.linspace(0, 1, k + 1)[1:-1])
        levels = np.array([f"L{c}" for c in rng.permutation(k)])
        columns[f"cat_{j:02d}"] = levels[np.searchsorted(edges, X[:, j])].astype(object)
    frame = pd.DataFrame(columns)
    for column in frame.columns:
        frame.loc[rng.uniform(size=n) < 0.05, column] = None
    return frame, y


def load_imported(frame: pd.DataFrame, y: np.ndarray, *, prefix: str = "B") -> None:
    """Custom attribute definitions, customers carrying only those attributes, and outcome flags (bulk)."""
    definitions = []
    for column in frame.columns:
        if column.startswith("num"):
            definitions.append(AttributeDefinition(key=column, label=column, type="number"))
        else:
            choices = sorted(frame[column].dropna().unique().tolist())
            definitions.append(AttributeDefinition(key=column, label=column, type="category", choices=choices))
    AttributeDefinition.objects.bulk_create(definitions)
    records = frame.to_dict("records")
    customers = Customer.objects.bulk_create([
        Customer(code=f"{prefix}{i:05d}", name=f"Imported {i}",
                 attributes={k: (float(v) if isinstance(v, float) else v) for k, v in record.items()
                             if v is not None and not (isinstance(v, float) and np.isnan(v))})
        for i, record in enumerate(records)])
    OutcomeFlag.objects.bulk_create([OutcomeFlag(customer=c, observation_date=OBSERVED, defaulted=bool(label))
                                     for c, label in zip(customers, y, strict=True)])


def train_json(capsys, *args) -> dict:
    call_command("train_model", *args, "--json")
    out = capsys.readouterr().out
    return json.loads(out)


def test_it_reaches_a_tuned_plain_logistic_regression_on_custom_attributes_only(db, capsys):
    frame, y = credit_attributes()
    load_imported(frame, y)

    report = train_json(capsys, "--labels", "imported")

    # The baseline, evaluated the same way: the same rows, the same stratified hold-out.
    data = training.training_frame_imported()
    train, test = split_rows(data, training.LABEL, group_col=training.ID_COL)
    attributes = [c for c in data.columns if c.startswith("attr_")]
    numeric = [c for c in attributes if c.startswith("attr_num")]
    categorical = [c for c in attributes if c.startswith("attr_cat")]
    preprocess = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         categorical),
    ])
    baseline = GridSearchCV(make_pipeline(preprocess, LogisticRegression(max_iter=5000)),
                            {"logisticregression__C": np.logspace(-4, 3, 15)}, scoring="roc_auc",
                            cv=StratifiedKFold(5, shuffle=True, random_state=0))
    baseline.fit(data.iloc[train][attributes], data[training.LABEL].iloc[train])
    baseline_auc = roc_auc_score(data[training.LABEL].iloc[test],
                                 baseline.predict_proba(data.iloc[test][attributes])[:, 1])
    print(f"\nimported labels, 1,000 customers, 20 custom attributes: train_model AUC {report['auc']:.4f}, "
          f"tuned plain LogisticRegression AUC {baseline_auc:.4f} (C={baseline.best_params_})")

    assert report["n_test"] == len(test)
    assert report["n_train"] == len(train)
    assert report["labels"] == "imported"
    assert report["validation"] == "stratified_holdout"
    assert report["features"] == 20  # the custom attributes; empty/constant built-ins are dropped
    assert report["auc"] >= baseline_auc - 0.01


def test_it_trains_on_labels_derived_from_the_invoice_history(db, capsys):
    seed_portfolio(customers=300, months=30, seed=7)

    report = train_json(capsys)

    assert {"auc", "gini", "ks", "brier", "n_train", "n_test", "version"} <= set(report)
    assert report["labels"] == "derived"
    assert report["validation"] == "out_of_time"
    assert report["train_to"] < report["test_from"]
    assert report["auc"] > 0.65  # the newer observation dates, which the model did not see
    assert report["gini"] == pytest.approx(2 * report["auc"] - 1)
    assert len(report["calibration"]) == 10
    assert sum(row["n"] for row in report["calibration"]) == report["n_test"]
    version = ModelVersion.objects.get(version=report["version"])
    assert version.status == ModelStatus.CHAMPION  # the first model becomes champion
    assert "status" not in version.features  # current status is not point-in-time
    assert version.metrics["psi"]["score"]["level"] in {"ok", "warning", "alert"}

    # loads after the hash check and predicts the portfolio
    current = feature_frame(as_of=timezone.localdate())
    pds = training.model_predict(version=version, frame=current)
    assert pds.shape == (len(current),)
    assert np.all((pds > 0) & (pds < 1))
    reasons = training.model_reasons(version=version, frame=current.head(20))
    assert all(len(r) <= 4 for r in reasons)

    # a changed artefact is refused, not unpickled
    tampered = bytearray(version.artefact)
    tampered[-10] ^= 0xFF
    ModelVersion.objects.filter(pk=version.pk).update(artefact=bytes(tampered))
    version.refresh_from_db()
    with pytest.raises(training.ModelArtefactError, match="SHA-256"):
        training.model_load(version)


@pytest.fixture
def small_imported(db):
    frame, y = credit_attributes(n=300, seed=1)
    load_imported(frame[["num_00", "num_01", "cat_10", "cat_11"]], y, prefix="S")


def test_it_keeps_one_champion_and_audits_promotions(small_imported, capsys, manager, analyst):
    first = train_json(capsys, "--labels", "imported")
    second = train_json(capsys, "--labels", "imported", "--algorithm", "gbm")
    assert (first["version"], first["status"]) == (1, "champion")
    assert (second["version"], second["status"], second["algorithm"]) == (2, "challenger", "gbm")

    challenger = ModelVersion.objects.get(version=2)
    with pytest.raises(PermissionDenied):
        training.model_promote(version=challenger, actor=analyst)
    training.model_promote(version=challenger, actor=manager, reason="better KS")
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {1: "challenger", 2: "champion"}
    promoted = ModelVersion.objects.get(version=2)
    assert promoted.promoted_by == manager
    assert promoted.promoted_at is not None

    third = train_json(capsys, "--labels", "imported", "--promote")
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {1: "challenger", 2: "challenger", 3: "champion"}
    assert third["status"] == "champion"

    with pytest.raises(DomainError):
        training.model_retire(version=ModelVersion.objects.get(version=3), actor=manager)
    training.model_retire(version=ModelVersion.objects.get(version=1), actor=manager, reason="superseded")
    assert ModelVersion.objects.get(version=1).status == ModelStatus.RETIRED

    actions = list(AuditEvent.objects.filter(subject_type="scoring.modelversion").values_list("action", flat=True))
    assert actions.count("model.train") == 3
    assert actions.count("model.promote") == 3  # v1 automatically, v2 by the manager, v3 by --promote
    assert actions.count("model.demote") == 2
    assert actions.count("model.retire") == 1
    event = AuditEvent.objects.filter(action="model.train").order_by("seq").first()
    assert event.after["artefact_sha256"] == ModelVersion.objects.get(version=1).artefact_sha256
    assert "artefact" not in event.after  # the bytes stay out of the audit log
    call_command("verify_audit")


def test_it_prints_a_readable_summary_without_json(small_imported, capsys):
    call_command("train_model", "--labels", "imported")
    out = capsys.readouterr().out
    assert "Model v1" in out
    assert "AUC" in out
    assert "calibration by decile" in out


def test_it_fails_clearly_without_usable_data(db, capsys):
    with pytest.raises(CommandError, match="no imported outcomes"):
        call_command("train_model", "--labels", "imported", "--json")
    with pytest.raises(CommandError, match="no invoices"):
        call_command("train_model", "--json")
    frame, _ = credit_attributes(n=200, seed=2)
    load_imported(frame[["num_00", "cat_10"]], np.zeros(200, dtype=int))
    with pytest.raises(CommandError, match="only one class"):
        call_command("train_model", "--labels", "imported", "--json")
    assert capsys.readouterr().out == ""
    assert not ModelVersion.objects.exists()


def test_it_samples_whole_customers_when_the_history_is_too_large():
    labels = pd.DataFrame({"customer_id": np.repeat(np.arange(100), 10), "observation_date": 0, "defaulted": 0})
    sampled = training._sample_customers(labels, 300)
    assert len(sampled) == 300
    assert sampled.groupby("customer_id").size().eq(10).all()  # every kept customer keeps all its dates
    assert training._sample_customers(labels, 5000) is labels
