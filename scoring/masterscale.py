"""Mapping scores and PDs to master-scale grades, vectorised (numpy), and the worse-of-two rule.

A master scale is compiled once per run into :class:`GradeBands` (plain arrays), so grading
100,000 customers is two ``numpy.searchsorted`` calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GradeBands:
    """Grades ordered best (rank 1) to worst, with their lower score bounds and upper PD bounds."""

    scale_id: int | None
    codes: tuple[str, ...]
    ranks: tuple[int, ...]
    min_scores: tuple[float, ...]  # lower bound of each grade's score band (−inf for the worst)
    pd_maxes: tuple[float, ...]  # upper bound of each grade's PD band (1.0 for the worst)
    pd_mins: tuple[float, ...]

    @property
    def worst(self) -> str:
        return self.codes[-1]

    def rank_of(self, codes) -> np.ndarray:
        """Ranks for an array of grade codes ('' or unknown → 0, i.e. no grade)."""
        lookup = dict(zip(self.codes, self.ranks, strict=True))
        return np.array([lookup.get(code, 0) for code in codes], dtype=np.int16) if len(codes) else np.zeros(0, np.int16)

    def pd_band(self, code: str) -> tuple[float, float]:
        index = self.codes.index(code)
        return self.pd_mins[index], self.pd_maxes[index]


def bands_from_grades(grades, *, scale_id: int | None = None) -> GradeBands:
    """Compile grade rows (objects or dicts with code, rank, min_score, pd_min, pd_max)."""

    def get(grade, name):
        return grade[name] if isinstance(grade, dict) else getattr(grade, name)

    ordered = sorted(grades, key=lambda g: get(g, "rank"))
    if not ordered:
        raise ValueError("a master scale needs at least one grade")
    mins = []
    for index, grade in enumerate(ordered):
        value = get(grade, "min_score")
        mins.append(-math.inf if value is None or index == len(ordered) - 1 else float(value))
    return GradeBands(
        scale_id=scale_id,
        codes=tuple(get(g, "code") for g in ordered),
        ranks=tuple(int(get(g, "rank")) for g in ordered),
        min_scores=tuple(mins),
        pd_maxes=tuple(1.0 if i == len(ordered) - 1 else float(get(g, "pd_max")) for i, g in enumerate(ordered)),
        pd_mins=tuple(float(get(g, "pd_min")) for g in ordered),
    )


def grade_scores(scores, bands: GradeBands) -> np.ndarray:
    """Grade code per score: the best grade whose ``min_score ≤ score``. NaN → ''."""
    values = np.asarray(scores, dtype=float)
    # min_scores descend from best to worst; search on the ascending reversed array.
    ascending = np.array(bands.min_scores[::-1])
    position = np.searchsorted(ascending, values, side="right") - 1  # index into reversed array
    position = np.clip(position, 0, len(ascending) - 1)
    codes = np.array(bands.codes[::-1], dtype=object)[position]
    codes[np.isnan(values)] = ""
    return codes


def grade_pds(pds, bands: GradeBands) -> np.ndarray:
    """Grade code per PD: the first grade (best to worst) with ``pd < pd_max``. NaN → ''."""
    values = np.asarray(pds, dtype=float)
    uppers = np.array(bands.pd_maxes)
    position = np.searchsorted(uppers, values, side="right")
    position = np.clip(position, 0, len(uppers) - 1)
    codes = np.array(bands.codes, dtype=object)[position]
    codes[np.isnan(values)] = ""
    return codes


def worse_of(first, second, bands: GradeBands) -> np.ndarray:
    """Element-wise the worse (higher rank) of two grade arrays; an empty grade yields to the other."""
    first = np.asarray(first, dtype=object)
    second = np.asarray(second, dtype=object)
    rank_first = bands.rank_of(first)
    rank_second = bands.rank_of(second)
    return np.where(rank_second > rank_first, second, first)


def clip_pd_to_grade(pds, codes, bands: GradeBands) -> np.ndarray:
    """Move each PD into its grade's PD band (used when an override sets the grade)."""
    values = np.asarray(pds, dtype=float).copy()
    lows = pd.Series(dict(zip(bands.codes, bands.pd_mins, strict=True)))
    highs = pd.Series(dict(zip(bands.codes, bands.pd_maxes, strict=True)))
    codes = pd.Series(codes, dtype=object)
    low = codes.map(lows).to_numpy(dtype=float)
    high = codes.map(highs).to_numpy(dtype=float)
    # the upper bound is exclusive: stay a hair below it
    high = np.where(high >= 1.0, 1.0, np.nextafter(high, 0))
    missing = np.isnan(values)
    values[missing] = np.sqrt(np.maximum(low[missing], 1e-6) * high[missing])
    return np.where(np.isnan(low), values, np.clip(values, low, high))
