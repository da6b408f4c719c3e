"""Writes of the scoring app: scorecard and master-scale versions, portfolio scoring runs, overrides.

The grade rule (documented once, applied in :func:`score_features`):

* the **scorecard grade** comes from the score and the active master scale's score bands; the
  scorecard PD from the scorecard's log-odds scale (see scoring.scorecard);
* the **PD grade** comes from the champion model's PD and the scale's PD bands;
* the **computed grade** is the worse of the two when both exist; a customer no scorecard segment
  covers is graded on the PD alone, and without a champion on the scorecard alone;
* the **final PD** is the PD of the side that set the computed grade (the model's on a tie);
* an approved, unexpired **override** replaces the computed grade while the computed grade is still
  the one it overrode (a later rating change lapses it); its PD is moved into the new grade's band.

Runs are set-based: one feature frame for the portfolio (or a chunk of customer ids), vectorised
scoring, one bulk insert of Score rows (COPY on PostgreSQL) and one bulk update of the customers'
current score, grade and PD. ``scoring_run_chunk`` is what a Celery worker runs for one id range;
re-running a chunk replaces that chunk's rows in the run, so a retried chunk changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import io
import json
import logging
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from creditrisk.core.audit import audit_model_change, audit_record, snapshot
from creditrisk.core.exceptions import DomainError
from scoring import selectors
from scoring.features import CATEGORICAL, feature_catalogue, feature_frame
from scoring.masterscale import GradeBands, clip_pd_to_grade, grade_pds, grade_scores, worse_of
from scoring.models import (
    Grade,
    MasterScale,
    ModelVersion,
    OverrideStatus,
    RequiredSecurity,
    RunKind,
    RunStatus,
    Score,
    Scorecard,
    ScorecardFactor,
    ScorecardSegment,
    ScorecardStatus,
    ScoreOverride,
    ScoringRun,
)
from scoring.scorecard import (
    MAX_REASONS,
    CompiledScorecard,
    apply_scorecard,
    assign_scorecards,
    compile_factor,
    compile_scorecard,
    json_object_texts,
    json_values,
    merge_reasons,
    rule_mask,
    segment_rule,
    validate_segment_rule,
)

logger = logging.getLogger(__name__)


# =====================================================================================================
# The scoring engine (no writes)
# =====================================================================================================


@dataclass
class LoadedModel:
    version: ModelVersion
    model: object  # a fitted scoring.ml PDModel (predict_proba, features)

    @property
    def features(self) -> list[str]:
        return list(getattr(self.model, "features", None) or self.version.features or [])


@dataclass
class ScoringContext:
    """Everything a run needs besides the features: compiled cards, the scale, loaded models."""

    bands: GradeBands
    cards: list[CompiledScorecard]
    champion: LoadedModel | None = None
    challengers: list[LoadedModel] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _load_model(version: ModelVersion) -> object:
    from scoring.training import model_load  # h7's loader: verifies artefact_sha256 before unpickling

    return model_load(version)


def scoring_context(*, with_models: bool = True) -> ScoringContext:
    """Compile the active scale and scorecards and load the champion and challengers (once per run)."""
    bands = selectors.master_scale_bands()
    if bands is None:
        raise DomainError(_("There is no active master scale."), code="no_master_scale")
    cards = [compile_scorecard(card) for card in selectors.scorecard_active_list()]
    context = ScoringContext(bands=bands, cards=cards)
    if not with_models:
        return context
    champion = selectors.model_champion()
    if champion is not None:
        # A champion that cannot be loaded (e.g. its hash no longer matches) fails the run loudly.
        context.champion = LoadedModel(champion, _load_model(champion))
    for version in selectors.model_challengers():
        try:
            context.challengers.append(LoadedModel(version, _load_model(version)))
        except Exception as exc:  # a broken challenger must not stop the portfolio run
            logger.warning("challenger model v%s not loaded: %s", version.version, exc)
            context.warnings.append(f"challenger v{version.version} not loaded: {exc}")
    if not cards and context.champion is None:
        raise DomainError(_("There is no active scorecard and no champion model to score with."),
                          code="nothing_to_score_with")
    return context


def _model_frame(model: LoadedModel, features: pd.DataFrame) -> pd.DataFrame:
    columns = model.features
    return features.reindex(columns=columns)


def _model_pd(model: LoadedModel, features: pd.DataFrame) -> np.ndarray:
    X = _model_frame(model, features)
    return np.asarray(model.model.predict_proba(X)[:, 1], dtype=float)


def _model_reasons(model: LoadedModel, features: pd.DataFrame) -> list[list[dict]]:
    """Up to four features that raise the champion's PD the most, per row (log-odds contributions).

    The code says whether the value lies above or below the portfolio median (numeric features),
    is missing, or is an unfavourable category.
    """
    from scoring.ml.explain import contributions

    X = _model_frame(model, features)
    n = len(X)
    contrib = contributions(model.model, X)
    keys = list(contrib.columns)
    values = np.nan_to_num(contrib.to_numpy(dtype=float), nan=0.0)
    order = np.argsort(-values, axis=1, kind="stable")[:, :MAX_REASONS]
    rows = np.arange(n)[:, None]
    top = values[rows, order].tolist()
    top_impact = np.round(values[rows, order], 4).tolist()
    top_key = order.tolist()
    directions = []
    json_columns = []
    for key in keys:
        column = X[key] if key in X.columns else pd.Series(np.nan, index=X.index)
        missing = column.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(column):
            numbers = column.to_numpy(dtype=float)
            median = np.nanmedian(numbers) if (~missing).any() else np.nan
            direction = np.where(numbers > median, "high", "low").astype(object)
        else:
            direction = np.full(n, "unfavourable", dtype=object)
        direction[missing] = "missing"
        directions.append(direction.tolist())
        json_columns.append(json_values(column, n))
    out = []
    for r in range(n):
        reasons = []
        for j, contribution in enumerate(top[r]):
            if contribution <= 1e-9:
                break
            position = top_key[r][j]
            key = keys[position]
            reasons.append({"code": f"{key}_{directions[position][r]}", "feature": key, "source": "model",
                            "impact": top_impact[r][j], "value": json_columns[position][r]})
        out.append(reasons)
    return out


@contextlib.contextmanager
def _gc_paused():
    """Scoring builds a few hundred thousand small dicts and lists that all live until the write; the
    cyclic garbage collector would otherwise rescan them over and over (no cycles are created)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def score_features(features: pd.DataFrame, context: ScoringContext, *, overrides: pd.DataFrame | None = None
                   ) -> pd.DataFrame:
    """Score a feature frame. Returns one row per customer that could be scored (see the module doc).

    Columns: scorecard_id, points, score, scorecard_pd, scorecard_grade, model_id, pd, challenger_pds_json,
    pd_grade, computed_grade, final_grade, final_pd, override_id, reasons (lists of dicts) and
    features_json: the values of the row's scorecard factors as JSON text (for PD-only rows, of the
    model's reason features). Model reasons carry their feature's value too; the model's full input
    vector is not stored per row (it would multiply the write volume) — it is reproducible at any
    time with ``feature_frame(as_of=score.as_of)``, which is point-in-time.
    """
    index = features.index
    n = len(index)
    bands = context.bands
    out = pd.DataFrame(index=index)
    out["scorecard_id"] = pd.Series(pd.NA, index=index, dtype="Int64")
    points = np.full(n, np.nan)
    scorecard_pd = np.full(n, np.nan)
    reasons_sc: list[list[dict]] = [[] for _ in range(n)]
    used: list[list[str]] = [[] for _ in range(n)]

    if context.cards:
        assignment = assign_scorecards(context.cards, features)
        out["scorecard_id"] = assignment
        for card in context.cards:
            mask = (assignment == card.id).fillna(False).to_numpy(dtype=bool)
            if not mask.any():
                continue
            subset = features.loc[mask]
            result = apply_scorecard(card, subset)
            positions = np.flatnonzero(mask)
            points[positions] = result.total.to_numpy()
            scorecard_pd[positions] = result.pd.to_numpy()
            for position, reasons in zip(positions, result.reasons, strict=True):
                reasons_sc[position] = reasons
                used[position] = card.features
    out["points"] = points
    out["score"] = points
    out["scorecard_pd"] = scorecard_pd
    sc_grade = grade_scores(points, bands)
    out["scorecard_grade"] = sc_grade

    model_pd = np.full(n, np.nan)
    reasons_model: list[list[dict]] = [[] for _ in range(n)]
    out["model_id"] = pd.Series(pd.NA, index=index, dtype="Int64")
    if context.champion is not None and n:
        model_pd = _model_pd(context.champion, features)
        reasons_model = _model_reasons(context.champion, features)
        out["model_id"] = pd.Series(context.champion.version.pk, index=index, dtype="Int64")
    out["pd"] = model_pd
    challenger_columns = {}
    for challenger in context.challengers:
        try:
            challenger_columns[str(challenger.version.version)] = _model_pd(challenger, features)
        except Exception as exc:
            logger.warning("challenger v%s failed: %s", challenger.version.version, exc)
            context.warnings.append(f"challenger v{challenger.version.version} failed: {exc}")
    out["challenger_pds_json"] = (json_object_texts(pd.DataFrame(challenger_columns, index=index))
                                  if challenger_columns else ["{}"] * n)
    pd_grade = grade_pds(model_pd, bands)
    out["pd_grade"] = pd_grade

    computed = worse_of(sc_grade, pd_grade, bands)
    out["computed_grade"] = computed
    sc_rank = bands.rank_of(sc_grade)
    pd_rank = bands.rank_of(pd_grade)
    use_model = ~np.isnan(model_pd) & (pd_rank >= sc_rank)
    final_pd = np.where(use_model, model_pd, scorecard_pd)
    final_grade = computed.copy()
    override_id = pd.Series(pd.NA, index=index, dtype="Int64")
    if overrides is not None and len(overrides):
        aligned = overrides.reindex(index)
        applies = (aligned["from_grade"].to_numpy(dtype=object) == computed) & aligned["override_id"].notna().to_numpy()
        if applies.any():
            final_grade = np.where(applies, aligned["proposed_grade"].to_numpy(dtype=object), computed)
            final_pd = np.where(applies, clip_pd_to_grade(final_pd, final_grade, bands), final_pd)
            override_id = aligned["override_id"].where(applies).astype("Int64")
    out["final_grade"] = final_grade
    out["final_pd"] = final_pd
    out["override_id"] = override_id
    out["reasons"] = [merge_reasons(a, b) for a, b in zip(reasons_sc, reasons_model, strict=True)]
    features_json = _features_used(features, used)
    for position, keys in enumerate(used):
        if not keys and reasons_model[position]:  # PD-only: the model's most influential inputs
            features_json[position] = json.dumps({r["feature"]: r["value"] for r in reasons_model[position]},
                                                 ensure_ascii=False)
    out["features_json"] = features_json
    return out[out["final_grade"] != ""]


