"""train_and_evaluate: out-of-time and stratified validation, metrics, and refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scoring.ml.train import TrainingError, split_rows, train_and_evaluate


def panel(n_customers: int = 150, n_dates: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-31", periods=n_dates, freq="ME")
    rows = []
    risk = rng.normal(size=n_customers)
    for date in dates:
        x = risk + rng.normal(scale=0.5, size=n_customers)
        y = (rng.uniform(size=n_customers) < 1 / (1 + np.exp(-(-2.5 + 1.5 * x)))).astype(int)
        rows.append(pd.DataFrame({"customer_id": np.arange(n_customers), "observation_date": date, "x": x,
                                  "segment": rng.choice(["a", "b"], n_customers), "defaulted": y}))
    return pd.concat(rows, ignore_index=True)


def test_it_tests_out_of_time_on_the_newest_dates():
    frame = panel()
    train, test = split_rows(frame, "defaulted", time_col="observation_date")
    assert frame["observation_date"].iloc[train].max() < frame["observation_date"].iloc[test].min()
    assert frame["observation_date"].iloc[test].nunique() == 2  # ceil(25 % of 8 dates)


def test_it_keeps_a_customer_on_one_side_of_a_grouped_hold_out():
    frame = panel(n_dates=3)
    train, test = split_rows(frame, "defaulted", group_col="customer_id")
    assert not set(frame["customer_id"].iloc[train]) & set(frame["customer_id"].iloc[test])
    assert len(test) / len(frame) == pytest.approx(0.25, abs=0.05)


@pytest.mark.parametrize("algorithm", ["logistic", "gbm"])
def test_it_trains_and_reports_json_safe_metrics(algorithm):
    frame = panel()
    result = train_and_evaluate(frame, "defaulted", algorithm=algorithm, time_col="observation_date",
                                group_col="customer_id", current_frame=frame.tail(150))
    metrics = json.loads(json.dumps(result.metrics))
    assert metrics["auc"] > 0.7
    assert metrics["gini"] == pytest.approx(2 * metrics["auc"] - 1)
    assert 0 < metrics["ks"] <= 1
    assert 0 < metrics["brier"] < 0.25
    assert metrics["n_train"] + metrics["n_test"] == len(frame)
    assert metrics["train_to"] < metrics["test_from"]
    assert len(metrics["calibration"]) == 10
    assert metrics["features"] == {"numeric": ["x"], "categorical": ["segment"], "dropped": []}
    assert metrics["feature_importance"][0]["feature"] == "x"
    assert metrics["psi"]["score"]["level"] in {"ok", "warning", "alert"}
    assert set(result.model.features) == {"x", "segment"}


def test_it_drops_empty_and_constant_features():
    frame = panel()
    frame["empty"] = np.nan
    frame["constant"] = "same"
    result = train_and_evaluate(frame, "defaulted", algorithm="logistic", time_col="observation_date",
                                group_col="customer_id", importance=False)
    assert sorted(result.metrics["features"]["dropped"]) == ["constant", "empty"]


def test_it_refuses_one_class_and_too_little_data():
    frame = panel()
    with pytest.raises(TrainingError, match="only one class"):
        train_and_evaluate(frame.assign(defaulted=0), "defaulted", algorithm="logistic")
    with pytest.raises(TrainingError, match="Too little data"):
        train_and_evaluate(frame.head(20), "defaulted", algorithm="logistic")
    few = frame.assign(defaulted=0)
    few.loc[:3, "defaulted"] = 1
    with pytest.raises(TrainingError, match="Too few defaults"):
        train_and_evaluate(few, "defaulted", algorithm="logistic")
    with pytest.raises(TrainingError, match="two observation dates"):
        train_and_evaluate(frame.assign(observation_date=pd.Timestamp("2023-01-31")), "defaulted",
                           algorithm="logistic", time_col="observation_date")
