"""PD pipelines on any feature set: missing values, unseen categories, calibration, explanations, artefacts."""

from __future__ import annotations

import io
import os
import pickle
import zlib

import numpy as np
import pandas as pd
import pytest

from scoring.ml import artefact
from scoring.ml.explain import base_log_odds, contributions, top_reasons
from scoring.ml.pipeline import build_pipeline, infer_feature_types

NUMERIC = ["dso", "leverage", "noise"]
CATEGORICAL = ["industry", "rating"]


def credit_frame(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    dso = rng.gamma(2.0, 30.0, n)
    leverage = rng.uniform(0.1, 1.2, n)
    industry = rng.choice(["steel", "retail", "software", "pharma"], n)
    rating = rng.choice(["A", "B", "C"], n, p=[0.5, 0.3, 0.2])
    logit = (-3.0 + 0.02 * dso + 1.5 * leverage + np.where(industry == "steel", 0.8, 0.0)
             + np.where(rating == "C", 1.0, 0.0))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"dso": dso, "leverage": leverage, "noise": rng.normal(size=n),
                          "industry": industry, "rating": rating})
    frame.loc[rng.uniform(size=n) < 0.1, "dso"] = np.nan
    frame.loc[rng.uniform(size=n) < 0.1, "rating"] = None
    return frame, y


@pytest.fixture(scope="module")
def fitted():
    frame, y = credit_frame()
    return {alg: build_pipeline(alg, NUMERIC, CATEGORICAL).fit(frame, y) for alg in ("logistic", "gbm")}


@pytest.mark.parametrize("algorithm", ["logistic", "gbm"])
def test_it_scores_rows_with_gaps_unseen_levels_and_missing_columns(fitted, algorithm):
    model = fitted[algorithm]
    odd = pd.DataFrame({
        "dso": [np.nan, np.inf, 1e9, 10.0],
        "leverage": [None, 0.5, -3.0, 0.2],
        "industry": ["never-seen", None, "steel", 42],
        "rating": ["Z", None, "A", "B"],
        "unrelated": ["x", "y", "z", "w"],
    })  # and no "noise" column at all
    pds = model.predict_pd(odd)
    assert pds.shape == (4,)
    assert np.all(np.isfinite(pds))
    assert np.all((pds > 0) & (pds < 1))
    assert model.predict_proba(odd).sum(axis=1) == pytest.approx(np.ones(4))


@pytest.mark.parametrize("algorithm", ["logistic", "gbm"])
def test_it_learns_the_signal_and_is_calibrated(fitted, algorithm):
    frame, y = credit_frame(seed=1)  # fresh rows
    pds = fitted[algorithm].predict_pd(frame)
    from scoring.ml.metrics import auc

    assert auc(y, pds) > 0.7
    assert pds.mean() == pytest.approx(y.mean(), abs=0.05)


@pytest.mark.parametrize("algorithm", ["logistic", "gbm"])
@pytest.mark.parametrize("kind", ["categorical", "numeric"])
def test_it_trains_on_custom_attributes_only(algorithm, kind):
    rng = np.random.default_rng(3)
    n = 400
    if kind == "categorical":
        frame = pd.DataFrame({f"attr_c{i}": rng.choice(list("pqrs"), n) for i in range(3)})
        logit = np.where(frame["attr_c0"] == "p", 1.5, -1.5)
        numeric, categorical = [], list(frame.columns)
    else:
        frame = pd.DataFrame({f"attr_n{i}": rng.normal(size=n) for i in range(3)})
        logit = 2 * frame["attr_n0"].to_numpy()
        numeric, categorical = list(frame.columns), []
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    assert infer_feature_types(frame) == (numeric, categorical)
    model = build_pipeline(algorithm, numeric, categorical).fit(frame, y)
    from scoring.ml.metrics import auc

    assert auc(y, model.predict_pd(frame)) > 0.75


def test_it_explains_the_linear_model_exactly(fitted):
    model = fitted["logistic"]
    frame, _ = credit_frame(n=50, seed=2)
    contrib = contributions(model, frame)
    assert list(contrib.columns) == NUMERIC + CATEGORICAL
    slope, intercept = model.platt_
    calibrated_log_odds = slope * model.decision_function(frame) + intercept
    np.testing.assert_allclose(contrib.sum(axis=1), calibrated_log_odds - base_log_odds(model), atol=1e-8)
    # within the PD floor the calibrated log-odds are the model's log-odds
    np.testing.assert_allclose(calibrated_log_odds, model.log_odds(frame), atol=1e-6)


def test_it_explains_the_tree_model_by_perturbation(fitted):
    model = fitted["gbm"]
    frame, _ = credit_frame(n=300, seed=4)
    contrib = contributions(model, frame)
    assert contrib.shape == (300, 5)
    strength = contrib.abs().mean()
    assert strength["dso"] > strength["noise"]
    assert strength["leverage"] > strength["noise"]
    # a row at the reference values has nothing to explain
    reference = pd.DataFrame([model.reference_])
    assert np.abs(contributions(model, reference).to_numpy()).max() == pytest.approx(0.0, abs=1e-9)


def test_it_ranks_reasons_that_raise_the_pd():
    contrib = pd.DataFrame({"a": [0.5, -0.1], "b": [1.2, -0.3], "c": [-0.4, 0.0], "d": [0.1, 0.2], "e": [0.3, 0.0]},
                           index=[10, 11])
    reasons = top_reasons(contrib, k=3)
    assert [r["feature"] for r in reasons[10]] == ["b", "a", "e"]
    assert reasons[10][0]["contribution"] == pytest.approx(1.2)
    assert [r["feature"] for r in reasons[11]] == ["d"]  # only features that raise the PD


def test_it_round_trips_an_artefact_and_refuses_changed_bytes(fitted):
    model = fitted["gbm"]
    data = artefact.dumps(model)
    digest = artefact.sha256(data)
    loaded = artefact.loads(data, expected_sha256=digest)
    frame, _ = credit_frame(n=20, seed=5)
    np.testing.assert_allclose(loaded.predict_pd(frame), model.predict_pd(frame))
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(artefact.ArtefactIntegrityError, match="SHA-256"):
        artefact.loads(tampered, expected_sha256=digest)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_it_refuses_artefacts_naming_dangerous_globals_even_with_a_matching_hash():
    forged = artefact.MAGIC + zlib.compress(pickle.dumps(_Exploit()))
    with pytest.raises(artefact.ArtefactIntegrityError, match="not allowed"):
        artefact.loads(forged, expected_sha256=artefact.sha256(forged))
    # and plain pickles without our header are refused too
    plain = io.BytesIO(pickle.dumps({"a": 1})).getvalue()
    with pytest.raises(artefact.ArtefactIntegrityError):
        artefact.loads(plain, expected_sha256=artefact.sha256(plain))
