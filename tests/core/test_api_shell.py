"""The API shell: token auth, one error shape, pagination, offline docs."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_anonymous_api_calls_get_401_in_the_error_shape():
    response = APIClient().get("/api/v1/me/")
    assert response.status_code == 401
    assert set(response.json()) == {"message", "code", "errors"}
    assert response.headers["WWW-Authenticate"].startswith("Token")


@pytest.mark.django_db
def test_it_exchanges_credentials_for_a_token_that_authenticates(analyst):
    api = APIClient()
    response = api.post("/api/v1/auth/token/", {"username": "ana", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get("/api/v1/me/").json()
    assert me == {"username": "ana", "roles": ["analyst"], "is_superuser": False}


@pytest.mark.django_db
def test_a_wrong_password_gets_a_400_naming_the_problem(analyst):
    response = APIClient().post("/api/v1/auth/token/", {"username": "ana", "password": "nope"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["message"]
    assert "non_field_errors" in body["errors"]


@pytest.mark.django_db
def test_the_schema_is_openapi_3_and_needs_login(api_for, analyst):
    assert APIClient().get("/api/v1/schema/").status_code == 401
    response = api_for(analyst).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.content.startswith(b"{") or b"openapi" in response.content[:200]
    assert b"/api/v1/auth/token/" in response.content


@pytest.mark.django_db
def test_the_docs_page_loads_nothing_from_outside(client_for, analyst):
    response = client_for(analyst).get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
    assert urls, "the docs page should reference its assets"
    external = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert external == []
    assert "swagger-ui" in html
