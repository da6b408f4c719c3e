"""Background tasks of monitoring."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="monitoring.refresh_dashboard", ignore_result=True, acks_late=True)
def refresh_dashboard() -> None:
    """Recompute the portfolio dashboard's aggregates into the cache (idempotent: safe to run twice)."""
    from django.utils import timezone

    from monitoring.selectors import portfolio_summary

    portfolio_summary(as_of=timezone.localdate(), refresh=True)
