"""The feature catalogue (every input a score may use, named and documented) and ``feature_frame``.

``feature_frame(as_of=…)`` builds one row per customer for the whole portfolio at once from the
credit file's set-based selectors (behaviour, financials, bureau) plus one query of firmographics
and custom attributes. Point in time: only invoices, payments, statements and reports known at
``as_of`` are used (custom attribute values are not historised: their current value is used).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.utils.translation import gettext_lazy as _

BEHAVIOUR = "behaviour"
FINANCIAL = "financial"
BUREAU = "bureau"
FIRMOGRAPHIC = "firmographic"
CUSTOM = "custom"
SOURCES = (BEHAVIOUR, FINANCIAL, BUREAU, FIRMOGRAPHIC, CUSTOM)
SOURCE_LABELS = {BEHAVIOUR: _("Payment behaviour"), FINANCIAL: _("Financial statements"),
                 BUREAU: _("Credit reports"), FIRMOGRAPHIC: _("Firmographics"), CUSTOM: _("Custom attributes")}

NUMERIC = "numeric"
CATEGORICAL = "categorical"

CUSTOM_PREFIX = "attr_"


@dataclass(frozen=True)
class FeatureSpec:
    key: str
    label: str
    source: str
    kind: str = NUMERIC
    unit: str = ""
    description: str = ""
    higher_is_riskier: bool | None = None  # documents the expected direction (None: not monotone)


def _spec(key, label, source, unit="", description="", higher_is_riskier=None, *, kind=NUMERIC) -> FeatureSpec:
    return FeatureSpec(key=key, label=label, source=source, kind=kind, unit=unit, description=description,
                       higher_is_riskier=higher_is_riskier)


DAYS, RATIO, MONEY, COUNT, YEARS = _("days"), _("ratio"), _("amount"), _("count"), _("years")

BUILTIN_FEATURES: tuple[FeatureSpec, ...] = (
    # behaviour (customers.selectors.behaviour_frame)
    _spec("open_ar", _("Open receivables"), BEHAVIOUR, MONEY, _("Unpaid invoice amounts at the as-of date.")),
    _spec("overdue_amount", _("Overdue amount"), BEHAVIOUR, MONEY, _("Open amounts past their due date."), True),
    _spec("overdue_ratio", _("Overdue share of open receivables"), BEHAVIOUR, RATIO,
          _("Overdue amount divided by open receivables (0 when nothing is open)."), True),
    _spec("share_current", _("Share of receivables not yet due"), BEHAVIOUR, RATIO,
          _("Aging bucket 'current' as a share of open receivables."), False),
    _spec("share_1_30", _("Share of receivables 1–30 days overdue"), BEHAVIOUR, RATIO, "", True),
    _spec("share_31_60", _("Share of receivables 31–60 days overdue"), BEHAVIOUR, RATIO, "", True),
    _spec("share_61_90", _("Share of receivables 61–90 days overdue"), BEHAVIOUR, RATIO, "", True),
    _spec("share_90_plus", _("Share of receivables 90+ days overdue"), BEHAVIOUR, RATIO, "",
          True),
    _spec("dso", _("Days sales outstanding"), BEHAVIOUR, DAYS,
          _("Open receivables over the last 12 months' sales, times 365."), True),
    _spec("dbt_3m", _("Days beyond terms, 3 months"), BEHAVIOUR, DAYS,
          _("Amount-weighted days paid after the due date, invoices settled in the last 3 months."), True),
    _spec("dbt_6m", _("Days beyond terms, 6 months"), BEHAVIOUR, DAYS, "", True),
    _spec("dbt_12m", _("Days beyond terms, 12 months"), BEHAVIOUR, DAYS, "", True),
    _spec("max_dpd", _("Maximum days past due"), BEHAVIOUR, DAYS,
          _("The largest number of days any invoice was or is past due in the last 12 months."), True),
    _spec("payment_trend", _("Payment trend"), BEHAVIOUR, DAYS,
          _("Recent days beyond terms minus the 12-month figure: positive means paying later than usual."), True),
    _spec("payment_count_3m", _("Payments, last 3 months"), BEHAVIOUR, COUNT),
    _spec("payment_amount_3m", _("Amount paid, last 3 months"), BEHAVIOUR, MONEY),
    _spec("payment_amount_mean_12m", _("Average payment, 12 months"), BEHAVIOUR, MONEY),
    _spec("payment_amount_std_12m", _("Payment amount spread, 12 months"), BEHAVIOUR, MONEY),
    _spec("payment_interval_mean_days", _("Average days between payments"), BEHAVIOUR, DAYS),
    _spec("payment_interval_std_days", _("Spread of days between payments"), BEHAVIOUR, DAYS),
    _spec("written_off_12m", _("Amount written off, 12 months"), BEHAVIOUR, MONEY, "", True),
    _spec("invoice_count_12m", _("Invoices, 12 months"), BEHAVIOUR, COUNT),
    _spec("sales_12m", _("Sales, 12 months"), BEHAVIOUR, MONEY, _("Invoiced amount in the last 12 months.")),
    # financial (customers.finance.financials_frame: the latest statement at the as-of date)
    _spec("current_ratio", _("Current ratio"), FINANCIAL, RATIO, _("Current assets / current liabilities."), False),
    _spec("quick_ratio", _("Quick ratio"), FINANCIAL, RATIO, _("(Current assets − inventory) / current liabilities."),
          False),
    _spec("debt_to_equity", _("Debt to equity"), FINANCIAL, RATIO, _("Total liabilities / equity."), True),
    _spec("leverage", _("Leverage"), FINANCIAL, RATIO, _("Total liabilities / total assets."), True),
    _spec("interest_coverage", _("Interest coverage"), FINANCIAL, RATIO, _("EBIT / interest expense."), False),
    _spec("net_margin", _("Net margin"), FINANCIAL, RATIO, _("Net income / revenue."), False),
    _spec("roa", _("Return on assets"), FINANCIAL, RATIO, _("Net income / total assets."), False),
    _spec("asset_turnover", _("Asset turnover"), FINANCIAL, RATIO, _("Revenue / total assets."), False),
    _spec("ocf_ratio", _("Operating cash-flow ratio"), FINANCIAL, RATIO,
          _("Operating cash flow / current liabilities."), False),
    _spec("z_double_prime", _("Altman Z″-score"), FINANCIAL, "",
          _("Altman's Z″ for non-manufacturers and emerging markets: below 1.1 distress, above 2.6 safe."), False),
    _spec("z_zone", _("Altman Z″ zone"), FINANCIAL, "", _("safe, grey or distress."), kind=CATEGORICAL),
    _spec("equity", _("Equity"), FINANCIAL, MONEY, _("Negative equity is a distress signal."), False),
    _spec("negative_equity", _("Negative equity"), FINANCIAL, "", _("1 when equity is below zero."), True),
    _spec("revenue", _("Annual revenue"), FINANCIAL, MONEY, _("Revenue of the latest statement (size)."), False),
    _spec("statement_age_days", _("Age of the latest financial statement"), FINANCIAL, DAYS, "", True),
    # bureau (customers.selectors.credit_report_frame: the latest report at the as-of date)
    _spec("bureau_score", _("Bureau score"), BUREAU, "", _("The external score of the latest credit report."), False),
    _spec("bureau_rating", _("Bureau rating"), BUREAU, "", _("The external rating of the latest report."),
          kind=CATEGORICAL),
    _spec("bureau_pd", _("Bureau probability of default"), BUREAU, RATIO, "", True),
    _spec("bureau_payment_index", _("Bureau payment index"), BUREAU, ""),
    _spec("bureau_legal_events", _("Legal events in the bureau report"), BUREAU, COUNT, "", True),
    _spec("bureau_report_age_days", _("Age of the latest credit report"), BUREAU, DAYS, "", True),
    _spec("bureau_recommended_limit", _("Bureau recommended limit"), BUREAU, MONEY),
    _spec("bureau_rating_notches_down", _("Bureau rating downgrade (notches)"), BUREAU, "",
          _("Notches the latest rating lies below the same provider's previous one (negative: upgrade)."), True),
    # firmographic (one query of the customers)
    _spec("relationship_years", _("Years of relationship"), FIRMOGRAPHIC, YEARS,
          _("Years from the relationship start to the as-of date."), False),
    _spec("size", _("Size segment"), FIRMOGRAPHIC, "", _("small, medium or large."), kind=CATEGORICAL),
    _spec("industry", _("Industry"), FIRMOGRAPHIC, "", "", kind=CATEGORICAL),
    _spec("region", _("Region"), FIRMOGRAPHIC, "", "", kind=CATEGORICAL),
    _spec("country", _("Country"), FIRMOGRAPHIC, "", "", kind=CATEGORICAL),
)

BUILTIN_KEYS = tuple(spec.key for spec in BUILTIN_FEATURES)
FIRMOGRAPHIC_COLUMNS = ("size", "industry", "region", "country", "status")

# Renames from the credit-file selectors' column names to catalogue keys.
_BUREAU_RENAMES = {
    "score": "bureau_score", "rating": "bureau_rating", "pd": "bureau_pd", "payment_index": "bureau_payment_index",
    "legal_events": "bureau_legal_events", "report_age_days": "bureau_report_age_days",
    "recommended_limit": "bureau_recommended_limit", "rating_notches_down": "bureau_rating_notches_down",
}
_FINANCIAL_RENAMES = {"z_double_prime_zone": "z_zone"}


def custom_feature_specs() -> list[FeatureSpec]:
    """One feature per active custom attribute (text attributes are not features: free text)."""
    from customers.models import AttributeDefinition, AttributeType

    specs = []
    for definition in AttributeDefinition.objects.filter(active=True).exclude(type=AttributeType.TEXT):
        kind = CATEGORICAL if definition.type == AttributeType.CATEGORY else NUMERIC
        unit = _("days") if definition.type == AttributeType.DATE else ""
        description = definition.help_text or (
            _("Days from this date to the as-of date.") if definition.type == AttributeType.DATE else "")
        specs.append(FeatureSpec(key=f"{CUSTOM_PREFIX}{definition.key}", label=definition.label, source=CUSTOM,
                                 kind=kind, unit=unit, description=description))
    return specs


def feature_catalogue() -> dict[str, FeatureSpec]:
    """Every feature by key: the built-in ones, then one per active custom attribute."""
    catalogue = {spec.key: spec for spec in BUILTIN_FEATURES}
    catalogue.update({spec.key: spec for spec in custom_feature_specs()})
    return catalogue


# --- reason texts -------------------------------------------------------------------------------

_DIRECTION_TEXTS = {
    "high": _("%(label)s is high (%(value)s)."),
    "low": _("%(label)s is low (%(value)s)."),
    "missing": _("%(label)s is not known."),
    "unfavourable": _("%(label)s is unfavourable (%(value)s)."),
    "favourable": _("%(label)s is favourable (%(value)s)."),
}


def reason_text(reason: dict, catalogue: dict[str, FeatureSpec] | None = None) -> str:
    """A reason code in words for an analyst or a customer, in the active language."""
    catalogue = catalogue if catalogue is not None else feature_catalogue()
    feature = reason.get("feature", "")
    spec = catalogue.get(feature)
    label = str(spec.label) if spec else feature
    direction = str(reason.get("code", "")).removeprefix(f"{feature}_") or "unfavourable"
    template = _DIRECTION_TEXTS.get(direction, _DIRECTION_TEXTS["unfavourable"])
    value = format_feature_value(reason.get("value"), spec)
    return str(template) % {"label": label, "value": "—" if value is None else value}


# Ratios that are shares of a whole read best as percentages; the others (current ratio 1.4×) as numbers.
PERCENT_FEATURES = frozenset({
    "overdue_ratio", "share_current", "share_1_30", "share_31_60", "share_61_90", "share_90_plus",
    "net_margin", "roa", "leverage", "bureau_pd",
})


def format_feature_value(value, spec: FeatureSpec | None):
    """A feature value as people read it: 2.8%, 5 days, 5,232,159, 7.4 years, 1.35."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    key = spec.key if spec else ""
    unit = str(spec.unit) if spec else ""
    if key in PERCENT_FEATURES:
        return f"{value * 100:.1f}%"
    if spec is not None and spec.unit == DAYS:
        return _("%(n)s days") % {"n": f"{value:,.0f}" if abs(value) >= 10 else f"{value:.1f}"}
    if spec is not None and spec.unit == YEARS:
        return _("%(n)s years") % {"n": f"{value:.1f}"}
    if (spec is not None and spec.unit == MONEY) or abs(value) >= 1000:
        return f"{value:,.0f}"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}" if unit != "" or abs(value) >= 1 else f"{value:.3g}"


