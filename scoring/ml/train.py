"""Train a PD model on a labelled frame and evaluate it on rows it did not train on.

Validation:
* with ``time_col`` (derived labels, one row per customer and observation date): **out-of-time** —
  the newest ~25 % of observation dates are the test set, older dates train the model;
* without (imported labels): a **stratified hold-out** of ``test_size`` of the rows (grouped by
  customer when customers have several rows).

Cross-validation inside the training part (choice of ``C``, calibration) is grouped by ``group_col``
(the customer), so a customer observed at many dates cannot make the model look better than it is.

The model returned is the one trained on the training part only — the very model whose metrics
are reported — so the stored metrics describe the stored artefact exactly ("measured on data it
did not train on"). Refitting on all rows would use a little more data but report metrics of a
different model; for an auditable registry we prefer the former.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from scoring.ml import metrics as m
from scoring.ml.explain import base_log_odds
from scoring.ml.pipeline import PDModel, build_pipeline, infer_feature_types

MIN_ROWS = 40
MIN_PER_CLASS = 10
DEFAULT_TEST_SIZE = 0.25


class TrainingError(ValueError):
    """The data cannot train a model (too few rows, one class only, no usable feature)."""


@dataclass
class TrainingResult:
    model: PDModel
    metrics: dict
    train_rows: np.ndarray = field(repr=False)
    test_rows: np.ndarray = field(repr=False)


def split_rows(frame: pd.DataFrame, label: str, *, time_col: str | None = None, group_col: str | None = None,
               test_size: float = DEFAULT_TEST_SIZE, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positional train and test row numbers: out-of-time with ``time_col``, else a stratified hold-out
    (grouped by ``group_col`` when a customer has several rows, so no customer is on both sides)."""
    y = frame[label].to_numpy().astype(int)
    if time_col:
        times = pd.to_datetime(frame[time_col])
        dates = np.sort(times.unique())
        if len(dates) < 2:
            raise TrainingError("Out-of-time validation needs at least two observation dates.")
        n_test = min(len(dates) - 1, max(1, math.ceil(test_size * len(dates))))
        cutoff = dates[-n_test]
        test_mask = (times >= cutoff).to_numpy()
        return np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
    rows = np.arange(len(frame))
    if group_col and frame[group_col].duplicated().any():
        folds = StratifiedGroupKFold(max(2, round(1 / test_size)), shuffle=True, random_state=random_state)
        train, test = next(folds.split(rows, y, frame[group_col].to_numpy()))
        return np.sort(train), np.sort(test)
    train, test = train_test_split(rows, test_size=test_size, stratify=y, random_state=random_state)
    return np.sort(train), np.sort(test)


def usable_features(frame: pd.DataFrame, numeric_cols, categorical_cols) -> tuple[list[str], list[str], list[str]]:
    """Drop features that cannot inform a model: all missing, or one value everywhere."""
    keep_numeric, keep_categorical, dropped = [], [], []
    for column in numeric_cols:
        values = pd.to_numeric(frame[column], errors="coerce")
        (keep_numeric if values.nunique(dropna=True) > 1 or (values.nunique() == 1 and values.isna().any())
         else dropped).append(column)
    for column in categorical_cols:
        (keep_categorical if frame[column].nunique(dropna=False) > 1 else dropped).append(column)
    return keep_numeric, keep_categorical, dropped


def _check_labels(y: np.ndarray, where: str) -> None:
    bad = int(y.sum())
    good = len(y) - bad
    if bad == 0 or good == 0:
        raise TrainingError(f"The {where} contains only one class ({good} non-defaulted, {bad} defaulted rows); "
                            "a PD model needs both.")


def _dates(frame: pd.DataFrame, rows: np.ndarray, time_col: str) -> tuple[str, str]:
    values = pd.to_datetime(frame[time_col].iloc[rows])
    return values.min().date().isoformat(), values.max().date().isoformat()


