"""Every URL the project defines has a decided permission, and every role gets exactly that.

Adding a URL without adding it to EXPECTED fails this suite: decide who may open it first.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

ALL = {"analyst", "manager", "operations", "auditor", "admin"}
CREDIT = {"analyst", "manager", "auditor", "admin"}
PUBLIC = "public"

# url name → roles that may GET it (admin = superuser). PUBLIC: no login needed.
EXPECTED: dict[str, set[str] | str] = {
    "healthz": PUBLIC,
    "login": PUBLIC,
    "set_language": PUBLIC,
    "logout": ALL | {"outsider"},
    "password_change": ALL | {"outsider"},
    "password_change_done": ALL | {"outsider"},
    "home": ALL | {"outsider"},
    "dashboard": ALL,
    "audit": {"manager", "auditor", "admin"},
    "alerts": CREDIT,
    "reviews": CREDIT,
    "limits": CREDIT,
    "held_orders": CREDIT,
    "imports": {"analyst", "manager", "operations", "admin"},
    "jobs": {"operations", "manager", "auditor", "admin"},
    "settings": {"manager", "admin"},
    "customers:list": ALL,
    "scoring:index": CREDIT,
    # API
    "api:token": PUBLIC,
    "api:me": ALL | {"outsider"},
    "api:schema": ALL | {"outsider"},
    "api:docs": ALL | {"outsider"},
    **{f"api:{resource}-{kind}": ALL for resource in ("customer", "invoice", "payment", "order",
                                                       "financial-statement", "credit-report")
       for kind in ("list", "detail")},
    "api:invoice-bulk": {"analyst", "manager", "admin"},  # GET is 405 for writers, 403 for the rest
    "api:payment-bulk": {"analyst", "manager", "admin"},
}

# Values for URL parameters; the fixture below creates the objects they name.
SAMPLE_KWARGS = {"code": "PM001", "kind": "customers", "pk": 1, "id": 1, "tab": "overview", "version": 1}
SKIPPED_PREFIXES = ("admin:",)  # Django admin has its own staff login and permissions


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", prefix + str(entry.pattern), entry


def _project_urls():
    seen = {}
    for name, route, pattern in _walk(get_resolver().url_patterns):
        if name.startswith(SKIPPED_PREFIXES) or name in seen:
            continue
        seen[name] = (route, pattern)
    return seen


def _reverse(name):
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name)
    except NoReverseMatch:
        pass
    route = _project_urls()[name][0]
    kwargs = {}
    for param in SAMPLE_KWARGS:
        if f"<{param}>" in route or f":{param}>" in route:
            kwargs[param] = SAMPLE_KWARGS[param]
    return reverse(name, kwargs=kwargs)


def test_every_url_has_a_decided_permission():
    undecided = sorted(set(_project_urls()) - set(EXPECTED))
    assert undecided == [], f"add these URL names to EXPECTED with the roles allowed: {undecided}"
    stale = sorted(set(EXPECTED) - set(_project_urls()))
    assert stale == [], f"these names are no longer URLs: {stale}"


@pytest.fixture
def sample_objects(db, analyst):
    from customers.models import Customer, CustomerGroup

    group = CustomerGroup.objects.create(code="PM001", name="Matrix Group")
    Customer.objects.create(code="PM001", name="Matrix Customer", group=group, currency="CNY", country="CN")


def _denied(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and "/accounts/login/" in response.headers.get("Location", "")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_role_gets_the_expected_answer(name, personas, sample_objects, client):
    url = _reverse(name)
    expected = EXPECTED[name]
    anonymous = client.get(url)
    if expected == PUBLIC:
        assert not _denied(anonymous), f"{url} should be public"
        return
    assert _denied(anonymous), f"anonymous got {anonymous.status_code} on {url}"
    for role, user in personas.items():
        client.force_login(user)
        response = client.get(url)
        if role in expected:
            assert not _denied(response), f"{role} was refused {url} ({response.status_code})"
            assert response.status_code < 500
        else:
            assert _denied(response), f"{role} was let into {url} ({response.status_code})"
        client.logout()
