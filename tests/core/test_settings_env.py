"""Settings come from the environment through strict helpers; production refuses unsafe values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from creditrisk.env import env_bool, env_choice, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k3J!x9-qP2#vL8@tR5&nW1*zC7^mB4%hF6(dG0)sY-aE_uI+oU=pQ.rT,wX;yZ:v"


@pytest.mark.parametrize("raw", ["maybe", "2", "truee"])
def test_it_refuses_a_bad_boolean(monkeypatch, raw):
    monkeypatch.setenv("X_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")


def test_it_reads_booleans_integers_lists_and_choices(monkeypatch):
    monkeypatch.setenv("X_FLAG", "Yes")
    monkeypatch.setenv("X_NUM", "42")
    monkeypatch.setenv("X_LIST", "a.example, b.example ,")
    monkeypatch.setenv("X_ENV", "production")
    assert env_bool("X_FLAG") is True
    assert env_int("X_NUM", 1) == 42
    assert env_list("X_LIST") == ["a.example", "b.example"]
    assert env_choice("X_ENV", ("development", "production"), "development") == "production"


def test_it_refuses_bad_integers_and_choices(monkeypatch):
    monkeypatch.setenv("X_NUM", "forty")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "-3")
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_int("X_NUM", 1, minimum=0)
    monkeypatch.setenv("X_ENV", "staging")
    with pytest.raises(ImproperlyConfigured, match="must be one of"):
        env_choice("X_ENV", ("development", "production"), "development")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=120)


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DJANGO_ENV="production", DJANGO_ALLOWED_HOSTS="credit.example.com")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_a_weak_secret_key():
    result = _manage("check", DJANGO_ENV="production", DJANGO_ALLOWED_HOSTS="credit.example.com",
                     DJANGO_SECRET_KEY="short")
    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


def test_production_passes_check_deploy_at_warning_level():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_ENV="production",
                     DJANGO_SECRET_KEY=GOOD_SECRET, DJANGO_ALLOWED_HOSTS="credit.example.com")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bad_database_url_is_refused():
    result = _manage("check", DATABASE_URL="mysql-ish://nowhere")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_env_example_documents_every_setting_of_the_design():
    text = (ROOT / ".env.example").read_text()
    for name in ("DJANGO_ENV", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL",
                 "PORT", "EMAIL_URL"):
        assert f"{name}=" in text, name
