"""Serializers of the credit-file API: shapes and types only; business rules live in customers.services."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pandas as pd
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers import finance
from customers.forms import owner_choices_queryset
from customers.models import (
    CreditReport,
    Customer,
    CustomerGroup,
    FinancialStatement,
    Invoice,
    OrderStatus,
    Payment,
    PaymentAllocation,
    SalesOrder,
)

MAX_BULK_ROWS = 5000


def _jsonable(value):
    """Plain JSON types for derived figures: decimals as strings (like every amount), NaN/inf as null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


class CreditFileErrorSerializer(serializers.Serializer):
    """The one error shape of the API (message, code, errors)."""

    message = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(help_text=_("Field (or row index) → messages."))


def _reject_nul(value) -> None:
    """JSON objects end up in jsonb, which refuses U+0000 anywhere (keys included)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(_("Null characters are not allowed."))
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul(key)
            _reject_nul(item)
    elif isinstance(value, list):
        for item in value:
            _reject_nul(item)


class JSONObjectField(serializers.DictField):
    """A free JSON object (custom attributes, raw bureau data)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        _reject_nul(value)
        return value


class CustomerCodeField(serializers.SlugRelatedField):
    """A customer referenced by its ERP code, in input and output."""

    default_error_messages = {
        "does_not_exist": _("No customer has the code {value}."),
        "invalid": _("Invalid customer code."),
    }

    def __init__(self, **kwargs):
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Customer.objects.all())
        super().__init__(slug_field="code", **kwargs)


# --- customers ------------------------------------------------------------------------------------

class CustomerSerializer(serializers.ModelSerializer):
    """A customer's credit-file master data, with its current score (read-only, written by scoring)."""

    code = serializers.CharField(max_length=40, help_text=_("The ERP's customer id (unique)."))
    group_code = serializers.SlugRelatedField(
        source="group", slug_field="code", queryset=CustomerGroup.objects.all(), allow_null=True, required=False,
        help_text=_("Code of the customer group (parent company)."),
        error_messages={"does_not_exist": _("There is no group with the code {value}.")},
    )
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=owner_choices_queryset(), allow_null=True, required=False,
        help_text=_("Username of the owner analyst (an analyst or manager)."),
        error_messages={"does_not_exist": _("No analyst or manager has the username {value}.")},
    )
    attributes = JSONObjectField(required=False, help_text=_("Custom attribute values by key."))

    class Meta:
        model = Customer
        fields = [
            "code", "name", "registration_no", "country", "region", "industry", "size", "group_code",
            "relationship_start", "status", "owner", "currency", "attributes",
            "current_score", "current_grade", "current_pd", "scored_at", "created_at", "updated_at",
        ]
        read_only_fields = ["current_score", "current_grade", "current_pd", "scored_at", "created_at",
                            "updated_at"]
        validators = []  # uniqueness is the service's job (and a repeated create is idempotent)


class CustomerUpdateSerializer(CustomerSerializer):
    """PATCH body: any master-data field except the code, which addresses the customer.

    ``attributes`` are merged into the stored values; a null value removes an attribute.
    """

    code = serializers.CharField(read_only=True)


# --- invoices -------------------------------------------------------------------------------------

class InvoiceSerializer(serializers.ModelSerializer):
    customer = CustomerCodeField(help_text=_("Customer code."))
    currency = serializers.CharField(max_length=3, required=False,
                                     help_text=_("ISO 4217 code; defaults to the customer's currency."))
    open_amount = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id", "customer", "number", "issue_date", "due_date", "amount", "currency", "amount_paid",
            "paid_outside", "paid_outside_date", "paid_date", "status", "written_off_date", "open_amount",
            "created_at", "updated_at",
        ]
        # amount_paid = paid_outside (set by the invoice import / bulk sync's paid_amount) + allocations.
        read_only_fields = ["id", "amount_paid", "paid_outside", "paid_outside_date", "paid_date", "status",
                            "written_off_date", "open_amount", "created_at", "updated_at"]
        validators = []


