"""Top-level URLs: pages per app, the API under /api/v1/, health and accounts."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django.views.i18n import set_language

from creditrisk.core import views as core_views
from customers import imports_views
from customers import urls as customer_urls
from customers import views as customer_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", login_not_required(RedirectView.as_view(url=settings.STATIC_URL + "img/favicon.svg"))),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("creditrisk.api_urls")),
    path("", core_views.home, name="home"),
    path("dashboard/", core_views.dashboard, name="dashboard"),
    path("audit/", core_views.audit_list, name="audit"),
    path("customers/", include("customers.urls")),
    path("groups/<str:code>/", customer_views.group_detail, name="group_detail"),
    path("scoring/", include("scoring.urls")),
    path("alerts/", core_views.make_placeholder("alerts", _("Alerts")), name="alerts"),
    path("reviews/", core_views.make_placeholder("reviews", _("Periodic reviews")), name="reviews"),
    path("limits/", core_views.make_placeholder("limits", _("Credit limits")), name="limits"),
    path("orders/held/", core_views.make_placeholder("held_orders", _("Held orders")), name="held_orders"),
    path("imports/", imports_views.imports, name="imports"),
    path("imports/commit/", imports_views.imports_commit, name="imports_commit"),
    path("imports/template/<str:kind>/", imports_views.imports_template, name="imports_template"),
    path("jobs/", include("monitoring.urls")),
    path("settings/", customer_views.settings_index, name="settings"),
    path("settings/attributes/", include((customer_urls.attribute_urlpatterns, "attributes"))),
]
