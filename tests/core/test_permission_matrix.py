"""Every URL the project defines has a decided permission, and every role gets exactly that.

Adding a URL without adding it to EXPECTED fails this suite: decide who may open it first. Each entry
says who may GET the URL and, for URLs that accept writes, who may POST to it (an empty POST: allowed
roles get a validation answer, never a 401/403; everyone else is refused before anything happens).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

ALL = frozenset({"analyst", "manager", "operations", "auditor", "admin"})
EVERYONE = ALL | {"outsider"}
CREDIT = frozenset({"analyst", "manager", "auditor", "admin"})
WRITERS = frozenset({"analyst", "manager", "admin"})
MANAGERS = frozenset({"manager", "admin"})
IMPORTERS = frozenset({"analyst", "manager", "operations", "admin"})
JOBS = frozenset({"operations", "manager", "auditor", "admin"})
NOBODY: frozenset[str] = frozenset()
PUBLIC = "public"


@dataclass(frozen=True)
class Access:
    get: frozenset[str] | str | None  # None: GET is not served (405), only the POST matters
    post: frozenset[str] | None = None  # None: the URL takes no writes worth checking here


def page(get, post=None) -> Access:
    if get is not None and get != PUBLIC:
        get = frozenset(get)
    return Access(get, frozenset(post) if post is not None else None)


def post_only(post) -> Access:
    return Access(None, frozenset(post))


EXPECTED: dict[str, Access] = {
    # shell
    "healthz": page(PUBLIC),
    "login": page(PUBLIC),
    "set_language": page(PUBLIC),
    "logout": page(EVERYONE),
    "password_change": page(EVERYONE),
    "password_change_done": page(EVERYONE),
    "home": page(EVERYONE),
    "dashboard": page(ALL),
    "audit": page({"manager", "auditor", "admin"}),
    "alerts": page(CREDIT),
    "reviews": page(CREDIT),
    "limits": page(CREDIT),
    "held_orders": page(CREDIT),
    "settings": page(MANAGERS),
    # jobs (POST-only endpoints: section roles get 405 on GET, only operations may write)
    "jobs": page(JOBS),
    "schedule_update": page(JOBS, {"operations", "admin"}),
    "schedule_run_now": page(JOBS, {"operations", "admin"}),
    # imports
    "imports": page(IMPORTERS, IMPORTERS),
    "imports_commit": page(IMPORTERS, IMPORTERS),
    "imports_template": page(IMPORTERS),
    # the credit file
    "customers:list": page(ALL),
    "customers:export_csv": page(ALL),
    "customers:export_xlsx": page(ALL),
    "customers:create": page(WRITERS, WRITERS),
    "customers:detail": page(ALL),
    "customers:tab": page(ALL),
    "customers:edit": page(WRITERS, WRITERS),
    "customers:contact_add": page(ALL, WRITERS),
    "customers:document_add": page(ALL, WRITERS),
    "customers:document_download": page(ALL),
    "customers:report_download": page(ALL),
    "group_detail": page(ALL),
    "attributes:list": page(MANAGERS),
    "attributes:create": page(MANAGERS, MANAGERS),
    "attributes:edit": page(MANAGERS, MANAGERS),
    "attributes:toggle": page(MANAGERS, MANAGERS),
    # scoring
    "scoring:index": page(CREDIT),
    "scoring:runs": page(CREDIT),
    "scoring:rescore": page(CREDIT, MANAGERS),
    "scoring:scale": page(CREDIT),
    "scoring:scale_version": page(CREDIT),
    "scoring:scale_new": page(MANAGERS, MANAGERS),
    "scoring:scale_activate": page(CREDIT, MANAGERS),
    "scoring:scorecard": page(CREDIT),
    "scoring:scorecard_new": page(CREDIT, MANAGERS),
    "scoring:scorecard_preview": page(CREDIT),
    "scoring:scorecard_activate": page(CREDIT, MANAGERS),
    "scoring:factor": page(CREDIT, MANAGERS),
    "scoring:factor_add": page(CREDIT, MANAGERS),
    "scoring:factor_remove": page(CREDIT, MANAGERS),
    "scoring:models": page(CREDIT),
    "scoring:model": page(CREDIT),
    "scoring:model_train": page(CREDIT, MANAGERS),
    "scoring:model_promote": page(CREDIT, MANAGERS),
    "scoring:overrides": page(CREDIT),
    "scoring:override_approve": page(CREDIT, MANAGERS),
    "scoring:override_reject": page(CREDIT, MANAGERS),
    "scoring:customer": page(ALL),  # the credit file's Score tab: whoever may open the credit file
    "scoring:customer_override": post_only(WRITERS),
    # API
    "api:token": page(PUBLIC),
    "api:me": page(EVERYONE),
    "api:schema": page(EVERYONE),
    "api:docs": page(EVERYONE),
    **{f"api:{resource}-list": page(ALL, WRITERS) for resource in (
        "customer", "invoice", "payment", "order", "financial-statement", "credit-report")},
    **{f"api:{resource}-detail": page(ALL) for resource in (
        "customer", "invoice", "payment", "order", "financial-statement", "credit-report")},
    "api:invoice-bulk": post_only(WRITERS),
    "api:payment-bulk": post_only(WRITERS),
    "api:score-list": page(ALL),
    "api:score-detail": page(ALL),
    "api:model-list": page(ALL),
    "api:model-detail": page(ALL),
    "api:model-promote": post_only(MANAGERS),
    "api:override-list": page(ALL, WRITERS),
    "api:override-approve": post_only(MANAGERS),
    "api:override-reject": post_only(MANAGERS),
}

# Values for URL parameters; the fixture below creates the objects they name.
SAMPLE_KWARGS = {"code": "PM001", "kind": "customers", "pk": 1, "id": 1, "tab": "overview", "version": 1,
                 "feature": "dbt_12m"}
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


def _reverse(name, overrides=None):
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name)
    except NoReverseMatch:
        pass
    route = _project_urls()[name][0]
    values = {**SAMPLE_KWARGS, **(overrides or {})}
    kwargs = {param: value for param, value in values.items()
              if f"<{param}>" in route or f":{param}>" in route or f"(?P<{param}>" in route}
    return reverse(name, kwargs=kwargs)


def test_every_url_has_a_decided_permission():
    undecided = sorted(set(_project_urls()) - set(EXPECTED))
    assert undecided == [], f"add these URL names to EXPECTED with the roles allowed: {undecided}"
    stale = sorted(set(EXPECTED) - set(_project_urls()))
    assert stale == [], f"these names are no longer URLs: {stale}"


# Scorecard edits need a draft: these URL names get the draft's pk instead of SAMPLE_KWARGS["pk"].
DRAFT_SCORECARD_URLS = {"scoring:factor", "scoring:factor_add", "scoring:factor_remove",
                        "scoring:scorecard_activate"}


@pytest.fixture
def sample_objects(db, analyst, manager2):
    """Objects the sample URLs name; returns per-URL parameter overrides."""
    from customers.models import Customer, CustomerGroup
    from scoring.models import ScorecardSegment
    from scoring.services import scorecard_create_draft

    group = CustomerGroup.objects.create(code="PM001", name="Matrix Group")
    Customer.objects.create(code="PM001", name="Matrix Customer", group=group, currency="CNY", country="CN")
    draft = scorecard_create_draft(actor=manager2, segment=ScorecardSegment.values[0])
    return {name: {"pk": draft.pk} for name in DRAFT_SCORECARD_URLS}


def _denied(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and "/accounts/login/" in response.headers.get("Location", "")


def _check(client, personas, url, allowed, method):
    call = client.get if method == "GET" else (lambda u: client.post(u, {}))
    anonymous = call(url)
    if allowed == PUBLIC:
        assert not _denied(anonymous), f"{method} {url} should be public"
        return
    assert _denied(anonymous), f"anonymous got {anonymous.status_code} on {method} {url}"
    for role, user in personas.items():
        client.force_login(user)
        response = call(url)
        client.logout()
        if role in allowed:
            assert not _denied(response), f"{role} was refused {method} {url} ({response.status_code})"
            assert response.status_code < 500, f"{method} {url} as {role}: {response.status_code}"
        else:
            assert _denied(response), f"{role} was let into {method} {url} ({response.status_code})"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_role_gets_the_expected_answer(name, personas, sample_objects, client):
    url = _reverse(name, sample_objects.get(name))
    access = EXPECTED[name]
    if access.get is not None:
        _check(client, personas, url, access.get, "GET")
    if access.post is not None:
        _check(client, personas, url, access.post, "POST")
