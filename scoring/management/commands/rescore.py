"""rescore: re-score the portfolio now — inline with --sync, otherwise through Celery."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from creditrisk.core.exceptions import DomainError


class Command(BaseCommand):
    help = ("Re-score every customer as of a date (default today). With --sync the run happens inline and its "
            "counts and timings are printed; without it the run is queued for the Celery workers and its id printed.")

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", help="as-of date, YYYY-MM-DD (default: today)")
        parser.add_argument("--sync", action="store_true", help="score inline instead of through Celery")
        parser.add_argument("--chunk-size", type=int, default=20_000, help="customers per Celery chunk")

    def handle(self, *args, **options):
        from scoring.models import RunKind, RunStatus
        from scoring.services import scoring_run_portfolio, scoring_run_start

        as_of = self._as_of(options["as_of"])
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        try:
            if options["sync"]:
                run = scoring_run_portfolio(as_of=as_of, kind=RunKind.MANUAL)
                self._print_run(run)
                return
            run = scoring_run_start(as_of=as_of, kind=RunKind.MANUAL, status=RunStatus.QUEUED)
        except ValidationError as exc:
            raise CommandError("; ".join(m for messages in exc.message_dict.values() for m in messages)
                               if hasattr(exc, "error_dict") else "; ".join(exc.messages)) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        from scoring.tasks import portfolio_rescore

        portfolio_rescore.delay(run_id=run.pk, chunk_size=options["chunk_size"])
        self.stdout.write(f"Queued scoring run {run.pk} as of {as_of.isoformat()}.")

    def _as_of(self, value: str | None) -> dt.date:
        if not value:
            return timezone.localdate()
        try:
            as_of = dt.date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"--as-of {value!r} is not a date; use YYYY-MM-DD.") from None
        if as_of > timezone.localdate():
            raise CommandError(f"--as-of {value} is in the future.")
        return as_of

    def _print_run(self, run) -> None:
        counts = {k: v for k, v in run.counts.items() if k != "chunks"}
        self.stdout.write(self.style.SUCCESS(
            f"Scoring run {run.pk} as of {run.as_of.isoformat()}: {run.status}, "
            f"{counts.get('scored', 0):,} of {counts.get('customers', 0):,} customers scored."))
        grades = counts.get("by_grade", {})
        if grades:
            self.stdout.write("  by grade: " + ", ".join(f"{g} {n:,}" for g, n in sorted(grades.items())))
        for key in ("unscored", "model_scored", "overrides_applied", "without_reason"):
            self.stdout.write(f"  {key.replace('_', ' ')}: {counts.get(key, 0):,}")
        for card, n in counts.get("by_scorecard", {}).items():
            self.stdout.write(f"  scorecard {card}: {n:,}")
        for warning in counts.get("warnings", []):
            self.stdout.write(self.style.WARNING(f"  warning: {warning}"))
        self.stdout.write("  timings (s): " + ", ".join(f"{k} {v:.3f}" for k, v in run.timings.items()))