# --- the frame ----------------------------------------------------------------------------------


def _attribute_definitions() -> list[tuple[str, str]]:
    from customers.models import AttributeDefinition, AttributeType

    return list(AttributeDefinition.objects.filter(active=True).exclude(type=AttributeType.TEXT)
                .order_by("key").values_list("key", "type"))


def firmographics_frame(*, as_of: dt.date, customer_ids=None, attribute_definitions=None) -> pd.DataFrame:
    """One query: size, industry, region, country, status, relationship_years, plus one raw column per
    custom attribute in ``attribute_definitions`` ([(key, type)], values extracted as text in SQL)."""
    from django.db.models.fields.json import KT

    from customers.models import Customer

    queryset = Customer.objects.order_by("id")
    ids = None if customer_ids is None else sorted({int(c) for c in customer_ids})
    if ids is not None:
        queryset = (queryset.filter(id__in=ids) if len(ids) <= 1000
                    else queryset.filter(id__gte=ids[0], id__lte=ids[-1]))
    definitions = list(attribute_definitions or [])
    extracted = {f"_attr_{n}": KT(f"attributes__{key}") for n, (key, _) in enumerate(definitions)}
    fields = ["id", "size", "industry", "region", "country", "status", "relationship_start", *extracted]
    frame = pd.DataFrame.from_records(list(queryset.annotate(**extracted).values_list(*fields)), columns=fields)
    frame = frame.set_index("id")
    frame.index = frame.index.astype("int64")
    frame.index.name = "customer_id"
    if ids is not None and len(ids) > 1000:
        frame = frame[frame.index.isin(ids)]
    start = pd.to_datetime(frame["relationship_start"], errors="coerce")
    years = (pd.Timestamp(as_of) - start).dt.days / 365.25
    frame["relationship_years"] = years.where(years >= 0)
    frame = frame.drop(columns=["relationship_start"])
    for column in ("industry", "region", "country"):
        frame[column] = frame[column].replace("", None)
    frame = frame.rename(columns={f"_attr_{n}": f"{CUSTOM_PREFIX}{key}" for n, (key, _) in enumerate(definitions)})
    return frame


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _custom_columns(firmo: pd.DataFrame, definitions: list[tuple[str, str]], *, as_of: dt.date) -> pd.DataFrame:
    """Typed feature columns from the attribute values extracted as text."""
    from customers.models import AttributeType

    out = {}
    for key, kind in definitions:
        name = f"{CUSTOM_PREFIX}{key}"
        column = firmo[name] if name in firmo.columns else pd.Series(None, index=firmo.index, dtype=object)
        if kind == AttributeType.NUMBER:
            out[name] = pd.to_numeric(column, errors="coerce").astype(float)
        elif kind == AttributeType.BOOLEAN:
            text = column.astype(object).map(lambda v: None if v is None else str(v).strip().lower())
            out[name] = np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan))
        elif kind == AttributeType.DATE:
            dates = pd.to_datetime(column, errors="coerce")
            out[name] = (pd.Timestamp(as_of) - dates).dt.days.astype(float)
        else:
            text = column.astype(object)
            out[name] = text.where(text.notna() & (text != ""), None)
    return pd.DataFrame(out, index=firmo.index)