def _features_used(features: pd.DataFrame, used: list[list[str]]) -> list[str]:
    """Per row, the values of the features its scorecard and model used, as JSON object text (NaN → null)."""
    result: list[str] = ["{}"] * len(features)
    groups: dict[tuple, list[int]] = {}
    for position, keys in enumerate(used):
        groups.setdefault(tuple(keys), []).append(position)
    for keys, positions in groups.items():
        if not keys:
            continue
        texts = json_object_texts(features.iloc[positions].reindex(columns=list(keys)))
        for position, text in zip(positions, texts, strict=True):
            result[position] = text
    return result


# =====================================================================================================
# Scoring runs
# =====================================================================================================


def _validate_as_of(as_of) -> dt.date:
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        try:
            as_of = dt.date.fromisoformat(str(as_of))
        except ValueError as exc:
            raise ValidationError({"as_of": [_("Enter a date as YYYY-MM-DD.")]}) from exc
    if as_of > timezone.localdate():
        raise ValidationError({"as_of": [_("The as-of date cannot be in the future.")]})
    if as_of.year < 1990:
        raise ValidationError({"as_of": [_("The as-of date is implausibly early.")]})
    return as_of


def scoring_run_start(*, as_of, kind: str = RunKind.MANUAL, actor=None, chunks_total: int = 1,
                      status: str = RunStatus.RUNNING) -> ScoringRun:
    """Create the run row (the command prints its id; Celery chunks report into it)."""
    as_of = _validate_as_of(as_of)
    if kind not in RunKind.values:
        raise ValidationError({"kind": [_("Unknown run kind.")]})
    run = ScoringRun(as_of=as_of, kind=kind, status=status, chunks_total=max(1, int(chunks_total)),
                     started_at=timezone.now() if status == RunStatus.RUNNING else None,
                     triggered_by=actor if actor is not None and actor.is_authenticated else None)
    run.full_clean()
    run.save()
    return run


