"""Pages of scoring (namespace "scoring"), mounted at /scoring/."""

from django.urls import path

from scoring import views

app_name = "scoring"

urlpatterns = [
    path("", views.index, name="index"),
    path("scorecards/new/", views.scorecard_new_draft, name="scorecard_new"),
    path("scorecards/<int:pk>/", views.scorecard_detail, name="scorecard"),
    path("scorecards/<int:pk>/preview/", views.scorecard_preview, name="scorecard_preview"),
    path("scorecards/<int:pk>/activate/", views.scorecard_activate, name="scorecard_activate"),
    path("scorecards/<int:pk>/factors/add/", views.scorecard_factor_add, name="factor_add"),
    path("scorecards/<int:pk>/factors/<str:feature>/", views.scorecard_factor, name="factor"),
    path("scorecards/<int:pk>/factors/<str:feature>/remove/", views.scorecard_factor_remove, name="factor_remove"),
    path("scale/", views.scale, name="scale"),
    path("scale/new/", views.scale_new, name="scale_new"),
    path("scale/<int:version>/", views.scale, name="scale_version"),
    path("scale/<int:version>/activate/", views.scale_activate, name="scale_activate"),
    path("models/", views.models, name="models"),
    path("models/train/", views.model_train, name="model_train"),
    path("models/<int:version>/", views.model_detail, name="model"),
    path("models/<int:version>/promote/", views.model_promote, name="model_promote"),
    path("runs/", views.runs, name="runs"),
    path("runs/rescore/", views.rescore, name="rescore"),
    path("overrides/", views.overrides, name="overrides"),
    path("overrides/<int:pk>/approve/", views.override_decide, {"decision": "approve"}, name="override_approve"),
    path("overrides/<int:pk>/reject/", views.override_decide, {"decision": "reject"}, name="override_reject"),
    path("customers/<str:code>/", views.customer_score, name="customer"),
    path("customers/<str:code>/override/", views.customer_override_propose, name="customer_override"),
]
