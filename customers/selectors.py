"""Reads of the credit file: list querysets for pages, and point-in-time payment behaviour.

Behaviour is computed for the whole portfolio (or any set of customers) at once: two aggregate SQL
queries (invoices with what was paid on them by the date, and payments) whose per-customer sums are
read into pandas, where the ratios are derived with vectorised operations.

The invoice query trusts the derived columns that customers.services.invoice_paid_recompute keeps
(amount_paid = paid_outside + sum of allocations, paid_date = the date the invoice became fully
paid): an invoice with paid_date on or before the as-of date was fully paid then, one with nothing
paid was unpaid, and only the rest (partly paid, or completed after the date) looks at what was paid
by the date. Bulk loaders must therefore run invoice_paid_recompute after writing allocations or
paid_outside.

Paid outside (Invoice.paid_outside: settled outside the payments recorded here, as the ERP reports
it, e.g. by an invoice import's paid_amount): by the as-of date the outside part counts as paid in
full on its date, paid_outside_date. When the ERP gave no date, it counts as paid on the invoice's
recorded paid_date (the day it became fully paid) or, while it is not fully paid, on its due date;
before that day it is open. The allocated part counts payment by payment, on each payment's date. ``customer_behaviour`` is
the same computation restricted to one customer, so a credit file always agrees with the portfolio.

Point in time (as of date A): only invoices issued on or before A count, a payment counts only if its
date is on or before A, and a write-off only if written_off_date is on or before A. Cancelled
invoices never count. Windows are trailing day counts ending at A (inclusive): 3 months = 90 days,
6 months = 180 days, 12 months = 365 days; DSO uses the trailing 90 days of sales.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from customers.models import (
    AttributeDefinition,
    AttributeType,
    Customer,
    Invoice,
    InvoiceStatus,
    Payment,
    SalesOrder,
)

WINDOWS = {"3m": 90, "6m": 180, "12m": 365}
DSO_DAYS = 90
# Above this many ids, filter by the id range in SQL and by the exact ids in pandas (keeps SQL small).
_MAX_IN_LIST = 1000

AGING_BUCKETS = (
    ("ar_current", _("Current")),
    ("ar_1_30", _("1–30 days")),
    ("ar_31_60", _("31–60 days")),
    ("ar_61_90", _("61–90 days")),
    ("ar_90_plus", _("90+ days")),
)

BEHAVIOUR_COLUMNS = [
    "open_ar", "ar_current", "ar_1_30", "ar_31_60", "ar_61_90", "ar_90_plus", "overdue_amount", "overdue_ratio",
    "dso", "dbt_3m", "dbt_6m", "dbt_12m", "max_dpd", "payment_trend", "payment_count_3m", "payment_amount_3m",
    "payment_count_12m", "payment_amount_mean_12m", "payment_amount_std_12m", "payment_interval_mean_days",
    "payment_interval_std_days", "written_off_12m", "invoice_count_12m", "sales_12m", "sales_90d",
]
_INT_COLUMNS = ("max_dpd", "payment_count_3m", "payment_count_12m", "invoice_count_12m")


# --------------------------------------------------------------------------------------------------
# SQL dialect helpers (SQLite and PostgreSQL)

def _is_pg() -> bool:
    return connection.vendor == "postgresql"


def _days(later: str, earlier: str) -> str:
    """SQL for the whole days between two date expressions."""
    if _is_pg():
        return f"(({later})::date - ({earlier})::date)"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def _no_flattening() -> str:
    """Keeps the database from inlining a subquery whose columns the outer query uses many times (each
    numeric→float conversion and allocation look-up then runs once per row), without materialising it:
    the subquery's rows stream into the aggregate."""
    return "OFFSET 0" if _is_pg() else "LIMIT -1 OFFSET 0"


def _float(expr: str) -> str:
    return f"CAST({expr} AS {'DOUBLE PRECISION' if _is_pg() else 'REAL'})"