def _adapt(value, kind: str):
    ops = connection.ops
    if kind == "datetime":
        return ops.adapt_datetimefield_value(value)
    return ops.adapt_datefield_value(value)


_SCORE_COLUMNS = ["run_id", "customer_id", "as_of", "master_scale_id", "scorecard_id", "points", "score",
                  "scorecard_pd", "scorecard_grade", "model_id", "pd", "challenger_pds", "pd_grade",
                  "computed_grade", "final_grade", "final_pd", "features", "reasons", "override_id", "created_at"]


def _num(values, places: int) -> list:
    array = np.asarray(values, dtype=float)
    rounded = np.round(array, places)
    return [None if math.isnan(v) else v for v in rounded.tolist()]


def _ids(series: pd.Series) -> list:
    return [None if v is pd.NA else int(v) for v in series.astype("Int64").tolist()]


def _score_rows(run: ScoringRun, scored: pd.DataFrame, *, scale_id, created_at) -> list[tuple]:
    n = len(scored)
    as_of = _adapt(run.as_of, "date")
    created = _adapt(created_at, "datetime")
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    columns = [
        [run.pk] * n,
        scored.index.astype(int).tolist(),
        [as_of] * n,
        [scale_id] * n,
        _ids(scored["scorecard_id"]),
        _num(scored["points"], 2),
        _num(scored["score"], 2),
        _num(scored["scorecard_pd"], 6),
        scored["scorecard_grade"].tolist(),
        _ids(scored["model_id"]),
        _num(scored["pd"], 6),
        scored["challenger_pds_json"].tolist(),
        scored["pd_grade"].tolist(),
        scored["computed_grade"].tolist(),
        scored["final_grade"].tolist(),
        _num(np.clip(scored["final_pd"].to_numpy(dtype=float), 0, 1), 6),
        scored["features_json"].tolist(),
        [dumps(v) for v in scored["reasons"].tolist()],
        _ids(scored["override_id"]),
        [created] * n,
    ]
    return list(zip(*columns, strict=True))


# COPY text format: backslash, tab, newline and carriage return are escaped; None is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]").search


def _copy(table: str, columns: list[str], rows: list[tuple], *, not_null: tuple[str, ...] = ()) -> None:
    """PostgreSQL COPY FROM STDIN (text format) — the fastest bulk insert.

    None becomes NULL and '' stays '' in every column (``not_null`` is accepted for compatibility:
    the text format never reads '' as NULL). Text rather than CSV: no quoting of the JSON columns,
    about three times faster to build.
    """
    special, escapes = _COPY_SPECIAL, _COPY_ESCAPES
    text = "".join(["\t".join(["\\N" if v is None
                               else t.translate(escapes) if special(t := v if v.__class__ is str else str(v)) else t
                               for v in row]) + "\n"
                    for row in rows])
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if hasattr(raw, "copy_expert"):  # psycopg2
            raw.copy_expert(sql, io.StringIO(text))
        else:  # psycopg 3
            with raw.copy(sql) as copy:
                copy.write(text)


def _insert_scores(rows: list[tuple], *, batch_size: int = 5000) -> None:
    if not rows:
        return
    table = Score._meta.db_table
    if connection.vendor == "postgresql":
        _copy(table, _SCORE_COLUMNS, rows, not_null=("scorecard_grade", "pd_grade", "computed_grade"))
        return
    placeholders = ", ".join(["%s"] * len(_SCORE_COLUMNS))
    sql = f"INSERT INTO {table} ({', '.join(_SCORE_COLUMNS)}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            cursor.executemany(sql, rows[start:start + batch_size])


def _update_customers(scored: pd.DataFrame, *, scored_at, run: ScoringRun | None = None) -> None:
    """Customer.current_score/grade/pd/scored_at for every scored customer, in one set-based write.

    On PostgreSQL, given the ``run`` whose score rows were just written (with ``scored_at`` as their
    created_at), the values are taken from those rows in the database — the same numbers, without
    sending them a second time. The customer table is set up for HOT updates (customers migration 0004):
    no index covers these columns and pages keep free space, so no other index is touched.
    """
    from customers.models import Customer

    if not len(scored):
        return
    table = Customer._meta.db_table
    if run is not None and connection.vendor == "postgresql":
        low, high = int(scored.index.min()), int(scored.index.max())
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET current_score = s.score, current_grade = s.final_grade, "  # noqa: S608
                f"current_pd = s.final_pd, scored_at = s.created_at FROM {Score._meta.db_table} AS s "
                "WHERE s.run_id = %s AND s.customer_id BETWEEN %s AND %s AND s.created_at = %s "
                "AND c.id = s.customer_id", [run.pk, low, high, _adapt(scored_at, "datetime")])
        return
    score = np.where(np.isnan(scored["score"].to_numpy(dtype=float)), np.nan, scored["score"].to_numpy(dtype=float))
    rows = list(zip(scored.index.astype(int).tolist(), _num(score, 2), scored["final_grade"].tolist(),
                    _num(np.clip(scored["final_pd"].to_numpy(dtype=float), 0, 1), 6), strict=True))
    moment = _adapt(scored_at, "datetime")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS scoring_current_tmp "
                           "(id bigint PRIMARY KEY, score numeric(8,2), grade varchar(4), pd numeric(9,6)) "
                           "ON COMMIT DROP")
            cursor.execute("TRUNCATE scoring_current_tmp")
            _copy("scoring_current_tmp", ["id", "score", "grade", "pd"], rows, not_null=("grade",))
            cursor.execute(
                f"UPDATE {table} AS c SET current_score = t.score, current_grade = t.grade, "  # noqa: S608
                "current_pd = t.pd, scored_at = %s FROM scoring_current_tmp AS t WHERE c.id = t.id", [moment])
        else:
            cursor.executemany(
                f"UPDATE {table} SET current_score = %s, current_grade = %s, current_pd = %s, "  # noqa: S608
                "scored_at = %s WHERE id = %s",
                [(s, g, p, moment, i) for i, s, g, p in rows])


