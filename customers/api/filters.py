"""FilterSets for the credit-file API: customers by segment, transactions by customer code, dates and status."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import (
    CreditReport,
    Customer,
    CustomerStatus,
    FinancialStatement,
    Invoice,
    InvoiceStatus,
    OrderStatus,
    Payment,
    PeriodType,
    SalesOrder,
    SizeSegment,
)


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search code, name or registration number"))
    status = django_filters.MultipleChoiceFilter(choices=CustomerStatus.choices)
    size = django_filters.MultipleChoiceFilter(choices=SizeSegment.choices)
    industry = django_filters.CharFilter(field_name="industry", lookup_expr="iexact")
    region = django_filters.CharFilter(field_name="region", lookup_expr="iexact")
    group_code = django_filters.CharFilter(field_name="group__code", label=_("Group code"))
    owner = django_filters.CharFilter(field_name="owner__username", label=_("Owner (username)"))
    grade = django_filters.CharFilter(field_name="current_grade", label=_("Current grade"))

    class Meta:
        model = Customer
        fields = ["q", "status", "size", "industry", "region", "group_code", "owner", "grade"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # The same search as the list page (customers.selectors.customer_list).
        return queryset.filter(
            Q(code__icontains=value) | Q(name__icontains=value) | Q(registration_no__icontains=value)
        )


class _ByCustomerFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__code", label=_("Customer code"))


class InvoiceFilter(_ByCustomerFilter):
    status = django_filters.MultipleChoiceFilter(choices=InvoiceStatus.choices)
    number = django_filters.CharFilter(field_name="number")
    currency = django_filters.CharFilter(field_name="currency")
    issue_date_from = django_filters.DateFilter(field_name="issue_date", lookup_expr="gte")
    issue_date_to = django_filters.DateFilter(field_name="issue_date", lookup_expr="lte")
    due_date_from = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_date_to = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = Invoice
        fields = ["customer", "status", "number", "currency", "issue_date_from", "issue_date_to",
                  "due_date_from", "due_date_to"]


class PaymentFilter(_ByCustomerFilter):
    reference = django_filters.CharFilter(field_name="reference")
    currency = django_filters.CharFilter(field_name="currency")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = Payment
        fields = ["customer", "reference", "currency", "date_from", "date_to"]


class SalesOrderFilter(_ByCustomerFilter):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    number = django_filters.CharFilter(field_name="number")
    order_date_from = django_filters.DateFilter(field_name="order_date", lookup_expr="gte")
    order_date_to = django_filters.DateFilter(field_name="order_date", lookup_expr="lte")

    class Meta:
        model = SalesOrder
        fields = ["customer", "status", "number", "order_date_from", "order_date_to"]


class FinancialStatementFilter(_ByCustomerFilter):
    period_type = django_filters.ChoiceFilter(choices=PeriodType.choices)
    audited = django_filters.BooleanFilter(field_name="audited")
    period_end_from = django_filters.DateFilter(field_name="period_end", lookup_expr="gte")
    period_end_to = django_filters.DateFilter(field_name="period_end", lookup_expr="lte")

    class Meta:
        model = FinancialStatement
        fields = ["customer", "period_type", "audited", "period_end_from", "period_end_to"]


class CreditReportFilter(_ByCustomerFilter):
    provider = django_filters.CharFilter(field_name="provider")
    rating = django_filters.CharFilter(field_name="rating")
    report_date_from = django_filters.DateFilter(field_name="report_date", lookup_expr="gte")
    report_date_to = django_filters.DateFilter(field_name="report_date", lookup_expr="lte")

    class Meta:
        model = CreditReport
        fields = ["customer", "provider", "rating", "report_date_from", "report_date_to"]
