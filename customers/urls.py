"""Pages of the credit file (namespace "customers"), plus the group and attribute-settings patterns that
creditrisk/urls.py mounts under /groups/ and /settings/attributes/."""

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("export.csv", views.customer_export, {"fmt": "csv"}, name="export_csv"),
    path("export.xlsx", views.customer_export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("new/", views.customer_create, name="create"),
    path("<str:code>/", views.customer_detail, name="detail"),
    path("<str:code>/edit/", views.customer_edit, name="edit"),
    path("<str:code>/contacts/add/", views.contact_add, name="contact_add"),
    path("<str:code>/documents/add/", views.document_add, name="document_add"),
    path("<str:code>/documents/<int:pk>/download/", views.document_download, name="document_download"),
    path("<str:code>/reports/<int:pk>/file/", views.credit_report_download, name="report_download"),
    path("<str:code>/<str:tab>/", views.customer_detail, name="tab"),
]

attribute_urlpatterns = [
    path("", views.attribute_list, name="list"),
    path("new/", views.attribute_create, name="create"),
    path("<int:pk>/edit/", views.attribute_edit, name="edit"),
    path("<int:pk>/toggle/", views.attribute_toggle, name="toggle"),
]
