"""Pages of scoring (/scoring/): scorecards (editor, preview, activation), master scale and policy, the model
registry, runs, overrides, and the credit file's Score tab. Views parse, check access, call
scoring.services / scoring.selectors / scoring.training, and render; an htmx request gets a partial."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from creditrisk.core.decorators import permission_or_403, section_required
from creditrisk.core.exceptions import Conflict, DomainError
from customers.access import customer_get_for_user
from customers.models import Customer
from scoring import selectors, services
from scoring.features import CATEGORICAL, SOURCE_LABELS, feature_catalogue, reason_text
from scoring.forms import (
    AddFactorForm,
    DraftForm,
    GradeFormSet,
    MasterScaleForm,
    OverrideDecisionForm,
    OverrideProposeForm,
    ReasonForm,
    TrainModelForm,
    parse_factor_post,
)
from scoring.models import (
    MasterScale,
    ModelStatus,
    ModelVersion,
    OverrideStatus,
    RunKind,
    Scorecard,
    ScorecardSegment,
    ScorecardStatus,
    ScoreOverride,
)

logger = logging.getLogger(__name__)

SECTION_TABS = [
    ("scorecards", gettext_lazy("Scorecards"), "scoring:index"),
    ("scale", gettext_lazy("Master scale & policy"), "scoring:scale"),
    ("models", gettext_lazy("Models"), "scoring:models"),
    ("runs", gettext_lazy("Runs"), "scoring:runs"),
    ("overrides", gettext_lazy("Overrides"), "scoring:overrides"),
]
PSI_WARNING, PSI_ALERT = 0.10, 0.25
EMPTY_BIN_ROWS = 2


def _errors(exc: ValidationError | DomainError) -> list[str]:
    if isinstance(exc, DomainError):
        return [exc.message, *[str(m) for msgs in (exc.errors or {}).values() for m in msgs]]
    if hasattr(exc, "error_dict"):
        return [str(m) for errs in exc.error_dict.values() for e in errs for m in e.messages]
    return [str(m) for m in exc.messages]


def _page(request, template: str, context: dict, *, tab: str, partial: str = "panel", status: int = 200):
    context = {
        "section_tab": tab,
        "section_tabs": [(key, label, reverse(name)) for key, label, name in SECTION_TABS],
        # a callable: counted only by the pages that show the tabs
        "pending_overrides": ScoreOverride.objects.filter(status=OverrideStatus.PENDING).count,
        **context,
    }
    if request.htmx and not request.htmx.boosted:
        template = f"{template}#{partial}" if partial else template
    return render(request, template, context, status=status)


def _redirect_htmx_aware(request, url: str):
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _get_scorecard(pk: int) -> Scorecard:
    try:
        return selectors.scorecard_get(pk=pk)
    except Scorecard.DoesNotExist as exc:
        raise Http404(_("No such scorecard.")) from exc


def _chart(kind: str, labels, datasets, **extra) -> dict:
    return {"type": kind, "labels": list(labels), "datasets": datasets, **extra}


# --- scorecards ---------------------------------------------------------------------------------


@section_required("scoring")
@require_GET
def index(request):
    """The Scorecards tab: every version by segment, status and version; managers start a draft."""
    cards = list(selectors.scorecard_list())
    segments = []
    for value, label in ScorecardSegment.choices:
        rows = [card for card in cards if card.segment == value]
        if rows:
            segments.append({"segment": value, "label": label, "cards": rows,
                             "active": next((c for c in rows if c.status == ScorecardStatus.ACTIVE), None)})
    return _page(request, "scoring/scorecards.html", {
        "title": _("Scoring"), "segments": segments,
        "can_edit": request.user.has_perm("scoring.change_scorecard"),
        "draft_form": DraftForm(),
    }, tab="scorecards")


@section_required("scoring")
@require_POST
def scorecard_new_draft(request):
    permission_or_403(request.user, "scoring.add_scorecard", "scoring.change_scorecard")
    source = None
    if request.POST.get("source"):
        try:
            source = selectors.scorecard_get(pk=int(request.POST["source"]))
        except (Scorecard.DoesNotExist, ValueError) as exc:
            raise Http404 from exc
    form = DraftForm(request.POST)
    if source is None and not form.is_valid():
        messages.error(request, _("Choose a segment."))
        return _redirect_htmx_aware(request, reverse("scoring:index"))
    try:
        draft = services.scorecard_create_draft(
            actor=request.user, source=source, segment=None if source else form.cleaned_data["segment"])
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
        return _redirect_htmx_aware(request, reverse("scoring:index"))
    messages.success(request, _("Draft %(card)s created.") % {"card": draft})
    return _redirect_htmx_aware(request, reverse("scoring:scorecard", args=[draft.pk]))


def _factor_rows(card: Scorecard, catalogue) -> list[dict]:
    rows = []
    for factor in card.factors.all():
        spec = catalogue.get(factor.feature)
        rows.append(_factor_context(factor, spec))
    return rows


def _bound_text(value) -> str:
    """A bin bound as people type it: 10000000, 0.25 (never 1e+07)."""
    if value is None:
        return ""
    text = format(Decimal(str(value)).normalize(), "f")
    return text


def _factor_context(factor, spec) -> dict:
    categorical = (spec.kind == CATEGORICAL) if spec else isinstance(factor.bins, dict)
    if categorical:
        bins = [{"category": k, "points": v} for k, v in (factor.bins or {}).items()]
    else:
        bins = [{**b, "lower_text": _bound_text(b.get("lower")), "upper_text": _bound_text(b.get("upper"))}
                for b in (factor.bins or [])]
    points = [b["points"] for b in bins]
    return {
        "factor": factor, "feature": factor.feature,
        "label": str(spec.label) if spec else (factor.label or factor.feature),
        "unit": str(spec.unit) if spec and spec.unit else "",
        "source": str(SOURCE_LABELS.get(spec.source, spec.source)) if spec else "",
        "categorical": categorical, "bins": bins,
        "max_points": max([*points, float(factor.missing_points)]) if points else float(factor.missing_points),
        "missing_input": f"{factor.missing_points.normalize():f}" if hasattr(factor.missing_points, "normalize")
        else str(factor.missing_points),
    }


@section_required("scoring")
@require_GET
def scorecard_detail(request, pk: int):
    card = _get_scorecard(pk)
    catalogue = feature_catalogue()
    can_edit = request.user.has_perm("scoring.change_scorecard") and card.status == ScorecardStatus.DRAFT
    used = {f.feature for f in card.factors.all()}
    available = [(key, f"{spec.label} ({key})") for key, spec in catalogue.items() if key not in used]
    rows = _factor_rows(card, catalogue)
    return _page(request, "scoring/scorecard_detail.html", {
        "title": str(card), "card": card, "rows": rows, "can_edit": can_edit,
        "editing": request.GET.get("edit", "") if can_edit else "", "blank_rows": range(EMPTY_BIN_ROWS),
        "can_copy": request.user.has_perm("scoring.change_scorecard") and card.status != ScorecardStatus.DRAFT,
        "add_form": AddFactorForm(features=available) if can_edit else None,
        "activate_form": ReasonForm() if can_edit else None,
        "max_score": sum(r["max_points"] for r in rows),
    }, tab="scorecards")


def _editable_card(request, pk: int) -> Scorecard:
    permission_or_403(request.user, "scoring.change_scorecard")
    card = _get_scorecard(pk)
    if card.status != ScorecardStatus.DRAFT:
        raise Conflict(_("Only a draft scorecard can be edited."), code="not_a_draft")
    return card


@section_required("scoring")
@require_http_methods(["GET", "POST"])
def scorecard_factor(request, pk: int, feature: str):
    """One factor row: GET shows it (``?edit=1``: the inline editor, for managers on a draft); POST saves it."""
    card = _get_scorecard(pk)
    factor = next((f for f in card.factors.all() if f.feature == feature), None)
    if factor is None:
        raise Http404(_("The scorecard has no such factor."))
    spec = feature_catalogue().get(feature)
    editing = request.method == "POST" or request.GET.get("edit") == "1"
    if editing:
        card = _editable_card(request, pk)
    errors: list[str] = []
    if request.method == "POST":
        row = _factor_context(factor, spec)
        try:
            bins, missing = parse_factor_post(request.POST, categorical=row["categorical"])
            factor = services.scorecard_update_factor(scorecard=card, feature=feature, actor=request.user,
                                                      bins=bins, missing_points=missing)
            editing = False
        except (ValidationError, DomainError) as exc:
            errors = _errors(exc)
            # Show what was typed, so the manager can correct it.
            if row["categorical"]:
                row["bins"] = [{"category": c, "points": p} for c, p in
                               zip(request.POST.getlist("category"), request.POST.getlist("points"), strict=False)
                               if c.strip() or p.strip()]
            else:
                row["bins"] = [{"lower_text": lo, "upper_text": up, "points": p} for lo, up, p in
                               zip(request.POST.getlist("lower"), request.POST.getlist("upper"),
                                   request.POST.getlist("points"), strict=False) if lo.strip() or up.strip() or p.strip()]
            row["missing_input"] = request.POST.get("missing_points", "")
            return _factor_response(request, card, row, editing=True, errors=errors, status=400)
    return _factor_response(request, card, _factor_context(factor, spec), editing=editing, errors=errors)


def _factor_response(request, card, row, *, editing: bool, errors, status: int = 200):
    context = {"card": card, "row": row, "errors": errors, "can_edit": card.status == ScorecardStatus.DRAFT
               and request.user.has_perm("scoring.change_scorecard"),
               "blank_rows": range(EMPTY_BIN_ROWS)}
    if not request.htmx:
        url = reverse("scoring:scorecard", args=[card.pk])
        if errors:
            messages.error(request, " ".join(errors))
        if editing:
            url += f"?edit={row['feature']}"
        return redirect(f"{url}#factor-{row['feature']}")
    part = "factor_edit" if editing else "factor_row"
    # htmx swaps only 2xx responses: the editor with its errors comes back as 200 to replace the form.
    return render(request, f"scoring/scorecard_detail.html#{part}", context, status=200 if request.htmx else status)


@section_required("scoring")
@require_POST
def scorecard_factor_add(request, pk: int):
    card = _editable_card(request, pk)
    feature = request.POST.get("feature", "")
    spec = feature_catalogue().get(feature)
    if spec is None:
        messages.error(request, _("Choose a feature from the catalogue."))
        return _redirect_htmx_aware(request, reverse("scoring:scorecard", args=[pk]))
    bins = {} if spec.kind == CATEGORICAL else [{"lower": None, "upper": None, "points": 0}]
    try:
        if spec.kind == CATEGORICAL:
            bins = {"(other)": 0}
        services.scorecard_update_factor(scorecard=card, feature=feature, actor=request.user, bins=bins,
                                         missing_points=0)
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
    return _redirect_htmx_aware(request, reverse("scoring:scorecard", args=[pk]) + f"#factor-{feature}")


@section_required("scoring")
@require_POST
def scorecard_factor_remove(request, pk: int, feature: str):
    card = _editable_card(request, pk)
    try:
        services.scorecard_remove_factor(scorecard=card, feature=feature, actor=request.user)
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
        return _redirect_htmx_aware(request, reverse("scoring:scorecard", args=[pk]))
    if request.htmx:
        return HttpResponse("")  # the row disappears
    return redirect("scoring:scorecard", pk=pk)


def _preview_context(preview: dict) -> dict:
    edges = preview["histogram"]["edges"]
    labels = [f"{edges[i]:.0f}–{edges[i + 1]:.0f}" for i in range(len(edges) - 1)]
    datasets = [{"label": str(_("Draft")), "data": preview["histogram"]["draft"], "color": "#2f7dd1"}]
    if preview.get("active_id"):
        datasets.insert(0, {"label": str(_("Active")), "data": preview["histogram"]["active"], "color": "#9aa5b1"})
    grades = [{**row, "change": row["draft"] - row["active"]} for row in preview["grades"]]
    return {
        "preview": preview, "grades": grades,
        "histogram_chart": _chart("bar", labels, datasets, format="number"),
        "grade_chart": _chart("bar", [g["grade"] for g in grades], [
            {"label": str(_("Active")), "data": [g["active"] for g in grades], "color": "#9aa5b1"},
            {"label": str(_("Draft")), "data": [g["draft"] for g in grades], "color": "#2f7dd1"},
        ]),
        "movers": [m for m in preview["movers"] if m["notches"]],
        "moved": preview["upgrades"] + preview["downgrades"],
    }


@section_required("scoring")
@require_GET
def scorecard_preview(request, pk: int):
    """What activating the draft would do on today's portfolio (computed, nothing written)."""
    card = _get_scorecard(pk)
    context = {"card": card, "title": _("Preview of %(card)s") % {"card": card}}
    try:
        context.update(_preview_context(services.scorecard_preview(draft=card)))
    except (ValidationError, DomainError) as exc:
        context["errors"] = _errors(exc)
    context["activate_form"] = (ReasonForm() if card.status == ScorecardStatus.DRAFT
                                and request.user.has_perm("scoring.change_scorecard") else None)
    return _page(request, "scoring/scorecard_preview.html", context, tab="scorecards", partial="preview")


