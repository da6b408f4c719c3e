"""Operations schedule and start the periodic jobs in the browser; everyone else only reads."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from creditrisk.core.models import AuditEvent
from creditrisk.schedules import schedules_install


@pytest.fixture
def nightly(db):
    schedules_install()
    return PeriodicTask.objects.select_related("crontab").get(task="scoring.portfolio_rescore")


def _post(client, task, **fields):
    data = {"minute": "30", "hour": "3", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*",
            "enabled": "on", **fields}
    return client.post(f"/jobs/schedules/{task.pk}/", data, HTTP_HX_REQUEST="true")


def test_it_installs_the_default_schedules_once(db):
    assert schedules_install() >= 2
    assert schedules_install() == 0
    nightly = PeriodicTask.objects.get(task="scoring.portfolio_rescore")
    assert (nightly.crontab.minute, nightly.crontab.hour) == ("0", "2")


def test_operations_moves_the_nightly_run_and_it_is_audited(client_for, ops, nightly):
    response = _post(client_for(ops), nightly)
    assert response.status_code == 200
    assert b"Saved" in response.content
    nightly.refresh_from_db()
    assert (nightly.crontab.minute, nightly.crontab.hour) == ("30", "3")
    event = AuditEvent.objects.get(action="schedule.update")
    assert event.before["crontab"]["hour"] == "2"
    assert event.after["crontab"]["hour"] == "3"


def test_a_bad_cron_expression_is_refused_and_changes_nothing(client_for, ops, nightly):
    response = _post(client_for(ops), nightly, hour="25")
    assert response.status_code == 422
    nightly.refresh_from_db()
    assert nightly.crontab.hour == "2"
    assert not AuditEvent.objects.filter(action="schedule.update").exists()


@pytest.mark.parametrize("persona", ["auditor", "analyst", "manager"])
def test_other_roles_cannot_change_schedules(request, client_for, nightly, persona):
    client = client_for(request.getfixturevalue(persona))
    assert _post(client, nightly).status_code == 403
    assert client.post(f"/jobs/schedules/{nightly.pk}/run/").status_code == 403
    nightly.refresh_from_db()
    assert nightly.crontab.hour == "2"


def test_run_now_sends_the_task_after_commit(client_for, ops, nightly, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(ops).post(f"/jobs/schedules/{nightly.pk}/run/")
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="schedule.run_now", subject_id=str(nightly.pk)).exists()


def test_the_jobs_page_runs_a_fixed_number_of_queries(client_for, auditor, nightly, django_assert_max_num_queries):
    client = client_for(auditor)
    with django_assert_max_num_queries(12):
        response = client.get("/jobs/")
    assert response.status_code == 200
    assert b"Nightly portfolio re-score" in response.content
    assert b"Run now" not in response.content