def _customer_filter(column: str, customer_ids: list[int] | None, params: dict) -> str:
    if customer_ids is None:
        return ""
    if not customer_ids:
        return " AND 1 = 0"
    if len(customer_ids) <= _MAX_IN_LIST:
        names = []
        for n, cid in enumerate(customer_ids):
            params[f"c{n}"] = int(cid)
            names.append(f"%(c{n})s")
        return f" AND {column} IN ({', '.join(names)})"
    params["cmin"], params["cmax"] = int(min(customer_ids)), int(max(customer_ids))
    return f" AND {column} BETWEEN %(cmin)s AND %(cmax)s"


def _fetch_frame(sql: str, params: dict) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns)


def _date_params(as_of: dt.date) -> dict:
    day = dt.timedelta(days=1)
    params = {"as_of": as_of.isoformat()}
    for n in (30, 60, 90, 180, 365):
        params[f"d{n}"] = (as_of - n * day).isoformat()
    return params


# --------------------------------------------------------------------------------------------------
# behaviour

def _cents(expr: str) -> str:
    """SQL for a money expression as whole cents (an exact integer: money has two decimal places)."""
    if _is_pg():
        return f"CAST(({expr}) * 100 AS BIGINT)"
    return f"CAST(ROUND(({expr}) * 100) AS INTEGER)"


def _sum_int(expr: str) -> str:
    return f"CAST(SUM({expr}) AS BIGINT)"


# Invoice sums read in cents, which behaviour_frame turns into amounts (the DBT sums stay in cents and
# cent-days: their ratio needs no scaling).
_CENT_SUMS = ("open_ar", "ar_current", "ar_1_30", "ar_31_60", "ar_61_90", "ar_90_plus", "sales_90d", "sales_12m",
              "written_off_12m")


