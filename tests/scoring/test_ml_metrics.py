"""Model metrics against hand-computed values: AUC, Gini, KS, Brier, calibration table, PSI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scoring.ml import metrics as m

Y = [0, 0, 1, 1]
P = [0.10, 0.40, 0.35, 0.80]


def test_it_computes_auc_gini_ks_and_brier_like_by_hand():
    # bad/good pairs ranked right: (0.35>0.10), (0.80>0.10), (0.80>0.40) → 3 of 4
    assert m.auc(Y, P) == pytest.approx(0.75)
    assert m.gini(Y, P) == pytest.approx(0.5)
    # cut at 0.80: TPR 0.5, FPR 0 → 0.5; cut at 0.35: TPR 1, FPR 0.5 → 0.5
    assert m.ks(Y, P) == pytest.approx(0.5)
    assert m.brier(Y, P) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    summary = m.discrimination(Y, P)
    assert summary["n"] == 4
    assert summary["n_bad"] == 2
    assert summary["bad_rate"] == 0.5


def test_it_builds_a_calibration_table_by_decile():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.3, 1000)
    y = (rng.uniform(size=1000) < p).astype(int)
    table = m.calibration_table(y, p)
    assert [row["bin"] for row in table] == list(range(1, 11))
    assert sum(row["n"] for row in table) == 1000
    assert sum(row["n_bad"] for row in table) == y.sum()
    means = [row["mean_pd"] for row in table]
    assert means == sorted(means)
    # well calibrated by construction: observed rates follow the predictions
    assert table[-1]["observed_rate"] > table[0]["observed_rate"] + 0.15


def test_it_computes_psi_like_by_hand():
    expected = ["a"] * 50 + ["b"] * 50
    actual = ["a"] * 80 + ["b"] * 20
    by_hand = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert m.psi_categorical(expected, actual) == pytest.approx(by_hand, abs=1e-6)
    # the same shift on a numeric variable (bins at the expected quantiles)
    assert m.psi(np.repeat([1.0, 2.0], 50), np.repeat([1.0, 2.0], [80, 20])) == pytest.approx(by_hand, abs=1e-6)
    assert m.psi(np.arange(1000.0), np.arange(1000.0)) == pytest.approx(0.0, abs=1e-9)


def test_it_counts_missing_and_unseen_values_as_their_own_bins():
    assert m.psi_categorical(["a", "b"] * 50, ["a", "b", "c", None] * 25) > 0.25
    assert m.psi([1.0, 2.0, 3.0, 4.0] * 25, [np.nan] * 100) > 0.25


def test_it_grades_psi_with_the_usual_thresholds():
    assert m.psi_level(0.05) == "ok"
    assert m.psi_level(0.10) == "warning"
    assert m.psi_level(0.2499) == "warning"
    assert m.psi_level(0.25) == "alert"
    assert m.psi_level(float("nan")) == "unknown"


def test_it_reports_stability_from_a_stored_profile():
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b", "c"], 2000)})
    profile = m.distribution_profile(train, numeric_cols=["x"], categorical_cols=["c"], scores=rng.uniform(size=2000))
    same = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b", "c"], 2000)})
    shifted = pd.DataFrame({"x": rng.normal(1.0, 1.0, 2000), "c": ["a"] * 2000})
    stable = m.stability_report(profile, same, rng.uniform(size=2000))
    moved = m.stability_report(profile, shifted, rng.uniform(0.5, 1.0, 2000))
    assert {v["level"] for v in stable["features"].values()} == {"ok"}
    assert stable["score"]["level"] == "ok"
    assert moved["features"]["x"]["level"] == "alert"
    assert moved["features"]["c"]["level"] == "alert"
    assert moved["score"]["level"] == "alert"
    # a feature the current frame lacks counts as all missing
    assert m.stability_report(profile, same.drop(columns=["x"]))["features"]["x"]["level"] == "alert"


def test_it_thins_the_roc_curve_for_charts():
    rng = np.random.default_rng(2)
    points = m.roc_points(rng.integers(0, 2, 5000), rng.uniform(size=5000), max_points=50)
    assert len(points) <= 50
    assert points[0] == [0.0, 0.0]
    assert points[-1] == [1.0, 1.0]
