"""Pages of the shell: home, health, audit trail, placeholders for sections still to come."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from creditrisk.core.decorators import section_required
from creditrisk.core.health import broker_status, database_status
from creditrisk.core.models import AuditEvent
from creditrisk.core.pagination import CappedCountPaginator


@login_not_required
@never_cache
@require_GET
def healthz(request):
    database = database_status()
    broker = broker_status()
    healthy = database["ok"] and broker["ok"]
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "database": database, "broker": broker},
        status=200 if healthy else 503,
    )


def home(request):
    return redirect("dashboard")


def coming_soon(request, *, section: str, title: str, issue_hint: str = ""):
    return render(request, "core/coming_soon.html", {"title": title, "section": section, "hint": issue_hint})


def make_placeholder(section: str, title):
    @section_required(section)
    def view(request):
        return coming_soon(request, section=section, title=str(title))

    view.__name__ = f"{section}_placeholder"
    return view


@section_required("dashboard")
def dashboard(request):
    from creditrisk.core.roles import ROLE_LABELS, user_roles
    from customers.selectors import AGING_BUCKETS
    from monitoring.selectors import portfolio_summary

    roles = [ROLE_LABELS.get(role, role) for role in sorted(user_roles(request.user))]
    summary = portfolio_summary(as_of=timezone.localdate())
    aging_chart = {
        "type": "bar", "format": "money", "legend": False,
        "labels": [str(label) for _key, label in AGING_BUCKETS],
        "datasets": [{"label": _("Open AR"), "data": [float(summary["aging"][key]) for key, _label in AGING_BUCKETS],
                      "colors": ["#1f7a4d", "#2f7dd1", "#a86400", "#c2410c", "#b3261e"]}],
    }
    grade_chart = {
        "type": "bar", "format": "money",
        "labels": [row["grade"] for row in summary["exposure_by_grade"]],
        "datasets": [{"label": _("Open AR"), "data": [float(row["open_ar"]) for row in summary["exposure_by_grade"]]}],
    }
    return render(request, "core/dashboard.html", {
        "roles": roles, "summary": summary, "aging_chart": aging_chart, "grade_chart": grade_chart,
        "title": _("Dashboard"),
    })


@section_required("audit")
def audit_list(request):
    events = AuditEvent.objects.select_related(None).order_by("-seq")
    subject = request.GET.get("subject", "").strip()
    actor = request.GET.get("actor", "").strip()
    action = request.GET.get("action", "").strip()
    date_from = parse_date(request.GET.get("from", "") or "")
    date_to = parse_date(request.GET.get("to", "") or "")
    if subject:
        if ":" in subject:
            subject_type, _sep, subject_id = subject.partition(":")
            events = events.filter(subject_type=subject_type, subject_id=subject_id)
        else:
            events = events.filter(subject_label__icontains=subject) | events.filter(subject_id=subject)
    if actor:
        events = events.filter(actor_label__iexact=actor)
    if action:
        events = events.filter(action__startswith=action)
    tz = timezone.get_current_timezone()
    if date_from:
        events = events.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        events = events.filter(created_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    page = CappedCountPaginator(events, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": {"subject": subject, "actor": actor, "action": action,
                    "from": request.GET.get("from", ""), "to": request.GET.get("to", "")},
        "actors": get_user_model().objects.order_by("username").values_list("username", flat=True)[:200],
        "title": _("Audit trail"),
    }
    template = "core/audit_list.html#results" if request.htmx else "core/audit_list.html"
    return render(request, template, context)
