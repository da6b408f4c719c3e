"""WSGI entry point (gunicorn creditrisk.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditrisk.settings")
application = get_wsgi_application()