def train_and_evaluate(
    frame: pd.DataFrame,
    label: str,
    *,
    algorithm: str,
    time_col: str | None = None,
    group_col: str | None = None,
    numeric_cols: list[str] | None = None,
    categorical_cols: list[str] | None = None,
    exclude: tuple[str, ...] = (),
    test_size: float = DEFAULT_TEST_SIZE,
    random_state: int = 0,
    calibration: str = "auto",
    current_frame: pd.DataFrame | None = None,
    importance: bool = True,
) -> TrainingResult:
    """Fit on the training part, measure on the test part; returns the fitted model and a JSON-safe dict."""
    if label not in frame:
        raise TrainingError(f"The training frame has no label column {label!r}.")
    frame = frame.reset_index(drop=True)
    y_all = pd.to_numeric(frame[label], errors="coerce")
    if y_all.isna().any() or not set(y_all.unique()) <= {0, 1}:
        raise TrainingError("Labels must be 0 (not defaulted) or 1 (defaulted).")
    y_all = y_all.to_numpy().astype(int)
    if len(frame) < MIN_ROWS:
        raise TrainingError(f"Too little data to train a model: {len(frame)} labelled rows, at least {MIN_ROWS} needed.")
    _check_labels(y_all, "labelled data")
    if min(y_all.sum(), len(y_all) - y_all.sum()) < MIN_PER_CLASS:
        raise TrainingError(f"Too few defaults or non-defaults to train a model: {int(y_all.sum())} defaulted and "
                            f"{int(len(y_all) - y_all.sum())} non-defaulted rows, at least {MIN_PER_CLASS} of each needed.")

    skip = (label, *(c for c in (time_col, group_col) if c), *exclude)
    if numeric_cols is None or categorical_cols is None:
        inferred_numeric, inferred_categorical = infer_feature_types(frame, exclude=skip)
        numeric_cols = inferred_numeric if numeric_cols is None else numeric_cols
        categorical_cols = inferred_categorical if categorical_cols is None else categorical_cols
    train_rows, test_rows = split_rows(frame, label, time_col=time_col, group_col=group_col, test_size=test_size,
                                       random_state=random_state)
    y_train, y_test = y_all[train_rows], y_all[test_rows]
    _check_labels(y_train, "training part")
    _check_labels(y_test, "test part")
    if min(y_train.sum(), len(y_train) - y_train.sum()) < 2:
        raise TrainingError("Too few defaults in the training part to train a model.")
    X_train, X_test = frame.iloc[train_rows], frame.iloc[test_rows]
    # Judge features on the rows the model learns from: a column only filled in recent months is useless.
    numeric_cols, categorical_cols, dropped = usable_features(X_train, numeric_cols, categorical_cols)
    if not numeric_cols and not categorical_cols:
        raise TrainingError("No usable feature: every candidate column is empty or constant.")

    model = build_pipeline(algorithm, numeric_cols, categorical_cols, calibration=calibration,
                           random_state=random_state)
    model.fit(X_train, y_train, groups=X_train[group_col].to_numpy() if group_col else None)

    pd_train = model.predict_pd(X_train)
    pd_test = model.predict_pd(X_test)
    test_metrics = m.discrimination(y_test, pd_test)
    train_metrics = m.discrimination(y_train, pd_train)
    result = {
        "algorithm": algorithm,
        "auc": test_metrics["auc"], "gini": test_metrics["gini"], "ks": test_metrics["ks"],
        "brier": test_metrics["brier"],
        "n_train": len(train_rows), "n_test": len(test_rows),
        "n_bad_train": train_metrics["n_bad"], "n_bad_test": test_metrics["n_bad"],
        "bad_rate_train": train_metrics["bad_rate"], "bad_rate_test": test_metrics["bad_rate"],
        "mean_pd_test": test_metrics["mean_pd"], "auc_train": train_metrics["auc"],
        "validation": "out_of_time" if time_col else "stratified_holdout",
        "test_size": test_size,
        "calibration": m.calibration_table(y_test, pd_test),
        "roc": m.roc_points(y_test, pd_test),
        "features": {"numeric": list(numeric_cols), "categorical": list(categorical_cols), "dropped": dropped},
        "model": model.hyperparameters(),
        "base_log_odds": base_log_odds(model),
        "profile": m.distribution_profile(X_train, numeric_cols=numeric_cols, categorical_cols=categorical_cols,
                                          scores=pd_train),
    }
    if time_col:
        result["train_from"], result["train_to"] = _dates(frame, train_rows, time_col)
        result["test_from"], result["test_to"] = _dates(frame, test_rows, time_col)
    if importance:
        result["feature_importance"] = m.feature_importance(model, X_test, y_test, random_state=random_state)
    if current_frame is not None and len(current_frame):
        result["psi"] = m.stability_report(result["profile"], current_frame, model.predict_pd(current_frame))
    return TrainingResult(model=model, metrics=result, train_rows=train_rows, test_rows=test_rows)
