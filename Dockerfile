# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 \
    DJANGO_ENV=production CREDITRISK_VAR_DIR=/app/var
WORKDIR /app

RUN apt-get update && apt-get install -y --no-install-recommends gettext curl \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY creditrisk ./creditrisk
COPY customers ./customers
COPY scoring ./scoring
COPY monitoring ./monitoring
COPY mitigation ./mitigation
RUN pip install --no-cache-dir .
COPY . .
# collectstatic needs settings but no secrets or database.
RUN DJANGO_SECRET_KEY=build-only-key-build-only-key-build-only-key-0123456789 DJANGO_ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 1000 --home /app creditrisk && mkdir -p /app/var && chown -R creditrisk /app/var
USER creditrisk
EXPOSE 8000
CMD ["gunicorn", "creditrisk.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
