"""Every credit-file endpoint is in the OpenAPI schema, documented without generator warnings."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS, reset_generator_stats
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

EXPECTED = {
    "/api/v1/customers/": {"get", "post"},
    "/api/v1/customers/{code}/": {"get", "patch"},
    "/api/v1/invoices/": {"get", "post"},
    "/api/v1/invoices/{id}/": {"get", "patch"},
    "/api/v1/invoices/bulk/": {"post"},
    "/api/v1/payments/": {"get", "post"},
    "/api/v1/payments/{id}/": {"get"},
    "/api/v1/payments/bulk/": {"post"},
    "/api/v1/orders/": {"get", "post"},
    "/api/v1/orders/{id}/": {"get", "patch"},
    "/api/v1/financial-statements/": {"get", "post"},
    "/api/v1/financial-statements/{id}/": {"get"},
    "/api/v1/credit-reports/": {"get", "post"},
    "/api/v1/credit-reports/{id}/": {"get"},
}


def test_it_documents_every_endpoint_without_warnings(db):
    reset_generator_stats()
    patterns = [path("api/v1/", include(("customers.api.urls", "api"), namespace="api"))]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache)
    errors = dict(GENERATOR_STATS._error_cache)
    reset_generator_stats()
    assert warnings == {}
    assert errors == {}
    validate_schema(schema)
    documented = {route: {m for m in ops if m in ("get", "post", "patch", "put", "delete")}
                  for route, ops in schema["paths"].items()}
    assert documented == EXPECTED
    for route, operations in schema["paths"].items():
        for method in EXPECTED[route]:
            operation = operations[method]
            assert operation.get("summary"), (route, method)
            assert {"401", "403"} <= set(operation["responses"]), (route, method)
    analysis = schema["components"]["schemas"]["StatementAnalysis"]["properties"]
    assert {"current_ratio", "z_prime", "z_prime_zone", "negative_equity"} <= set(analysis)
