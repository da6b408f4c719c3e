"""Celery tasks of scoring: the portfolio re-score, fanned out over customer-id ranges.

``scoring.portfolio_rescore`` splits the portfolio into id ranges and runs one
``scoring.rescore_chunk`` per range in a ``group``, so any number of workers share a run. A chunk
replaces its own rows in the run, so a retried or duplicated chunk changes nothing; the chunk that
completes the run marks it finished.
"""

from __future__ import annotations

import datetime as dt

from celery import group, shared_task

DEFAULT_CHUNK_SIZE = 20_000


def chunk_ranges(ids: list[int], chunk_size: int) -> list[tuple[int, int]]:
    """Contiguous (first_id, last_id) ranges of at most ``chunk_size`` ids each (ids sorted)."""
    return [(ids[i], ids[min(i + chunk_size, len(ids)) - 1]) for i in range(0, len(ids), chunk_size)]


@shared_task(name="scoring.portfolio_rescore", ignore_result=True)
def portfolio_rescore(run_id: int | None = None, as_of: str | None = None, kind: str = "nightly",
                      chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """Plan a run (or take a queued one) and enqueue its chunks. Returns the run id."""
    from django.utils import timezone

    from customers.models import Customer
    from scoring.models import RunStatus, ScoringRun
    from scoring.services import scoring_run_finish, scoring_run_start

    if run_id is None:
        run = scoring_run_start(as_of=dt.date.fromisoformat(as_of) if as_of else timezone.localdate(), kind=kind,
                                status=RunStatus.QUEUED)
    else:
        run = ScoringRun.objects.get(pk=run_id)
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    ranges = chunk_ranges(ids, max(1, int(chunk_size)))
    # Claim the queued run: a duplicated delivery of this task finds it running and plans nothing.
    claimed = ScoringRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), chunks_total=max(1, len(ranges)))
    if not claimed:
        return run.pk
    if not ranges:
        scoring_run_finish(run=run)
        return run.pk
    group(rescore_chunk.si(run.pk, first, last) for first, last in ranges).apply_async()
    return run.pk


@shared_task(name="scoring.rescore_chunk", ignore_result=True, acks_late=True, autoretry_for=(OSError,),
             retry_backoff=True, max_retries=3)
def rescore_chunk(run_id: int, first_id: int, last_id: int) -> None:
    """Score customers with ids in [first_id, last_id] into the run; the last chunk finishes it."""
    from customers.models import Customer
    from scoring.models import RunStatus, ScoringRun
    from scoring.services import scoring_run_chunk, scoring_run_finish

    run = ScoringRun.objects.get(pk=run_id)
    if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        return
    ids = list(Customer.objects.filter(pk__gte=first_id, pk__lte=last_id).order_by("pk").values_list("pk", flat=True))
    try:
        scoring_run_chunk(run=run, customer_ids=ids, chunk_key=f"{first_id}-{last_id}")
    except Exception as exc:
        scoring_run_finish(run=run, error=f"chunk {first_id}-{last_id}: {type(exc).__name__}: {exc}")
        raise
    run.refresh_from_db(fields=["chunks_done", "chunks_total"])
    if run.chunks_done >= run.chunks_total:
        scoring_run_finish(run=run)


@shared_task(name="scoring.train_model", ignore_result=True, soft_time_limit=3000, time_limit=3600)
def train_model(algorithm: str, labels: str, actor_id: int | None = None) -> int | None:
    """Train a PD model in the background (pages queue it for large portfolios). Returns the version.

    Not acks_late: training is not idempotent (each run stores a new version), so a lost worker loses the
    run instead of training twice. A refusal (too little data, …) is logged; nothing is stored.
    """
    import logging

    from django.contrib.auth import get_user_model

    from scoring.ml.train import TrainingError
    from scoring.training import model_train

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        model = model_train(algorithm=algorithm, labels=labels, actor=actor)
    except (TrainingError, ValueError) as exc:
        logging.getLogger(__name__).warning("Model training refused: %s", exc)
        return None
    return model.version