def _derive_behaviour(frame: pd.DataFrame) -> pd.DataFrame:
    open_ar = pd.to_numeric(frame.get("open_ar"), errors="coerce") if "open_ar" in frame else None
    buckets = {"share_current": "ar_current", "share_1_30": "ar_1_30", "share_31_60": "ar_31_60",
               "share_61_90": "ar_61_90", "share_90_plus": "ar_90_plus"}
    for share, bucket in buckets.items():
        if open_ar is None or bucket not in frame:
            frame[share] = np.nan
            continue
        amount = pd.to_numeric(frame[bucket], errors="coerce")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = amount / open_ar
        frame[share] = ratio.where(open_ar > 0, 0.0).where(open_ar.notna())
    return frame


def feature_frame(*, as_of: dt.date, customer_ids=None, include_custom: bool = True,
                  timings: dict[str, float] | None = None) -> pd.DataFrame:
    """All features for every customer (or ``customer_ids``), indexed by customer id.

    Columns: every catalogue key (missing data → NaN / None) plus ``status``. Set-based: a fixed
    number of queries whatever the portfolio size. ``timings``, when given, receives the seconds
    spent on each source (``features.firmographics``, ``features.behaviour``, ``features.financials``,
    ``features.bureau``).
    """
    from customers import finance, selectors

    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        if timings is not None:
            timings[f"features.{name}"] = round(timings.get(f"features.{name}", 0.0) + now - clock, 4)
        clock = now

    ids = None if customer_ids is None else list(customer_ids)
    definitions = _attribute_definitions() if include_custom else []
    firmo = firmographics_frame(as_of=as_of, customer_ids=ids, attribute_definitions=definitions)
    index = firmo.index
    lap("firmographics")
    behaviour = selectors.behaviour_frame(as_of=as_of, customer_ids=ids)
    lap("behaviour")
    financials = finance.financials_frame(as_of=as_of, customer_ids=ids)
    lap("financials")
    reports = finance.credit_report_frame(as_of=as_of, customer_ids=ids)
    lap("bureau")

    behaviour = _derive_behaviour(behaviour.reindex(index).copy())
    financials = financials.reindex(index).rename(columns=_FINANCIAL_RENAMES)
    if "negative_equity" in financials.columns:
        flag = financials["negative_equity"]
        financials["negative_equity"] = flag.astype(object).map({True: 1.0, False: 0.0}).where(
            financials["equity"].notna() if "equity" in financials.columns else flag.notna())
    reports = reports.reindex(index).rename(columns=_BUREAU_RENAMES)

    columns: dict[str, pd.Series] = {}
    for spec in BUILTIN_FEATURES:
        source = next((s for s in (behaviour, financials, reports, firmo) if spec.key in s.columns), None)
        if spec.kind == CATEGORICAL:
            column = (source[spec.key].astype(object) if source is not None
                      else pd.Series(None, index=index, dtype=object))
            columns[spec.key] = column.where(column.notna() & (column != ""), None)
        elif source is None:
            columns[spec.key] = pd.Series(np.nan, index=index, dtype=float)
        else:
            columns[spec.key] = pd.to_numeric(source[spec.key], errors="coerce").astype(float)
    columns["status"] = firmo["status"]
    frame = pd.DataFrame(columns, index=index)
    if definitions:
        frame = pd.concat([frame, _custom_columns(firmo, definitions, as_of=as_of)], axis=1)
    return frame
