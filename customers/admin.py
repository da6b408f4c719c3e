"""Admin for the credit file: read-mostly (changes go through the pages and services, which audit them)."""

from __future__ import annotations

from django.contrib import admin

from customers.models import (
    AttributeDefinition,
    Contact,
    CreditReport,
    Customer,
    CustomerGroup,
    Document,
    FinancialStatement,
    Industry,
    Invoice,
    OutcomeFlag,
    Payment,
    PaymentAllocation,
    SalesOrder,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse and search only: writes bypassing the services would escape the audit trail."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Industry)
class IndustryAdmin(admin.ModelAdmin):
    # The managed industry list is reference data, not credit-relevant facts: editable here.
    list_display = ("code", "name", "name_zh")
    search_fields = ("code", "name", "name_zh")


@admin.register(CustomerGroup)
class CustomerGroupAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "country", "registration_no")
    search_fields = ("code", "name", "registration_no")


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "country", "size", "status", "current_grade", "group", "owner")
    list_filter = ("status", "size", "country", "current_grade")
    search_fields = ("code", "name", "registration_no")
    list_select_related = ("group", "owner")
    show_full_result_count = False


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("name", "customer", "role", "email", "is_primary")
    search_fields = ("name", "email", "customer__code")
    list_select_related = ("customer",)


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("key", "label", "type", "required", "active")
    list_filter = ("type", "active")


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "customer", "issue_date", "due_date", "amount", "amount_paid", "currency", "status")
    list_filter = ("status",)
    search_fields = ("number", "customer__code")
    list_select_related = ("customer",)
    date_hierarchy = "issue_date"
    show_full_result_count = False


class PaymentAllocationInline(admin.TabularInline):
    model = PaymentAllocation
    extra = 0
    can_delete = False
    readonly_fields = ("invoice", "amount")
    raw_id_fields = ("invoice",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("reference", "customer", "date", "amount", "currency")
    search_fields = ("reference", "customer__code")
    list_select_related = ("customer",)
    inlines = [PaymentAllocationInline]
    show_full_result_count = False


@admin.register(SalesOrder)
class SalesOrderAdmin(ReadOnlyAdmin):
    list_display = ("number", "customer", "order_date", "amount", "currency", "status")
    list_filter = ("status",)
    search_fields = ("number", "customer__code")
    list_select_related = ("customer",)


@admin.register(FinancialStatement)
class FinancialStatementAdmin(ReadOnlyAdmin):
    list_display = ("customer", "period_end", "period_type", "audited", "total_assets", "equity")
    list_filter = ("period_type", "audited")
    search_fields = ("customer__code",)
    list_select_related = ("customer",)


@admin.register(CreditReport)
class CreditReportAdmin(ReadOnlyAdmin):
    list_display = ("customer", "provider", "report_date", "score", "rating", "pd")
    list_filter = ("provider",)
    search_fields = ("customer__code", "rating")
    list_select_related = ("customer",)


@admin.register(Document)
class DocumentAdmin(ReadOnlyAdmin):
    list_display = ("title", "customer", "content_type", "size", "created_at")
    search_fields = ("title", "customer__code", "sha256")
    list_select_related = ("customer",)


@admin.register(OutcomeFlag)
class OutcomeFlagAdmin(ReadOnlyAdmin):
    list_display = ("customer", "observation_date", "defaulted")
    list_filter = ("defaulted",)
    search_fields = ("customer__code",)
    list_select_related = ("customer",)
