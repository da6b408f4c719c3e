"""Reads for the portfolio dashboard: a handful of aggregate queries, whatever the portfolio's size.

The summary is cached (per as-of date, language-independent) and refreshed in the background every few
minutes by ``monitoring.refresh_dashboard``, so no page view pays for the aggregates over a million
customers (about 9 s on PostgreSQL) except the very first after a cold start.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Case, Count, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from customers.models import OPEN_ORDER_STATUSES, Customer, Invoice, InvoiceStatus, SalesOrder

CACHE_SECONDS = 1800  # the beat refreshes it every 10 minutes; this only bounds staleness if beat stops
_MONEY = DecimalField(max_digits=20, decimal_places=2)
_ZERO = Value(Decimal("0"), output_field=_MONEY)
BUCKETS = ("ar_current", "ar_1_30", "ar_31_60", "ar_61_90", "ar_90_plus")


def _open_invoices():
    return Invoice.objects.filter(status=InvoiceStatus.OPEN, amount__gt=F("amount_paid"))


def _open_amount():
    return F("amount") - F("amount_paid")


def _aging(as_of: dt.date) -> dict[str, Decimal]:
    days = dt.timedelta
    bucket_when = {
        "ar_current": Q(due_date__gte=as_of),
        "ar_1_30": Q(due_date__lt=as_of, due_date__gte=as_of - days(30)),
        "ar_31_60": Q(due_date__lt=as_of - days(30), due_date__gte=as_of - days(60)),
        "ar_61_90": Q(due_date__lt=as_of - days(60), due_date__gte=as_of - days(90)),
        "ar_90_plus": Q(due_date__lt=as_of - days(90)),
    }
    sums = _open_invoices().aggregate(**{
        name: Coalesce(Sum(Case(When(condition, then=_open_amount()), default=_ZERO, output_field=_MONEY)), _ZERO)
        for name, condition in bucket_when.items()
    })
    return {name: sums[name] for name in BUCKETS}


def _exposure_by_grade() -> list[dict]:
    rows = (_open_invoices().values("customer__current_grade")
            .annotate(open_ar=Sum(_open_amount(), output_field=_MONEY), customers=Count("customer", distinct=True))
            .order_by("customer__current_grade"))
    return [{"grade": row["customer__current_grade"] or "—", "open_ar": row["open_ar"], "customers": row["customers"]}
            for row in rows]


def _top_exposures(limit: int) -> list[dict]:
    invoices = (_open_invoices().values("customer_id")
                .annotate(open_ar=Sum(_open_amount(), output_field=_MONEY)).order_by("-open_ar")[:limit])
    rows = list(invoices)
    customers = Customer.objects.in_bulk([row["customer_id"] for row in rows])
    return [{"customer": customers[row["customer_id"]], "open_ar": row["open_ar"]} for row in rows
            if row["customer_id"] in customers]


def portfolio_summary(*, as_of: dt.date, top: int = 10, refresh: bool = False) -> dict:
    key = f"creditrisk:dashboard:{as_of.isoformat()}:{top}"
    cached = None if refresh else cache.get(key)
    if cached is not None:
        return cached
    status_counts = dict(Customer.objects.values_list("status").annotate(n=Count("id")).order_by())
    grade_counts = dict(Customer.objects.exclude(current_grade="").values_list("current_grade")
                        .annotate(n=Count("id")).order_by())
    aging = _aging(as_of)
    open_ar = sum(aging.values(), Decimal("0"))
    overdue = open_ar - aging["ar_current"]
    open_orders = SalesOrder.objects.filter(status__in=OPEN_ORDER_STATUSES).aggregate(
        total=Coalesce(Sum("amount"), _ZERO))["total"]
    summary = {
        "as_of": as_of,
        "customers": sum(status_counts.values()),
        "status_counts": status_counts,
        "grade_counts": dict(sorted(grade_counts.items())),
        "aging": aging,
        "open_ar": open_ar,
        "overdue": overdue,
        "overdue_ratio": (overdue / open_ar) if open_ar else None,
        "open_orders": open_orders,
        "exposure_by_grade": _exposure_by_grade(),
        "top_exposures": _top_exposures(top),
    }
    cache.set(key, summary, CACHE_SECONDS)
    return summary
