"""FilterSets of the scoring API: scores by customer code, grade, run and as-of date range."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from scoring.models import ModelStatus, ModelVersion, OverrideStatus, Score, ScoreOverride


class ScoreFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__code", label=_("Customer code"))
    grade = django_filters.CharFilter(field_name="final_grade", label=_("Final grade"))
    run = django_filters.NumberFilter(field_name="run_id", label=_("Scoring run id"))
    as_of = django_filters.DateFilter(field_name="as_of", label=_("As-of date"))
    as_of_from = django_filters.DateFilter(field_name="as_of", lookup_expr="gte", label=_("As of, from (inclusive)"))
    as_of_to = django_filters.DateFilter(field_name="as_of", lookup_expr="lte", label=_("As of, to (inclusive)"))

    class Meta:
        model = Score
        fields = ["customer", "grade", "run", "as_of", "as_of_from", "as_of_to"]


class ModelVersionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ModelStatus.choices)

    class Meta:
        model = ModelVersion
        fields = ["status", "algorithm", "label_source"]


class OverrideFilter(django_filters.FilterSet):
    customer = django_filters.CharFilter(field_name="customer__code", label=_("Customer code"))
    status = django_filters.ChoiceFilter(choices=OverrideStatus.choices)

    class Meta:
        model = ScoreOverride
        fields = ["customer", "status"]
