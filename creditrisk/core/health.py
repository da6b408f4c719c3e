"""Health probes for /healthz: the database and the Celery broker."""

from __future__ import annotations

from django.db import connection


def database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def broker_status(timeout: float = 2.0) -> dict:
    """Open a fresh connection to the configured broker (not a pooled one, which could hide an outage)."""
    from django.conf import settings
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout,
                        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=timeout)
            transport = conn.transport.driver_type
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "transport": str(transport)}
