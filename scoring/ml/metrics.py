"""Model metrics on held-out data: discrimination, calibration, importance and population stability.

* AUC, Gini (= 2·AUC − 1), KS (max distance between the cumulative distributions of goods and bads
  = max(TPR − FPR)), Brier score (mean squared error of the PD).
* Calibration table: predicted-PD deciles with rows, defaults, mean PD and observed default rate.
* Feature importance: permutation importance (drop in AUC when a feature's values are shuffled).
* PSI (population stability index) = Σ (aᵢ − eᵢ)·ln(aᵢ / eᵢ) over bins of the training ("expected")
  distribution, for the score and every feature. Below 0.10 stable, 0.10–0.25 worth a look,
  0.25 and above a significant shift. A *profile* stores the training bins and shares as JSON, so
  PSI against today's portfolio can be computed later without the training data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

PSI_WARNING = 0.10
PSI_ALERT = 0.25
PSI_FLOOR = 1e-4
MISSING_BIN = "__missing__"
OTHER_BIN = "__other__"
MAX_CATEGORY_BINS = 30


def _arrays(y, p) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y).astype(int), np.asarray(p, dtype=float)


def auc(y, p) -> float:
    y, p = _arrays(y, p)
    return float(roc_auc_score(y, p))


def gini(y, p) -> float:
    return 2 * auc(y, p) - 1


def ks(y, p) -> float:
    """Kolmogorov–Smirnov statistic: the largest gap between the bads' and goods' score CDFs."""
    y, p = _arrays(y, p)
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def brier(y, p) -> float:
    y, p = _arrays(y, p)
    return float(brier_score_loss(y, p))


def discrimination(y, p) -> dict:
    """AUC, Gini, KS and Brier plus the sample's size and default rate."""
    y, p = _arrays(y, p)
    value = auc(y, p)
    return {"auc": value, "gini": 2 * value - 1, "ks": ks(y, p), "brier": brier(y, p),
            "n": len(y), "n_bad": int(y.sum()), "bad_rate": float(y.mean()), "mean_pd": float(p.mean())}


def calibration_table(y, p, n_bins: int = 10) -> list[dict]:
    """Rows by predicted-PD decile (equal counts; ties broken by order): n, defaults, mean PD, observed rate."""
    y, p = _arrays(y, p)
    if len(y) == 0:
        return []
    bins = min(n_bins, len(y))
    ranks = pd.Series(p).rank(method="first").to_numpy()
    decile = np.minimum(((ranks - 1) * bins / len(p)).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": decile, "y": y, "p": p})
    grouped = frame.groupby("bin").agg(n=("y", "size"), n_bad=("y", "sum"), mean_pd=("p", "mean"),
                                      observed_rate=("y", "mean"), min_pd=("p", "min"), max_pd=("p", "max"))
    return [{"bin": int(index) + 1, "n": int(row.n), "n_bad": int(row.n_bad), "mean_pd": float(row.mean_pd),
             "observed_rate": float(row.observed_rate), "min_pd": float(row.min_pd), "max_pd": float(row.max_pd)}
            for index, row in grouped.iterrows()]


def roc_points(y, p, max_points: int = 101) -> list[list[float]]:
    """The ROC curve thinned to at most ``max_points`` (fpr, tpr) pairs, for charts."""
    y, p = _arrays(y, p)
    fpr, tpr, _ = roc_curve(y, p)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return [[round(float(a), 4), round(float(b), 4)] for a, b in zip(fpr, tpr, strict=True)]


def feature_importance(model, X: pd.DataFrame, y, *, n_repeats: int = 3, max_rows: int = 5000,
                       random_state: int = 0) -> list[dict]:
    """Permutation importance on held-out rows: mean drop in AUC when one feature is shuffled."""
    y = np.asarray(y).astype(int)
    if len(y) > max_rows:
        rng = np.random.default_rng(random_state)
        rows = np.sort(rng.choice(len(y), max_rows, replace=False))
        X, y = X.iloc[rows], y[rows]
    features = list(model.features)
    result = permutation_importance(model, X[features], y, scoring="roc_auc", n_repeats=n_repeats,
                                    random_state=random_state)
    ranked = sorted(zip(features, result.importances_mean, result.importances_std, strict=True),
                    key=lambda item: -item[1])
    return [{"feature": name, "importance": float(mean), "std": float(std)} for name, mean, std in ranked]


def psi_level(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "unknown"
    if value >= PSI_ALERT:
        return "alert"
    if value >= PSI_WARNING:
        return "warning"
    return "ok"


def _psi(expected_shares: np.ndarray, actual_shares: np.ndarray) -> float:
    e = np.maximum(np.asarray(expected_shares, dtype=float), PSI_FLOOR)
    a = np.maximum(np.asarray(actual_shares, dtype=float), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_profile(values: pd.Series, bins: int) -> dict:
    values = pd.to_numeric(values, errors="coerce").astype(float)
    present = values[np.isfinite(values)]
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])) if len(present) else np.array([])
    profile = {"type": "numeric", "edges": [float(edge) for edge in edges]}
    profile["shares"] = _numeric_shares(profile, values).tolist()
    return profile