def _invoice_sql(customer_ids: list[int] | None, params: dict) -> str:
    """Per customer: open AR by bucket, sales, write-offs, max DPD and the DBT sums, all in whole cents.

    Integer cents keep every sum exact, so the figures do not depend on the order the database adds
    the rows in (the portfolio and a single customer are read with different plans), and integer
    arithmetic is cheaper per row than numeric or float conversions. The innermost subquery computes
    each invoice's paid amount once (the allocation look-up only for invoices partly paid at the date).
    """
    dbt = _days("paid_on", "due_date")
    dpd = _days("%(as_of)s", "due_date")
    windows = []
    for name, n in WINDOWS.items():
        windows.append(
            f"{_sum_int(f'CASE WHEN paid_on > %(d{n})s AND paid_on > due_date THEN amount * {dbt} ELSE 0 END')}"
            f" AS dbt_num_{name}, "
            f"{_sum_int(f'CASE WHEN paid_on > %(d{n})s THEN amount ELSE 0 END')} AS dbt_den_{name}"
        )
    sums = {
        "open_ar": "open_amt",
        "ar_current": "CASE WHEN due_date >= %(as_of)s THEN open_amt ELSE 0 END",
        "ar_1_30": "CASE WHEN due_date < %(as_of)s AND due_date >= %(d30)s THEN open_amt ELSE 0 END",
        "ar_31_60": "CASE WHEN due_date < %(d30)s AND due_date >= %(d60)s THEN open_amt ELSE 0 END",
        "ar_61_90": "CASE WHEN due_date < %(d60)s AND due_date >= %(d90)s THEN open_amt ELSE 0 END",
        "ar_90_plus": "CASE WHEN due_date < %(d90)s THEN open_amt ELSE 0 END",
        "sales_90d": "CASE WHEN issue_date > %(d90)s THEN amount ELSE 0 END",
        "sales_12m": "CASE WHEN issue_date > %(d365)s THEN amount ELSE 0 END",
        "written_off_12m": "CASE WHEN wo = 1 AND written_off_date > %(d365)s THEN amount - paid ELSE 0 END",
    }
    sum_sql = ", ".join(f"{_sum_int(expr)} AS {name}" for name, expr in sums.items())
    paid_by_date = _cents(
        "CASE WHEN i.paid_outside > 0 AND COALESCE(i.paid_outside_date, i.paid_date, i.due_date) <= %(as_of)s"
        " THEN i.paid_outside ELSE 0 END"
        " + CASE WHEN i.amount_paid > i.paid_outside"
        " THEN COALESCE((SELECT SUM(pa.amount) FROM customers_paymentallocation pa"
        " JOIN customers_payment p ON p.id = pa.payment_id"
        " WHERE pa.invoice_id = i.id AND p.date <= %(as_of)s), 0) ELSE 0 END")
    # Only constant fragments and generated placeholder names are interpolated; values are parameters.
    return f"""
    SELECT customer_id, {sum_sql},
           MAX(CASE WHEN open_amt > 0 AND due_date < %(as_of)s THEN {dpd} ELSE 0 END) AS max_dpd,
           SUM(CASE WHEN issue_date > %(d365)s THEN 1 ELSE 0 END) AS invoice_count_12m,
           {", ".join(windows)}
    FROM (
        SELECT customer_id, amount, issue_date, due_date, written_off_date, paid, wo,
               CASE WHEN wo = 1 OR paid >= amount THEN 0 ELSE amount - paid END AS open_amt,
               CASE WHEN wo = 0 THEN paid_on END AS paid_on
        FROM (
            SELECT i.customer_id AS customer_id, {_cents("i.amount")} AS amount, i.issue_date AS issue_date,
                   i.due_date AS due_date, i.written_off_date AS written_off_date,
                   CASE WHEN i.paid_date IS NOT NULL AND i.paid_date <= %(as_of)s THEN {_cents("i.amount")}
                        WHEN i.amount_paid = 0 THEN 0
                        ELSE {paid_by_date}
                   END AS paid,
                   CASE WHEN i.paid_date IS NOT NULL AND i.paid_date <= %(as_of)s THEN i.paid_date END AS paid_on,
                   CASE WHEN i.status = 'written_off' AND i.written_off_date <= %(as_of)s THEN 1 ELSE 0 END AS wo
            FROM customers_invoice i
            WHERE i.issue_date <= %(as_of)s AND i.status <> 'cancelled'
              AND (i.paid_date IS NULL OR i.paid_date > %(d365)s OR i.issue_date > %(d365)s)
              AND NOT (i.status = 'written_off' AND i.written_off_date <= %(d365)s AND i.issue_date <= %(d365)s)
              {_customer_filter("i.customer_id", customer_ids, params)}
        {_no_flattening()}) inv
    ) x
    GROUP BY customer_id
    """  # noqa: S608


def _payment_sql(customer_ids: list[int] | None, params: dict) -> str:
    gap = _days("p.date", "LAG(p.date) OVER (PARTITION BY p.customer_id ORDER BY p.date, p.id)")
    return f"""
    SELECT customer_id,
           SUM(CASE WHEN date > %(d90)s THEN 1 ELSE 0 END) AS payment_count_3m,
           {_float("SUM(CASE WHEN date > %(d90)s THEN amount ELSE 0 END)")} AS payment_amount_3m,
           COUNT(*) AS payment_count_12m,
           {_float("SUM(amount)")} AS pay_sum,
           {_float("SUM(amount * amount)")} AS pay_sumsq,
           COUNT(gap) AS gap_n,
           {_float("SUM(gap)")} AS gap_sum,
           {_float("SUM(gap * gap)")} AS gap_sumsq
    FROM (
        SELECT p.customer_id AS customer_id, p.date AS date, p.amount AS amount, {gap} AS gap
        FROM customers_payment p
        WHERE p.date > %(d365)s AND p.date <= %(as_of)s{_customer_filter("p.customer_id", customer_ids, params)}
    ) w
    GROUP BY customer_id
    """  # noqa: S608


