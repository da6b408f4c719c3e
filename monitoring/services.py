"""Writes of monitoring: schedules of the periodic jobs (edited by operations, audited)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from creditrisk.celery import app as celery_app
from creditrisk.core.audit import audit_record

CRON_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


def _validate_crontab(values: dict[str, str]) -> dict[str, str]:
    from celery.schedules import crontab

    cleaned = {field: (values.get(field) or "").strip() for field in CRON_FIELDS}
    errors = {field: [_("This field is required.")] for field, value in cleaned.items() if not value}
    if errors:
        raise ValidationError(errors)
    try:
        crontab(**cleaned)
    except (ValueError, TypeError) as exc:
        message = _("This is not a valid cron expression: %(error)s") % {"error": exc}
        raise ValidationError({"minute": [message]}) from exc
    return cleaned


def _schedule_state(task: PeriodicTask) -> dict:
    crontab = task.crontab
    return {
        "enabled": task.enabled,
        "crontab": {field: getattr(crontab, field) for field in CRON_FIELDS} if crontab else None,
    }


@transaction.atomic
def periodic_task_update(*, task_id: int, actor, enabled: bool, crontab: dict[str, str]) -> PeriodicTask:
    task = PeriodicTask.objects.select_for_update(of=("self",)).select_related("crontab").get(pk=task_id)
    before = _schedule_state(task)
    cleaned = _validate_crontab(crontab)
    timezone = task.crontab.timezone if task.crontab else "UTC"
    schedule, _created = CrontabSchedule.objects.get_or_create(**cleaned, timezone=timezone)
    task.crontab = schedule
    task.enabled = enabled
    task.save(update_fields=["crontab", "enabled", "date_changed"])
    audit_record(actor=actor, action="schedule.update", subject_type="django_celery_beat.periodictask",
                 subject_id=task.pk, subject_label=task.name, before=before, after=_schedule_state(task))
    return task


def periodic_task_run_now(*, task_id: int, actor) -> str:
    """Send the scheduled task to the workers now (after this request's transaction commits)."""
    task = PeriodicTask.objects.get(pk=task_id)
    if task.task not in celery_app.tasks:
        celery_app.loader.import_default_modules()
    if task.task not in celery_app.tasks:
        raise ValidationError(_("The task %(task)s is not known to this installation.") % {"task": task.task})
    with transaction.atomic():
        audit_record(actor=actor, action="schedule.run_now", subject_type="django_celery_beat.periodictask",
                     subject_id=task.pk, subject_label=task.name)
        transaction.on_commit(lambda: celery_app.send_task(task.task))
    return task.task
