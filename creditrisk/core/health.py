"""Health probes for /healthz: the database and the Celery broker."""

from __future__ import annotations

from django.db import connection


def database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported not raised
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def broker_status(timeout: float = 2.0) -> dict:
    from creditrisk.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            transport = conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "transport": str(transport)}
