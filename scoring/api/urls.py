"""Routes of the scoring API (included from creditrisk/api_urls.py under /api/v1/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from scoring.api import views

router = SimpleRouter()
router.register("scores", views.ScoreViewSet, basename="score")
router.register("models", views.ModelVersionViewSet, basename="model")

urlpatterns = [
    path("models/<int:version>/promote/", views.ModelPromoteView.as_view(), name="model-promote"),
    path("overrides/", views.OverrideListProposeView.as_view(), name="override-list"),
    path("overrides/<int:pk>/approve/", views.OverrideApproveView.as_view(), name="override-approve"),
    path("overrides/<int:pk>/reject/", views.OverrideRejectView.as_view(), name="override-reject"),
    *router.urls,
]