def _customer_index(customer_ids: list[int] | None) -> pd.Index:
    if customer_ids is None:
        ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted({int(c) for c in customer_ids})
    return pd.Index(np.asarray(ids, dtype="int64"), name="customer_id")


def _normalise_ids(customer_ids) -> list[int] | None:
    """Accept a list of ids, or a queryset (of ids, of one-key dicts or of customers)."""
    if customer_ids is None:
        return None
    ids = []
    for item in customer_ids:
        if isinstance(item, dict):
            item = next(iter(item.values()))
        elif isinstance(item, tuple | list):
            item = item[0]
        elif hasattr(item, "pk"):
            item = item.pk
        ids.append(int(item))
    return ids


def _safe_div(num: pd.Series, den: pd.Series) -> pd.Series:
    num = num.astype("float64")
    den = den.astype("float64")
    out = num / den.where(den != 0)
    return out.replace([np.inf, -np.inf], np.nan)


def _sample_std(n: pd.Series, total: pd.Series, sumsq: pd.Series) -> pd.Series:
    n = n.astype("float64")
    variance = (sumsq - total * total / n.where(n > 0)) / (n - 1).where(n > 1)
    return np.sqrt(variance.clip(lower=0))


def behaviour_frame(*, as_of: dt.date, customer_ids: list[int] | None = None) -> pd.DataFrame:
    """Payment behaviour of every customer in scope as of ``as_of``, indexed by customer_id.

    Every customer in scope has a row. Amounts, counts and max_dpd are 0 without data; ratios whose
    denominator is empty are NaN (DSO without sales in the last 90 days, DBT without invoices paid in
    the window, payment statistics with too few payments). overdue_ratio is 0 without open AR.
    """
    ids = _normalise_ids(customer_ids)
    index = _customer_index(ids)
    portfolio_scale = _is_pg() and (ids is None or len(ids) > _MAX_IN_LIST)
    with transaction.atomic() if portfolio_scale else contextlib.nullcontext():
        if portfolio_scale:
            # Portfolio scale: JIT compilation costs more than it saves here, and the per-customer
            # aggregate state wants more than the default work_mem. Both settings end with this transaction.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
        params = _date_params(as_of)
        inv = _fetch_frame(_invoice_sql(ids, params), params)
        params = _date_params(as_of)
        pay = _fetch_frame(_payment_sql(ids, params), params)

    inv = inv.set_index("customer_id") if not inv.empty else pd.DataFrame(index=pd.Index([], name="customer_id"))
    pay = pay.set_index("customer_id") if not pay.empty else pd.DataFrame(index=pd.Index([], name="customer_id"))
    inv.index = inv.index.astype("int64")
    pay.index = pay.index.astype("int64")
    inv = inv.reindex(index)
    pay = pay.reindex(index)

    def col(frame: pd.DataFrame, name: str) -> pd.Series:
        if name in frame.columns:
            return pd.to_numeric(frame[name], errors="coerce").astype("float64").fillna(0.0)
        return pd.Series(0.0, index=index)

    # Invoice sums arrive in whole cents (exact).
    for name in inv.columns:
        if name in _CENT_SUMS:
            inv[name] = pd.to_numeric(inv[name], errors="coerce").astype("float64") / 100

    out = pd.DataFrame(index=index)
    for name in ("open_ar", "ar_current", "ar_1_30", "ar_31_60", "ar_61_90", "ar_90_plus", "sales_90d",
                 "sales_12m", "written_off_12m", "max_dpd", "invoice_count_12m"):
        out[name] = col(inv, name)
    out["overdue_amount"] = out["open_ar"] - out["ar_current"]
    out["overdue_ratio"] = _safe_div(out["overdue_amount"], out["open_ar"]).fillna(0.0)
    out["dso"] = _safe_div(out["open_ar"], out["sales_90d"]) * DSO_DAYS
    for name in WINDOWS:
        out[f"dbt_{name}"] = _safe_div(col(inv, f"dbt_num_{name}"), col(inv, f"dbt_den_{name}"))
    out["payment_trend"] = out["dbt_3m"] - out["dbt_12m"]

    out["payment_count_3m"] = col(pay, "payment_count_3m")
    out["payment_amount_3m"] = col(pay, "payment_amount_3m")
    n12 = col(pay, "payment_count_12m")
    out["payment_count_12m"] = n12
    out["payment_amount_mean_12m"] = _safe_div(col(pay, "pay_sum"), n12)
    out["payment_amount_std_12m"] = _sample_std(n12, col(pay, "pay_sum"), col(pay, "pay_sumsq"))
    gap_n = col(pay, "gap_n")
    out["payment_interval_mean_days"] = _safe_div(col(pay, "gap_sum"), gap_n)
    out["payment_interval_std_days"] = _sample_std(gap_n, col(pay, "gap_sum"), col(pay, "gap_sumsq"))

    for name in _INT_COLUMNS:
        out[name] = out[name].round().astype("int64")
    # Money sums from SQL floats: round to cents so equal inputs give equal outputs on every database.
    for name in ("open_ar", "ar_current", "ar_1_30", "ar_31_60", "ar_61_90", "ar_90_plus", "overdue_amount",
                 "sales_90d", "sales_12m", "written_off_12m", "payment_amount_3m"):
        out[name] = out[name].round(2)
    return out[BEHAVIOUR_COLUMNS]


