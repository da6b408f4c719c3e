"""The one place that defines the default periodic schedules.

Operations edit them in the browser (/jobs/, stored by django-celery-beat); `schedules_install`
creates the defaults once and never overwrites an operator's change.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    crontab: dict[str, str]
    description: str
    kwargs: dict = field(default_factory=dict)


DEFAULT_SCHEDULES: list[DefaultSchedule] = [
    DefaultSchedule(
        name="Nightly portfolio re-score",
        task="scoring.portfolio_rescore",
        crontab={"minute": "0", "hour": "2", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        description="Re-scores every customer as of today (chunked across the workers).",
    ),
    DefaultSchedule(
        name="Dashboard refresh",
        task="monitoring.refresh_dashboard",
        crontab={"minute": "*/10", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        description="Recomputes the portfolio dashboard's figures so no page view waits for them.",
    ),
    DefaultSchedule(
        name="Hourly broker heartbeat",
        task="core.heartbeat",
        crontab={"minute": "5", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        description="Records that the worker and beat are alive (shown on /jobs/ and /healthz).",
    ),
]


def schedules_install() -> int:
    """Create missing default schedules; returns how many were created."""
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = 0
    for schedule in DEFAULT_SCHEDULES:
        if PeriodicTask.objects.filter(name=schedule.name).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(**schedule.crontab, timezone=settings.TIME_ZONE)
        PeriodicTask.objects.create(
            name=schedule.name,
            task=schedule.task,
            crontab=crontab,
            description=schedule.description,
            enabled=True,
        )
        created += 1
    return created
