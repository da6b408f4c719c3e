"""Housekeeping tasks of the core."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from creditrisk.core.audit import audit_record


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Proves that beat schedules and a worker executes; the time is shown on /jobs/."""
    now = timezone.now().isoformat()
    cache.set("creditrisk:last_heartbeat", now, timeout=None)
    return now


@shared_task(name="core.audit_ping", ignore_result=True)
def audit_ping(token: str) -> None:
    """Round trip used by the integration test: the worker writes an audit event the test then reads."""
    audit_record(actor=None, action="system.ping", subject_type="core.worker", subject_id=token,
                 subject_label="worker round trip")
