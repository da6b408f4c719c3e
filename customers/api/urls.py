"""Routes of the credit-file API (included from creditrisk/api_urls.py under /api/v1/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from customers.api import views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("orders", views.SalesOrderViewSet, basename="order")
router.register("financial-statements", views.FinancialStatementViewSet, basename="financial-statement")
router.register("credit-reports", views.CreditReportViewSet, basename="credit-report")

# The bulk routes come first so "bulk" is never read as an id.
urlpatterns = [
    path("invoices/bulk/", views.InvoiceBulkUpsertView.as_view(), name="invoice-bulk"),
    path("payments/bulk/", views.PaymentBulkUpsertView.as_view(), name="payment-bulk"),
    *router.urls,
]