def _chunk_counts(features: pd.DataFrame, scored: pd.DataFrame, context: ScoringContext) -> dict:
    names = {card.id: card.name for card in context.cards}
    by_card = Counter(names.get(v, "—") for v in scored["scorecard_id"].dropna().astype(int).tolist())
    return {
        "customers": len(features),
        "scored": len(scored),
        "unscored": len(features) - len(scored),
        "by_grade": dict(Counter(scored["final_grade"].tolist())),
        "by_scorecard": dict(by_card),
        "model_scored": int(scored["pd"].notna().sum()),
        "overrides_applied": int(scored["override_id"].notna().sum()),
        "without_reason": int(sum(1 for r in scored["reasons"].tolist() if not r)),
    }


def scoring_run_chunk(*, run: ScoringRun, customer_ids=None, chunk_key: str = "all",
                      context: ScoringContext | None = None) -> dict:
    """Score one chunk of customers (``None`` = all) into ``run``. Idempotent per (run, chunk).

    Returns ``{"counts": …, "timings": …}`` and records them on the run under ``chunk_key``.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 4)
        clock = now

    context = context or scoring_context()
    lap("load")
    sources: dict[str, float] = {}
    features = feature_frame(as_of=run.as_of, customer_ids=customer_ids, timings=sources)
    lap("features")
    timings.update(sources)
    overrides = selectors.overrides_in_effect(as_of=run.as_of, customer_ids=features.index.tolist()
                                              if customer_ids is not None else None)
    with _gc_paused():
        scored = score_features(features, context, overrides=overrides)
        lap("score")
        now = timezone.now()
        rows = _score_rows(run, scored, scale_id=context.bands.scale_id, created_at=now)
        lap("prepare_rows")
    with transaction.atomic():
        if customer_ids is not None and len(features):
            Score.objects.filter(run=run, customer_id__in=features.index.tolist()).delete() \
                if len(features) <= 1000 else Score.objects.filter(
                    run=run, customer_id__gte=int(features.index.min()),
                    customer_id__lte=int(features.index.max())).delete()
        elif customer_ids is None:
            Score.objects.filter(run=run).delete()
        _insert_scores(rows)
        lap("write_scores")
        _update_customers(scored, scored_at=now, run=run)
        lap("update_customers")
        counts = _chunk_counts(features, scored, context)
        if context.warnings:
            counts["warnings"] = list(context.warnings)
        _record_chunk(run, chunk_key, counts, timings)
    return {"counts": counts, "timings": timings}


def _record_chunk(run: ScoringRun, key: str, counts: dict, timings: dict) -> None:
    locked = ScoringRun.objects.select_for_update().get(pk=run.pk)
    chunks = dict(locked.counts.get("chunks", {}))
    chunks[key] = {"counts": counts, "timings": timings}
    totals: Counter = Counter()
    grades: Counter = Counter()
    cards: Counter = Counter()
    stage_times: Counter = Counter()
    warnings: list[str] = []
    for chunk in chunks.values():
        c = chunk["counts"]
        totals.update({k: v for k, v in c.items() if isinstance(v, int)})
        grades.update(c.get("by_grade", {}))
        cards.update(c.get("by_scorecard", {}))
        warnings.extend(c.get("warnings", []))
        stage_times.update(chunk["timings"])
    locked.counts = {**dict(totals), "by_grade": dict(grades), "by_scorecard": dict(cards), "chunks": chunks,
                     **({"warnings": sorted(set(warnings))} if warnings else {})}
    locked.timings = {k: round(v, 4) for k, v in stage_times.items()}
    locked.chunks_done = len(chunks)
    locked.save(update_fields=["counts", "timings", "chunks_done"])
    run.counts, run.timings, run.chunks_done = locked.counts, locked.timings, locked.chunks_done


def scoring_run_finish(*, run: ScoringRun, error: str = "") -> ScoringRun:
    """Mark the run succeeded (or failed) and write its one audit event."""
    with transaction.atomic():
        locked = ScoringRun.objects.select_for_update().get(pk=run.pk)
        if locked.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return locked
        locked.status = RunStatus.FAILED if error else RunStatus.SUCCEEDED
        locked.error = error[:5000]
        locked.finished_at = timezone.now()
        if locked.started_at:
            locked.timings = {**locked.timings,
                              "total": round((locked.finished_at - locked.started_at).total_seconds(), 4)}
        locked.save(update_fields=["status", "error", "finished_at", "timings"])
        summary = {k: v for k, v in locked.counts.items() if k != "chunks"}
        audit_record(actor=locked.triggered_by, action="scoring.run", subject_type="scoring.scoringrun",
                     subject_id=locked.pk, subject_label=str(locked),
                     after={"as_of": locked.as_of, "kind": locked.kind, "status": locked.status, "counts": summary,
                            "error": locked.error})
    return locked


INLINE_CHUNK_SIZE = 100_000


def scoring_run_portfolio(*, as_of, kind: str = RunKind.MANUAL, actor=None, customer_ids=None,
                          run: ScoringRun | None = None, chunk_size: int = INLINE_CHUNK_SIZE) -> ScoringRun:
    """Score the portfolio (or ``customer_ids``) inline: features → scorecards → models → grades → writes.

    Portfolios larger than ``chunk_size`` are scored in customer-id ranges one after the other, so
    memory stays bounded, all in one transaction. Returns the finished run (counts and timings per
    stage). A failure marks the run failed, writes no scores for it, and re-raises.
    """
    as_of = _validate_as_of(as_of)
    ids = None
    if customer_ids is not None:
        try:
            ids = sorted({int(c) for c in customer_ids})
        except (TypeError, ValueError) as exc:
            raise ValidationError({"customer_ids": [_("Customer ids must be integers.")]}) from exc
    context = scoring_context()  # fails before a run row exists when there is nothing to score with
    if run is None:
        run = scoring_run_start(as_of=as_of, kind=kind, actor=actor)
    elif run.status == RunStatus.QUEUED:
        ScoringRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
        run.refresh_from_db()
    from customers.models import Customer

    chunk_size = max(1, int(chunk_size))
    all_ids = ids if ids is not None else None
    if ids is None and Customer.objects.count() > chunk_size:
        all_ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    chunks = ([(None, "all")] if all_ids is None else
              [(all_ids[i:i + chunk_size], f"{all_ids[i]}-{all_ids[min(i + chunk_size, len(all_ids)) - 1]}")
               for i in range(0, len(all_ids), chunk_size)] or [([], "none")])
    if len(chunks) != run.chunks_total:
        ScoringRun.objects.filter(pk=run.pk).update(chunks_total=len(chunks))
        run.chunks_total = len(chunks)
    try:
        with transaction.atomic():
            for chunk_ids, key in chunks:
                scoring_run_chunk(run=run, customer_ids=chunk_ids, chunk_key=key, context=context)
    except Exception as exc:
        scoring_run_finish(run=run, error=f"{type(exc).__name__}: {exc}")
        raise
    return scoring_run_finish(run=run)


# =====================================================================================================
# Scorecards
# =====================================================================================================


def _require_draft(scorecard: Scorecard) -> None:
    if scorecard.status != ScorecardStatus.DRAFT:
        raise DomainError(_("Only a draft scorecard can be edited; create a new draft first."), code="not_draft")


def _next_scorecard_version(segment: str) -> int:
    return (Scorecard.objects.filter(segment=segment).aggregate(m=Max("version"))["m"] or 0) + 1


@transaction.atomic
def scorecard_create_draft(*, actor, segment: str | None = None, source: Scorecard | None = None,
                           name: str | None = None, segment_rule: dict | None = None,
                           name_zh: str | None = None) -> Scorecard:
    """A new draft version: a copy of ``source`` (or the segment's active card), or an empty card."""
    if source is None:
        if segment not in ScorecardSegment.values:
            raise ValidationError({"segment": [_("Choose a segment.")]})
        source = selectors.scorecard_active_for_segment(segment=segment)
    segment = source.segment if source is not None else segment
    draft = Scorecard(
        name=(name or (source.name if source else "")).strip() or str(ScorecardSegment(segment).label),
        name_zh=(name_zh if name_zh is not None else (source.name_zh if source and not name else "")).strip(),
        segment=segment,
        segment_rule=segment_rule if segment_rule is not None else (dict(source.segment_rule) if source else {}),
        version=_next_scorecard_version(segment), status=ScorecardStatus.DRAFT,
        base_score=source.base_score if source else Decimal(600),
        base_odds=source.base_odds if source else Decimal(50),
        pdo=source.pdo if source else Decimal(20),
        description=source.description if source else "",
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if segment == ScorecardSegment.CUSTOM:
        try:
            validate_segment_rule(draft.segment_rule)
        except ValueError as exc:
            raise ValidationError({"segment_rule": [str(exc)]}) from exc
    draft.full_clean()
    draft.save()
    if source is not None:
        ScorecardFactor.objects.bulk_create([
            ScorecardFactor(scorecard=draft, feature=f.feature, label=f.label, order=f.order, bins=f.bins,
                            missing_points=f.missing_points)
            for f in source.factors.all()
        ])
    audit_model_change(actor=actor, action="scorecard.create", instance=draft, before=None,
                       reason=f"copy of {source}" if source else "")
    return draft


@transaction.atomic
def scorecard_update(*, scorecard: Scorecard, actor, name: str | None = None, description: str | None = None,
                     base_score=None, base_odds=None, pdo=None, segment_rule: dict | None = None) -> Scorecard:
    """Edit a draft's settings (the scale: base score, odds at the base score, points to double the odds)."""
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
    _require_draft(scorecard)
    before = snapshot(scorecard)
    changed = []
    for attr, value in (("name", name), ("description", description), ("base_score", base_score),
                        ("base_odds", base_odds), ("pdo", pdo)):
        if value is not None:
            if attr in ("base_score", "base_odds", "pdo"):
                value = _decimal(value, attr)
            setattr(scorecard, attr, value.strip() if isinstance(value, str) else value)
            changed.append(attr)
    if segment_rule is not None:
        try:
            scorecard.segment_rule = validate_segment_rule(segment_rule)
        except ValueError as exc:
            raise ValidationError({"segment_rule": [str(exc)]}) from exc
        changed.append("segment_rule")
    if scorecard.pdo is not None and scorecard.pdo <= 0:
        raise ValidationError({"pdo": [_("Points to double the odds must be positive.")]})
    if scorecard.base_odds is not None and scorecard.base_odds <= 0:
        raise ValidationError({"base_odds": [_("The odds must be positive.")]})
    scorecard.full_clean()
    if changed:
        scorecard.save(update_fields=changed)
        audit_model_change(actor=actor, action="scorecard.update", instance=scorecard, before=before)
    return scorecard


def _decimal(value, field_name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field_name: [_("Enter a number.")]}) from exc
    if not number.is_finite():
        raise ValidationError({field_name: [_("Enter a number.")]})
    return number


@transaction.atomic
def scorecard_update_factor(*, scorecard: Scorecard, feature: str, actor, bins=None, missing_points=None,
                            label: str | None = None, order: int | None = None) -> ScorecardFactor:
    """Add or change one factor of a draft. ``bins``: numeric bins list or {category: points}."""
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
    _require_draft(scorecard)
    catalogue = feature_catalogue()
    spec = catalogue.get(feature)
    if spec is None:
        raise ValidationError({"feature": [_("%(feature)s is not in the feature catalogue.") % {"feature": feature}]})
    factor = ScorecardFactor.objects.filter(scorecard=scorecard, feature=feature).first()
    before = snapshot(factor) if factor else None
    if factor is None:
        if bins is None:
            raise ValidationError({"bins": [_("A new factor needs bins.")]})
        next_order = (scorecard.factors.aggregate(m=Max("order"))["m"] or 0) + 1
        factor = ScorecardFactor(scorecard=scorecard, feature=feature, order=next_order, label=str(spec.label))
    if bins is not None:
        if spec.kind == CATEGORICAL and not isinstance(bins, dict):
            raise ValidationError({"bins": [_("A category feature needs a map of category to points.")]})
        if spec.kind != CATEGORICAL and not isinstance(bins, list):
            raise ValidationError({"bins": [_("A numeric feature needs a list of bins with lower, upper and points.")]})
        factor.bins = bins
    if missing_points is not None:
        factor.missing_points = _decimal(missing_points, "missing_points")
    if label is not None:
        factor.label = label.strip()[:120]
    if order is not None:
        factor.order = int(order)
    try:
        compiled = compile_factor(feature=feature, bins=factor.bins, missing_points=factor.missing_points)
    except (ValueError, TypeError) as exc:
        raise ValidationError({"bins": [str(exc)]}) from exc
    factor.bins = _normalised_bins(compiled, factor.bins)
    factor.full_clean()
    factor.save()
    audit_model_change(actor=actor, action="scorecard.factor_update" if before else "scorecard.factor_add",
                       instance=factor, before=before, reason=str(scorecard))
    return factor


def _normalised_bins(compiled, bins):
    if compiled.kind == "categorical":
        return {str(k): float(v) for k, v in bins.items()}

    def bound(x):
        return None if math.isinf(x) else x

    return [{"lower": bound(lo), "upper": bound(hi), "points": p}
            for lo, hi, p in zip(compiled.lowers, compiled.uppers, compiled.bin_points, strict=True)]


@transaction.atomic
def scorecard_remove_factor(*, scorecard: Scorecard, feature: str, actor) -> None:
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
    _require_draft(scorecard)
    factor = ScorecardFactor.objects.filter(scorecard=scorecard, feature=feature).first()
    if factor is None:
        raise ValidationError({"feature": [_("The scorecard has no factor %(feature)s.") % {"feature": feature}]})
    before = snapshot(factor)
    audit_record(actor=actor, action="scorecard.factor_remove", subject_type="scoring.scorecardfactor",
                 subject_id=factor.pk, subject_label=str(factor), before=before, reason=str(scorecard))
    factor.delete()


def scorecard_preview(*, draft: Scorecard, as_of: dt.date | None = None, top: int = 20, bins: int = 20) -> dict:
    """What activating ``draft`` would do on the current portfolio: histograms, grade counts, movers.

    Compares the draft with the active card of the same segment on the customers of the draft's
    segment, on scorecard grades only (the model side is unchanged by a scorecard edit).
    """
    from customers.models import Customer

    as_of = _validate_as_of(as_of or timezone.localdate())
    bands = selectors.master_scale_bands()
    if bands is None:
        raise DomainError(_("There is no active master scale."), code="no_master_scale")
    draft = selectors.scorecard_get(pk=draft.pk)
    try:
        draft_card = compile_scorecard(draft)
    except ValueError as exc:
        raise DomainError(_("The draft cannot be applied: %(error)s") % {"error": exc}) from exc
    active = selectors.scorecard_active_for_segment(segment=draft.segment)
    active_card = compile_scorecard(active) if active is not None and active.pk != draft.pk else None
    features = feature_frame(as_of=as_of)
    mask = rule_mask(segment_rule(draft_card), features)
    features = features.loc[mask]
    draft_result = apply_scorecard(draft_card, features, max_reasons=0)
    draft_scores = draft_result.total
    draft_grades = pd.Series(grade_scores(draft_scores.to_numpy(), bands), index=features.index)
    if active_card is not None:
        active_scores = apply_scorecard(active_card, features, max_reasons=0).total
        active_grades = pd.Series(grade_scores(active_scores.to_numpy(), bands), index=features.index)
    else:
        active_scores = pd.Series(np.nan, index=features.index)
        active_grades = pd.Series("", index=features.index)

    values = pd.concat([draft_scores, active_scores.dropna()])
    if len(values):
        low, high = math.floor(values.min() / 10) * 10, math.ceil(values.max() / 10) * 10
        edges = np.linspace(low, max(high, low + 10), bins + 1)
    else:
        edges = np.linspace(300, 800, bins + 1)
    hist_draft = np.histogram(draft_scores, bins=edges)[0] if len(draft_scores) else np.zeros(bins, int)
    hist_active = np.histogram(active_scores.dropna(), bins=edges)[0] if active_card else np.zeros(bins, int)

    draft_counts = Counter(draft_grades.tolist())
    active_counts = Counter(active_grades.tolist())
    grades = [{"grade": code, "draft": int(draft_counts.get(code, 0)), "active": int(active_counts.get(code, 0))}
              for code in bands.codes]

    movers: list[dict] = []
    up = down = same = 0
    if active_card is not None and len(features):
        notches = bands.rank_of(draft_grades.to_numpy(dtype=object)) - bands.rank_of(active_grades.to_numpy(dtype=object))
        change = (draft_scores - active_scores).to_numpy()
        up, down = int((notches < 0).sum()), int((notches > 0).sum())
        same = int((notches == 0).sum())
        order = np.lexsort((-np.abs(change), -np.abs(notches)))[:top]
        chosen = features.index[order]
        names = dict(Customer.objects.filter(pk__in=chosen.tolist()).values_list("pk", "code"))
        labels = dict(Customer.objects.filter(pk__in=chosen.tolist()).values_list("pk", "name"))
        for position in order:
            if notches[position] == 0 and change[position] == 0:
                continue
            customer_id = int(features.index[position])
            movers.append({
                "customer_id": customer_id, "code": names.get(customer_id, ""), "name": labels.get(customer_id, ""),
                "active_score": round(float(active_scores.iloc[position]), 2),
                "draft_score": round(float(draft_scores.iloc[position]), 2),
                "score_change": round(float(change[position]), 2),
                "active_grade": active_grades.iloc[position], "draft_grade": draft_grades.iloc[position],
                "notches": int(notches[position]),
            })
    return {
        "as_of": as_of, "draft_id": draft.pk, "active_id": active.pk if active_card else None,
        "customers": len(features),
        "histogram": {"edges": [round(float(e), 2) for e in edges], "draft": [int(v) for v in hist_draft],
                      "active": [int(v) for v in hist_active]},
        "grades": grades,
        "mean_score": {"draft": round(float(draft_scores.mean()), 2) if len(features) else None,
                       "active": round(float(active_scores.mean()), 2) if active_card and len(features) else None},
        "upgrades": up, "downgrades": down, "unchanged": same,
        "movers": movers,
    }


@transaction.atomic
def scorecard_activate(*, scorecard: Scorecard, actor, reason: str = "") -> Scorecard:
    """Activate a draft; the segment's previous active version is retired. Audited."""
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard.pk)
    _require_draft(scorecard)
    card = selectors.scorecard_get(pk=scorecard.pk)
    if not card.factors.all():
        raise DomainError(_("A scorecard needs at least one factor before it can be activated."), code="empty")
    try:
        compile_scorecard(card)
    except ValueError as exc:
        raise DomainError(_("The scorecard is not valid: %(error)s") % {"error": exc}) from exc
    previous = Scorecard.objects.select_for_update().filter(segment=scorecard.segment,
                                                            status=ScorecardStatus.ACTIVE).first()
    if previous is not None:
        before_previous = snapshot(previous)
        previous.status = ScorecardStatus.RETIRED
        previous.save(update_fields=["status"])
        audit_model_change(actor=actor, action="scorecard.retire", instance=previous, before=before_previous,
                           reason=f"replaced by {scorecard}")
    before = snapshot(scorecard)
    scorecard.status = ScorecardStatus.ACTIVE
    scorecard.activated_by = actor if actor is not None and actor.is_authenticated else None
    scorecard.activated_at = timezone.now()
    scorecard.save(update_fields=["status", "activated_by", "activated_at"])
    audit_model_change(actor=actor, action="scorecard.activate", instance=scorecard, before=before, reason=reason)
    return scorecard


