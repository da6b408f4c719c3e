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


def _scope_sql(column: str, customer_ids, params: dict) -> tuple[str, set | None]:
    """SQL filter for the customers; a long id list becomes an id range here and an exact filter in pandas."""
    from customers.selectors import _MAX_IN_LIST, _customer_filter, _normalise_ids

    if customer_ids is None:
        return "", None
    ids = _normalise_ids(customer_ids)
    return _customer_filter(column, ids, params), (set(ids) if len(ids) > _MAX_IN_LIST else None)


def _keep(frame: pd.DataFrame, wanted: set | None) -> pd.DataFrame:
    return frame if wanted is None else frame[frame["customer_id"].isin(wanted)]


def _decimal_floats(values: pd.Series, model, field_name: str) -> pd.Series:
    """Floats read in SQL, rounded to the field's decimal places as the ORM would (SQLite may hold a
    stored REAL with noise beyond them); on PostgreSQL the rounding changes nothing."""
    floats = pd.to_numeric(values, errors="coerce").astype("float64")
    places = getattr(model._meta.get_field(field_name), "decimal_places", None)
    return floats.round(places) if places is not None else floats


def _fetch(sql: str, params: dict) -> pd.DataFrame:
    from customers.selectors import _fetch_frame

    return _fetch_frame(sql, params)


def _dates(series: pd.Series) -> pd.Series:
    """Date objects (SQLite returns ISO text through a raw cursor); missing → None."""
    return series.map(lambda v: v if v is None or isinstance(v, dt.date) else dt.date.fromisoformat(str(v)))


def _age_days(as_of: dt.date, series: pd.Series) -> pd.Series:
    return (pd.Timestamp(as_of) - pd.to_datetime(series)).dt.days


def financials_frame(*, as_of: dt.date, customer_ids=None, annual_only: bool = False) -> pd.DataFrame:
    """Latest statement with period_end ≤ as_of per customer, with ratios and Z-scores; indexed by customer_id.

    Customers without a statement are absent (callers reindex). Among statements with the same period
    end, annual beats interim. The latest statement is picked in SQL (one window query, amounts read
    as floats), so only one row per customer reaches pandas.
    """
    from customers.selectors import _float

    params: dict = {"as_of": as_of.isoformat()}
    scope, wanted = _scope_sql("s.customer_id", customer_ids, params)
    annual = " AND s.period_type = 'annual'" if annual_only else ""
    amounts = ", ".join(f"{_float(f's.{c}')} AS {c}" for c in _NUMERIC)
    # Only constant fragments and generated placeholder names are interpolated; values are parameters.
    sql = f"""
    SELECT customer_id, statement_id, {", ".join(STATEMENT_COLUMNS)} FROM (
        SELECT s.customer_id AS customer_id, s.id AS statement_id, s.period_end AS period_end,
               s.period_type AS period_type, s.audited AS audited, s.currency AS currency, {amounts},
               ROW_NUMBER() OVER (PARTITION BY s.customer_id ORDER BY s.period_end DESC,
                                  CASE WHEN s.period_type = 'annual' THEN 1 ELSE 0 END DESC, s.id DESC) AS rn
        FROM customers_financialstatement s
        WHERE s.period_end <= %(as_of)s{annual}{scope}
    ) latest
    WHERE rn = 1
    ORDER BY customer_id
    """  # noqa: S608
    frame = _keep(_fetch(sql, params), wanted)
    if frame.empty:
        empty = pd.DataFrame(columns=["statement_id", *STATEMENT_COLUMNS, "statement_age_days", *RATIO_COLUMNS,
                                      *Z_COLUMNS])
        empty.index = pd.Index([], name="customer_id", dtype="int64")
        return empty
    frame = frame.set_index("customer_id")
    frame.index = frame.index.astype("int64")
    frame["period_end"] = _dates(frame["period_end"])
    frame["audited"] = frame["audited"].astype(bool)
    for column in _NUMERIC:
        frame[column] = _decimal_floats(frame[column], FinancialStatement, column)
    analysis = analyse_frame(frame)
    frame["statement_age_days"] = _age_days(as_of, frame["period_end"])
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
    Latest and previous are picked in SQL (window functions), so one row per customer reaches pandas.
    """
    from customers.selectors import _float

    params: dict = {"as_of": as_of.isoformat()}
    scope, wanted = _scope_sql("r.customer_id", customer_ids, params)
    same_provider = "PARTITION BY r.customer_id, r.provider ORDER BY r.report_date, r.id"
    # Only constant fragments and generated placeholder names are interpolated; values are parameters.
    sql = f"""
    SELECT customer_id, report_id, provider, report_date, score, rating, pd, payment_index, legal_events,
           recommended_limit, previous_rating, previous_score, previous_report_date FROM (
        SELECT r.customer_id AS customer_id, r.id AS report_id, r.provider AS provider, r.report_date AS report_date,
               {_float("r.score")} AS score, r.rating AS rating, {_float("r.pd")} AS pd,
               {_float("r.payment_index")} AS payment_index, {_float("r.legal_events")} AS legal_events,
               {_float("r.recommended_limit")} AS recommended_limit,
               LAG(r.rating) OVER ({same_provider}) AS previous_rating,
               {_float(f"LAG(r.score) OVER ({same_provider})")} AS previous_score,
               LAG(r.report_date) OVER ({same_provider}) AS previous_report_date,
               ROW_NUMBER() OVER (PARTITION BY r.customer_id ORDER BY r.report_date DESC, r.id DESC) AS rn
        FROM customers_creditreport r
        WHERE r.report_date <= %(as_of)s{scope}
    ) latest
    WHERE rn = 1
    ORDER BY customer_id
    """  # noqa: S608
    frame = _keep(_fetch(sql, params), wanted)
    out_columns = ["report_id", "provider", "report_date", "score", "rating", "pd", "payment_index", "legal_events",
                   "recommended_limit", "report_age_days", "previous_rating", "previous_score",
                   "previous_report_date", "rating_notches_down"]
    if frame.empty:
        empty = pd.DataFrame(columns=out_columns)
        empty.index = pd.Index([], name="customer_id", dtype="int64")
        return empty
    latest = frame.set_index("customer_id")
    latest.index = latest.index.astype("int64")
    for column in ("score", "pd", "payment_index", "recommended_limit", "legal_events", "previous_score"):
        latest[column] = _decimal_floats(latest[column], CreditReport, column.removeprefix("previous_"))
    latest["report_date"] = _dates(latest["report_date"])
    latest["previous_report_date"] = _dates(latest["previous_report_date"])
    latest["report_age_days"] = _age_days(as_of, latest["report_date"])
    latest["rating_notches_down"] = _ranks(latest["rating"]) - _ranks(latest["previous_rating"])
    return latest[out_columns]


def _ranks(ratings: pd.Series) -> pd.Series:
    """:func:`rating_rank` of every rating, computed once per distinct rating."""
    codes, uniques = pd.factorize(ratings, use_na_sentinel=True)
    ranks = np.append(np.array([rating_rank(u) for u in uniques], dtype="float64"), np.nan)
    return pd.Series(ranks[codes], index=ratings.index)
