"""Reads of the credit file: list querysets for pages, and point-in-time payment behaviour.

Behaviour is computed for the whole portfolio (or any set of customers) at once: two SQL queries
(invoices with what was paid on them by the date, and payments) whose rows arrive as integer arrays
(whole cents, days relative to the as-of date; on PostgreSQL through a binary COPY), summed per
customer in numpy; the ratios are derived with vectorised operations.

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
import io
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


def _fetch_ints(sql: str, params: dict, names: tuple[str, ...], *, small: tuple[str, ...] = ()
                ) -> dict[str, np.ndarray]:
    """The rows of a query whose columns are all non-NULL integers, as one int64 array per column.

    On PostgreSQL a binary ``COPY (query) TO STDOUT``, read with one ``np.frombuffer`` (every field is
    a fixed-width integer — 4 bytes for the ``small`` columns, 8 for the others —, so every row has the
    same layout); much cheaper than building a Python tuple per row. Elsewhere (or should a field be
    NULL) a plain fetch.
    """
    if _is_pg():
        widths = [4 if name in small else 8 for name in names]
        select = ", ".join(f"CAST(q.{name} AS {'INTEGER' if width == 4 else 'BIGINT'})"
                           for name, width in zip(names, widths, strict=True))
        with connection.cursor() as cursor:
            raw = cursor.cursor
            query = raw.mogrify(f"SELECT {select} FROM ({sql}) q", params).decode()  # noqa: S608
            buffer = io.BytesIO()
            raw.copy_expert(f"COPY ({query}) TO STDOUT (FORMAT binary)", buffer)
        data = buffer.getbuffer()
        # Header: 11-byte signature, int32 flags, int32 extension length (+ extension); trailer: int16 −1.
        start = 19 + int.from_bytes(bytes(data[15:19]), "big")
        body = data[start:len(data) - 2]
        layout = np.dtype([("fields", ">i2")] + [item for n, width in enumerate(widths)
                                                  for item in ((f"len{n}", ">i4"), (f"v{n}", f">i{width}"))])
        if bytes(data[:11]) == b"PGCOPY\n\xff\r\n\x00" and len(body) % layout.itemsize == 0:
            rows = np.frombuffer(body, dtype=layout)
            if (rows["fields"] == len(names)).all() and all((rows[f"len{n}"] == width).all()
                                                            for n, width in enumerate(widths)):
                return {name: rows[f"v{n}"].astype("int64") for n, name in enumerate(names)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    table = np.asarray(rows, dtype="float64").reshape(len(rows), len(names))
    return {name: table[:, n].astype("int64") for n, name in enumerate(names)}


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


# A day number (relative to the as-of date) that no window reaches: "never" for paid_on / written_off.
_NEVER = -1_000_000

_INVOICE_ROWS = ("customer_id", "amount", "paid", "issue", "due", "paid_on", "written_off")
_DAY_COLUMNS = ("issue", "due", "paid_on", "written_off")

# Invoice sums in cents, which behaviour_frame turns into amounts (the DBT sums stay in cents and
# cent-days: their ratio needs no scaling).
_CENT_SUMS = ("open_ar", "ar_current", "ar_1_30", "ar_31_60", "ar_61_90", "ar_90_plus", "sales_90d", "sales_12m",
              "written_off_12m")


def _invoice_rows_sql(customer_ids: list[int] | None, params: dict) -> str:
    """One row per invoice that can count as of the date: customer, amount and (for invoices not paid in
    full by the date) what was paid by the date, in whole cents, and issue/due/paid/written-off dates as days relative to the as-of date (paid_on and
    written_off are _NEVER when not paid in full / not written off by the date).

    Integer cents keep every sum exact, so the figures do not depend on the order rows are added in.
    The allocation look-up runs only for invoices partly paid at the date. Invoices that cannot add to
    any figure (paid in full or written off before the 12-month window and issued before it) are left out.
    The sums are taken in numpy (:func:`_invoice_sums`): 17 conditional sums per row cost far more as
    SQL aggregates than as vectorised array operations.
    """
    paid_by_date = _cents(
        "CASE WHEN i.paid_outside > 0 AND COALESCE(i.paid_outside_date, i.paid_date, i.due_date) <= %(as_of)s"
        " THEN i.paid_outside ELSE 0 END"
        " + CASE WHEN i.amount_paid > i.paid_outside"
        " THEN COALESCE((SELECT SUM(pa.amount) FROM customers_paymentallocation pa"
        " JOIN customers_payment p ON p.id = pa.payment_id"
        " WHERE pa.invoice_id = i.id AND p.date <= %(as_of)s), 0) ELSE 0 END")
    # Only constant fragments and generated placeholder names are interpolated; values are parameters.
    return f"""
    SELECT i.customer_id AS customer_id, {_cents("i.amount")} AS amount,
           CASE WHEN i.paid_date IS NOT NULL AND i.paid_date <= %(as_of)s OR i.amount_paid = 0 THEN 0
                ELSE {paid_by_date}
           END AS paid,
           {_days("i.issue_date", "%(as_of)s")} AS issue,
           {_days("i.due_date", "%(as_of)s")} AS due,
           CASE WHEN i.paid_date IS NOT NULL AND i.paid_date <= %(as_of)s THEN {_days("i.paid_date", "%(as_of)s")}
                ELSE {_NEVER} END AS paid_on,
           CASE WHEN i.status = 'written_off' AND i.written_off_date <= %(as_of)s
                THEN {_days("i.written_off_date", "%(as_of)s")} ELSE {_NEVER} END AS written_off
    FROM customers_invoice i
    WHERE i.issue_date <= %(as_of)s AND i.status <> 'cancelled'
      AND (i.paid_date IS NULL OR i.paid_date > %(d365)s OR i.issue_date > %(d365)s)
      AND NOT (i.status = 'written_off' AND i.written_off_date <= %(d365)s AND i.issue_date <= %(d365)s)
      {_customer_filter("i.customer_id", customer_ids, params)}
    """  # noqa: S608


def _invoice_sums(rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per customer: open AR by bucket, sales, write-offs, max DPD and the DBT sums (exact int64 cents).

    Point in time: a written-off invoice has nothing open and no payment date; an invoice counts as
    paid (for DBT) on the date it became fully paid, if that is on or before the as-of date.
    """
    customer = rows["customer_id"]
    names = (*_CENT_SUMS, "max_dpd", "invoice_count_12m",
             *(f"dbt_{part}_{name}" for name in WINDOWS for part in ("num", "den")))
    if not len(customer):
        return pd.DataFrame({name: pd.Series(dtype="int64") for name in names},
                            index=pd.Index([], dtype="int64", name="customer_id"))
    columns = dict(rows)
    if not (customer[1:] >= customer[:-1]).all():
        order = np.argsort(customer, kind="stable")
        columns = {name: values[order] for name, values in columns.items()}
        customer = columns["customer_id"]
    starts = np.flatnonzero(np.concatenate(([True], customer[1:] != customer[:-1])))
    amount, issue, due = columns["amount"], columns["issue"], columns["due"]
    # Paid in full by the date (paid_on known): the amount; otherwise what SQL found paid by the date.
    paid = np.where(columns["paid_on"] != _NEVER, amount, columns["paid"])
    written_off = columns["written_off"]
    wo = written_off != _NEVER
    open_amt = np.where(wo | (paid >= amount), 0, amount - paid)
    paid_on = np.where(wo, _NEVER, columns["paid_on"])

    def add(condition, values):
        return np.add.reduceat(np.where(condition, values, 0), starts)

    out = {
        "open_ar": np.add.reduceat(open_amt, starts),
        "ar_current": add(due >= 0, open_amt),
        "ar_1_30": add((due < 0) & (due >= -30), open_amt),
        "ar_31_60": add((due < -30) & (due >= -60), open_amt),
        "ar_61_90": add((due < -60) & (due >= -90), open_amt),
        "ar_90_plus": add(due < -90, open_amt),
        "sales_90d": add(issue > -90, amount),
        "sales_12m": add(issue > -365, amount),
        "written_off_12m": add(wo & (written_off > -365), amount - paid),
        "max_dpd": np.maximum.reduceat(np.where((open_amt > 0) & (due < 0), -due, 0), starts),
        "invoice_count_12m": add(issue > -365, 1),
    }
    for name, n in WINDOWS.items():
        paid_in = paid_on > -n
        out[f"dbt_num_{name}"] = add(paid_in & (paid_on > due), amount * (paid_on - due))
        out[f"dbt_den_{name}"] = add(paid_in, amount)
    return pd.DataFrame(out, index=pd.Index(customer[starts], dtype="int64", name="customer_id"))[list(names)]


