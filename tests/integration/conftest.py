"""A real Celery worker in a subprocess, on the suite's broker and test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker_queue(transactional_db):
    """Start `celery worker` on a queue of its own; yields the queue name; stops the worker after."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "DATABASE_URL": test_database_url(), "OMP_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1"}
    if not settings.CELERY_EMBEDDED_BROKER:
        env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    log = open(ROOT / "var" / f"{queue}.log", "w+")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "creditrisk", "worker", "--pool=solo", "--loglevel=INFO",
         "-Q", queue, f"--hostname={queue}@%h", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log.seek(0)
            text = log.read()
            if " ready." in text:
                break
            if worker.poll() is not None:
                pytest.fail(f"the Celery worker exited with {worker.returncode}:\n{text[-3000:]}")
            time.sleep(0.3)
        else:
            log.seek(0)
            pytest.fail(f"the Celery worker did not become ready in 60 s:\n{log.read()[-3000:]}")
        yield queue
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        Path(log.name).unlink(missing_ok=True)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