@section_required("scoring")
@require_POST
def scorecard_activate(request, pk: int):
    card = _editable_card(request, pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        card = services.scorecard_activate(scorecard=card, actor=request.user, reason=reason)
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
        return _redirect_htmx_aware(request, reverse("scoring:scorecard", args=[pk]))
    messages.success(request, _("%(card)s is now the active scorecard of its segment. The next run uses it.")
                     % {"card": card})
    return _redirect_htmx_aware(request, reverse("scoring:scorecard", args=[pk]))


# --- master scale --------------------------------------------------------------------------------


def _scale_or_404(version: int) -> MasterScale:
    scale = selectors.master_scale_list().filter(version=version).first()
    if scale is None:
        raise Http404(_("No such master scale version."))
    return scale


@section_required("scoring")
@require_GET
def scale(request, version: int | None = None):
    scales = list(selectors.master_scale_list())
    shown = (next((s for s in scales if s.version == version), None) if version is not None
             else next((s for s in scales if s.active), scales[0] if scales else None))
    if version is not None and shown is None:
        raise Http404(_("No such master scale version."))
    can_edit = request.user.has_perm("scoring.add_masterscale") and request.user.has_perm("scoring.change_masterscale")
    return _page(request, "scoring/scale.html", {
        "title": _("Master scale & policy"), "scales": scales, "shown": shown,
        "grades": list(shown.grades.all()) if shown else [], "can_edit": can_edit,
        "activate_form": ReasonForm() if can_edit and shown and not shown.active else None,
    }, tab="scale")


def _grade_initial(scale: MasterScale | None) -> list[dict]:
    if scale is None:
        return []
    return [{"code": g.code, "label": g.label, "label_zh": g.label_zh, "min_score": g.min_score,
             "pd_max": g.pd_max,
             "max_limit_pct_revenue": g.max_limit_pct_revenue, "max_limit_amount": g.max_limit_amount,
             "standard_terms_days": g.standard_terms_days, "required_security": g.required_security,
             "review_months": g.review_months, "auto_approve": g.auto_approve} for g in scale.grades.all()]


@section_required("scoring")
@require_http_methods(["GET", "POST"])
def scale_new(request):
    """A new master-scale version, edited from a copy of the shown (or active) version; inactive until activated."""
    permission_or_403(request.user, "scoring.add_masterscale", "scoring.change_masterscale")
    source = None
    source_version = request.GET.get("from") or request.POST.get("from")
    if source_version and str(source_version).isdigit():
        source = _scale_or_404(int(source_version))
    source = source or selectors.master_scale_active()
    errors: list[str] = []
    if request.method == "POST":
        formset = GradeFormSet(request.POST, prefix="grades")
        form = MasterScaleForm(request.POST)
        if formset.is_valid() and form.is_valid():
            grades = [dict(row) for row in formset.cleaned_data if row]
            try:
                new = services.master_scale_new_version(actor=request.user, grades=grades,
                                                        name=form.cleaned_data["name"],
                                                        name_zh=form.cleaned_data["name_zh"])
            except (ValidationError, DomainError) as exc:
                errors = _errors(exc)
            else:
                messages.success(request, _("Master scale version %(version)s saved. Activate it to use it.")
                                 % {"version": new.version})
                return _redirect_htmx_aware(request, reverse("scoring:scale_version", args=[new.version]))
        else:
            errors = [_("Correct the highlighted grades.")]
    else:
        formset = GradeFormSet(prefix="grades", initial=_grade_initial(source))
        form = MasterScaleForm(initial={"name": source.name if source else _("Master scale"),
                                        "name_zh": source.name_zh if source else ""})
    return _page(request, "scoring/scale_form.html", {
        "title": _("New master scale version"), "formset": formset, "form": form, "source": source,
        "errors": errors,
    }, tab="scale", partial="", status=400 if errors else 200)


@section_required("scoring")
@require_POST
def scale_activate(request, version: int):
    permission_or_403(request.user, "scoring.change_masterscale")
    scale_obj = _scale_or_404(version)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.master_scale_activate(scale=scale_obj, actor=request.user, reason=reason)
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        messages.success(request, _("Master scale version %(version)s is active. The next run grades with it.")
                         % {"version": version})
    return _redirect_htmx_aware(request, reverse("scoring:scale_version", args=[version]))


# --- models ---------------------------------------------------------------------------------------


def _training():
    """h7's training service module (model_train, model_promote); None while it is not installed."""
    try:
        from scoring import training
    except ImportError:  # pragma: no cover - only while the engine is being built
        return None
    return training


def _metric(model: ModelVersion, key: str):
    value = (model.metrics or {}).get(key)
    return value if isinstance(value, int | float) else None


@section_required("scoring")
@require_GET
def models(request):
    versions = list(selectors.model_version_list())
    rows = [{"model": m, "auc": _metric(m, "auc"), "gini": _metric(m, "gini"), "ks": _metric(m, "ks"),
             "brier": _metric(m, "brier")} for m in versions]
    can_train = request.user.has_perm("scoring.add_modelversion")
    return _page(request, "scoring/models.html", {
        "title": _("Models"), "rows": rows, "can_train": can_train and _training() is not None,
        "can_promote": request.user.has_perm("scoring.change_modelversion"),
        "train_form": TrainModelForm() if can_train else None,
    }, tab="models")


def _psi_rows(psi: dict, catalogue) -> list[dict]:
    rows = []
    for key, entry in sorted((psi.get("features") or {}).items(), key=lambda kv: -(kv[1].get("psi") or 0)):
        spec = catalogue.get(key)
        rows.append({"feature": key, "label": str(spec.label) if spec else key, **_psi_level(entry.get("psi"))})
    return rows


def _psi_level(value) -> dict:
    if not isinstance(value, int | float):
        return {"psi": None, "level": "unknown", "badge": "badge-info", "text": "—"}
    if value >= PSI_ALERT:
        return {"psi": value, "level": "alert", "badge": "badge-bad", "text": _("≥ 0.25 investigate")}
    if value >= PSI_WARNING:
        return {"psi": value, "level": "warning", "badge": "badge-warn", "text": _("≥ 0.10 watch")}
    return {"psi": value, "level": "ok", "badge": "badge-ok", "text": _("stable")}


def _model_charts(metrics: dict, catalogue) -> dict:
    charts: dict = {}
    roc = metrics.get("roc") or metrics.get("roc_curve") or []
    if isinstance(roc, dict):  # {"fpr": [...], "tpr": [...]}
        roc = list(zip(roc.get("fpr", []), roc.get("tpr", []), strict=False))
    if roc:
        points = [{"x": p[0], "y": p[1]} for p in roc if isinstance(p, list | tuple) and len(p) >= 2]
        charts["roc"] = _chart("line", [], [
            {"label": str(_("Model")), "data": points, "pointRadius": 0},
            {"label": str(_("Random")), "data": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "dashed": True,
             "color": "#9aa5b1", "pointRadius": 0},
        ], options={"scales": {"x": {"type": "linear", "min": 0, "max": 1,
                                     "title": {"display": True, "text": str(_("False positive rate"))}},
                               "y": {"min": 0, "max": 1,
                                     "title": {"display": True, "text": str(_("True positive rate"))}}}})
    calibration = metrics.get("calibration") or metrics.get("calibration_table") or []
    if calibration:
        charts["calibration"] = _chart("bar", [str(row.get("bin", i + 1)) for i, row in enumerate(calibration)], [
            {"label": str(_("Observed default rate")), "data": [row.get("observed_rate") for row in calibration],
             "color": "#1d4e89"},
            {"label": str(_("Mean predicted PD")), "data": [row.get("mean_pd") for row in calibration],
             "type": "line", "color": "#b3261e"},
        ], format="percent")
    importance = metrics.get("feature_importance") or metrics.get("importance") or []
    if isinstance(importance, dict):
        importance = [{"feature": k, "importance": v} for k, v in importance.items()]
    importance = sorted(importance, key=lambda r: -(r.get("importance") or 0))[:20]
    if importance:
        labels = [str(catalogue[r["feature"]].label) if r["feature"] in catalogue else r["feature"]
                  for r in importance]
        charts["importance"] = _chart("bar", labels, [
            {"label": str(_("Importance (drop in AUC)")), "data": [r.get("importance") for r in importance]}],
            horizontal=True, legend=False)
    return charts


def _model_or_404(version: int) -> ModelVersion:
    model = selectors.model_version_list().filter(version=version).first()
    if model is None:
        raise Http404(_("No such model version."))
    return model


@section_required("scoring")
@require_GET
def model_detail(request, version: int):
    model = _model_or_404(version)
    metrics = model.metrics or {}
    catalogue = feature_catalogue()
    psi = metrics.get("psi") or {}
    charts = _model_charts(metrics, catalogue)
    return _page(request, "scoring/model_detail.html", {
        "title": str(model), "model": model, "metrics": metrics, "charts": charts,
        "calibration": metrics.get("calibration") or metrics.get("calibration_table") or [],
        "score_psi": _psi_level((psi.get("score") or {}).get("psi")) if psi.get("score") else None,
        "psi_rows": _psi_rows(psi, catalogue),
        "summary": [(label, _metric(model, key)) for key, label in (
            ("auc", "AUC"), ("gini", "Gini"), ("ks", "KS"), ("brier", "Brier"))],
        "can_promote": request.user.has_perm("scoring.change_modelversion")
        and model.status != ModelStatus.CHAMPION and _training() is not None,
        "promote_form": ReasonForm(),
    }, tab="models")


@section_required("scoring")
@require_POST
def model_train(request):
    """Train a model: inline for small portfolios (seconds), on a worker above
    CREDITRISK_TRAIN_INLINE_MAX_CUSTOMERS; the new version starts as challenger."""
    permission_or_403(request.user, "scoring.add_modelversion")
    training = _training()
    form = TrainModelForm(request.POST)
    if training is None or not form.is_valid():
        messages.error(request, _("Choose an algorithm and a label source."))
        return _redirect_htmx_aware(request, reverse("scoring:models"))
    if Customer.objects.count() > settings.CREDITRISK_TRAIN_INLINE_MAX_CUSTOMERS:
        # Large portfolios train on a worker: a page request must not wait minutes.
        from scoring.tasks import train_model as train_model_task

        train_model_task.delay_on_commit(form.cleaned_data["algorithm"], form.cleaned_data["labels"],
                                         request.user.pk)
        messages.success(request, _("Training started on a worker. The new version appears in the registry "
                                    "when it is done (a few minutes on a large portfolio)."))
        return _redirect_htmx_aware(request, reverse("scoring:models"))
    try:
        model = training.model_train(algorithm=form.cleaned_data["algorithm"],
                                     labels=form.cleaned_data["labels"], actor=request.user)
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
        return _redirect_htmx_aware(request, reverse("scoring:models"))
    except ValueError as exc:  # scoring.ml's TrainingError: too little data, one class only, …
        messages.error(request, _("The model could not be trained: %(error)s") % {"error": exc})
        return _redirect_htmx_aware(request, reverse("scoring:models"))
    messages.success(request, _("Model version %(version)s trained: AUC %(auc)s on data it did not train on.")
                     % {"version": model.version, "auc": f"{(model.metrics or {}).get('auc', 0):.3f}"})
    return _redirect_htmx_aware(request, reverse("scoring:model", args=[model.version]))


@section_required("scoring")
@require_POST
def model_promote(request, version: int):
    permission_or_403(request.user, "scoring.change_modelversion")
    training = _training()
    model = _model_or_404(version)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    if training is None:
        raise Http404
    try:
        training.model_promote(version=model, actor=request.user, reason=reason)
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        messages.success(request, _("Model version %(version)s is the champion now.") % {"version": version})
    return _redirect_htmx_aware(request, reverse("scoring:model", args=[version]))


# --- runs ------------------------------------------------------------------------------------------

RUN_LIST_SIZE = 50


@section_required("scoring")
@require_GET
def runs(request):
    rows = []
    for run in selectors.scoring_run_list()[:RUN_LIST_SIZE]:
        duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
        counts = {k: v for k, v in (run.counts or {}).items() if k != "chunks"}
        timings = {k: v for k, v in (run.timings or {}).items() if k != "total"}
        rows.append({"run": run, "duration": duration, "counts": counts, "timings": timings})
    return _page(request, "scoring/runs.html", {
        "title": _("Runs"), "rows": rows, "can_rescore": request.user.has_perm("scoring.add_scoringrun"),
    }, tab="runs")


@section_required("scoring")
@require_POST
def rescore(request):
    """Re-score the whole portfolio now, inline (set-based: seconds for a demo-sized portfolio)."""
    permission_or_403(request.user, "scoring.add_scoringrun")
    try:
        run = services.scoring_run_portfolio(as_of=timezone.localdate(), kind=RunKind.MANUAL, actor=request.user)
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
    except Exception as exc:  # the run is recorded as failed by the service; say so instead of a 500
        logger.exception("manual re-score failed")
        messages.error(request, _("The run failed: %(error)s") % {"error": exc})
    else:
        messages.success(request, _("Run #%(id)s scored %(scored)s customers in %(seconds)s s.") % {
            "id": run.pk, "scored": (run.counts or {}).get("scored", 0),
            "seconds": f"{(run.timings or {}).get('total', 0):.2f}"})
    return _redirect_htmx_aware(request, reverse("scoring:runs"))


# --- overrides --------------------------------------------------------------------------------------


@section_required("scoring")
@require_GET
def overrides(request):
    pending = list(selectors.override_list(status=OverrideStatus.PENDING)[:100])
    decided = list(selectors.override_list().exclude(status=OverrideStatus.PENDING)[:30])
    return _page(request, "scoring/overrides.html", {
        "title": _("Overrides"), "pending": pending, "decided": decided,
        "can_decide": request.user.has_perm("scoring.change_scoreoverride"), "decision_form": OverrideDecisionForm(),
    }, tab="overrides")


def _override_or_404(pk: int) -> ScoreOverride:
    override = selectors.override_list().filter(pk=pk).first()
    if override is None:
        raise Http404
    return override


@section_required("scoring")
@require_POST
def override_decide(request, pk: int, decision: str):
    permission_or_403(request.user, "scoring.change_scoreoverride")
    override = _override_or_404(pk)
    form = OverrideDecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        if decision == "approve":
            services.score_override_approve(override=override, actor=request.user, note=note)
            messages.success(request, _("Override approved: %(customer)s is graded %(grade)s now.")
                             % {"customer": override.customer.code, "grade": override.proposed_grade})
        else:
            services.score_override_reject(override=override, actor=request.user, note=note)
            messages.success(request, _("Override rejected."))
    except (ValidationError, DomainError) as exc:
        messages.error(request, " ".join(_errors(exc)))
    back = request.POST.get("next", "")
    url = reverse("scoring:customer", args=[override.customer.code]) if back == "customer" else reverse(
        "scoring:overrides")
    return _redirect_htmx_aware(request, url)


# --- the credit file's Score tab -------------------------------------------------------------------


def _credit_file_tabs(customer) -> list[tuple[str, str, str]]:
    from customers.views import TABS

    tabs = [(key, label, reverse("customers:detail", args=[customer.code]) if key == "overview"
             else reverse("customers:tab", args=[customer.code, key])) for key, label in TABS]
    tabs.append(("score", _("Score"), reverse("scoring:customer", args=[customer.code])))
    return tabs


def _grade_rule(score) -> list[str]:
    """The documented final-grade rule, applied to this score, in words."""
    lines = []
    if score.scorecard_grade and score.pd_grade:
        lines.append(_("Scorecard grade %(sc)s and model PD grade %(pd)s: the worse of the two, %(computed)s, "
                       "is the computed grade.") % {"sc": score.scorecard_grade, "pd": score.pd_grade,
                                                    "computed": score.computed_grade})
    elif score.scorecard_grade:
        lines.append(_("Graded on the scorecard alone (no champion model): %(grade)s.")
                     % {"grade": score.scorecard_grade})
    elif score.pd_grade:
        lines.append(_("No scorecard covers this customer: graded on the model PD alone, %(grade)s.")
                     % {"grade": score.pd_grade})
    if score.override_id:
        lines.append(_("An approved override replaces the computed grade %(computed)s with %(final)s.")
                     % {"computed": score.computed_grade, "final": score.final_grade})
    return lines


def _score_tab_context(request, customer, *, form=None) -> dict:
    history = selectors.customer_score_history(customer=customer, limit=60)
    latest = history[0] if history else None
    catalogue = feature_catalogue()
    overrides_ = list(selectors.override_list(customer=customer)[:20])
    pending = next((o for o in overrides_ if o.status == OverrideStatus.PENDING), None)
    active_scale = selectors.master_scale_active()
    grade_codes = [g.code for g in active_scale.grades.all()] if active_scale else []
    current = (latest.computed_grade or latest.final_grade) if latest else ""
    can_propose = (request.user.has_perm("scoring.add_scoreoverride") and latest is not None and pending is None
                   and bool(grade_codes))
    chronological = list(reversed(history))
    labels = [f"{s.as_of.isoformat()} #{s.run_id}" for s in chronological]
    charts = {}
    if len(history) > 1:
        charts["score"] = _chart("line", labels, [
            {"label": str(_("Score")), "data": [float(s.score) if s.score is not None else None
                                               for s in chronological]}], legend=False)
        charts["pd"] = _chart("line", labels, [
            {"label": str(_("PD")), "data": [float(s.final_pd) for s in chronological], "color": "#b3261e"}],
            format="percent", legend=False)
    policy = None
    if latest and active_scale:
        policy = next((g for g in active_scale.grades.all() if g.code == latest.final_grade), None)
    return {
        "customer": customer, "latest": latest, "history": history[:12], "charts": charts,
        # The tab arrives by htmx, which drops <script> elements (allowScriptTags=false), so the chart specs
        # travel as the text of hidden elements that static/js/charts.js reads the same way (textContent).
        "charts_json": {name: json.dumps(spec) for name, spec in charts.items()},
        "reasons": [{"text": reason_text(r, catalogue), **r} for r in (latest.reasons if latest else [])],
        "challengers": sorted(((int(k) if str(k).isdigit() else k, v)
                               for k, v in ((latest.challenger_pds or {}) if latest else {}).items()),
                              key=lambda kv: str(kv[0])),
        "grade_rule": _grade_rule(latest) if latest else [],
        "policy": policy,
        "overrides": overrides_, "pending": pending,
        "can_decide": request.user.has_perm("scoring.change_scoreoverride"),
        "override_form": form if form is not None else (
            OverrideProposeForm(grades=grade_codes, current=current) if can_propose else None),
        "decision_form": OverrideDecisionForm(),
    }


def _render_customer_score(request, customer, *, form=None, status: int = 200):
    context = {"title": f"{customer} · {_('Score')}", "tab": "score", "tabs": _credit_file_tabs(customer),
               **_score_tab_context(request, customer, form=form)}
    template = "scoring/customer_score.html"
    if request.htmx:
        template += "#credit_file"
    return render(request, template, context, status=status)


@section_required("customers")
@require_GET
def customer_score(request, code: str):
    customer = customer_get_for_user(user=request.user, code=code)
    permission_or_403(request.user, "scoring.view_score")
    return _render_customer_score(request, customer)


@section_required("customers")
@require_POST
def customer_override_propose(request, code: str):
    customer = customer_get_for_user(user=request.user, code=code)
    permission_or_403(request.user, "scoring.add_scoreoverride")
    active_scale = selectors.master_scale_active()
    grades = [g.code for g in active_scale.grades.all()] if active_scale else []
    latest = selectors.customer_latest_score(customer=customer)
    form = OverrideProposeForm(request.POST, grades=grades,
                               current=(latest.computed_grade or latest.final_grade) if latest else "")
    if form.is_valid():
        try:
            services.score_override_propose(customer=customer, proposed_grade=form.cleaned_data["proposed_grade"],
                                            reason=form.cleaned_data["reason"], actor=request.user,
                                            expires_on=form.cleaned_data.get("expires_on"))
        except (ValidationError, DomainError) as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(request, _("Override proposed. A credit manager other than you must approve it."))
            return _redirect_htmx_aware(request, reverse("scoring:customer", args=[customer.code]))
    return _render_customer_score(request, customer, form=form, status=400)
