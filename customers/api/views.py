"""API views of the credit file: thin adapters from HTTP to customers.services / customers.bulk.

Creates are idempotent. On the natural key: POSTing a row that already exists with the same values
returns the stored row with 200; with different values, 409 (PATCH it, or use the bulk upsert). And
with an ``Idempotency-Key`` header: a retried request with the same key and body returns the row the
first one created (200); the same key with another body is a 409.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError
from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from creditrisk.core.exceptions import Conflict
from customers import services
from customers.access import customer_get_for_user
from customers.api import filters, serializers
from customers.attributes import clean_attribute_values
from customers.models import (
    CreditReport,
    Customer,
    FinancialStatement,
    Invoice,
    Payment,
    PaymentAllocation,
    SalesOrder,
)
from customers.selectors import customer_list

logger = logging.getLogger(__name__)
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
_ATTRIBUTE_PARAM = re.compile(r"attr_[a-z0-9_-]{1,60}")

_ERROR = serializers.CreditFileErrorSerializer
ERROR_RESPONSES = {
    400: OpenApiResponse(_ERROR, description="Invalid input; `errors` maps each field to its messages."),
    401: OpenApiResponse(_ERROR, description="Not authenticated."),
    403: OpenApiResponse(_ERROR, description="Not allowed for your role."),
}
NOT_FOUND = {404: OpenApiResponse(_ERROR, description="No such record.")}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (e.g. a UUID). A retry with the same key and body returns the first result.",
)


def _crud_schema(noun: str, serializer, *, natural_key: str, patch_summary: str = "", patch_request=None):
    """The OpenAPI description of one credit-file resource."""
    views = {
        "list": extend_schema(summary=f"List {noun}s", responses={200: serializer(many=True), **ERROR_RESPONSES}),
        "retrieve": extend_schema(summary=f"One {noun}", responses={200: serializer, **ERROR_RESPONSES,
                                                                    **NOT_FOUND}),
        "create": extend_schema(
            summary=f"Create a {noun} (idempotent on {natural_key})",
            parameters=[IDEMPOTENCY_KEY],
            responses={
                201: OpenApiResponse(serializer, description="Created."),
                200: OpenApiResponse(serializer, description="It already existed with these values (a replay)."),
                409: OpenApiResponse(_ERROR, description="It exists with different values; `errors` names them."),
                **ERROR_RESPONSES,
            },
        ),
    }
    if patch_summary:
        views["partial_update"] = extend_schema(summary=patch_summary, request=patch_request,
                                                responses={200: serializer, **ERROR_RESPONSES, **NOT_FOUND})
    return extend_schema_view(**views)


_UPPERCASE_CODES = {"currency", "country", "registration_no"}  # the services store these upper-cased


def _same_value(name: str, current, new) -> bool:
    if hasattr(current, "pk") and hasattr(new, "pk"):
        return current.pk == new.pk
    if name in _UPPERCASE_CODES and isinstance(new, str):
        return current == new.strip().upper()
    return current == new


def _fingerprint(data) -> str:
    try:
        text = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(data)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _cache_get(key: str):
    # Idempotency keys are best effort on top of natural keys: a cache outage must not fail the create.
    try:
        return cache.get(key)
    except Exception:
        logger.warning("idempotency cache unavailable", exc_info=True)
        return None


def _cache_set(key: str, value: dict) -> None:
    try:
        cache.set(key, value, IDEMPOTENCY_TTL_SECONDS)
    except Exception:
        logger.warning("idempotency cache unavailable", exc_info=True)


class CreditFileViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """List, retrieve and idempotent create; the create itself is ``service_create`` (a service call)."""

    natural_key: tuple[str, ...] = ()
    replay_ignore: tuple[str, ...] = ()  # write-only inputs that are not stored on the row
    lookup_value_regex = r"\d+"

    def service_create(self, data: dict):
        raise NotImplementedError

    def find_existing(self, data: dict):
        return self.get_queryset().filter(**{name: data[name] for name in self.natural_key}).first()

    def comparable(self, data: dict) -> dict:
        """Input values in their stored form, to compare a repeated create with the stored row."""
        return data

    def _replay(self, existing, data: dict) -> Response:
        """The same create again: return the stored row; refuse one whose values differ."""
        differing = sorted(
            name for name, value in self.comparable(data).items()
            if name not in self.replay_ignore and not _same_value(name, getattr(existing, name), value)
        )
        if differing:
            raise Conflict(
                _("This record already exists with different values; change it with PATCH."),
                errors={name: [_("Differs from the stored value.")] for name in differing},
                code="conflict",
            )
        return Response(self.get_serializer(existing).data, status=status.HTTP_200_OK)

    def _idempotency_cache_key(self, request) -> str | None:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return None
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return f"api-idempotency:{request.user.pk}:{self.basename}:{digest}"

    def create(self, request, *args, **kwargs):
        cache_key = self._idempotency_cache_key(request)
        fingerprint = _fingerprint(request.data) if cache_key else ""
        if cache_key and (seen := _cache_get(cache_key)):
            if seen["fingerprint"] != fingerprint:
                raise Conflict(_("This Idempotency-Key was already used for a different request."),
                               code="idempotency_key_reused")
            previous = self.get_queryset().filter(pk=seen["pk"]).first()
            if previous is not None:
                return Response(self.get_serializer(previous).data, status=status.HTTP_200_OK)

        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        existing = self.find_existing(data)
        if existing is not None:
            return self._replay(existing, data)
        try:
            instance = self.service_create(data)
        except (IntegrityError, DjangoValidationError):
            # A concurrent create of the same natural key may have won the race: then answer as a replay.
            existing = self.find_existing(data)
            if existing is None:
                raise
            return self._replay(existing, data)
        if cache_key:
            _cache_set(cache_key, {"fingerprint": fingerprint, "pk": instance.pk})
        instance = self.get_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)


class PatchViaServiceMixin:
    """PATCH: the body is validated by ``update_serializer_class`` and applied by ``service_update``."""

    update_serializer_class = None

    def get_serializer_class(self):
        if self.action == "partial_update" and self.update_serializer_class is not None:
            return self.update_serializer_class
        return self.serializer_class

    def service_update(self, instance, data: dict):
        raise NotImplementedError

    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        instance = self.service_update(instance, dict(serializer.validated_data))
        instance = self.get_queryset().get(pk=instance.pk)
        return Response(self.serializer_class(instance, context=self.get_serializer_context()).data)


# --- customers ------------------------------------------------------------------------------------

@_crud_schema("customer", serializers.CustomerSerializer, natural_key="code",
              patch_summary="Change a customer's master data")
class CustomerViewSet(PatchViaServiceMixin, CreditFileViewSet):
    """Customers, addressed by their ERP code. Validation is the forms': e.g. the USCC check digit for CN.

    Lists also filter on custom attributes: `attr_<key>=value` (typed by the attribute's definition).
    """

    queryset = Customer.objects.select_related("group", "owner")
    serializer_class = serializers.CustomerSerializer
    update_serializer_class = serializers.CustomerUpdateSerializer
    filterset_class = filters.CustomerFilter
    ordering_fields = ["code", "name", "status", "size", "industry", "region", "relationship_start",
                       "current_score", "current_grade", "current_pd", "updated_at"]
    ordering = ["code"]
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "head", "options"]
    natural_key = ("code",)

    def get_queryset(self):
        # Custom attribute filters (attr_<key>=value, typed by the attribute's definition) are the list page's,
        # so they come from the same selector; the FilterSet handles the standard fields.
        attribute_filters = {}
        for name, value in self.request.query_params.items():
            if not name.startswith("attr_"):
                continue
            if not _ATTRIBUTE_PARAM.fullmatch(name) or "\x00" in value:
                raise DjangoValidationError({name: [_("This is not a valid custom attribute filter.")]})
            attribute_filters[name] = value
        return customer_list(filters=attribute_filters)

    def get_object(self):
        code = self.kwargs["code"]
        if "\x00" in code:
            raise Http404
        return customer_get_for_user(user=self.request.user, code=code,
                                     write=self.request.method not in SAFE_METHODS)

    def comparable(self, data):
        if "attributes" not in data:
            return data
        try:
            attributes = clean_attribute_values(data["attributes"] or {})
        except DjangoValidationError:
            attributes = data["attributes"]
        return {**data, "attributes": attributes}

    def service_create(self, data):
        return services.customer_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return services.customer_update(customer=instance, data=data, actor=self.request.user)


# --- invoices -------------------------------------------------------------------------------------

@_crud_schema("invoice", serializers.InvoiceSerializer, natural_key="customer + number",
              patch_summary="Change an invoice's terms or status")
class InvoiceViewSet(PatchViaServiceMixin, CreditFileViewSet):
    """Invoices (open items). Amount paid, paid date and the paid status derive from payment allocations."""

    queryset = Invoice.objects.select_related("customer")
    serializer_class = serializers.InvoiceSerializer
    update_serializer_class = serializers.InvoiceUpdateSerializer
    filterset_class = filters.InvoiceFilter
    ordering_fields = ["issue_date", "due_date", "amount", "number", "status", "updated_at", "id"]
    ordering = ["-id"]  # newest first; the primary key keeps an unfiltered page cheap on big tables
    http_method_names = ["get", "post", "patch", "head", "options"]
    natural_key = ("customer", "number")

    def service_create(self, data):
        return services.invoice_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return services.invoice_update(invoice=instance, data=data, actor=self.request.user)


# --- payments -------------------------------------------------------------------------------------

@_crud_schema("payment", serializers.PaymentSerializer, natural_key="customer + reference")
class PaymentViewSet(CreditFileViewSet):
    """Payments; a new one is allocated to the given invoice first, then to the oldest open invoices."""

    queryset = Payment.objects.select_related("customer").prefetch_related(
        Prefetch("allocations", queryset=PaymentAllocation.objects.select_related("invoice").order_by("id"))
    )
    serializer_class = serializers.PaymentSerializer
    filterset_class = filters.PaymentFilter
    ordering_fields = ["date", "amount", "reference", "updated_at", "id"]
    ordering = ["-id"]  # newest first; the primary key keeps an unfiltered page cheap on big tables
    http_method_names = ["get", "post", "head", "options"]
    natural_key = ("customer", "reference")
    replay_ignore = ("invoice_number",)

    def service_create(self, data):
        return services.payment_create(actor=self.request.user, **data)


# --- orders ---------------------------------------------------------------------------------------

@_crud_schema("sales order", serializers.SalesOrderSerializer, natural_key="customer + number",
              patch_summary="Move a sales order to another status",
              patch_request=serializers.SalesOrderStatusSerializer)
class SalesOrderViewSet(PatchViaServiceMixin, CreditFileViewSet):
    """Sales orders; open, held and released orders count toward exposure."""

    queryset = SalesOrder.objects.select_related("customer")
    serializer_class = serializers.SalesOrderSerializer
    update_serializer_class = serializers.SalesOrderStatusSerializer
    filterset_class = filters.SalesOrderFilter
    ordering_fields = ["order_date", "amount", "number", "status", "updated_at", "id"]
    ordering = ["-id"]  # newest first; the primary key keeps an unfiltered page cheap on big tables
    http_method_names = ["get", "post", "patch", "head", "options"]
    natural_key = ("customer", "number")

    def service_create(self, data):
        return services.sales_order_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        if "status" not in data:
            raise DjangoValidationError({"status": [_("This field is required.")]})
        return services.sales_order_update_status(order=instance, actor=self.request.user, **data)


# --- financial statements -------------------------------------------------------------------------

@_crud_schema("financial statement", serializers.FinancialStatementSerializer,
              natural_key="customer + period end + period type")
class FinancialStatementViewSet(CreditFileViewSet):
    """Financial statements; ratios and Altman Z-scores are derived (read-only ``analysis``)."""

    queryset = FinancialStatement.objects.select_related("customer")
    serializer_class = serializers.FinancialStatementSerializer
    filterset_class = filters.FinancialStatementFilter
    ordering_fields = ["period_end", "revenue", "total_assets", "updated_at"]
    ordering = ["-period_end", "id"]
    http_method_names = ["get", "post", "head", "options"]
    natural_key = ("customer", "period_end", "period_type")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {**self.get_serializer_context(), "analyses": serializers.statements_analyses(page)}
        return self.get_paginated_response(self.get_serializer(page, many=True, context=context).data)

    def find_existing(self, data):
        lookup = {"customer": data["customer"], "period_end": data["period_end"],
                  "period_type": data.get("period_type", "annual")}
        return self.get_queryset().filter(**lookup).first()

    def service_create(self, data):
        return services.financial_statement_create(actor=self.request.user, **data)


# --- credit reports -------------------------------------------------------------------------------

@_crud_schema("credit report", serializers.CreditReportSerializer,
              natural_key="customer + provider + report date")
class CreditReportViewSet(CreditFileViewSet):
    """Third-party credit reports (bureau, agency, central bank), entered through a provider plug-in."""

    queryset = CreditReport.objects.select_related("customer")
    serializer_class = serializers.CreditReportSerializer
    filterset_class = filters.CreditReportFilter
    ordering_fields = ["report_date", "score", "provider", "updated_at"]
    ordering = ["-report_date", "id"]
    http_method_names = ["get", "post", "head", "options"]
    natural_key = ("customer", "provider", "report_date")

    def find_existing(self, data):
        lookup = {"customer": data["customer"], "report_date": data["report_date"],
                  "provider": data.get("provider", "manual")}
        return self.get_queryset().filter(**lookup).first()

    def service_create(self, data):
        fields = {k: v for k, v in data.items() if k not in ("customer", "provider")}
        return services.credit_report_create(customer=data["customer"], provider=data.get("provider", "manual"),
                                             data=fields, actor=self.request.user)


# --- bulk upserts ---------------------------------------------------------------------------------

_BULK_RESPONSES = {
    200: serializers.BulkResultSerializer,
    400: OpenApiResponse(_ERROR, description="Some rows are invalid and nothing was written: `errors` maps each "
                                             "bad row's index (from 0) to {column: [messages]}."),
    401: ERROR_RESPONSES[401],
    403: ERROR_RESPONSES[403],
    409: OpenApiResponse(_ERROR, description="A concurrent write touched the same rows; nothing was written."),
}


class _BulkUpsertView(APIView):
    """All-or-nothing idempotent upsert of up to 5,000 rows on the natural key.

    Rows are validated by customers.importers.validate_rows (the file import's rules) inside the upsert.
    """

    parser_classes = [JSONParser]

    def upsert(self, *, rows, actor) -> dict:
        raise NotImplementedError

    def post(self, request):
        envelope = serializers.BulkRowsSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        try:
            counts = self.upsert(rows=envelope.validated_data["rows"], actor=request.user)
        except IntegrityError:
            raise Conflict(_("Another write changed the same rows at the same time; nothing was written. "
                             "Send the batch again."), code="concurrent_write") from None
        return Response(serializers.BulkResultSerializer(counts).data, status=status.HTTP_200_OK)


class InvoiceBulkUpsertView(_BulkUpsertView):
    """Upsert invoices on (customer_code, number); rows have the invoice import columns."""

    required_permissions = ["customers.add_invoice", "customers.change_invoice"]

    @extend_schema(summary="Upsert up to 5,000 invoices (all-or-nothing, idempotent)", tags=["invoices"],
                   request=serializers.InvoiceBulkSerializer, responses=_BULK_RESPONSES)
    def post(self, request):
        return super().post(request)

    def upsert(self, *, rows, actor):
        from customers.bulk import invoices_upsert

        return invoices_upsert(rows=rows, actor=actor)


class PaymentBulkUpsertView(_BulkUpsertView):
    """Upsert payments on (customer_code, reference); rows have the payment import columns."""

    required_permissions = ["customers.add_payment", "customers.change_payment"]

    @extend_schema(summary="Upsert up to 5,000 payments (all-or-nothing, idempotent)", tags=["payments"],
                   request=serializers.PaymentBulkSerializer, responses=_BULK_RESPONSES)
    def post(self, request):
        return super().post(request)

    def upsert(self, *, rows, actor):
        from customers.bulk import payments_upsert

        return payments_upsert(rows=rows, actor=actor)
