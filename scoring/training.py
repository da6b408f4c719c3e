"""PD model training from the database, and the model registry's writes (train, promote, retire) and loads.

* ``training_frame_derived`` — monthly observation dates over the invoice history; labels from
  ``scoring.ml.labels`` (90+ days past due or written off within 12 months); features as of each
  date from the catalogue (one set-based ``feature_frame`` call per date).
* ``training_frame_imported`` — imported outcome flags; features as of each observation date
  (one ``feature_frame`` call per distinct date).
* ``model_train`` fits and evaluates (``scoring.ml.train``), stores the artefact bytes and their
  SHA-256 on a new ``ModelVersion`` and audits it. **The first model ever trained becomes the
  champion automatically** (there is nothing to compare it with and scoring needs a champion);
  every later model starts as a challenger until a manager promotes it (or ``--promote``).
* ``model_load`` verifies the stored SHA-256 before unpickling through an allow-list
  (``scoring.ml.artefact``) and refuses a changed artefact with :class:`ModelArtefactError`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import OrderedDict

import numpy as np
import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from creditrisk.core.audit import audit_record, snapshot
from creditrisk.core.exceptions import DomainError
from customers.models import Customer, Invoice, InvoiceStatus, OutcomeFlag
from scoring.features import feature_frame
from scoring.ml import artefact
from scoring.ml.explain import contributions, top_reasons
from scoring.ml.labels import HORIZON_MONTHS, derive_labels, monthly_observation_dates
from scoring.ml.metrics import stability_report
from scoring.ml.pipeline import ALGORITHMS, PDModel
from scoring.ml.train import TrainingError, train_and_evaluate
from scoring.models import LabelSource, ModelStatus, ModelVersion

logger = logging.getLogger(__name__)

LABEL = "defaulted"
TIME_COL = "observation_date"
ID_COL = "customer_id"
LABEL_SOURCES = (LabelSource.DERIVED.value, LabelSource.IMPORTED.value)
DEFAULT_MONTHS_BACK = 24
# Months of history a customer needs before its first observation date, so behaviour features exist.
MIN_HISTORY_MONTHS = 3
# Not point-in-time (the *current* status; customers are blocked because they defaulted): never a model input.
NON_FEATURES = ("status",)
ARTEFACT_FORMAT = "pickle-zlib"
# Above this many (customer, date) rows a random subset of customers (all their dates) is used: the
# model does not get better, training only gets slower.
MAX_TRAINING_ROWS = 300_000
MAX_ID_LIST = 5_000
AUDITED_FIELDS = ["version", "name", "algorithm", "label_source", "status", "features", "train_from", "train_to",
                  "n_train", "n_test", "artefact_format", "artefact_sha256", "promoted_by", "promoted_at"]
HEADLINE_METRICS = ("auc", "gini", "ks", "brier", "n_train", "n_test", "validation")


class ModelArtefactError(DomainError):
    """A stored model cannot be loaded: its bytes do not match the recorded hash, or they are not a model."""


# --------------------------------------------------------------------------------------------------
# training frames


def _month_end_on_or_before(day: dt.date) -> pd.Timestamp:
    stamp = pd.Timestamp(day)
    return stamp if stamp.is_month_end else stamp - pd.offsets.MonthEnd(1)


def _feature_rows(groups: dict[pd.Timestamp, np.ndarray], total_customers: int) -> pd.DataFrame:
    """Features as of each date for that date's customers (one set-based catalogue call per date)."""
    frames = []
    for obs, ids in sorted(groups.items()):
        # A long IN list costs more than computing the whole portfolio and keeping the rows we need.
        whole = len(ids) > min(MAX_ID_LIST, total_customers // 2)
        features = feature_frame(as_of=obs.date(), customer_ids=None if whole else [int(i) for i in ids])
        features = features.reindex(pd.Index(ids, name=ID_COL))
        features = features.drop(columns=[c for c in NON_FEATURES if c in features.columns])
        features.insert(0, TIME_COL, obs)
        frames.append(features.reset_index())
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _invoice_frame(*, since: pd.Timestamp) -> pd.DataFrame:
    """The invoices that can matter for observation dates from ``since``: recent, or unsettled then."""
    cutoff = (since - pd.DateOffset(months=HORIZON_MONTHS + 1)).date()
    rows = (Invoice.objects.exclude(status=InvoiceStatus.CANCELLED)
            .filter(Q(issue_date__gte=cutoff) | Q(paid_date__isnull=True) | Q(paid_date__gte=cutoff))
            .values_list("customer_id", "issue_date", "due_date", "paid_date", "written_off_date", "status"))
    return pd.DataFrame.from_records(list(rows), columns=[ID_COL, "issue_date", "due_date", "paid_date",
                                                          "written_off_date", "status"])


def _sample_customers(labels: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    if len(labels) <= max_rows:
        return labels
    ids = labels[ID_COL].unique()
    keep = np.random.default_rng(0).choice(ids, size=max(1, int(len(ids) * max_rows / len(labels))), replace=False)
    return labels[labels[ID_COL].isin(keep)]


def training_frame_derived(*, as_of: dt.date | None = None, months_back: int = DEFAULT_MONTHS_BACK,
                           max_rows: int = MAX_TRAINING_ROWS) -> pd.DataFrame:
    """One row per customer and monthly observation date: features as of that date + ``defaulted``.

    Observation dates are the month ends whose 12-month outcome window has fully passed by ``as_of``,
    the latest ``months_back`` of them, starting no earlier than a few months into the history. Beyond
    ``max_rows`` rows a fixed random subset of customers (with all their dates) is kept.
    """
    as_of = as_of or timezone.localdate()
    if months_back < 1:
        raise TrainingError(_("months_back must be at least 1."))
    first_issue = Invoice.objects.aggregate(first=Min("issue_date"))["first"]
    if first_issue is None:
        raise TrainingError(_("There are no invoices to derive default labels from."))
    last_obs = _month_end_on_or_before(pd.Timestamp(as_of) - pd.DateOffset(months=HORIZON_MONTHS))
    first_obs = max(last_obs - pd.DateOffset(months=months_back - 1),
                    pd.Timestamp(first_issue) + pd.DateOffset(months=MIN_HISTORY_MONTHS))
    dates = monthly_observation_dates(first_obs, last_obs)
    if not dates:
        raise TrainingError(_("The invoice history is too short to derive labels: an observation date needs "
                              "%(history)d months of history before it and %(horizon)d months of outcome after it.")
                            % {"history": MIN_HISTORY_MONTHS, "horizon": HORIZON_MONTHS})
    labels = _sample_customers(derive_labels(_invoice_frame(since=dates[0]), dates, as_of=as_of), max_rows)
    if labels.empty:
        raise TrainingError(_("No customer has invoice history at the observation dates."))
    groups = {obs: group[ID_COL].to_numpy() for obs, group in labels.groupby(TIME_COL)}
    features = _feature_rows(groups, Customer.objects.count())
    return features.merge(labels, on=[ID_COL, TIME_COL], how="inner", validate="one_to_one")


def training_frame_imported() -> pd.DataFrame:
    """One row per imported outcome flag: features as of its observation date + ``defaulted``."""
    rows = list(OutcomeFlag.objects.values_list("customer_id", "observation_date", "defaulted"))
    if not rows:
        raise TrainingError(_("There are no imported outcomes; load them with “import_data outcomes” first."))
    labels = pd.DataFrame.from_records(rows, columns=[ID_COL, TIME_COL, LABEL])
    labels[TIME_COL] = pd.to_datetime(labels[TIME_COL])
    labels[LABEL] = labels[LABEL].astype(int)
    groups = {obs: group[ID_COL].to_numpy() for obs, group in labels.groupby(TIME_COL)}
    features = _feature_rows(groups, Customer.objects.count())
    frame = features.merge(labels, on=[ID_COL, TIME_COL], how="inner", validate="one_to_one")
    return frame.sort_values([TIME_COL, ID_COL], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# registry writes


def _json_safe(value):
    """Metrics as strict JSON (PostgreSQL's jsonb refuses NaN and Infinity)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    return value


def _is_user(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _require_perm(actor, perm: str) -> None:
    # No actor = the command line (operators with shell access are trusted); a user needs the permission.
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDenied(_("You are not allowed to manage PD models."))


def _audit(actor, action: str, version: ModelVersion, *, before: dict | None, reason: str = "",
           extra: dict | None = None) -> None:
    after = snapshot(version, AUDITED_FIELDS)
    if extra:
        after.update(extra)
    audit_record(actor=actor, action=action, subject_type=version._meta.label_lower, subject_id=version.pk,
                 subject_label=str(version), before=before, after=after, reason=reason)


def _parse_day(value) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def model_train(*, algorithm: str = "logistic", labels: str = LabelSource.DERIVED, actor=None, promote: bool = False,
                as_of: dt.date | None = None, months_back: int = DEFAULT_MONTHS_BACK, name: str = "") -> ModelVersion:
    """Train, evaluate on held-out data and store a new model version (challenger; see module doc)."""
    _require_perm(actor, "scoring.add_modelversion")
    if promote:
        _require_perm(actor, "scoring.change_modelversion")
    if algorithm not in ALGORITHMS:
        raise DomainError(_("Unknown algorithm."), errors={"algorithm": [_("Choose logistic or gbm.")]})
    if labels not in LABEL_SOURCES:
        raise DomainError(_("Unknown label source."), errors={"labels": [_("Choose derived or imported.")]})
    as_of = as_of or timezone.localdate()
    derived = labels == LabelSource.DERIVED
    frame = training_frame_derived(as_of=as_of, months_back=months_back) if derived else training_frame_imported()
    current = feature_frame(as_of=as_of)
    result = train_and_evaluate(frame, LABEL, algorithm=algorithm, time_col=TIME_COL if derived else None,
                                group_col=ID_COL, exclude=(TIME_COL, *NON_FEATURES), current_frame=current)
    metrics = result.metrics
    observed = pd.to_datetime(frame[TIME_COL])
    metrics["observation_from"] = observed.min().date().isoformat()
    metrics["observation_to"] = observed.max().date().isoformat()
    metrics["labels"] = labels
    metrics["as_of"] = as_of.isoformat()
    if not derived:
        train_dates = observed.iloc[result.train_rows]
        metrics["train_from"] = train_dates.min().date().isoformat()
        metrics["train_to"] = train_dates.max().date().isoformat()
    data = artefact.dumps(result.model)
    digest = artefact.sha256(data)
    with transaction.atomic():
        # Lock the newest version row (FOR UPDATE cannot take an aggregate), so concurrent trainings queue.
        latest = (ModelVersion.objects.select_for_update().order_by("-version")
                  .values_list("version", flat=True).first()) or 0
        number = latest + 1
        version = ModelVersion(
            version=number, name=name or f"{algorithm} · {labels} · v{number}", algorithm=algorithm,
            label_source=labels, status=ModelStatus.CHALLENGER, features=list(result.model.features),
            train_from=_parse_day(metrics.get("train_from")), train_to=_parse_day(metrics.get("train_to")),
            metrics=_json_safe(metrics), n_train=metrics["n_train"], n_test=metrics["n_test"],
            artefact=data, artefact_format=ARTEFACT_FORMAT, artefact_sha256=digest,
            created_by=actor if _is_user(actor) else None)
        version.full_clean()
        version.save(force_insert=True)
        _audit(actor, "model.train", version, before=None, reason=f"train_model --algorithm {algorithm} --labels {labels}",
               extra={key: version.metrics.get(key) for key in HEADLINE_METRICS})
        first = not ModelVersion.objects.filter(status=ModelStatus.CHAMPION).exists()
        if promote or first:
            version = model_promote(version=version, actor=actor,
                                    reason="first model" if first and not promote else "train_model --promote")
    return version


@transaction.atomic
def model_promote(*, version: ModelVersion, actor, reason: str = "") -> ModelVersion:
    """Make ``version`` the champion; the previous champion becomes a challenger (still scored side by side)."""
    _require_perm(actor, "scoring.change_modelversion")
    version = ModelVersion.objects.select_for_update().defer("artefact").get(pk=version.pk)
    if version.status == ModelStatus.CHAMPION:
        return version
    for old in ModelVersion.objects.select_for_update().defer("artefact").filter(status=ModelStatus.CHAMPION):
        before = snapshot(old, ["status"])
        old.status = ModelStatus.CHALLENGER
        old.save(update_fields=["status"])
        _audit(actor, "model.demote", old, before=before, reason=reason or f"v{version.version} promoted")
    before = snapshot(version, ["status", "promoted_by", "promoted_at"])
    version.status = ModelStatus.CHAMPION
    version.promoted_by = actor if _is_user(actor) else None
    version.promoted_at = timezone.now()
    version.save(update_fields=["status", "promoted_by", "promoted_at"])
    _audit(actor, "model.promote", version, before=before, reason=reason)
    return version


@transaction.atomic
def model_retire(*, version: ModelVersion, actor, reason: str = "") -> ModelVersion:
    """Stop scoring a challenger. The champion cannot be retired: promote another model first."""
    _require_perm(actor, "scoring.change_modelversion")
    version = ModelVersion.objects.select_for_update().defer("artefact").get(pk=version.pk)
    if version.status == ModelStatus.CHAMPION:
        raise DomainError(_("The champion cannot be retired; promote another model first."),
                          errors={"status": [_("This model is the champion.")]})
    if version.status == ModelStatus.RETIRED:
        return version
    before = snapshot(version, ["status"])
    version.status = ModelStatus.RETIRED
    version.save(update_fields=["status"])
    _audit(actor, "model.retire", version, before=before, reason=reason)
    return version


# --------------------------------------------------------------------------------------------------
# loading and predicting

_LOADED: OrderedDict[str, PDModel] = OrderedDict()  # by the verified SHA-256 of the bytes
_LOADED_MAX = 8


def model_load(version: ModelVersion | int) -> PDModel:
    """The fitted model of a version, after checking its bytes against the stored SHA-256."""
    if not isinstance(version, ModelVersion):
        version = ModelVersion.objects.get(version=version)
    data = bytes(version.artefact or b"")
    digest = artefact.sha256(data)
    if digest != version.artefact_sha256:
        logger.error("model v%s: artefact hash %s does not match the recorded %s", version.version, digest,
                     version.artefact_sha256)
        raise ModelArtefactError(
            _("Model v%(version)s was changed after training (its SHA-256 no longer matches); it will not be "
              "loaded.") % {"version": version.version}, code="artefact_tampered")
    cached = _LOADED.get(digest)
    if cached is not None:
        _LOADED.move_to_end(digest)
        return cached
    try:
        model = artefact.loads(data, expected_sha256=version.artefact_sha256)
    except (artefact.ArtefactIntegrityError, EOFError, ValueError, TypeError, AttributeError, ImportError) as exc:
        raise ModelArtefactError(_("Model v%(version)s cannot be loaded: %(error)s")
                                 % {"version": version.version, "error": exc}, code="artefact_invalid") from exc
    if not isinstance(model, PDModel):
        raise ModelArtefactError(_("Model v%(version)s does not hold a PD model.") % {"version": version.version},
                                 code="artefact_invalid")
    _LOADED[digest] = model
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.popitem(last=False)
    return model


def model_predict(*, version: ModelVersion | int, frame: pd.DataFrame) -> np.ndarray:
    """PDs for the rows of a feature frame (missing model columns count as missing values)."""
    return model_load(version).predict_pd(frame)


def model_reasons(*, version: ModelVersion | int, frame: pd.DataFrame, k: int = 4) -> pd.Series:
    """Per row, up to ``k`` features raising the PD the most (``[{"feature", "contribution"}, …]``)."""
    return top_reasons(contributions(model_load(version), frame), k=k)


def model_stability(*, version: ModelVersion, as_of: dt.date | None = None) -> dict:
    """PSI of today's portfolio against the training data, for the score and each feature."""
    profile = (version.metrics or {}).get("profile")
    if not profile:
        return {}
    frame = feature_frame(as_of=as_of or timezone.localdate())
    return _json_safe(stability_report(profile, frame, model_predict(version=version, frame=frame)))
