"""Pages of monitoring: jobs and schedules."""

from __future__ import annotations

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_celery_beat.models import PeriodicTask

from creditrisk.core.decorators import section_required
from monitoring import services
from monitoring.services import CRON_FIELDS


def _recent_runs():
    from scoring.models import ScoringRun

    return ScoringRun.objects.select_related("triggered_by").order_by("-created_at")[:20]


@section_required("jobs")
def jobs(request):
    tasks = PeriodicTask.objects.select_related("crontab").order_by("name")
    heartbeat = cache.get("creditrisk:last_heartbeat")
    context = {
        "tasks": tasks,
        "runs": _recent_runs(),
        "heartbeat": parse_datetime(heartbeat) if heartbeat else None,
        "can_manage": request.user.has_perm("core.manage_jobs"),
        "cron_fields": CRON_FIELDS,
        "title": _("Jobs and schedules"),
    }
    return render(request, "monitoring/jobs.html", context)


@section_required("jobs")
@require_POST
def schedule_update(request, pk: int):
    if not request.user.has_perm("core.manage_jobs"):
        raise PermissionDenied
    task = get_object_or_404(PeriodicTask.objects.select_related("crontab"), pk=pk)
    crontab = {field: request.POST.get(field, "") for field in CRON_FIELDS}
    try:
        task = services.periodic_task_update(task_id=task.pk, actor=request.user,
                                             enabled=request.POST.get("enabled") == "on", crontab=crontab)
    except ValidationError as exc:
        errors = [str(m) for m in exc.messages]
        if request.htmx:
            return render(request, "monitoring/jobs.html#schedule-row",
                          {"task": task, "errors": errors, "can_manage": True, "cron_fields": CRON_FIELDS},
                          status=422)
        messages.error(request, " ".join(errors))
        return redirect("jobs")
    if request.htmx:
        response = render(request, "monitoring/jobs.html#schedule-row",
                          {"task": task, "can_manage": True, "cron_fields": CRON_FIELDS, "saved": True})
        return response
    messages.success(request, _("Schedule saved."))
    return redirect("jobs")


@section_required("jobs")
@require_POST
def schedule_run_now(request, pk: int):
    if not request.user.has_perm("core.manage_jobs"):
        raise PermissionDenied
    task = get_object_or_404(PeriodicTask, pk=pk)
    try:
        services.periodic_task_run_now(task_id=task.pk, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("“%(name)s” was sent to the workers.") % {"name": task.name})
    return redirect("jobs")
