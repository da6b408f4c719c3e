"""Shared fixtures: the personas (analyst, manager, ops, auditor, outsider, admin) and API clients."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from creditrisk.core.roles import sync_role_permissions

PASSWORD = "correct-horse-battery-staple"


def _make_user(username: str, role: str | None = None, *, superuser: bool = False):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD,
                                                is_superuser=superuser, is_staff=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _roles(django_db_setup, django_db_blocker):
    """The role groups get the permissions of every model (post_migrate already did; make sure once)."""
    with django_db_blocker.unblock():
        sync_role_permissions()


@pytest.fixture
def analyst(db):
    return _make_user("ana", "analyst")


@pytest.fixture
def analyst2(db):
    return _make_user("ana2", "analyst")


@pytest.fixture
def manager(db):
    return _make_user("mgr", "manager")


@pytest.fixture
def manager2(db):
    return _make_user("mgr2", "manager")


@pytest.fixture
def ops(db):
    return _make_user("ops", "operations")


@pytest.fixture
def auditor(db):
    return _make_user("aud", "auditor")


@pytest.fixture
def outsider(db):
    """Logged in, but holds no role."""
    return _make_user("nobody")


@pytest.fixture
def admin_user(db):
    return _make_user("root", superuser=True)


@pytest.fixture
def personas(analyst, manager, ops, auditor, outsider, admin_user):
    return {"analyst": analyst, "manager": manager, "operations": ops, "auditor": auditor,
            "outsider": outsider, "admin": admin_user}


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_for():
    def make(user=None):
        api = APIClient()
        if user is not None:
            api.force_authenticate(user)
        return api

    return make


def pytest_report_header(config):
    from django.conf import settings

    return [f"database: {settings.DATABASES['default']['ENGINE']}  broker: "
            f"{'embedded' if settings.CELERY_EMBEDDED_BROKER else settings.CELERY_BROKER_URL}",
            f"CI={os.environ.get('CI', '')}"]