def _plain(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(value) else float(value)
    return value


def customer_behaviour(*, customer: Customer, as_of: dt.date) -> dict:
    """One customer's row of :func:`behaviour_frame` as a dict (NaN becomes None)."""
    frame = behaviour_frame(as_of=as_of, customer_ids=[customer.pk])
    return {key: _plain(value) for key, value in frame.iloc[0].items()}


def aging_buckets(*, customer: Customer, as_of: dt.date, behaviour: dict | None = None) -> list[dict]:
    """Open AR by days past due, for the aging chart and table."""
    behaviour = behaviour if behaviour is not None else customer_behaviour(customer=customer, as_of=as_of)
    total = behaviour["open_ar"] or 0.0
    return [
        {"key": key, "label": str(label), "amount": behaviour[key],
         "share": (behaviour[key] / total) if total else 0.0}
        for key, label in AGING_BUCKETS
    ]


# --------------------------------------------------------------------------------------------------
# list querysets for pages and the API

def _get(filters, key: str, default=""):
    if filters is None:
        return default
    value = filters.get(key, default)
    return value.strip() if isinstance(value, str) else value


def _parse_date(value) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


CUSTOMER_ORDERINGS = {"code", "name", "status", "size", "industry", "region", "country", "current_grade",
                      "current_score", "current_pd", "relationship_start", "created_at", "owner__username",
                      "group__code", "updated_at"}


def _attribute_value(definition: AttributeDefinition, raw: str):
    if definition.type == AttributeType.NUMBER:
        try:
            number = Decimal(raw)
        except (InvalidOperation, ValueError):
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    if definition.type == AttributeType.BOOLEAN:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "y", "是"):
            return True
        if lowered in ("0", "false", "no", "n", "否"):
            return False
        return None
    return raw