class InvoiceUpdateSerializer(InvoiceSerializer):
    """PATCH body: terms and status (open, written_off, cancelled; paid is derived from payments).

    Customer and number identify the invoice and do not change.
    """

    customer = CustomerCodeField(read_only=True)
    number = serializers.CharField(read_only=True)

    class Meta(InvoiceSerializer.Meta):
        read_only_fields = ["id", "amount_paid", "paid_outside", "paid_outside_date", "paid_date", "open_amount",
                            "created_at", "updated_at"]


# --- payments -------------------------------------------------------------------------------------

class PaymentAllocationSerializer(serializers.ModelSerializer):
    invoice = serializers.CharField(source="invoice.number", read_only=True, help_text=_("Invoice number."))

    class Meta:
        model = PaymentAllocation
        fields = ["invoice", "amount"]


class PaymentSerializer(serializers.ModelSerializer):
    customer = CustomerCodeField(help_text=_("Customer code."))
    currency = serializers.CharField(max_length=3, required=False,
                                     help_text=_("ISO 4217 code; defaults to the customer's currency."))
    invoice_number = serializers.CharField(
        max_length=60, required=False, allow_blank=True, write_only=True,
        help_text=_("Allocate to this invoice first (otherwise oldest open invoices first)."),
    )
    allocations = PaymentAllocationSerializer(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "customer", "reference", "date", "amount", "currency", "invoice_number", "allocations",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "allocations", "created_at", "updated_at"]
        validators = []


# --- orders ---------------------------------------------------------------------------------------

