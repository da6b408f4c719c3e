"""Portfolio scoring: `rescore --sync`, the run's counts, the champion model, Celery chunks, bad input."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from unittest import mock

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from creditrisk.core.models import AuditEvent
from customers.demo import seed_portfolio
from customers.models import Customer
from scoring import services
from scoring.features import feature_frame
from scoring.models import ModelVersion, RunStatus, Score, ScoringRun
from scoring.tasks import chunk_ranges, rescore_chunk


@pytest.fixture
def portfolio(db):
    seed_portfolio(customers=60, months=15, seed=7)
    return list(Customer.objects.order_by("pk").values_list("pk", flat=True))


def test_it_scores_every_customer_with_grade_pd_and_reasons(portfolio):
    out = StringIO()
    call_command("rescore", "--sync", stdout=out)
    run = ScoringRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert run.counts["customers"] == run.counts["scored"] == len(portfolio)
    assert sum(run.counts["by_grade"].values()) == len(portfolio)
    assert {"features", "score", "write_scores", "update_customers", "total"} <= set(run.timings)
    text = out.getvalue()
    assert f"Scoring run {run.pk}" in text
    assert f"{len(portfolio)} of {len(portfolio)} customers scored" in text
    assert "timings (s)" in text
    scores = list(Score.objects.filter(run=run))
    assert sorted(s.customer_id for s in scores) == portfolio
    for score in scores:
        assert score.final_grade
        assert score.score is not None
        assert score.scorecard_id
        assert 0 < score.final_pd < 1
        assert 1 <= len(score.reasons) <= 4
        assert score.features
    customers = Customer.objects.in_bulk(portfolio)
    for score in scores:
        customer = customers[score.customer_id]
        assert customer.current_grade == score.final_grade
        assert customer.current_score == score.score
        assert customer.current_pd == score.final_pd
        assert customer.scored_at is not None
    assert AuditEvent.objects.filter(action="scoring.run", subject_id=str(run.pk)).count() == 1


def test_it_uses_the_small_and_the_full_scorecard_by_size(portfolio):
    run = services.scoring_run_portfolio(as_of=timezone.localdate())
    sizes = dict(Customer.objects.values_list("pk", "size"))
    for score in Score.objects.filter(run=run).select_related("scorecard"):
        expected = "small" if sizes[score.customer_id] == "small" else "medium_large"
        assert score.scorecard.segment == expected


def test_it_appends_scores_and_scores_point_in_time(portfolio):
    first = services.scoring_run_portfolio(as_of=timezone.localdate())
    earlier = services.scoring_run_portfolio(as_of=timezone.localdate() - dt.timedelta(days=120))
    assert Score.objects.count() == 2 * len(portfolio)
    assert Score.objects.filter(run=earlier).first().as_of == earlier.as_of
    assert first.pk != earlier.pk


def _champion(portfolio) -> ModelVersion:
    from scoring.ml import artefact
    from scoring.ml.pipeline import build_pipeline

    frame = feature_frame(as_of=timezone.localdate())
    y = ((frame["max_dpd"] > 20) | (frame["overdue_ratio"] > 0.3)).astype(int).to_numpy()
    y[:2] = [0, 1]  # both classes, whatever the seed
    model = build_pipeline("logistic", ["max_dpd", "overdue_ratio", "dbt_12m"], ["size"], calibration="sigmoid")
    model.fit(frame, y)
    data = artefact.dumps(model)
    return ModelVersion.objects.create(version=1, algorithm="logistic", label_source="derived", status="champion",
                                       features=list(model.features), artefact=data,
                                       artefact_format="pickle-zlib", artefact_sha256=artefact.sha256(data))


def test_it_combines_the_champion_pd_with_the_scorecard_grade(portfolio):
    champion = _champion(portfolio)
    run = services.scoring_run_portfolio(as_of=timezone.localdate())
    assert run.counts["model_scored"] == len(portfolio)
    from scoring.selectors import master_scale_bands

    bands = master_scale_bands()
    rank = dict(zip(bands.codes, bands.ranks, strict=True))
    for score in Score.objects.filter(run=run):
        assert score.model_id == champion.pk
        assert score.pd is not None
        assert score.pd_grade
        worse = max(score.scorecard_grade, score.pd_grade, key=rank.get)
        assert score.final_grade == score.computed_grade == worse
        assert score.final_pd == (score.pd if rank[score.pd_grade] >= rank[score.scorecard_grade]
                                  else score.scorecard_pd)
        assert all(r["source"] in ("scorecard", "model") for r in score.reasons)
        assert len({r["feature"] for r in score.reasons}) == len(score.reasons) <= 4
    assert any(r["source"] == "model" for s in Score.objects.filter(run=run) for r in s.reasons)


def test_it_fails_the_run_loudly_when_the_champion_was_tampered_with(portfolio):
    champion = _champion(portfolio)
    ModelVersion.objects.filter(pk=champion.pk).update(artefact_sha256="0" * 64)
    with pytest.raises(Exception, match="SHA-256"):
        services.scoring_run_portfolio(as_of=timezone.localdate())
    assert Score.objects.count() == 0
    assert not Customer.objects.exclude(current_grade="").exists()


def test_it_scores_chunks_idempotently_and_finishes_the_run_after_the_last(portfolio):
    run = services.scoring_run_start(as_of=timezone.localdate(), chunks_total=2)
    ranges = chunk_ranges(portfolio, 40)
    assert ranges == [(portfolio[0], portfolio[39]), (portfolio[40], portfolio[-1])]
    rescore_chunk(run.pk, *ranges[0])
    rescore_chunk(run.pk, *ranges[0])  # a retried chunk replaces its rows
    run.refresh_from_db()
    assert (run.status, run.chunks_done, Score.objects.filter(run=run).count()) == (RunStatus.RUNNING, 1, 40)
    rescore_chunk(run.pk, *ranges[1])
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.counts["scored"] == Score.objects.filter(run=run).count() == len(portfolio)
    assert Score.objects.filter(run=run).values("customer_id").distinct().count() == len(portfolio)


def test_it_queues_the_run_for_celery_without_sync(portfolio):
    out = StringIO()
    with mock.patch("scoring.tasks.portfolio_rescore.delay") as delay:
        call_command("rescore", "--as-of", "2026-01-31", stdout=out)
    run = ScoringRun.objects.get()
    assert (run.status, run.as_of) == (RunStatus.QUEUED, dt.date(2026, 1, 31))
    delay.assert_called_once_with(run_id=run.pk, chunk_size=20_000)
    assert f"Queued scoring run {run.pk}" in out.getvalue()


@pytest.mark.parametrize("value", ["31/01/2026", "2026-02-30", "yesterday", "9999-01-01"])
def test_it_refuses_a_bad_as_of_writing_nothing(portfolio, value):
    with pytest.raises(CommandError, match="--as-of"):
        call_command("rescore", "--sync", "--as-of", value)
    assert not ScoringRun.objects.exists()
    assert not Score.objects.exists()
    assert not Customer.objects.exclude(current_grade="").exists()


def test_it_refuses_bad_service_input(portfolio):
    with pytest.raises(ValidationError):
        services.scoring_run_portfolio(as_of="not a date")
    with pytest.raises(ValidationError):
        services.scoring_run_portfolio(as_of=timezone.localdate(), customer_ids=["x"])
    with pytest.raises(ValidationError):
        services.scoring_run_portfolio(as_of=timezone.localdate(), kind="weekly")
    assert not ScoringRun.objects.exists()


def test_it_scores_only_the_given_customers(portfolio):
    chosen = portfolio[:3]
    run = services.scoring_run_portfolio(as_of=timezone.localdate(), kind="event", customer_ids=chosen)
    assert sorted(Score.objects.filter(run=run).values_list("customer_id", flat=True)) == chosen
    assert Customer.objects.exclude(current_grade="").count() == 3
    assert np.isclose(run.counts["scored"], 3)


def test_it_fans_a_queued_run_out_into_chunk_tasks(portfolio):
    from scoring import tasks

    run = services.scoring_run_start(as_of=timezone.localdate(), status=RunStatus.QUEUED)
    with mock.patch.object(tasks, "group") as group:
        assert tasks.portfolio_rescore(run_id=run.pk, chunk_size=25) == run.pk
    signatures = list(group.call_args.args[0])
    assert [s.args for s in signatures] == [(run.pk, first, last) for first, last in chunk_ranges(portfolio, 25)]
    assert all(s.task == "scoring.rescore_chunk" for s in signatures)
    group.return_value.apply_async.assert_called_once_with()
    run.refresh_from_db()
    assert (run.status, run.chunks_total) == (RunStatus.RUNNING, 3)
    for signature in signatures:  # what the workers would do
        rescore_chunk(*signature.args)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.counts["scored"] == len(portfolio)


def test_it_plans_a_queued_run_only_once(portfolio):
    from scoring import tasks

    run = services.scoring_run_start(as_of=timezone.localdate(), status=RunStatus.QUEUED)
    with mock.patch.object(tasks, "group") as group:
        tasks.portfolio_rescore(run_id=run.pk)
        tasks.portfolio_rescore(run_id=run.pk)  # a duplicated delivery
    assert group.call_count == 1


def test_it_scores_with_the_same_number_of_queries_whatever_the_portfolio_size(portfolio):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.customers.factories import CustomerFactory

    with CaptureQueriesContext(connection) as small:
        services.scoring_run_portfolio(as_of=timezone.localdate())
    for n in range(40):
        CustomerFactory(code=f"QRY-{n}", size="large" if n % 2 else "small")
    with CaptureQueriesContext(connection) as large:
        run = services.scoring_run_portfolio(as_of=timezone.localdate())
    assert run.counts["scored"] == len(portfolio) + 40
    assert len(large) == len(small) <= 40


def test_it_scores_a_large_portfolio_inline_in_chunks(portfolio):
    run = services.scoring_run_portfolio(as_of=timezone.localdate(), chunk_size=25)
    assert (run.status, run.chunks_total, run.chunks_done) == (RunStatus.SUCCEEDED, 3, 3)
    assert run.counts["scored"] == Score.objects.filter(run=run).count() == len(portfolio)
    assert sum(run.counts["by_grade"].values()) == len(portfolio)


def test_it_reports_the_feature_sources_among_the_run_timings(portfolio):
    run = services.scoring_run_portfolio(as_of=timezone.localdate())
    sources = {"features.firmographics", "features.behaviour", "features.financials", "features.bureau"}
    assert sources <= set(run.timings)
    assert all(run.timings[key] >= 0 for key in sources)
    assert sum(run.timings[key] for key in sources) <= run.timings["features"] + 1e-3


@pytest.mark.django_db
def test_it_keeps_the_columns_the_rescore_writes_out_of_every_index():
    """The nightly update of Customer.current_* stays a HOT update on PostgreSQL only while no index
    covers a column it writes (and pages keep room: fillfactor)."""
    from django.db import connection

    written = {"current_score", "current_grade", "current_pd", "scored_at"}
    table = Customer._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        indexed = {column for c in constraints.values() if c["index"] or c["unique"] for column in c["columns"] or []}
        assert not written & indexed
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [table])
            assert "fillfactor=50" in (cursor.fetchone()[0] or [])


@pytest.mark.django_db
def test_it_bulk_writes_awkward_text_unchanged():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL only")
    from django.utils.safestring import mark_safe

    values = ['{"a":"tab\\there","b":"quote \\" back\\\\slash"}', "line\nbreak\r\tand \\N literally", "", "中文 ✓",
              mark_safe("a str subclass\twith a tab")]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_probe (n int, t text, j jsonb)")
        services._copy("copy_probe", ["n", "t", "j"], [(n, v, '{"v": 1.5e-07}') for n, v in enumerate(values)]
                       + [(99, None, "null")])
        cursor.execute("SELECT n, t, j->>'v' FROM copy_probe ORDER BY n")
        rows = cursor.fetchall()
    assert [r[1] for r in rows] == [*values, None]
    assert rows[0][2] is not None
