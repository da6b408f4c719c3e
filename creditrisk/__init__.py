"""CreditRisk project package: settings, URLs, the Celery app and the shared core."""

from creditrisk.celery import app as celery_app

__all__ = ("celery_app",)
