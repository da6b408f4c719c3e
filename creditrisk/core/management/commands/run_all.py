"""run_all: the web server, a Celery worker and beat together, stopped together by Ctrl-C (make run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def _stop_requested(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Start the web server, one Celery worker and Celery beat; Ctrl-C stops all three."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, **options):
        signal.signal(signal.SIGTERM, _stop_requested)  # `kill`/timeout stop the children too, like Ctrl-C
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        python = sys.executable
        beat_schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        commands = {
            "web": [python, "manage.py", "runserver", f"{options['host']}:{options['port']}", "--noreload"],
            "worker": [python, "-m", "celery", "-A", "creditrisk", "worker", "--loglevel=INFO",
                       f"--concurrency={options['concurrency']}", "--hostname=worker@%h"],
            "beat": [python, "-m", "celery", "-A", "creditrisk", "beat", "--loglevel=INFO", "-s", beat_schedule],
        }
        if settings.PRODUCTION:
            commands["web"] = [python, "-m", "gunicorn", "creditrisk.wsgi", "-b",
                               f"{options['host']}:{options['port']}", "--workers", "3"]
        processes: dict[str, subprocess.Popen] = {}
        broker = "embedded (SQLite)" if settings.CELERY_EMBEDDED_BROKER else settings.CELERY_BROKER_URL.split("@")[-1]
        self.stdout.write(self.style.SUCCESS(
            f"CreditRisk on http://{options['host']}:{options['port']}/  (database: "
            f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, broker: {broker}); Ctrl-C stops."))
        try:
            for name, command in commands.items():
                processes[name] = subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)  # noqa: S603
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the others.")
                        return
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("Stopping …")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
