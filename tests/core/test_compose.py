"""No Docker engine runs here: check the compose file's services and commands instead."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_defines_the_production_stack():
    services = _compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name


def test_web_runs_gunicorn_and_workers_run_celery_against_postgres_and_redis():
    services = _compose()["services"]
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "creditrisk", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "creditrisk", "beat"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
        assert env["DJANGO_ENV"] == "production"


def test_there_is_exactly_one_beat():
    services = _compose()["services"]
    beats = [name for name, svc in services.items() if "beat" in (svc.get("command") or [])]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_data_lives_in_volumes():
    compose = _compose()
    assert {"pgdata", "redisdata", "media"} <= set(compose["volumes"])
