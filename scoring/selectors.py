"""Reads of the scoring app: active scale and scorecards, the model registry, scores, runs, overrides."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.db.models import Prefetch, Q, QuerySet

from scoring.masterscale import GradeBands, bands_from_grades
from scoring.models import (
    Grade,
    MasterScale,
    ModelStatus,
    ModelVersion,
    OverrideStatus,
    Score,
    Scorecard,
    ScorecardFactor,
    ScorecardStatus,
    ScoreOverride,
    ScoringRun,
)

# --- master scale -------------------------------------------------------------------------------


def master_scale_active() -> MasterScale | None:
    return MasterScale.objects.filter(active=True).prefetch_related("grades").first()


def master_scale_list() -> QuerySet[MasterScale]:
    return MasterScale.objects.prefetch_related("grades").order_by("-version")


def master_scale_bands(scale: MasterScale | None = None) -> GradeBands | None:
    """The active (or given) scale compiled for vectorised grading; None when there is no scale."""
    scale = scale if scale is not None else master_scale_active()
    if scale is None:
        return None
    grades = list(scale.grades.all())
    return bands_from_grades(grades, scale_id=scale.pk) if grades else None


def grade_policy(*, code: str, scale: MasterScale | None = None) -> Grade | None:
    """The credit policy row for a grade on the active (or given) scale."""
    scale = scale if scale is not None else master_scale_active()
    if scale is None or not code:
        return None
    return Grade.objects.filter(scale=scale, code=code).first()


# --- scorecards ---------------------------------------------------------------------------------


def _with_factors(qs: QuerySet[Scorecard]) -> QuerySet[Scorecard]:
    return qs.prefetch_related(Prefetch("factors", queryset=ScorecardFactor.objects.order_by("order", "id")))


def scorecard_active_list() -> list[Scorecard]:
    return list(_with_factors(Scorecard.objects.filter(status=ScorecardStatus.ACTIVE)).order_by("segment"))


def scorecard_list(*, status: str | None = None, segment: str | None = None) -> QuerySet[Scorecard]:
    qs = _with_factors(Scorecard.objects.select_related("created_by", "activated_by"))
    if status:
        qs = qs.filter(status=status)
    if segment:
        qs = qs.filter(segment=segment)
    return qs.order_by("segment", "-version")


def scorecard_get(*, pk: int) -> Scorecard:
    return _with_factors(Scorecard.objects.select_related("created_by", "activated_by")).get(pk=pk)


def scorecard_active_for_segment(*, segment: str) -> Scorecard | None:
    return _with_factors(Scorecard.objects.filter(status=ScorecardStatus.ACTIVE, segment=segment)).first()


# --- model registry -----------------------------------------------------------------------------


def model_champion() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelStatus.CHAMPION).first()


def model_challengers() -> list[ModelVersion]:
    return list(ModelVersion.objects.filter(status=ModelStatus.CHALLENGER).order_by("version"))


def model_version_list() -> QuerySet[ModelVersion]:
    """The registry without the (large) artefacts."""
    return ModelVersion.objects.defer("artefact").select_related("created_by", "promoted_by").order_by("-version")


# --- runs and scores -----------------------------------------------------------------------------


def scoring_run_list() -> QuerySet[ScoringRun]:
    return ScoringRun.objects.select_related("triggered_by").order_by("-id")


def score_list(*, filters=None) -> QuerySet[Score]:
    """Scores, newest first. Filters: customer (code or id), grade (final grade), run (id), as_of."""
    qs = Score.objects.select_related("customer", "scorecard", "model", "override")
    filters = filters or {}
    customer = str(filters.get("customer") or "").strip()
    if customer:
        qs = qs.filter(Q(customer__code=customer) | Q(customer_id=int(customer)) if customer.isdigit()
                       else Q(customer__code=customer))
    grade = str(filters.get("grade") or "").strip()
    if grade:
        qs = qs.filter(final_grade=grade)
    run = str(filters.get("run") or "").strip()
    if run.isdigit():
        qs = qs.filter(run_id=int(run))
    as_of = filters.get("as_of")
    if as_of:
        try:
            qs = qs.filter(as_of=as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)))
        except ValueError:
            qs = qs.none()
    # Scores are only ever appended, so the primary key orders them by time and its index serves the
    # newest-first page without sorting millions of rows; the model's artefact and metrics are never needed.
    return qs.defer("model__artefact", "model__metrics").order_by("-id")


def customer_score_history(*, customer, limit: int = 50) -> list[Score]:
    """A customer's scores, newest first (for the Score tab and its history chart)."""
    return list(Score.objects.filter(customer=customer).select_related("scorecard", "model", "override")
                .order_by("-created_at", "-id")[:limit])


def customer_latest_score(*, customer) -> Score | None:
    return (Score.objects.filter(customer=customer).select_related("scorecard", "model", "override")
            .order_by("-created_at", "-id").first())


# --- overrides -----------------------------------------------------------------------------------


def override_list(*, status: str | None = None, customer=None) -> QuerySet[ScoreOverride]:
    qs = ScoreOverride.objects.select_related("customer", "proposed_by", "decided_by", "score")
    if status:
        qs = qs.filter(status=status)
    if customer is not None:
        qs = qs.filter(customer=customer)
    return qs.order_by("-created_at", "-id")


def overrides_in_effect(*, as_of: dt.date, customer_ids=None) -> pd.DataFrame:
    """The latest approved, unexpired override per customer: columns override_id, from_grade, proposed_grade.

    Whether it still applies is decided at scoring time: only while the computed grade is still the
    grade it overrode (see scoring.services).
    """
    qs = ScoreOverride.objects.filter(status=OverrideStatus.APPROVED).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=as_of))
    if customer_ids is not None:
        ids = list(customer_ids)
        qs = qs.filter(customer_id__in=ids) if len(ids) <= 1000 else qs.filter(
            customer_id__gte=min(ids), customer_id__lte=max(ids))
    rows = list(qs.order_by("customer_id", "-decided_at", "-id").values_list(
        "customer_id", "id", "from_grade", "proposed_grade"))
    frame = pd.DataFrame.from_records(rows, columns=["customer_id", "override_id", "from_grade", "proposed_grade"])
    frame = frame.drop_duplicates("customer_id", keep="first").set_index("customer_id")
    return frame