class SalesOrderSerializer(serializers.ModelSerializer):
    customer = CustomerCodeField(help_text=_("Customer code."))
    currency = serializers.CharField(max_length=3, required=False,
                                     help_text=_("ISO 4217 code; defaults to the customer's currency."))

    class Meta:
        model = SalesOrder
        fields = ["id", "customer", "number", "order_date", "amount", "currency", "status", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators = []


class SalesOrderStatusSerializer(serializers.Serializer):
    """PATCH body of an order: only its status moves (amounts are fixed once the credit check saw them)."""

    status = serializers.ChoiceField(choices=OrderStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


# --- financial statements -------------------------------------------------------------------------

STATEMENT_ITEMS = [
    "revenue", "cogs", "ebit", "net_income", "interest_expense", "total_assets", "current_assets", "cash",
    "inventory", "receivables", "total_liabilities", "current_liabilities", "retained_earnings", "equity",
    "operating_cash_flow",
]


def _statement_analysis_fields() -> dict:
    fields = {}
    for name in [*finance.RATIO_COLUMNS, *finance.Z_COLUMNS]:
        if name == "negative_equity":
            fields[name] = serializers.BooleanField()
        elif name.endswith("_zone"):
            # Plain strings, not an enum: four zone fields share one choice set.
            fields[name] = serializers.CharField(
                allow_null=True, help_text=f"{finance.ZONE_SAFE}, {finance.ZONE_GREY} or {finance.ZONE_DISTRESS}")
        else:
            fields[name] = serializers.FloatField(allow_null=True)
    return fields


StatementAnalysisSerializer = type(
    "StatementAnalysisSerializer", (serializers.Serializer,),
    {"__doc__": "Ratios and Altman Z-scores (Z, Z′, Z″, Z″ emerging markets) with zones; null when undefined.",
     **_statement_analysis_fields()},
)


class FinancialStatementSerializer(serializers.ModelSerializer):
    customer = CustomerCodeField(help_text=_("Customer code."))
    analysis = serializers.SerializerMethodField(
        help_text=_("Derived ratios and Altman Z-scores with zones (never typed in)."))

    class Meta:
        model = FinancialStatement
        fields = ["id", "customer", "period_end", "period_type", "audited", "source", "currency",
                  *STATEMENT_ITEMS, "analysis", "created_at", "updated_at"]
        read_only_fields = ["id", "analysis", "created_at", "updated_at"]
        extra_kwargs = {"currency": {"required": False, "help_text": _("Defaults to the customer's currency.")}}
        validators = []

    @extend_schema_field(StatementAnalysisSerializer)
    def get_analysis(self, statement: FinancialStatement) -> dict:
        # A list view analyses its whole page at once (one pandas pass) and hands the results in.
        precomputed = self.context.get("analyses", {})
        if statement.pk in precomputed:
            return precomputed[statement.pk]
        return _jsonable(finance.statement_analysis(statement))


def statements_analyses(statements: list[FinancialStatement]) -> dict[int, dict]:
    """Analysis of many statements in one vectorised pass, by statement id."""
    if not statements:
        return {}
    frame = finance.analyse_frame(pd.DataFrame(
        [{c: getattr(s, c) for c in finance.STATEMENT_COLUMNS} for s in statements]))
    return {s.pk: _jsonable(row.to_dict())
            for s, (_, row) in zip(statements, frame.iterrows(), strict=True)}


# --- credit reports -------------------------------------------------------------------------------

class CreditReportSerializer(serializers.ModelSerializer):
    customer = CustomerCodeField(help_text=_("Customer code."))
    raw_data = JSONObjectField(required=False, help_text=_("The provider's raw payload."))
    file = serializers.SerializerMethodField(help_text=_("Download link of the attached report file (login "
                                                       "required), or null."))

    class Meta:
        model = CreditReport
        fields = ["id", "customer", "provider", "report_date", "score", "rating", "pd", "payment_index",
                  "recommended_limit", "legal_events", "raw_data", "file", "created_at", "updated_at"]
        read_only_fields = ["id", "file", "created_at", "updated_at"]
        extra_kwargs = {"provider": {"required": False, "default": "manual",
                                     "help_text": _("Provider plug-in key; 'manual' is built in.")}}
        validators = []

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_file(self, report: CreditReport) -> str | None:
        if not report.file:
            return None
        path = reverse("customers:report_download", kwargs={"code": report.customer.code, "pk": report.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


# --- bulk -----------------------------------------------------------------------------------------

class BulkRowsSerializer(serializers.Serializer):
    """The envelope only: each row is checked by customers.importers.validate_rows, so every row problem
    (including a row that is not an object) is reported the same way, by row index and column."""

    rows = serializers.ListField(child=serializers.JSONField(), allow_empty=False, max_length=MAX_BULK_ROWS)


def _row_field(help_text: str, *, required: bool = True):
    return serializers.CharField(required=required, help_text=help_text)


class InvoiceBulkRowSerializer(serializers.Serializer):
    """One invoice row: the invoice import columns (numbers and dates may also be sent as JSON numbers)."""

    customer_code = _row_field(_("Customer code."))
    number = _row_field(_("Invoice number (unique per customer: the upsert key)."))
    issue_date = _row_field(_("Issue date, e.g. 2026-03-01."))
    due_date = _row_field(_("Due date, not before the issue date."))
    amount = _row_field(_("Invoice amount, positive."))
    currency = _row_field(_("ISO 4217 code."))
    paid_amount = _row_field(_("Amount settled outside the payments recorded here, as the ERP reports it "
                               "(optional; stored as paid_outside, payments sent later add to it)."),
                             required=False)
    status = _row_field(_("open, paid, written_off or cancelled (optional; open and paid are derived from "
                          "what was paid)."), required=False)
    paid_date = _row_field(_("Date of the settlement given in paid_amount (optional; stored as "
                             "paid_outside_date)."), required=False)


class PaymentBulkRowSerializer(serializers.Serializer):
    """One payment row: the payment import columns."""

    customer_code = _row_field(_("Customer code."))
    reference = _row_field(_("Payment reference (unique per customer: the upsert key)."))
    date = _row_field(_("Payment date."))
    amount = _row_field(_("Amount, positive."))
    currency = _row_field(_("ISO 4217 code."))
    invoice_number = _row_field(_("Allocate to this invoice first (optional)."), required=False)


class InvoiceBulkSerializer(serializers.Serializer):
    rows = InvoiceBulkRowSerializer(many=True, min_length=1, max_length=MAX_BULK_ROWS)


class PaymentBulkSerializer(serializers.Serializer):
    rows = PaymentBulkRowSerializer(many=True, min_length=1, max_length=MAX_BULK_ROWS)


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
