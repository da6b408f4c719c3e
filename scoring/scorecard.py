"""Applying rule-based scorecards to a feature frame, vectorised, with reason codes.

The scale: a scorecard's total points are its score, and
``odds(good:bad) = base_odds · 2^((score − base_score) / pdo)``, ``PD = 1 / (1 + odds)``.
So one point is worth ``ln 2 / pdo`` of log-odds; that is how scorecard reasons (points below a
factor's maximum) and model reasons (contribution to the log-odds) are ranked on one axis.

Reason codes: per customer the factors whose points fall below that factor's maximum, largest
shortfall first, at most four (adverse-action practice: more is not helpful). The code is
``<feature>_high`` / ``<feature>_low`` (the value lies above / below the best-scoring bin),
``<feature>_missing`` or ``<feature>_unfavourable`` (a category). A customer at the maximum of
every factor gets one reason, ``<feature>_favourable`` (the factor earning the most points), so every
score is explained.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_REASONS = 4
LN2 = math.log(2.0)


# --- the score scale ----------------------------------------------------------------------------


def score_to_pd(score, *, base_score: float, base_odds: float, pdo: float):
    """PD for a score (scalar or array): PD = 1 / (1 + base_odds · 2^((score − base_score)/pdo))."""
    score = np.asarray(score, dtype=float)
    log_odds = math.log(float(base_odds)) + (score - float(base_score)) * LN2 / float(pdo)
    return 1.0 / (1.0 + np.exp(np.clip(log_odds, -700, 700)))


def pd_to_score(pd_value, *, base_score: float, base_odds: float, pdo: float):
    """The inverse of :func:`score_to_pd`."""
    p = np.clip(np.asarray(pd_value, dtype=float), 1e-12, 1 - 1e-12)
    odds = (1 - p) / p
    return float(base_score) + float(pdo) * np.log2(odds / float(base_odds))


# --- compiled scorecards ------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledFactor:
    feature: str
    label: str
    kind: str  # "numeric" | "categorical"
    lowers: tuple[float, ...] = ()
    uppers: tuple[float, ...] = ()
    bin_points: tuple[float, ...] = ()
    categories: dict = field(default_factory=dict)
    missing_points: float = 0.0

    @property
    def max_points(self) -> float:
        candidates = [*self.bin_points, *self.categories.values(), self.missing_points]
        return max(candidates)

    @property
    def best_bin(self) -> int:
        return int(np.argmax(self.bin_points)) if self.bin_points else -1


@dataclass(frozen=True)
class CompiledScorecard:
    id: int | None
    name: str
    segment: str
    segment_rule: dict
    base_score: float
    base_odds: float
    pdo: float
    factors: tuple[CompiledFactor, ...]

    @property
    def features(self) -> list[str]:
        return [f.feature for f in self.factors]

    @property
    def max_score(self) -> float:
        return sum(f.max_points for f in self.factors)


def _finite(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number")
    return number


def compile_factor(*, feature: str, bins, missing_points=0, label: str = "") -> CompiledFactor:
    """Validate and compile one factor's bins. Raises ValueError with a readable message."""
    missing = _finite(missing_points or 0, "points when missing")
    if isinstance(bins, dict):
        categories = {str(k): _finite(v, "points") for k, v in bins.items()}
        if not categories:
            raise ValueError("a categorical factor needs at least one category")
        return CompiledFactor(feature=feature, label=label, kind="categorical", categories=categories,
                              missing_points=missing)
    if not isinstance(bins, list) or not bins:
        raise ValueError("bins must be a non-empty list of {lower, upper, points} or a {category: points} map")
    rows = []
    for item in bins:
        if not isinstance(item, dict) or "points" not in item:
            raise ValueError("every bin needs lower, upper and points")
        lower = -math.inf if item.get("lower") is None else _finite(item["lower"], "lower bound")
        upper = math.inf if item.get("upper") is None else _finite(item["upper"], "upper bound")
        if not lower < upper:
            raise ValueError(f"bin lower bound {lower} must be below its upper bound {upper}")
        rows.append((lower, upper, _finite(item["points"], "points")))
    rows.sort()
    for (_, previous_upper, _), (lower, _, _) in itertools.pairwise(rows):
        if lower < previous_upper:
            raise ValueError("bins overlap")
    return CompiledFactor(feature=feature, label=label, kind="numeric",
                          lowers=tuple(r[0] for r in rows), uppers=tuple(r[1] for r in rows),
                          bin_points=tuple(r[2] for r in rows), missing_points=missing)


