"""Template filters for the credit file: money, percentages, grade/status/zone badges."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django import template
from django.core.serializers.json import DjangoJSONEncoder

register = template.Library()

_STATUS_BADGES = {
    "prospect": "badge-info",
    "active": "badge-ok",
    "on_hold": "badge-warn",
    "blocked": "badge-bad",
    "closed": "",
    # invoices / orders
    "open": "badge-info",
    "paid": "badge-ok",
    "written_off": "badge-bad",
    "cancelled": "",
    "held": "badge-warn",
    "released": "badge-ok",
    "shipped": "",
}
_ZONE_BADGES = {"safe": "badge-ok", "grey": "badge-warn", "distress": "badge-bad"}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


@register.filter
def money(value, places: int = 2):
    """1234567.8 → "1,234,567.80"; None → "—"."""
    number = _decimal(value)
    if number is None:
        return "—"
    if not number.is_finite():
        return "—"
    return f"{number:,.{int(places)}f}"


@register.filter
def money0(value):
    return money(value, 0)


@register.filter
def percent(value, places: int = 1):
    """A ratio 0.1234 → "12.3%"; None → "—"."""
    number = _decimal(value)
    if number is None or not number.is_finite():
        return "—"
    return f"{number * 100:.{int(places)}f}%"


@register.filter
def number(value, places: int = 2):
    """A plain figure (ratios, days) with fixed decimals; None/NaN → "—"."""
    num = _decimal(value)
    if num is None or not num.is_finite():
        return "—"
    return f"{num:,.{int(places)}f}"


@register.filter
def grade_class(grade) -> str:
    """"B2" → "grade grade-B" (the CSS colour bands are per letter)."""
    letter = str(grade or "")[:1].upper()
    return f"grade grade-{letter}" if letter in "ABCDE" and letter else "grade"


@register.filter
def status_badge(status) -> str:
    return f"badge {_STATUS_BADGES.get(str(status or ''), '')}".strip()


@register.filter
def zone_badge(zone) -> str:
    return f"badge {_ZONE_BADGES.get(str(zone or ''), '')}".strip()


@register.filter
def get_item(mapping, key):
    """dict lookup with a variable key: {{ customer.attributes|get_item:definition.key }}."""
    if not mapping:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag(takes_context=True)
def page_query(context, param: str, number, part: str = "") -> str:
    """"?…" keeping the current query, with ``param`` set to ``number`` (and ``part`` for htmx parts)."""
    request = context["request"]
    query = request.GET.copy()
    query.pop("part", None)
    query[param] = number
    if part:
        query["part"] = part
    return "?" + query.urlencode()


@register.simple_tag(takes_context=True)
def sort_query(context, key: str) -> str:
    """"?…" toggling the list's sort on ``key`` (ascending first), back to page 1."""
    request = context["request"]
    query = request.GET.copy()
    query.pop("page", None)
    current = query.get("sort", "code")
    query["sort"] = f"-{key}" if current == key else key
    return "?" + query.urlencode()


@register.simple_tag(takes_context=True)
def sort_class(context, key: str) -> str:
    current = context["request"].GET.get("sort", "code")
    if current == key:
        return "sorted-asc"
    if current == f"-{key}":
        return "sorted"
    return ""


@register.filter
def chart_json(spec) -> str:
    """A chart spec as JSON for a data-chart-spec attribute (autoescaping makes it attribute-safe).

    Used instead of json_script inside htmx partials: htmx drops <script> elements from responses.
    """
    return json.dumps(spec, cls=DjangoJSONEncoder, ensure_ascii=False)
