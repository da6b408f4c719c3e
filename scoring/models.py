"""Scoring data: master scale and credit policy, scorecards, the PD model registry, runs, scores, overrides.

The score scale (documented once, used by scoring.scorecard): a scorecard's total points *are* the
score, calibrated so that ``odds(good:bad) = base_odds · 2^((score − base_score) / pdo)``; hence
``PD = 1 / (1 + odds)``. With the defaults (600 points at odds 50:1, 20 points to double the odds)
a score of 600 means PD ≈ 1.96 %, 620 ≈ 0.99 %, 580 ≈ 3.85 %.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 18, "decimal_places": 2}
SCORE = {"max_digits": 8, "decimal_places": 2}


def _localized(english: str, chinese: str) -> str:
    """The Chinese text when the active language is Chinese and it is filled in, else the English."""
    if chinese and (get_language() or "").lower().startswith("zh"):
        return chinese
    return english
PROBABILITY = {"max_digits": 9, "decimal_places": 6}


# --- master scale and credit policy ---------------------------------------------------------------


class MasterScale(models.Model):
    """A versioned set of grades. Editing makes a new version; exactly one version is active."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    name = models.CharField(_("name"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120, blank=True)
    active = models.BooleanField(_("active"), default=False)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("activated by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("master scale")
        verbose_name_plural = _("master scales")
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="masterscale_one_active"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def display_name(self) -> str:
        return _localized(self.name, self.name_zh)


class RequiredSecurity(models.TextChoices):
    NONE = "none", _("None")
    GUARANTEE = "guarantee", _("Guarantee")
    INSURANCE = "insurance", _("Credit insurance")
    GUARANTEE_OR_INSURANCE = "guarantee_or_insurance", _("Guarantee or credit insurance")
    LETTER_OF_CREDIT = "letter_of_credit", _("Letter of credit")
    PREPAYMENT = "prepayment", _("Prepayment")


class Grade(models.Model):
    """One grade of a master scale: a score band, a PD band and the credit policy that goes with it.

    Bands are half-open: ``min_score ≤ score < max_score`` and ``pd_min ≤ pd < pd_max``; a null
    bound is open (the best grade has no max_score, the worst no min_score).
    """

    scale = models.ForeignKey(MasterScale, on_delete=models.CASCADE, related_name="grades")
    code = models.CharField(_("grade"), max_length=4)
    rank = models.PositiveSmallIntegerField(_("rank"), help_text=_("1 is the best grade."))
    label = models.CharField(_("label"), max_length=80, blank=True)
    label_zh = models.CharField(_("label (Chinese)"), max_length=80, blank=True)
    min_score = models.DecimalField(_("minimum score"), **SCORE, null=True, blank=True)
    max_score = models.DecimalField(_("maximum score"), **SCORE, null=True, blank=True)
    pd_min = models.DecimalField(_("minimum PD"), **PROBABILITY)
    pd_max = models.DecimalField(_("maximum PD"), **PROBABILITY)
    # xgettext:no-python-format
    max_limit_pct_revenue = models.DecimalField(_("maximum limit (% of revenue)"), max_digits=6, decimal_places=2,
                                                null=True, blank=True)
    max_limit_amount = models.DecimalField(_("maximum limit (amount)"), **MONEY, null=True, blank=True)
    standard_terms_days = models.PositiveSmallIntegerField(_("standard payment terms (days)"), default=30)
    required_security = models.CharField(_("required security"), max_length=24, choices=RequiredSecurity.choices,
                                         default=RequiredSecurity.NONE)
    review_months = models.PositiveSmallIntegerField(_("review every (months)"), default=12)
    auto_approve = models.BooleanField(_("automatic approval"), default=False,
                                       help_text=_("Limits within policy are approved without an analyst."))

    class Meta:
        ordering = ["scale", "rank"]
        verbose_name = _("grade")
        verbose_name_plural = _("grades")
        constraints = [
            models.UniqueConstraint(fields=["scale", "code"], name="grade_unique_code_per_scale"),
            models.UniqueConstraint(fields=["scale", "rank"], name="grade_unique_rank_per_scale"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="grade_rank_positive"),
            models.CheckConstraint(
                condition=Q(min_score__isnull=True) | Q(max_score__isnull=True) | Q(min_score__lt=F("max_score")),
                name="grade_score_band_ordered"),
            models.CheckConstraint(condition=Q(pd_min__gte=0) & Q(pd_max__lte=1) & Q(pd_min__lt=F("pd_max")),
                                   name="grade_pd_band_valid"),
            models.CheckConstraint(condition=Q(review_months__gte=1), name="grade_review_months_positive"),
        ]

    def __str__(self) -> str:
        return self.code

    def display_label(self) -> str:
        return _localized(self.label, self.label_zh)


# --- scorecards --------------------------------------------------------------------------------------


class ScorecardSegment(models.TextChoices):
    SMALL = "small", _("Small customers")
    MEDIUM_LARGE = "medium_large", _("Medium and large customers")
    ALL = "all", _("All customers")
    CUSTOM = "custom", _("Custom rule")


class ScorecardStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")


class Scorecard(models.Model):
    """A rule-based scorecard version. One active version per segment; drafts are edited and previewed.

    ``segment_rule`` (for the custom segment) is a small JSON filter on firmographics, e.g.
    ``{"size__in": ["small"], "industry__in": ["C26"]}`` (keys: size, industry, region, country).
    """

    name = models.CharField(_("name"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120, blank=True)
    segment = models.CharField(_("segment"), max_length=16, choices=ScorecardSegment.choices,
                               default=ScorecardSegment.ALL)
    segment_rule = models.JSONField(_("segment rule"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=8, choices=ScorecardStatus.choices,
                              default=ScorecardStatus.DRAFT, db_index=True)
    base_score = models.DecimalField(_("base score"), **SCORE, default=600)
    base_odds = models.DecimalField(_("odds at base score"), max_digits=10, decimal_places=4, default=50)
    pdo = models.DecimalField(_("points to double the odds"), **SCORE, default=20)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("activated by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)

    class Meta:
        ordering = ["segment", "-version"]
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        constraints = [
            models.UniqueConstraint(fields=["segment", "version"], name="scorecard_unique_version_per_segment"),
            models.UniqueConstraint(fields=["segment"], condition=Q(status="active"),
                                    name="scorecard_one_active_per_segment"),
            models.CheckConstraint(condition=Q(pdo__gt=0), name="scorecard_pdo_positive"),
            models.CheckConstraint(condition=Q(base_odds__gt=0), name="scorecard_base_odds_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def display_name(self) -> str:
        return _localized(self.name, self.name_zh)


class ScorecardFactor(models.Model):
    """One factor: a feature's bins (numeric) or categories mapped to points.

    Numeric ``bins``: ``[{"lower": null|x, "upper": null|y, "points": p}, …]`` with ``lower ≤ v < upper``.
    Categorical ``bins``: ``{"value": points, …}``. ``missing_points`` apply when the value is missing,
    falls in no bin, or is a category not listed.
    """

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="factors")
    feature = models.CharField(_("feature"), max_length=80)
    label = models.CharField(_("label"), max_length=120, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    bins = models.JSONField(_("bins"), default=list)
    missing_points = models.DecimalField(_("points when missing"), **SCORE, default=0)

    class Meta:
        ordering = ["scorecard", "order", "id"]
        verbose_name = _("scorecard factor")
        verbose_name_plural = _("scorecard factors")
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "feature"], name="factor_unique_feature_per_scorecard"),
        ]

    def __str__(self) -> str:
        return self.label or self.feature


# --- PD models ---------------------------------------------------------------------------------------


class ModelAlgorithm(models.TextChoices):
    LOGISTIC = "logistic", _("Logistic regression")
    GBM = "gbm", _("Gradient boosting")


class LabelSource(models.TextChoices):
    DERIVED = "derived", _("Derived from invoices")
    IMPORTED = "imported", _("Imported outcomes")


class ModelStatus(models.TextChoices):
    CHALLENGER = "challenger", _("Challenger")
    CHAMPION = "champion", _("Champion")
    RETIRED = "retired", _("Retired")


class ModelVersion(models.Model):
    """A trained PD model: metrics on held-out data, training window, features, artefact and its hash."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    algorithm = models.CharField(_("algorithm"), max_length=10, choices=ModelAlgorithm.choices)
    label_source = models.CharField(_("labels"), max_length=10, choices=LabelSource.choices)
    status = models.CharField(_("status"), max_length=10, choices=ModelStatus.choices,
                              default=ModelStatus.CHALLENGER, db_index=True)
    features = models.JSONField(_("features"), default=list)
    train_from = models.DateField(_("training window from"), null=True, blank=True)
    train_to = models.DateField(_("training window to"), null=True, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    n_train = models.PositiveIntegerField(_("training rows"), default=0)
    n_test = models.PositiveIntegerField(_("test rows"), default=0)
    artefact = models.BinaryField(_("artefact"), editable=False)
    artefact_format = models.CharField(_("artefact format"), max_length=20, default="joblib")
    artefact_sha256 = models.CharField(_("artefact SHA-256"), max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    promoted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("promoted by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    promoted_at = models.DateTimeField(_("promoted at"), null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="champion"), name="model_one_champion"),
        ]

    def __str__(self) -> str:
        return f"{self.get_algorithm_display()} v{self.version}"


# --- runs, scores, overrides -----------------------------------------------------------------------


class RunKind(models.TextChoices):
    MANUAL = "manual", _("Manual")
    NIGHTLY = "nightly", _("Nightly")
    EVENT = "event", _("Event")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class ScoringRun(models.Model):
    """One scoring of the portfolio (or part of it). Chunked runs count their chunks."""

    as_of = models.DateField(_("as of"))
    kind = models.CharField(_("kind"), max_length=8, choices=RunKind.choices, default=RunKind.MANUAL)
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING,
                              db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=1)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    timings = models.JSONField(_("timings"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    triggered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("triggered by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")

    def __str__(self) -> str:
        return f"#{self.pk} {self.as_of} {self.kind}"


class Score(models.Model):
    """One customer's score in one run. Appended, never edited."""

    # A run inserts the whole portfolio, so every index and constraint here costs write time: two
    # secondary indexes (customer history, run × grade); the links to the small versioned tables
    # (scale, scorecard, model, override) are neither indexed nor checked row by row in the database —
    # only the scoring services write them, with ids they have just read, and those rows are never
    # deleted (PROTECT).
    run = models.ForeignKey(ScoringRun, on_delete=models.PROTECT, related_name="scores", db_index=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="scores",
                                 db_index=False)
    as_of = models.DateField(_("as of"))
    master_scale = models.ForeignKey(MasterScale, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", db_index=False, db_constraint=False)
    scorecard = models.ForeignKey(Scorecard, on_delete=models.PROTECT, null=True, blank=True, related_name="scores",
                                  db_index=False, db_constraint=False)
    points = models.DecimalField(_("points"), **SCORE, null=True, blank=True)
    score = models.DecimalField(_("score"), **SCORE, null=True, blank=True)
    scorecard_pd = models.DecimalField(_("scorecard PD"), **PROBABILITY, null=True, blank=True)
    scorecard_grade = models.CharField(_("scorecard grade"), max_length=4, blank=True)
    model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="scores",
                              db_index=False, db_constraint=False)
    pd = models.DecimalField(_("model PD"), **PROBABILITY, null=True, blank=True)
    challenger_pds = models.JSONField(_("challenger PDs"), default=dict, blank=True)
    pd_grade = models.CharField(_("PD grade"), max_length=4, blank=True)
    computed_grade = models.CharField(_("computed grade"), max_length=4, blank=True,
                                      help_text=_("The grade before any override."))
    final_grade = models.CharField(_("grade"), max_length=4)
    final_pd = models.DecimalField(_("PD"), **PROBABILITY)
    features = models.JSONField(_("feature values"), default=dict, blank=True)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    override = models.ForeignKey("ScoreOverride", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="applied_in", db_index=False, db_constraint=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="score_customer_recent_idx"),
            models.Index(fields=["run", "final_grade"], name="score_run_grade_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(final_pd__gte=0) & Q(final_pd__lte=1), name="score_pd_is_probability"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.as_of} {self.final_grade}"


class OverrideStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ScoreOverride(models.Model):
    """An analyst's proposed grade; takes effect only when a manager other than the proposer approves."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="score_overrides")
    score = models.ForeignKey(Score, on_delete=models.PROTECT, related_name="overrides")
    from_grade = models.CharField(_("from grade"), max_length=4)
    proposed_grade = models.CharField(_("proposed grade"), max_length=4)
    reason = models.TextField(_("reason"))
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("proposed by"),
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("proposed at"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=10, choices=OverrideStatus.choices,
                              default=OverrideStatus.PENDING, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    expires_on = models.DateField(_("expires on"), null=True, blank=True,
                                  help_text=_("After this date scoring no longer applies the override."))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("grade override")
        verbose_name_plural = _("grade overrides")
        constraints = [
            models.CheckConstraint(condition=~Q(decided_by=F("proposed_by")), name="override_four_eyes"),
            models.CheckConstraint(condition=~Q(proposed_grade=F("from_grade")), name="override_changes_grade"),
            models.UniqueConstraint(fields=["customer"], condition=Q(status="pending"),
                                    name="override_one_pending_per_customer"),
            models.CheckConstraint(
                condition=Q(status="pending", decided_by__isnull=True) | Q(~Q(status="pending"),
                                                                          decided_by__isnull=False),
                name="override_decision_recorded"),
        ]
        indexes = [models.Index(fields=["customer", "status", "-decided_at"], name="override_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.from_grade}→{self.proposed_grade} ({self.status})"
