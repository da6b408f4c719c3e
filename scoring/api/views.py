"""API views of scoring: scores with reason codes, the model registry and promotion, grade overrides.

Reads are generic views over scoring.selectors; the operations (promote, propose, approve, reject)
are one APIView each with input/output serializers calling scoring.services / scoring.training.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, mixins, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from customers.access import customer_get_for_user
from scoring import selectors, services
from scoring.api import filters
from scoring.api.serializers import (
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    OverrideSerializer,
    ScoreDetailSerializer,
    ScoreSerializer,
)
from scoring.models import ModelVersion, Score, ScoreOverride

_ERROR = inline_serializer("ScoringError", fields={
    "message": serializers.CharField(), "code": serializers.CharField(), "errors": serializers.DictField()})
ERRORS = {
    400: OpenApiResponse(_ERROR, description="Invalid input or refused by a business rule."),
    401: OpenApiResponse(_ERROR, description="Not authenticated."),
    403: OpenApiResponse(_ERROR, description="Not allowed for your role."),
}
NOT_FOUND = {404: OpenApiResponse(_ERROR, description="No such record.")}


@extend_schema_view(
    list=extend_schema(summary="List scores (newest first)",
                       description="One row per customer per scoring run: score, grade, PD and up to four reasons "
                                   "in words. Filter by customer code, grade, run and as-of date range.",
                       responses={200: ScoreSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(summary="One score, with the feature values used",
                           responses={200: ScoreDetailSerializer, **ERRORS, **NOT_FOUND}),
)
class ScoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    queryset = Score.objects.none()  # model permissions: scoring.view_score
    filterset_class = filters.ScoreFilter
    ordering_fields = ["created_at", "as_of", "score", "final_pd", "id"]

    def get_queryset(self):
        qs = selectors.score_list()
        if self.action == "list":
            qs = qs.defer("features")  # the feature values are only in the detail
        return qs

    def get_serializer_class(self):
        return ScoreDetailSerializer if self.action == "retrieve" else ScoreSerializer


@extend_schema_view(
    list=extend_schema(summary="List model versions",
                       responses={200: ModelVersionSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(summary="One model version with its metrics (ROC points, calibration, importance, PSI)",
                           responses={200: ModelVersionDetailSerializer, **ERRORS, **NOT_FOUND}),
)
class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    queryset = ModelVersion.objects.none()  # model permissions: scoring.view_modelversion
    lookup_field = "version"
    lookup_value_regex = r"\d+"
    filterset_class = filters.ModelVersionFilter
    ordering_fields = ["version", "created_at"]

    def get_queryset(self):
        return selectors.model_version_list()

    def get_serializer_class(self):
        return ModelVersionDetailSerializer if self.action == "retrieve" else ModelVersionSerializer


class ModelPromoteView(APIView):
    """Make a model version the champion (managers; audited). The previous champion becomes a challenger."""

    required_permissions = {"POST": ["scoring.change_modelversion"]}

    class PromoteInputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")

    @extend_schema(summary="Promote a model version to champion", request=PromoteInputSerializer,
                   responses={200: ModelVersionDetailSerializer, **ERRORS, **NOT_FOUND})
    def post(self, request, version: int):
        from scoring.training import model_promote

        model = selectors.model_version_list().filter(version=version).first()
        if model is None:
            raise Http404
        data = self.PromoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = model_promote(version=model, actor=request.user, reason=data.validated_data["reason"])
        model = selectors.model_version_list().get(pk=model.pk)
        return Response(ModelVersionDetailSerializer(model).data)


@extend_schema_view(
    get=extend_schema(summary="List grade overrides", responses={200: OverrideSerializer(many=True), **ERRORS}),
)
class OverrideListProposeView(generics.ListAPIView):
    """GET: overrides (filter by customer code, status). POST: an analyst proposes another grade."""

    queryset = ScoreOverride.objects.none()  # GET scoring.view_scoreoverride, POST scoring.add_scoreoverride
    serializer_class = OverrideSerializer
    filterset_class = filters.OverrideFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return selectors.override_list()

    class ProposeInputSerializer(serializers.Serializer):
        customer = serializers.CharField(max_length=64, help_text=_("Customer code."))
        proposed_grade = serializers.CharField(max_length=4)
        reason = serializers.CharField(max_length=4000, help_text=_("Required: why the grade should differ."))
        expires_on = serializers.DateField(required=False, allow_null=True, default=None)

    @extend_schema(summary="Propose a grade override (needs a second person to approve)", request=ProposeInputSerializer,
                   responses={201: OverrideSerializer, **ERRORS, **NOT_FOUND})
    def post(self, request):
        data = self.ProposeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = customer_get_for_user(user=request.user, code=values["customer"])
        override = services.score_override_propose(customer=customer, proposed_grade=values["proposed_grade"],
                                                   reason=values["reason"], actor=request.user,
                                                   expires_on=values["expires_on"])
        override = selectors.override_list().get(pk=override.pk)
        return Response(OverrideSerializer(override).data, status=status.HTTP_201_CREATED)


class _OverrideDecisionView(APIView):
    required_permissions = {"POST": ["scoring.change_scoreoverride"]}
    decision = ""

    class DecisionInputSerializer(serializers.Serializer):
        note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")

    def post(self, request, pk: int):
        override = selectors.override_list().filter(pk=pk).first()
        if override is None:
            raise Http404
        data = self.DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note = data.validated_data["note"]
        if self.decision == "approve":
            services.score_override_approve(override=override, actor=request.user, note=note)
        else:
            services.score_override_reject(override=override, actor=request.user, note=note)
        return Response(OverrideSerializer(selectors.override_list().get(pk=pk)).data)


class OverrideApproveView(_OverrideDecisionView):
    decision = "approve"

    @extend_schema(summary="Approve a grade override (a manager other than the proposer)",
                   request=_OverrideDecisionView.DecisionInputSerializer, responses={200: OverrideSerializer, **ERRORS,
                                                                             **NOT_FOUND})
    def post(self, request, pk: int):
        return super().post(request, pk)


class OverrideRejectView(_OverrideDecisionView):
    decision = "reject"

    @extend_schema(summary="Reject a grade override (note required)", request=_OverrideDecisionView.DecisionInputSerializer,
                   responses={200: OverrideSerializer, **ERRORS, **NOT_FOUND})
    def post(self, request, pk: int):
        return super().post(request, pk)
