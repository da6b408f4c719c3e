"""The whole REST API surface, versioned under /api/v1/."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from creditrisk.core.api.views import MeView, TokenView

app_name = "api"

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("me/", MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # The credit file: customers/, invoices/ (+ bulk/), payments/ (+ bulk/), orders/, financial-statements/,
    # credit-reports/.
    path("", include("customers.api.urls")),
    # Scoring: scores/, models/ (+ {version}/promote/), overrides/ (+ {id}/approve/, {id}/reject/).
    path("", include("scoring.api.urls")),
]