def customer_list(*, filters=None) -> QuerySet[Customer]:
    """Customers for the list page and the API, filtered and ordered; group and owner joined in."""
    qs = Customer.objects.select_related("group", "owner")
    q = _get(filters, "q")
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(registration_no__icontains=q))
    for key, field in (("status", "status"), ("size", "size"), ("country", "country"),
                       ("current_grade", "current_grade"), ("grade", "current_grade")):
        value = _get(filters, key)
        if value:
            qs = qs.filter(**{field: value})
    for key in ("industry", "region"):
        value = _get(filters, key)
        if value:
            qs = qs.filter(**{f"{key}__iexact": value})
    owner = _get(filters, "owner")
    if owner:
        qs = qs.filter(owner_id=int(owner)) if str(owner).isdigit() else qs.filter(owner__username=owner)
    group = _get(filters, "group")
    if group:
        qs = qs.filter(group__code=group)
    attribute_keys = [k[5:] for k in (filters.keys() if filters is not None else []) if k.startswith("attr_")]
    if attribute_keys:
        definitions = {d.key: d for d in AttributeDefinition.objects.filter(key__in=attribute_keys)}
        for key in attribute_keys:
            raw = _get(filters, f"attr_{key}")
            if raw in ("", None):
                continue
            definition = definitions.get(key)
            if definition is None:
                continue
            value = _attribute_value(definition, str(raw))
            qs = qs.none() if value is None else qs.filter(**{f"attributes__{key}": value})
    # Structured attribute filters: [(definition or key, lookup, value)], lookup in exact/gte/lte/icontains.
    for definition, lookup, value in (_get(filters, "attributes", None) or []):
        key = getattr(definition, "key", definition)
        if lookup not in ("exact", "gte", "lte", "gt", "lt", "icontains"):
            continue
        if isinstance(value, Decimal):
            value = float(value)
        qs = qs.filter(**{f"attributes__{key}__{lookup}": value})
    ordering = _get(filters, "ordering") or _get(filters, "sort")
    if ordering and ordering.lstrip("-") in CUSTOMER_ORDERINGS:
        qs = qs.order_by(ordering, "code") if ordering.lstrip("-") != "code" else qs.order_by(ordering)
    else:
        qs = qs.order_by("code")
    return qs


def invoice_list(*, customer: Customer | None = None, filters=None) -> QuerySet[Invoice]:
    """Invoices, newest first. Filters: status, number, issued_from/issued_to, due_from/due_to, overdue=1."""
    qs = Invoice.objects.select_related("customer")
    if customer is not None:
        qs = qs.filter(customer=customer)
    status = _get(filters, "status")
    if status:
        qs = qs.filter(status=status)
    number = _get(filters, "number") or _get(filters, "q")
    if number:
        qs = qs.filter(number__icontains=number)
    for key, lookup in (("issued_from", "issue_date__gte"), ("issued_to", "issue_date__lte"),
                        ("due_from", "due_date__gte"), ("due_to", "due_date__lte")):
        value = _parse_date(_get(filters, key))
        if value:
            qs = qs.filter(**{lookup: value})
    if str(_get(filters, "overdue")).lower() in ("1", "true", "yes", "on"):
        from django.utils import timezone

        qs = qs.filter(status=InvoiceStatus.OPEN, due_date__lt=timezone.localdate())
    return qs.order_by("-issue_date", "-pk")


def payment_list(*, customer: Customer | None = None, filters=None) -> QuerySet[Payment]:
    """Payments, newest first. Filters: reference, date_from, date_to."""
    qs = Payment.objects.select_related("customer")
    if customer is not None:
        qs = qs.filter(customer=customer)
    reference = _get(filters, "reference") or _get(filters, "q")
    if reference:
        qs = qs.filter(reference__icontains=reference)
    for key, lookup in (("date_from", "date__gte"), ("date_to", "date__lte")):
        value = _parse_date(_get(filters, key))
        if value:
            qs = qs.filter(**{lookup: value})
    return qs.order_by("-date", "-pk")


def order_list(*, customer: Customer | None = None, filters=None) -> QuerySet[SalesOrder]:
    """Sales orders, newest first. Filters: status, number, date_from, date_to."""
    qs = SalesOrder.objects.select_related("customer")
    if customer is not None:
        qs = qs.filter(customer=customer)
    status = _get(filters, "status")
    if status:
        qs = qs.filter(status=status)
    number = _get(filters, "number") or _get(filters, "q")
    if number:
        qs = qs.filter(number__icontains=number)
    for key, lookup in (("date_from", "order_date__gte"), ("date_to", "order_date__lte")):
        value = _parse_date(_get(filters, key))
        if value:
            qs = qs.filter(**{lookup: value})
    return qs.order_by("-order_date", "-pk")
