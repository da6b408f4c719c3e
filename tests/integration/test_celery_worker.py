"""A real Celery worker, on the configured broker (embedded SQLite or Redis), runs a task end to end."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from creditrisk.core.audit import audit_verify
from creditrisk.core.models import AuditEvent
from creditrisk.core.tasks import audit_ping
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def test_it_runs_a_task_in_a_real_worker_and_writes_to_the_database(celery_worker_queue):
    token = uuid.uuid4().hex
    audit_ping.apply_async(args=[token], queue=celery_worker_queue)
    event = wait_for(lambda: AuditEvent.objects.filter(action="system.ping", subject_id=token).first())
    assert event is not None, "the worker did not run the task within 60 s"
    assert event.actor_label == "system"
    assert list(audit_verify()) == []


def test_the_broker_in_use_is_the_configured_one():
    """In CI's second pass the broker must be Redis; the suite fails rather than silently embedding one."""
    import os

    if os.environ.get("CELERY_BROKER_URL"):
        assert os.environ["CELERY_BROKER_URL"] == settings.CELERY_BROKER_URL
        assert not settings.CELERY_EMBEDDED_BROKER
    else:
        assert settings.CELERY_BROKER_URL.startswith("sqla+sqlite:///")
