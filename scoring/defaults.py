"""The default master scale (10 grades with credit policy) and default scorecards, as data.

Loaded once by migration 0002 through :func:`install_defaults` (which takes the model classes, so
the migration can pass its historical models). Score bands are derived from the PD bands with the
scorecards' scale (600 points at odds 50:1, 20 points to double the odds), so a scorecard grade and
a PD grade agree for the same risk.
"""

from __future__ import annotations

import math
from decimal import Decimal

BASE_SCORE = 600
BASE_ODDS = 50
PDO = 20

# code, label, pd_max (upper bound, exclusive), policy
_GRADES = [
    ("A1", "Minimal risk", "0.001", {"pct": "25", "amount": "50000000", "terms": 60, "security": "none",
                                     "review": 24, "auto": True}),
    ("A2", "Very low risk", "0.002", {"pct": "20", "amount": "30000000", "terms": 60, "security": "none",
                                      "review": 24, "auto": True}),
    ("A3", "Low risk", "0.004", {"pct": "15", "amount": "20000000", "terms": 45, "security": "none",
                                 "review": 12, "auto": True}),
    ("B1", "Moderate risk", "0.0075", {"pct": "12", "amount": "10000000", "terms": 45, "security": "none",
                                       "review": 12, "auto": True}),
    ("B2", "Average risk", "0.0125", {"pct": "10", "amount": "5000000", "terms": 30, "security": "none",
                                      "review": 12, "auto": False}),
    ("B3", "Acceptable risk", "0.025", {"pct": "7.5", "amount": "2000000", "terms": 30,
                                        "security": "guarantee_or_insurance", "review": 12, "auto": False}),
    ("C1", "Elevated risk", "0.05", {"pct": "5", "amount": "1000000", "terms": 30,
                                     "security": "guarantee_or_insurance", "review": 6, "auto": False}),
    ("C2", "High risk", "0.10", {"pct": "2.5", "amount": "500000", "terms": 15, "security": "guarantee",
                                 "review": 6, "auto": False}),
    ("D", "Very high risk", "0.20", {"pct": "1", "amount": "100000", "terms": 0, "security": "letter_of_credit",
                                     "review": 3, "auto": False}),
    ("E", "Default or near default", "1", {"pct": "0", "amount": "0", "terms": 0, "security": "prepayment",
                                           "review": 3, "auto": False}),
]


# Chinese labels of the default grades (shown when the interface language is Simplified Chinese).
GRADE_LABELS_ZH = {
    "A1": "极低风险", "A2": "很低风险", "A3": "低风险", "B1": "较低风险", "B2": "中等风险",
    "B3": "可接受风险", "C1": "偏高风险", "C2": "高风险", "D": "很高风险", "E": "违约或接近违约",
}
SCALE_NAME = "Default master scale"
SCALE_NAME_ZH = "默认主标尺"


def score_for_pd(pd_value: float, *, base_score: float = BASE_SCORE, base_odds: float = BASE_ODDS,
                 pdo: float = PDO) -> float:
    odds = (1 - pd_value) / pd_value
    return base_score + pdo * math.log2(odds / base_odds)


def default_grades() -> list[dict]:
    """The 10 grades A1…E: score bands (rounded to whole points) derived from the PD bands."""
    grades = []
    pd_min = Decimal("0")
    previous_min_score = None
    for rank, (code, label, pd_max, policy) in enumerate(_GRADES, start=1):
        pd_max_dec = Decimal(pd_max)
        is_worst = rank == len(_GRADES)
        min_score = None if is_worst else Decimal(round(score_for_pd(float(pd_max_dec))))
        grades.append({
            "code": code, "rank": rank, "label": label, "label_zh": GRADE_LABELS_ZH.get(code, ""),
            "min_score": min_score, "max_score": previous_min_score,
            "pd_min": pd_min, "pd_max": pd_max_dec,
            "max_limit_pct_revenue": Decimal(policy["pct"]), "max_limit_amount": Decimal(policy["amount"]),
            "standard_terms_days": policy["terms"], "required_security": policy["security"],
            "review_months": policy["review"], "auto_approve": policy["auto"],
        })
        pd_min = pd_max_dec
        previous_min_score = min_score
    return grades


def _bins(*rows) -> list[dict]:
    return [{"lower": lower, "upper": upper, "points": points} for lower, upper, points in rows]


N = None  # an open bound

SMALL_CARD = {
    "name": "Small customers — payment behaviour",
    "name_zh": "小型客户——付款行为",
    "segment": "small",
    "description": "Short card for small customers: payment behaviour and length of the relationship only.",
    "factors": [
        ("dbt_12m", "Days beyond terms, 12 months", _bins((N, 1, 120), (1, 5, 110), (5, 15, 90), (15, 30, 70),
                                                           (30, 60, 50), (60, N, 30)), 85),
        ("max_dpd", "Maximum days past due", _bins((N, 1, 110), (1, 15, 100), (15, 30, 85), (30, 60, 65),
                                                    (60, 90, 45), (90, N, 20)), 90),
        ("overdue_ratio", "Overdue share of open receivables", _bins((N, 0.05, 100), (0.05, 0.15, 90),
                                                                      (0.15, 0.3, 75), (0.3, 0.5, 60),
                                                                      (0.5, N, 40)), 90),
        ("payment_trend", "Payment trend (recent vs. 12-month days beyond terms)",
         _bins((N, -5, 95), (-5, 5, 90), (5, 15, 70), (15, N, 50)), 85),
        ("share_90_plus", "Share of receivables 90+ days overdue", _bins((N, 0.01, 95), (0.01, 0.1, 80),
                                                                          (0.1, 0.25, 60), (0.25, N, 35)), 95),
        ("relationship_years", "Years of relationship", _bins((N, 1, 65), (1, 3, 80), (3, 7, 90), (7, N, 95)),
         75),
        ("written_off_12m", "Amount written off, 12 months", _bins((N, 0.01, 95), (0.01, N, 30)), 95),
    ],
}