def _numeric_shares(profile: dict, values) -> np.ndarray:
    values = pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()
    edges = np.asarray(profile["edges"], dtype=float)
    missing = ~np.isfinite(values)
    index = np.where(missing, len(edges) + 1, np.searchsorted(edges, np.nan_to_num(values), side="right"))
    counts = np.bincount(index, minlength=len(edges) + 2)
    return counts / max(len(values), 1)


def _categorical_profile(values: pd.Series) -> dict:
    text = values.astype(str).where(values.notna(), MISSING_BIN)
    top = text[text != MISSING_BIN].value_counts().index[:MAX_CATEGORY_BINS].tolist()
    profile = {"type": "categorical", "levels": [str(level) for level in top]}
    profile["shares"] = _categorical_shares(profile, values).tolist()
    return profile


def _categorical_shares(profile: dict, values) -> np.ndarray:
    values = pd.Series(values)
    levels = profile["levels"]
    text = values.astype(str)
    position = {level: i for i, level in enumerate(levels)}
    index = text.map(position).fillna(len(levels)).astype(int).to_numpy()  # unseen → "other"
    index[values.isna().to_numpy()] = len(levels) + 1
    counts = np.bincount(index, minlength=len(levels) + 2)
    return counts / max(len(values), 1)


def distribution_profile(frame: pd.DataFrame | None = None, *, numeric_cols=(), categorical_cols=(), scores=None,
                         bins: int = 10) -> dict:
    """JSON-safe bins and shares of each feature (and of the score) on the reference data."""
    profile: dict = {"features": {}}
    for column in numeric_cols:
        profile["features"][column] = _numeric_profile(frame[column], bins)
    for column in categorical_cols:
        profile["features"][column] = _categorical_profile(frame[column])
    if scores is not None:
        profile["score"] = _numeric_profile(pd.Series(np.asarray(scores, dtype=float)), bins)
    return profile


def psi_against_profile(entry: dict, values) -> float:
    """PSI of ``values`` against one stored profile entry (numeric or categorical)."""
    if entry["type"] == "numeric":
        actual = _numeric_shares(entry, values)
    else:
        actual = _categorical_shares(entry, values)
    return _psi(np.asarray(entry["shares"]), actual)


def psi(expected, actual, *, bins: int = 10) -> float:
    """PSI of two numeric samples, with bins at the expected sample's quantiles (missing = own bin)."""
    entry = _numeric_profile(pd.Series(np.asarray(expected, dtype=float)), bins)
    return psi_against_profile(entry, np.asarray(actual, dtype=float))


def psi_categorical(expected, actual) -> float:
    """PSI of two categorical samples over the expected sample's levels (+ other, missing)."""
    entry = _categorical_profile(pd.Series(expected, dtype=object))
    return psi_against_profile(entry, pd.Series(actual, dtype=object))


def stability_report(profile: dict, frame: pd.DataFrame | None = None, scores=None) -> dict:
    """PSI and warning level of the score and of every profiled feature against current data."""
    report: dict = {"features": {}, "warning": PSI_WARNING, "alert": PSI_ALERT}
    if scores is not None and "score" in profile:
        value = psi_against_profile(profile["score"], np.asarray(scores, dtype=float))
        report["score"] = {"psi": value, "level": psi_level(value)}
    if frame is not None:
        for column, entry in profile["features"].items():
            values = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
            value = psi_against_profile(entry, values)
            report["features"][column] = {"psi": value, "level": psi_level(value)}
    return report