# =====================================================================================================
# Master scale
# =====================================================================================================

_GRADE_FIELDS = ("code", "label", "label_zh", "min_score", "pd_max", "max_limit_pct_revenue",
                 "max_limit_amount", "standard_terms_days", "required_security", "review_months", "auto_approve")


def _grade_rows(grades: list[dict]) -> list[dict]:
    """Validate grades (best first) and derive the other bound of each band from its neighbour."""
    if not 2 <= len(grades) <= 26:
        raise ValidationError({"grades": [_("A master scale needs between 2 and 26 grades.")]})
    rows, errors = [], {}
    codes = set()
    for rank, raw in enumerate(grades, start=1):
        if not isinstance(raw, dict):
            raise ValidationError({"grades": [_("Each grade must be an object.")]})
        row = {k: raw.get(k) for k in _GRADE_FIELDS if k in raw}
        code = str(row.get("code") or "").strip()
        if not code or len(code) > 4:
            errors[f"grades.{rank}.code"] = [_("A grade code has 1 to 4 characters.")]
        elif code in codes:
            errors[f"grades.{rank}.code"] = [_("Grade codes must be unique.")]
        codes.add(code)
        row["code"], row["rank"] = code, rank
        is_worst = rank == len(grades)
        try:
            row["min_score"] = None if is_worst else _decimal(row.get("min_score"), "min_score")
            row["pd_max"] = Decimal(1) if is_worst else _decimal(row.get("pd_max"), "pd_max")
            for key in ("max_limit_pct_revenue", "max_limit_amount"):
                if row.get(key) not in (None, ""):
                    row[key] = _decimal(row[key], key)
                else:
                    row[key] = None
        except ValidationError:
            errors[f"grades.{rank}"] = [_("Scores, PDs and limits must be numbers.")]
            continue
        if row.get("required_security", "none") not in RequiredSecurity.values:
            errors[f"grades.{rank}.required_security"] = [_("Unknown security requirement.")]
        rows.append(row)
    if errors:
        raise ValidationError(errors)
    previous_min, previous_pd = None, Decimal(0)
    for row in rows:
        if row["min_score"] is not None and previous_min is not None and row["min_score"] >= previous_min:
            errors[f"grades.{row['rank']}.min_score"] = [_("Score bands must fall from the best grade to the worst.")]
        if not (previous_pd < row["pd_max"] <= 1):
            errors[f"grades.{row['rank']}.pd_max"] = [_("PD bands must rise from the best grade to the worst, up to 1.")]
        row["max_score"], row["pd_min"] = previous_min, previous_pd
        previous_min, previous_pd = row["min_score"], row["pd_max"]
    if errors:
        raise ValidationError(errors)
    return rows


