"""Financial analysis derived from statements (never typed in): ratios and Altman Z-scores with zones.

Altman variables, all over total assets (TA) except X4:
  X1 = working capital (current assets − current liabilities) / TA
  X2 = retained earnings / TA
  X3 = EBIT / TA
  X4 = equity / total liabilities. The original Z uses the *market* value of equity; we have no
       market prices, so Z uses book equity as the proxy (as Z′ and Z″ do by definition).
  X5 = revenue / TA
Scores and zones (distress below the low cut-off, safe above the high one, grey between):
  Z   public manufacturers      1.2 X1 + 1.4 X2 + 3.3 X3 + 0.6 X4 + 1.0 X5          1.81 / 2.99
  Z′  private manufacturers     0.717 X1 + 0.847 X2 + 3.107 X3 + 0.420 X4 + 0.998 X5  1.23 / 2.90
  Z″  non-manufacturers         6.56 X1 + 3.26 X2 + 6.72 X3 + 1.05 X4                 1.10 / 2.60
We use Z″ *without* the +3.25 emerging-market constant, because its zones (1.1 / 2.6) are the ones
that go with the four-variable score; the EM variant (Z″ + 3.25, zones 4.15 / 5.85) is given as
``z_em`` for information only. Any ratio whose denominator is zero or missing is NaN (None in dicts);
debt/equity is NaN for zero or negative equity (``negative_equity`` flags the latter).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from customers.models import CreditReport, FinancialStatement

Z_MODELS = {
    "z_score": {"weights": (1.2, 1.4, 3.3, 0.6, 1.0), "constant": 0.0, "zones": (1.81, 2.99)},
    "z_prime": {"weights": (0.717, 0.847, 3.107, 0.420, 0.998), "constant": 0.0, "zones": (1.23, 2.90)},
    "z_double_prime": {"weights": (6.56, 3.26, 6.72, 1.05, 0.0), "constant": 0.0, "zones": (1.10, 2.60)},
    "z_em": {"weights": (6.56, 3.26, 6.72, 1.05, 0.0), "constant": 3.25, "zones": (4.15, 5.85)},
}
ZONE_SAFE, ZONE_GREY, ZONE_DISTRESS = "safe", "grey", "distress"

STATEMENT_COLUMNS = ["period_end", "period_type", "audited", "currency", "revenue", "cogs", "ebit", "net_income",
                     "interest_expense", "total_assets", "current_assets", "cash", "inventory", "receivables",
                     "total_liabilities", "current_liabilities", "retained_earnings", "equity",
                     "operating_cash_flow"]
_NUMERIC = STATEMENT_COLUMNS[4:]

RATIO_COLUMNS = ["current_ratio", "quick_ratio", "cash_ratio", "debt_to_equity", "leverage", "interest_coverage",
                 "gross_margin", "net_margin", "ebit_margin", "roa", "roe", "asset_turnover", "ocf_ratio",
                 "working_capital"]
Z_COLUMNS = ["x1", "x2", "x3", "x4", "x5", "z_score", "z_score_zone", "z_prime", "z_prime_zone",
             "z_double_prime", "z_double_prime_zone", "z_em", "z_em_zone", "negative_equity"]


def _div(num: pd.Series, den: pd.Series) -> pd.Series:
    num = pd.to_numeric(num, errors="coerce").astype("float64")
    den = pd.to_numeric(den, errors="coerce").astype("float64")
    out = num / den.where(den != 0)
    return out.replace([np.inf, -np.inf], np.nan)


def zone(score: float | None, low: float, high: float) -> str | None:
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    if score < low:
        return ZONE_DISTRESS
    if score > high:
        return ZONE_SAFE
    return ZONE_GREY


def analyse_frame(statements: pd.DataFrame) -> pd.DataFrame:
    """Ratios and Z-scores for a frame of statement items (one row per statement), vectorised."""
    s = statements
    num = {c: pd.to_numeric(s[c], errors="coerce").astype("float64") if c in s else pd.Series(np.nan, index=s.index)
           for c in _NUMERIC}
    ta, ca, cl, tl = num["total_assets"], num["current_assets"], num["current_liabilities"], num["total_liabilities"]
    equity, revenue = num["equity"], num["revenue"]
    out = pd.DataFrame(index=s.index)
    out["current_ratio"] = _div(ca, cl)
    out["quick_ratio"] = _div(ca - num["inventory"], cl)
    out["cash_ratio"] = _div(num["cash"], cl)
    out["debt_to_equity"] = _div(tl, equity.where(equity > 0))
    out["leverage"] = _div(tl, ta)
    out["interest_coverage"] = _div(num["ebit"], num["interest_expense"])
    out["gross_margin"] = _div(revenue - num["cogs"], revenue)
    out["net_margin"] = _div(num["net_income"], revenue)
    out["ebit_margin"] = _div(num["ebit"], revenue)
    out["roa"] = _div(num["net_income"], ta)
    out["roe"] = _div(num["net_income"], equity.where(equity > 0))
    out["asset_turnover"] = _div(revenue, ta)
    out["ocf_ratio"] = _div(num["operating_cash_flow"], cl)
    out["working_capital"] = ca - cl

    x = {
        "x1": _div(ca - cl, ta),
        "x2": _div(num["retained_earnings"], ta),
        "x3": _div(num["ebit"], ta),
        "x4": _div(equity, tl),
        "x5": _div(revenue, ta),
    }
    for name, series in x.items():
        out[name] = series
    for name, model in Z_MODELS.items():
        score = pd.Series(model["constant"], index=s.index, dtype="float64")
        for weight, key in zip(model["weights"], ("x1", "x2", "x3", "x4", "x5"), strict=True):
            if weight:
                score = score + weight * x[key]
        out[name] = score
        low, high = model["zones"]
        out[f"{name}_zone"] = np.select([score < low, score > high, score.notna()],
                                        [ZONE_DISTRESS, ZONE_SAFE, ZONE_GREY], default=None)
        out[f"{name}_zone"] = out[f"{name}_zone"].where(score.notna(), None)
    out["negative_equity"] = (equity < 0).where(equity.notna(), False).astype(bool)
    return out[RATIO_COLUMNS + Z_COLUMNS]


def _plain(value):
    if value is None:
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(value) else float(value)
    return value


def _statement_row(statement: FinancialStatement) -> dict:
    return {c: getattr(statement, c) for c in STATEMENT_COLUMNS}


def statement_analysis(statement: FinancialStatement) -> dict:
    """Ratios and Z-scores (with zones) of one statement; missing or undefined values are None."""
    frame = analyse_frame(pd.DataFrame([_statement_row(statement)]))
    return {key: _plain(value) for key, value in frame.iloc[0].items()}


def statements_trend(*, customer, period_type: str | None = None) -> list[dict]:
    """Every statement of the customer, oldest first, each with its analysis (one query)."""
    qs = FinancialStatement.objects.filter(customer=customer).order_by("period_end", "period_type")
    if period_type:
        qs = qs.filter(period_type=period_type)
    statements = list(qs)
    if not statements:
        return []
    frame = analyse_frame(pd.DataFrame([_statement_row(s) for s in statements]))
    out = []
    for statement, (_, row) in zip(statements, frame.iterrows(), strict=True):
        item = {key: _plain(value) for key, value in row.items()}
        item.update(statement=statement, period_end=statement.period_end, period_type=statement.period_type,
                    audited=statement.audited)
        out.append(item)
    return out


def _scope(qs, customer_ids):
    """Restrict to the customers; a long id list becomes an id range here and an exact filter in pandas."""
    if customer_ids is None:
        return qs, None
    from customers.selectors import _MAX_IN_LIST, _normalise_ids

    ids = _normalise_ids(customer_ids)
    if len(ids) <= _MAX_IN_LIST:
        return qs.filter(customer_id__in=ids), None
    return qs.filter(customer_id__gte=min(ids), customer_id__lte=max(ids)), set(ids)


def _keep(frame: pd.DataFrame, wanted: set | None) -> pd.DataFrame:
    return frame if wanted is None else frame[frame["customer_id"].isin(wanted)]


def financials_frame(*, as_of: dt.date, customer_ids=None, annual_only: bool = False) -> pd.DataFrame:
    """Latest statement with period_end ≤ as_of per customer, with ratios and Z-scores; indexed by customer_id.

    Customers without a statement are absent (callers reindex). Among statements with the same period
    end, annual beats interim.
    """
    qs = FinancialStatement.objects.filter(period_end__lte=as_of)
    if annual_only:
        qs = qs.filter(period_type="annual")
    qs, wanted = _scope(qs, customer_ids)
    rows = list(qs.values("customer_id", "pk", *STATEMENT_COLUMNS))
    columns = ["customer_id", "pk", *STATEMENT_COLUMNS]
    frame = _keep(pd.DataFrame.from_records(rows, columns=columns), wanted)
    if frame.empty:
        empty = pd.DataFrame(columns=["statement_id", *STATEMENT_COLUMNS, "statement_age_days", *RATIO_COLUMNS,
                                      *Z_COLUMNS])
        empty.index = pd.Index([], name="customer_id", dtype="int64")
        return empty
    frame["_annual"] = (frame["period_type"] == "annual").astype(int)
    frame = frame.sort_values(["customer_id", "period_end", "_annual"]).drop_duplicates("customer_id", keep="last")
    frame = frame.drop(columns="_annual").rename(columns={"pk": "statement_id"}).set_index("customer_id")
    frame.index = frame.index.astype("int64")
    analysis = analyse_frame(frame)
    frame["statement_age_days"] = (pd.Timestamp(as_of) - pd.to_datetime(frame["period_end"])).dt.days
    for column in _NUMERIC:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return pd.concat([frame, analysis], axis=1)


# Common agency scale, best first, for notch arithmetic on external ratings (others give NaN).
RATING_SCALE = ["AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-", "B+", "B",
                "B-", "CCC+", "CCC", "CCC-", "CC", "C", "D"]
_RATING_RANK = {r: i for i, r in enumerate(RATING_SCALE)}


def rating_rank(rating: str | None) -> float:
    """Position on RATING_SCALE (0 = AAA, higher = worse), NaN when the rating is not on it."""
    return float(_RATING_RANK.get(str(rating or "").strip().upper(), np.nan))


def credit_report_frame(*, as_of: dt.date, customer_ids=None) -> pd.DataFrame:
    """Latest report (report_date ≤ as_of) per customer, with the previous report of the same provider.

    Columns: report_id, provider, report_date, score, rating, pd, payment_index, legal_events,
    recommended_limit, report_age_days, previous_rating, previous_score, previous_report_date,
    rating_notches_down (positive = downgrade, on RATING_SCALE; NaN if either rating is off-scale).
    """
    qs, wanted = _scope(CreditReport.objects.filter(report_date__lte=as_of), customer_ids)
    fields = ["customer_id", "pk", "provider", "report_date", "score", "rating", "pd", "payment_index",
              "legal_events", "recommended_limit"]
    frame = _keep(pd.DataFrame.from_records(list(qs.values(*fields)), columns=fields), wanted)
    out_columns = ["report_id", "provider", "report_date", "score", "rating", "pd", "payment_index", "legal_events",
                   "recommended_limit", "report_age_days", "previous_rating", "previous_score",
                   "previous_report_date", "rating_notches_down"]
    if frame.empty:
        empty = pd.DataFrame(columns=out_columns)
        empty.index = pd.Index([], name="customer_id", dtype="int64")
        return empty
    for column in ("score", "pd", "payment_index", "recommended_limit", "legal_events"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame = frame.sort_values(["customer_id", "provider", "report_date", "pk"])
    grouped = frame.groupby(["customer_id", "provider"], sort=False)
    frame["previous_rating"] = grouped["rating"].shift(1)
    frame["previous_score"] = grouped["score"].shift(1)
    frame["previous_report_date"] = grouped["report_date"].shift(1)
    latest = frame.sort_values(["customer_id", "report_date", "pk"]).drop_duplicates("customer_id", keep="last")
    latest = latest.rename(columns={"pk": "report_id"}).set_index("customer_id")
    latest.index = latest.index.astype("int64")
    latest["report_age_days"] = (pd.Timestamp(as_of) - pd.to_datetime(latest["report_date"])).dt.days
    latest["rating_notches_down"] = (latest["rating"].map(rating_rank)
                                     - latest["previous_rating"].map(rating_rank))
    return latest[out_columns]