FULL_CARD = {
    "name": "Medium and large customers — full",
    "name_zh": "中大型客户——完整评分卡",
    "segment": "medium_large",
    "description": "Full card: payment behaviour, financial statements (ratios, Altman Z″) and bureau data.",
    "factors": [
        ("dbt_12m", "Days beyond terms, 12 months", _bins((N, 1, 80), (1, 5, 74), (5, 15, 64), (15, 30, 50),
                                                           (30, 60, 36), (60, N, 20)), 60),
        ("max_dpd", "Maximum days past due", _bins((N, 1, 70), (1, 15, 66), (15, 30, 58), (30, 60, 46),
                                                    (60, 90, 32), (90, N, 14)), 60),
        ("overdue_ratio", "Overdue share of open receivables", _bins((N, 0.05, 62), (0.05, 0.15, 58),
                                                                      (0.15, 0.3, 50), (0.3, 0.5, 40),
                                                                      (0.5, N, 26)), 56),
        ("z_double_prime", "Altman Z″-score", _bins((N, 1.1, 28), (1.1, 2.6, 52), (2.6, 4, 64), (4, N, 70)), 48),
        ("current_ratio", "Current ratio", _bins((N, 0.8, 34), (0.8, 1.0, 44), (1.0, 1.5, 56), (1.5, 2.5, 63),
                                                  (2.5, N, 64)), 50),
        ("debt_to_equity", "Debt to equity", _bins((N, 0, 14), (0, 0.5, 66), (0.5, 1, 62), (1, 2, 54),
                                                    (2, 4, 42), (4, N, 28)), 48),
        ("interest_coverage", "Interest coverage", _bins((N, 1, 24), (1, 3, 44), (3, 8, 58), (8, N, 66)), 52),
        ("net_margin", "Net margin", _bins((N, 0, 30), (0, 0.03, 50), (0.03, 0.08, 60), (0.08, N, 66)), 50),
        ("bureau_pd", "Bureau probability of default", _bins((N, 0.005, 72), (0.005, 0.01, 66), (0.01, 0.03, 56),
                                                              (0.03, 0.08, 42), (0.08, N, 22)), 54),
        ("bureau_legal_events", "Legal events in the bureau report", _bins((N, 1, 56), (1, 3, 36), (3, N, 12)),
         52),
        ("revenue", "Annual revenue", _bins((N, 10_000_000, 44), (10_000_000, 100_000_000, 52),
                                            (100_000_000, 1_000_000_000, 58), (1_000_000_000, N, 60)), 46),
    ],
}



def _shifted(card: dict, points: int) -> dict:
    """Move every bin and missing value of every factor by ``points`` (to centre the score distribution)."""
    factors = [(feature, label, [{**b, "points": b["points"] + points} for b in bins], missing + points)
               for feature, label, bins, missing in card["factors"]]
    return {**card, "factors": factors}


# Centred on the demo portfolio: the median customer lands around B1, the top fifth in the A grades.
SMALL_CARD = _shifted(SMALL_CARD, -5)
FULL_CARD = _shifted(FULL_CARD, -3)
DEFAULT_SCORECARDS = [SMALL_CARD, FULL_CARD]


def _has_field(model, name: str) -> bool:
    return any(field.name == name for field in model._meta.get_fields())


def fill_chinese_names(*, MasterScale, Grade, Scorecard) -> None:
    """Give the shipped defaults (still under their English names) their Chinese names, if blank."""
    MasterScale.objects.filter(name=SCALE_NAME, name_zh="").update(name_zh=SCALE_NAME_ZH)
    for english, chinese in {g[1]: GRADE_LABELS_ZH[g[0]] for g in _GRADES}.items():
        Grade.objects.filter(label=english, label_zh="").update(label_zh=chinese)
    for card in DEFAULT_SCORECARDS:
        Scorecard.objects.filter(name=card["name"], name_zh="").update(name_zh=card["name_zh"])


def install_defaults(*, MasterScale, Grade, Scorecard, ScorecardFactor) -> None:
    """Create master scale v1 (active) and the default scorecards (active), unless any already exist.

    The Chinese names are set when the models have them (migration 0002's historical models do not:
    migration 0003 fills them in).
    """
    chinese = _has_field(MasterScale, "name_zh")
    if not MasterScale.objects.exists():
        scale = MasterScale.objects.create(version=1, name=SCALE_NAME, active=True,
                                           description="Ten grades A1…E with score and PD bands and credit policy.",
                                           **({"name_zh": SCALE_NAME_ZH} if chinese else {}))
        Grade.objects.bulk_create([
            Grade(scale=scale, **{k: v for k, v in grade.items() if chinese or k != "label_zh"})
            for grade in default_grades()
        ])
    if not Scorecard.objects.exists():
        for card in DEFAULT_SCORECARDS:
            scorecard = Scorecard.objects.create(
                name=card["name"], segment=card["segment"], version=1, status="active",
                base_score=BASE_SCORE, base_odds=BASE_ODDS, pdo=PDO, description=card["description"],
                **({"name_zh": card["name_zh"]} if chinese else {}),
            )
            ScorecardFactor.objects.bulk_create([
                ScorecardFactor(scorecard=scorecard, feature=feature, label=label, order=order, bins=bins,
                                missing_points=Decimal(missing))
                for order, (feature, label, bins, missing) in enumerate(card["factors"], start=1)
            ])