def compile_scorecard(scorecard) -> CompiledScorecard:
    """Compile a Scorecard model instance (factors prefetched or not) into plain data."""
    factors = tuple(
        compile_factor(feature=f.feature, bins=f.bins, missing_points=f.missing_points, label=f.label)
        for f in sorted(scorecard.factors.all(), key=lambda f: (f.order, f.id or 0))
    )
    return CompiledScorecard(
        id=scorecard.pk, name=scorecard.name, segment=scorecard.segment,
        segment_rule=dict(scorecard.segment_rule or {}),
        base_score=float(scorecard.base_score), base_odds=float(scorecard.base_odds), pdo=float(scorecard.pdo),
        factors=factors,
    )


# --- applying -------------------------------------------------------------------------------------


@dataclass
class ScorecardResult:
    points: pd.DataFrame  # one column per factor feature
    total: pd.Series
    pd: pd.Series
    reasons: list[list[dict]]


def _factor_points(factor: CompiledFactor, column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Points per row and the 'direction' code per row ('', 'high', 'low', 'missing', 'unfavourable')."""
    n = len(column)
    if factor.kind == "categorical":
        values = column.astype(object)
        missing = values.isna().to_numpy()
        mapped = values.astype(str).map(factor.categories).to_numpy(dtype=float)
        points = np.where(missing | np.isnan(mapped), factor.missing_points, mapped)
        direction = np.where(missing, "missing", "unfavourable").astype(object)
        return points, direction
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    lowers = np.array(factor.lowers)
    uppers = np.array(factor.uppers)
    index = np.searchsorted(lowers, values, side="right") - 1  # last bin whose lower ≤ value
    valid = (index >= 0) & ~np.isnan(values)
    safe = np.clip(index, 0, len(lowers) - 1)
    inside = valid & (values < uppers[safe])
    points = np.where(inside, np.array(factor.bin_points)[safe], factor.missing_points)
    best = factor.best_bin
    direction = np.full(n, "missing", dtype=object)
    direction[inside & (safe > best)] = "high"
    direction[inside & (safe < best)] = "low"
    direction[inside & (safe == best)] = ""
    # a value outside every bin is treated like a missing one
    return points, direction


def apply_scorecard(card: CompiledScorecard, features: pd.DataFrame, *, max_reasons: int = MAX_REASONS
                    ) -> ScorecardResult:
    """Score every row of ``features`` (indexed by customer id) with ``card``."""
    index = features.index
    n = len(index)
    point_columns: dict[str, np.ndarray] = {}
    directions: dict[str, np.ndarray] = {}
    for factor in card.factors:
        column = features[factor.feature] if factor.feature in features.columns else pd.Series(np.nan, index=index)
        point_columns[factor.feature], directions[factor.feature] = _factor_points(factor, column)
    points = pd.DataFrame(point_columns, index=index)
    total = points.sum(axis=1) if card.factors else pd.Series(0.0, index=index)
    pd_values = pd.Series(score_to_pd(total.to_numpy(), base_score=card.base_score, base_odds=card.base_odds,
                                      pdo=card.pdo), index=index)
    if not card.factors or n == 0:
        return ScorecardResult(points=points, total=total, pd=pd_values, reasons=[[] for _ in range(n)])

    maxima = np.array([f.max_points for f in card.factors])
    point_matrix = points.to_numpy()
    shortfall = maxima[None, :] - point_matrix
    impact = shortfall * LN2 / card.pdo  # in log-odds
    order = np.argsort(-shortfall, axis=1, kind="stable")[:, :max_reasons]
    keys = card.features
    direction_matrix = np.column_stack([directions[k] for k in keys])
    reasons = _reason_lists(order, shortfall, impact, direction_matrix, keys, features, source="scorecard")
    if max_reasons:
        _add_favourable_reasons(reasons, point_matrix, keys, features)
    return ScorecardResult(points=points, total=total, pd=pd_values, reasons=reasons)


def json_values(column: pd.Series | None, n: int) -> list:
    """A column as JSON-safe Python values (floats rounded to 6 places, NaN/inf → None), vectorised."""
    if column is None:
        return [None] * n
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        array = column.to_numpy(dtype=float)
        values = np.round(array, 6).tolist()
        for position in np.flatnonzero(~np.isfinite(array)).tolist():
            values[position] = None
        return values
    return [_json_value(v) for v in column.to_numpy(dtype=object)]


def _reason_lists(order, shortfall, impact, direction_matrix, keys, features, *, source: str) -> list[list[dict]]:
    """Turn the per-row top-k factor indices into lists of reason dicts (only positive shortfalls)."""
    n = order.shape[0]
    rows = np.arange(n)[:, None]
    top_short = shortfall[rows, order].tolist()
    top_impact = np.round(impact[rows, order], 4).tolist()
    top_dir = direction_matrix[rows, order].tolist()
    top_key = order.tolist()
    values = [json_values(features[k] if k in features.columns else None, n) for k in keys]
    out: list[list[dict]] = []
    for r in range(n):
        reasons = []
        for j, short in enumerate(top_short[r]):
            if short <= 0:
                break
            position = top_key[r][j]
            key = keys[position]
            reasons.append({"code": f"{key}_{top_dir[r][j] or 'unfavourable'}", "feature": key, "source": source,
                            "impact": top_impact[r][j], "value": values[position][r]})
        out.append(reasons)
    return out


def _add_favourable_reasons(reasons: list[list[dict]], point_matrix: np.ndarray, keys: list[str],
                            features: pd.DataFrame) -> None:
    """A customer at the maximum of every factor still gets one reason: the factor earning the most points."""
    empty = [r for r, items in enumerate(reasons) if not items]
    if not empty:
        return
    best = point_matrix[empty].argmax(axis=1)
    for r, position in zip(empty, best.tolist(), strict=True):
        key = keys[position]
        value = features[key].iloc[r] if key in features.columns else None
        reasons[r] = [{"code": f"{key}_favourable", "feature": key, "source": "scorecard", "impact": 0.0,
                       "value": _json_value(value)}]


def _json_value(value):
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else round(float(value), 6)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    return value if isinstance(value, int | bool | str) else str(value)


def json_object_texts(frame: pd.DataFrame) -> list[str]:
    """Each row of ``frame`` as a JSON object text (floats to 6 decimals, NaN/inf → null).

    pandas' C encoder writes the whole frame at once: no per-row dict or json.dumps.
    """
    n = len(frame)
    if not n or not len(frame.columns):
        return ["{}"] * n
    text = frame.to_json(orient="records", lines=True, double_precision=6, force_ascii=False)
    rows = text.split("\n")
    return rows[:n]


def merge_reasons(first: list[dict], second: list[dict], *, limit: int = MAX_REASONS) -> list[dict]:
    """Combine scorecard and model reasons: largest impact first, one reason per feature, at most ``limit``."""
    if not second:
        return first[:limit]
    if not first:
        return second[:limit]
    seen: set[str] = set()
    merged = []
    for reason in sorted([*first, *second], key=lambda r: -r["impact"]):
        if reason["feature"] in seen:
            continue
        seen.add(reason["feature"])
        merged.append(reason)
        if len(merged) == limit:
            break
    return merged


# --- segments -------------------------------------------------------------------------------------

_SEGMENT_RULES = {
    "small": {"size__in": ["small"]},
    "medium_large": {"size__in": ["medium", "large"]},
    "all": {},
}
RULE_FIELDS = ("size", "industry", "region", "country", "status")


def segment_rule(card: CompiledScorecard) -> dict:
    if card.segment == "custom":
        return card.segment_rule
    return _SEGMENT_RULES.get(card.segment, {})


def validate_segment_rule(rule) -> dict:
    """A custom rule: {"<field>__in": [values], "<field>": value}; fields among RULE_FIELDS."""
    if not isinstance(rule, dict):
        raise ValueError("the segment rule must be an object such as {\"size__in\": [\"small\"]}")
    for key, value in rule.items():
        field_name, _, lookup = key.partition("__")
        if field_name not in RULE_FIELDS or lookup not in ("", "in"):
            raise ValueError(f"unknown segment rule key {key!r}")
        if lookup == "in" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError(f"{key} needs a list of values")
    return rule


def rule_mask(rule: dict, firmographics: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(firmographics), dtype=bool)
    for key, value in rule.items():
        field_name, _, lookup = key.partition("__")
        column = firmographics[field_name].astype(object) if field_name in firmographics.columns else \
            pd.Series([None] * len(firmographics), index=firmographics.index)
        allowed = value if lookup == "in" else [value]
        mask &= column.isin(allowed).to_numpy()
    return mask


def assign_scorecards(cards: list[CompiledScorecard], firmographics: pd.DataFrame) -> pd.Series:
    """Scorecard id per customer: the first matching specific segment card, else the 'all' card.

    Order: small, medium_large, custom (by id), then all. Customers no card matches get <NA>.
    """
    priority = {"small": 0, "medium_large": 1, "custom": 2, "all": 3}
    chosen = pd.Series(pd.NA, index=firmographics.index, dtype="Int64")
    for card in sorted(cards, key=lambda c: (priority.get(c.segment, 9), c.id or 0)):
        mask = rule_mask(segment_rule(card), firmographics) & chosen.isna().to_numpy()
        chosen[mask] = card.id
    return chosen