@transaction.atomic
def master_scale_new_version(*, actor, grades: list[dict] | None = None, source: MasterScale | None = None,
                             name: str | None = None, name_zh: str | None = None) -> MasterScale:
    """A new, inactive version: ``grades`` (best first) or a copy of ``source`` / the active scale."""
    source = source or selectors.master_scale_active()
    if grades is None:
        if source is None:
            raise ValidationError({"grades": [_("Give the grades of the new scale.")]})
        grades = [{k: getattr(g, k) for k in _GRADE_FIELDS} for g in source.grades.order_by("rank")]
    rows = _grade_rows(grades)
    version = (MasterScale.objects.aggregate(m=Max("version"))["m"] or 0) + 1
    scale = MasterScale(version=version, name=(name or (source.name if source else "")).strip() or _("Master scale"),
                        name_zh=(name_zh if name_zh is not None
                                 else (source.name_zh if source and not name else "")).strip(),
                        active=False, created_by=actor if actor is not None and actor.is_authenticated else None)
    scale.full_clean()
    scale.save()
    objects = [Grade(scale=scale, **row) for row in rows]
    for grade in objects:
        grade.full_clean(exclude=["scale"])
    Grade.objects.bulk_create(objects)
    audit_record(actor=actor, action="masterscale.create", subject_type="scoring.masterscale", subject_id=scale.pk,
                 subject_label=str(scale), after={"version": version, "grades": [
                     {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows]})
    return scale


@transaction.atomic
def master_scale_activate(*, scale: MasterScale, actor, reason: str = "") -> MasterScale:
    scale = MasterScale.objects.select_for_update().get(pk=scale.pk)
    if scale.active:
        raise DomainError(_("This master scale is already active."), code="already_active")
    if scale.grades.count() < 2:
        raise DomainError(_("A master scale needs at least two grades."), code="empty")
    previous = MasterScale.objects.select_for_update().filter(active=True).first()
    if previous is not None:
        previous.active = False
        previous.save(update_fields=["active"])
    scale.active = True
    scale.activated_by = actor if actor is not None and actor.is_authenticated else None
    scale.activated_at = timezone.now()
    scale.save(update_fields=["active", "activated_by", "activated_at"])
    audit_record(actor=actor, action="masterscale.activate", subject_type="scoring.masterscale", subject_id=scale.pk,
                 subject_label=str(scale), before={"active_version": previous.version if previous else None},
                 after={"active_version": scale.version}, reason=reason)
    return scale


# =====================================================================================================
# Overrides (four eyes)
# =====================================================================================================


@transaction.atomic
def score_override_propose(*, customer, proposed_grade: str, reason: str, actor,
                           expires_on: dt.date | None = None) -> ScoreOverride:
    """An analyst proposes another grade for the customer's latest score, with a written reason."""
    from customers.models import Customer

    if actor is None or not actor.has_perm("scoring.add_scoreoverride"):
        raise PermissionDenied(_("You may not propose grade overrides."))
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    errors = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Give the reason for the override.")]
    elif "\x00" in reason:  # PostgreSQL cannot store NUL characters
        errors["reason"] = [_("Null characters are not allowed.")]
    bands = selectors.master_scale_bands()
    proposed_grade = (proposed_grade or "").strip()
    if bands is None or proposed_grade not in bands.codes:
        errors["proposed_grade"] = [_("Choose a grade of the active master scale.")]
    if expires_on is not None and expires_on <= timezone.localdate():
        errors["expires_on"] = [_("The expiry date must be in the future.")]
    if errors:
        raise ValidationError(errors)
    score = selectors.customer_latest_score(customer=customer)
    if score is None:
        raise DomainError(_("The customer has no score yet; score it before overriding its grade."), code="no_score")
    from_grade = score.computed_grade or score.final_grade
    if proposed_grade == from_grade:
        raise ValidationError({"proposed_grade": [_("The proposed grade is the customer's grade already.")]})
    if ScoreOverride.objects.filter(customer=customer, status=OverrideStatus.PENDING).exists():
        raise DomainError(_("An override for this customer is already waiting for a decision."), code="pending")
    override = ScoreOverride(customer=customer, score=score, from_grade=from_grade, proposed_grade=proposed_grade,
                             reason=reason, proposed_by=actor, expires_on=expires_on)
    override.full_clean()
    override.save()
    audit_model_change(actor=actor, action="score_override.propose", instance=override, before=None, reason=reason)
    return override


def _lock_pending(override: ScoreOverride, actor) -> ScoreOverride:
    override = ScoreOverride.objects.select_for_update().select_related("customer").get(pk=override.pk)
    if override.status != OverrideStatus.PENDING:
        raise DomainError(_("This override has already been decided."), code="decided")
    if actor is None or not actor.has_perm("scoring.change_scoreoverride"):
        raise PermissionDenied(_("Only a credit manager may decide grade overrides."))
    if override.proposed_by_id == actor.pk:
        raise DomainError(_("A second person must decide: you proposed this override."), code="four_eyes")
    return override


@transaction.atomic
def score_override_approve(*, override: ScoreOverride, actor, note: str = "") -> ScoreOverride:
    """A manager other than the proposer approves: the customer is re-scored with the override applied."""
    override = _lock_pending(override, actor)
    before = snapshot(override)
    override.status = OverrideStatus.APPROVED
    override.decided_by = actor
    override.decided_at = timezone.now()
    override.decision_note = (note or "").strip()
    override.full_clean()
    override.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_model_change(actor=actor, action="score_override.approve", instance=override, before=before,
                       reason=override.decision_note)
    run = scoring_run_portfolio(as_of=timezone.localdate(), kind=RunKind.EVENT, actor=actor,
                                customer_ids=[override.customer_id])
    applied = Score.objects.filter(run=run, customer_id=override.customer_id, override=override).exists()
    if not applied:
        raise DomainError(_("The customer's computed grade has changed since the override was proposed; "
                            "propose it again."), code="stale")
    return override


@transaction.atomic
def score_override_reject(*, override: ScoreOverride, actor, note: str) -> ScoreOverride:
    override = _lock_pending(override, actor)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"decision_note": [_("Say why the override is rejected.")]})
    before = snapshot(override)
    override.status = OverrideStatus.REJECTED
    override.decided_by = actor
    override.decided_at = timezone.now()
    override.decision_note = note
    override.full_clean()
    override.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_model_change(actor=actor, action="score_override.reject", instance=override, before=before, reason=note)
    return override