def _payment_rows_sql(customer_ids: list[int] | None, params: dict) -> str:
    """One row per payment in the trailing 12 months: customer, day relative to the as-of date (≤ 0), cents.

    The statistics are computed from these rows in numpy (:func:`_payment_stats`): the interval
    statistics need consecutive gaps, which in SQL take a window function and a sort of every row.
    """
    return f"""
    SELECT p.customer_id AS customer_id, {_days("p.date", "%(as_of)s")} AS day, {_cents("p.amount")} AS cents
    FROM customers_payment p
    WHERE p.date > %(d365)s AND p.date <= %(as_of)s{_customer_filter("p.customer_id", customer_ids, params)}
    """  # noqa: S608


_PAYMENT_STATS = ("payment_count_3m", "payment_amount_3m", "payment_count_12m", "payment_amount_mean_12m",
                  "payment_amount_std_12m", "payment_interval_mean_days", "payment_interval_std_days")


def _payment_stats(customer: np.ndarray, day: np.ndarray, cents: np.ndarray) -> pd.DataFrame:
    """Per customer from payment rows: counts and amounts (3 and 12 months), mean and sample std of the
    amounts and of the days between consecutive payments (ties are 0-day gaps). Vectorised: rows are
    sorted by (customer, day), groups found at customer changes, sums taken with bincount; the
    standard deviations are two-pass (deviations from the group mean), money is summed in exact cents.
    """
    if not len(customer):
        return pd.DataFrame({name: pd.Series(dtype="float64") for name in _PAYMENT_STATS},
                            index=pd.Index([], dtype="int64", name="customer_id"))
    key = customer * 2048 + (day + 1024)  # one sortable int64 (day is within −364…0)
    if not (key[1:] >= key[:-1]).all():
        order = np.argsort(key, kind="stable")
        customer, day, cents = customer[order], day[order], cents[order]
    first = np.empty(len(customer), dtype=bool)
    first[0] = True
    np.not_equal(customer[1:], customer[:-1], out=first[1:])
    group = np.cumsum(first) - 1
    k = int(group[-1]) + 1

    def total(weights=None, where=group):
        return np.bincount(where, weights=weights, minlength=k)

    with np.errstate(divide="ignore", invalid="ignore"):
        count = total().astype("float64")
        recent = day > -90  # dated after as_of − 90 days
        amount_3m = total(np.where(recent, cents, 0).astype("float64")) / 100
        mean = total(cents.astype("float64")) / 100 / count
        amount_ss = total((cents / 100 - mean[group]) ** 2)
        amount_std = np.where(count > 1, np.sqrt(amount_ss / (count - 1)), np.nan)
        same = ~first[1:]
        gaps = np.diff(day)[same].astype("float64")
        gap_group = group[1:][same]
        gap_n = count - 1
        gap_mean = np.where(gap_n > 0, total(gaps, gap_group) / gap_n, np.nan)
        gap_ss = total((gaps - gap_mean[gap_group]) ** 2, gap_group)
        gap_std = np.where(gap_n > 1, np.sqrt(gap_ss / (gap_n - 1)), np.nan)
    return pd.DataFrame({
        "payment_count_3m": total(recent.astype("float64")),
        "payment_amount_3m": amount_3m,
        "payment_count_12m": count,
        "payment_amount_mean_12m": mean,
        "payment_amount_std_12m": amount_std,
        "payment_interval_mean_days": gap_mean,
        "payment_interval_std_days": gap_std,
    }, index=pd.Index(customer[first], dtype="int64", name="customer_id"))


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
            # Portfolio scale: JIT compilation costs more than it saves on these scans (the setting ends
            # with this transaction).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        params = _date_params(as_of)
        inv_rows = _fetch_ints(_invoice_rows_sql(ids, params), params, _INVOICE_ROWS, small=_DAY_COLUMNS)
        params = _date_params(as_of)
        rows = _fetch_ints(_payment_rows_sql(ids, params), params, ("customer_id", "day", "cents"), small=("day",))
    inv = _invoice_sums(inv_rows).reindex(index)
    pay = _payment_stats(rows["customer_id"], rows["day"], rows["cents"])
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

    for name in ("payment_count_3m", "payment_amount_3m", "payment_count_12m"):
        out[name] = col(pay, name)
    for name in ("payment_amount_mean_12m", "payment_amount_std_12m", "payment_interval_mean_days",
                 "payment_interval_std_days"):
        out[name] = pay[name].astype("float64")

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
