"""Per-customer explanations of a PD: each feature's contribution to the log-odds, and the top reasons.

* **Linear model** (exact): contribution of feature f = slope · Σⱼ coefⱼ · (zⱼ − z̄ⱼ) over the model
  columns j built from f (scaled value, missing indicator, one-hot levels), where z̄ is the training
  mean and ``slope`` the Platt calibration slope. Contributions sum to the calibrated log-odds minus
  the log-odds of the "average" training customer (``base_log_odds``), exactly.
* **Gradient boosting** (perturbation, SHAP-style baseline comparison): contribution of f = slope ·
  (raw(x) − raw(x with f set to its training reference value)), the reference being the median
  (numeric) or most frequent level (categorical). One vectorised prediction per feature over all rows;
  because trees interact, contributions need not add up exactly.

With isotonic calibration the contributions are in raw-model log-odds (the map is monotone, so the
ranking of reasons is unaffected). ``top_reasons`` keeps the features that raise the PD the most.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.ml.pipeline import PDModel

MAX_REASONS = 4


def base_log_odds(model: PDModel) -> float:
    """Calibrated log-odds of the reference customer (linear: training column means)."""
    if model.algorithm == "logistic":
        classifier = model.scorer_.named_steps["classifier"]
        raw = float(classifier.intercept_[0] + classifier.coef_[0] @ model.design_mean_)
    else:
        reference = pd.DataFrame([model.reference_])
        raw = float(model.decision_function(reference)[0])
    slope, intercept = model.platt_ if model.calibration_ != "isotonic" else (1.0, 0.0)
    return slope * raw + intercept


def _linear_contributions(model: PDModel, X: pd.DataFrame) -> np.ndarray:
    coerced = model.scorer_.named_steps["coerce"].transform(X)
    design = np.asarray(model.scorer_.named_steps["preprocess"].transform(coerced), dtype=float)
    coef = model.scorer_.named_steps["classifier"].coef_[0]
    weighted = (design - model.design_mean_) * coef
    position = {column: k for k, column in enumerate(model.features)}
    owner = np.array([position[name] for name in model.design_features_])
    # Sum the design columns of each feature: a (columns × features) 0/1 matrix does it in one product.
    membership = np.zeros((len(owner), len(position)))
    membership[np.arange(len(owner)), owner] = 1.0
    return weighted @ membership


def _perturbation_contributions(model: PDModel, X: pd.DataFrame) -> np.ndarray:
    coerced = model.scorer_.named_steps["coerce"].transform(X)
    rest = model.scorer_[1:]  # preprocess + classifier, on already-coerced columns
    raw = np.asarray(rest.decision_function(coerced), dtype=float)
    out = np.zeros((len(X), len(model.features)))
    for k, column in enumerate(model.features):
        replaced = coerced.copy()
        replaced[column] = model.reference_[column]
        out[:, k] = raw - np.asarray(rest.decision_function(replaced), dtype=float)
    return out


def contributions(model: PDModel, X: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``X`` × model features: each feature's contribution to the log-odds of default."""
    if len(X) == 0:
        return pd.DataFrame(columns=list(model.features), index=X.index, dtype=float)
    if model.algorithm == "logistic":
        values = _linear_contributions(model, X)
    else:
        values = _perturbation_contributions(model, X)
    slope = model.platt_[0] if model.calibration_ != "isotonic" else 1.0
    return pd.DataFrame(values * slope, index=X.index, columns=list(model.features))


def top_reasons(contrib: pd.DataFrame, k: int = MAX_REASONS, *, min_contribution: float = 1e-6) -> pd.Series:
    """Per row, up to ``k`` features that raise the PD the most: ``[{"feature", "contribution"}, …]``."""
    if contrib.empty:
        return pd.Series([[] for _ in range(len(contrib))], index=contrib.index, dtype=object)
    values = contrib.to_numpy(dtype=float)
    k = min(k, values.shape[1])
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(values, order, axis=1)
    names = np.asarray(contrib.columns, dtype=object)[order]
    keep = top > min_contribution
    reasons = [
        [{"feature": name, "contribution": round(float(value), 4)}
         for name, value, ok in zip(row_names, row_values, row_keep, strict=True) if ok]
        for row_names, row_values, row_keep in zip(names, top, keep, strict=True)
    ]
    return pd.Series(reasons, index=contrib.index, dtype=object)
