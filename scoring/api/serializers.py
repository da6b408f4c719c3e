"""Serializers of the scoring API: scores with reason codes in words, the model registry, overrides."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scoring.features import feature_catalogue, reason_text
from scoring.models import ModelVersion, Score, ScoreOverride

# Large or internal parts of a model's metrics that the API leaves out (the training-data profile).
HIDDEN_METRICS = ("profile",)


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("Stable reason code, e.g. dbt_12m_high."))
    feature = serializers.CharField(help_text=_("Feature catalogue key."))
    source = serializers.CharField(help_text=_("scorecard or model"))
    impact = serializers.FloatField(help_text=_("Points below the factor's maximum, or log-odds contribution."))
    value = serializers.JSONField(allow_null=True, help_text=_("The feature's value."))
    text = serializers.CharField(help_text=_("The reason in words, in the request's language."))


class ScoreSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.code", help_text=_("Customer code."))
    grade = serializers.CharField(source="final_grade", help_text=_("Final grade (after any approved override)."))
    pd = serializers.DecimalField(source="final_pd", max_digits=9, decimal_places=6,
                                  help_text=_("Final probability of default."))
    model_pd = serializers.DecimalField(source="pd", max_digits=9, decimal_places=6, allow_null=True,
                                        help_text=_("The champion model's PD."))
    reasons = serializers.SerializerMethodField()
    run = serializers.IntegerField(source="run_id")
    scorecard_version = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField()
    override = serializers.IntegerField(source="override_id", allow_null=True)

    class Meta:
        model = Score
        fields = ["id", "customer", "score", "grade", "pd", "reasons", "run", "as_of", "scorecard_version",
                  "model_version", "scorecard_grade", "scorecard_pd", "pd_grade", "model_pd", "computed_grade",
                  "challenger_pds", "override", "created_at"]
        read_only_fields = fields

    def _catalogue(self):
        cache = self.context.setdefault("_catalogue", {})
        if "value" not in cache:
            cache["value"] = feature_catalogue()
        return cache["value"]

    @extend_schema_field(ReasonSerializer(many=True))
    def get_reasons(self, obj: Score) -> list[dict]:
        catalogue = self._catalogue()
        return [{**reason, "text": reason_text(reason, catalogue)} for reason in (obj.reasons or [])]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_scorecard_version(self, obj: Score) -> str | None:
        return f"{obj.scorecard.name} v{obj.scorecard.version}" if obj.scorecard_id else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_model_version(self, obj: Score) -> int | None:
        return obj.model.version if obj.model_id else None


class ScoreDetailSerializer(ScoreSerializer):
    class Meta(ScoreSerializer.Meta):
        fields = [*ScoreSerializer.Meta.fields, "features"]
        read_only_fields = fields


class _MetricField(serializers.FloatField):
    def __init__(self, key: str, **kwargs):
        self.key = key
        super().__init__(source="metrics", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        number = (value or {}).get(self.key)
        return float(number) if isinstance(number, int | float) else None


class ModelVersionSerializer(serializers.ModelSerializer):
    auc = _MetricField("auc", help_text=_("Area under the ROC curve on held-out data."))
    gini = _MetricField("gini")
    ks = _MetricField("ks")
    brier = _MetricField("brier")

    class Meta:
        model = ModelVersion
        fields = ["version", "name", "algorithm", "label_source", "status", "auc", "gini", "ks", "brier",
                  "n_train", "n_test", "train_from", "train_to", "artefact_format", "artefact_sha256", "created_at",
                  "promoted_at"]
        read_only_fields = fields


class ModelVersionDetailSerializer(ModelVersionSerializer):
    metrics = serializers.SerializerMethodField()

    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "features", "metrics"]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_metrics(self, obj: ModelVersion) -> dict:
        return {k: v for k, v in (obj.metrics or {}).items() if k not in HIDDEN_METRICS}


class OverrideSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.code")
    score = serializers.IntegerField(source="score_id")
    proposed_by = serializers.CharField(source="proposed_by.get_username")
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = ScoreOverride
        fields = ["id", "customer", "score", "from_grade", "proposed_grade", "reason", "status", "proposed_by",
                  "created_at", "decided_by", "decided_at", "decision_note", "expires_on"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_decided_by(self, obj: ScoreOverride) -> str | None:
        return obj.decided_by.get_username() if obj.decided_by_id else None
