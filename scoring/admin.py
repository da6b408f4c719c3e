"""Admin for scoring: read-only browsing (changes go through the scoring pages and services, which audit them)."""

from __future__ import annotations

from django.contrib import admin

from scoring.models import (
    Grade,
    MasterScale,
    ModelVersion,
    Score,
    Scorecard,
    ScorecardFactor,
    ScoreOverride,
    ScoringRun,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GradeInline(admin.TabularInline):
    model = Grade
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class FactorInline(GradeInline):
    model = ScorecardFactor


@admin.register(MasterScale)
class MasterScaleAdmin(ReadOnlyAdmin):
    list_display = ("version", "name", "active", "created_by", "created_at", "activated_at")
    inlines = [GradeInline]


@admin.register(Scorecard)
class ScorecardAdmin(ReadOnlyAdmin):
    list_display = ("name", "segment", "version", "status", "base_score", "base_odds", "pdo", "activated_at")
    list_filter = ("segment", "status")
    inlines = [FactorInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "name", "algorithm", "label_source", "status", "n_train", "n_test", "created_at")
    list_filter = ("status", "algorithm", "label_source")
    exclude = ("artefact",)


@admin.register(ScoringRun)
class ScoringRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "as_of", "kind", "status", "started_at", "finished_at", "chunks_done", "chunks_total")
    list_filter = ("status", "kind")


@admin.register(Score)
class ScoreAdmin(ReadOnlyAdmin):
    list_display = ("customer", "as_of", "score", "scorecard_grade", "pd_grade", "final_grade", "final_pd", "run")
    list_filter = ("final_grade",)
    list_select_related = ("customer", "run")
    search_fields = ("customer__code", "customer__name")
    raw_id_fields = ("customer", "run", "scorecard", "model", "override")


@admin.register(ScoreOverride)
class ScoreOverrideAdmin(ReadOnlyAdmin):
    list_display = ("customer", "from_grade", "proposed_grade", "status", "proposed_by", "decided_by", "decided_at")
    list_filter = ("status",)
    list_select_related = ("customer", "proposed_by", "decided_by")
    raw_id_fields = ("customer", "score")
