"""Forms of the scoring pages: draft creation, factor bins, master-scale versions, training, overrides.

Forms only parse and check shape; the services own the rules (bins that overlap, bands that do not
fall, four eyes) and their errors are shown back on the same form.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from scoring.models import LabelSource, ModelAlgorithm, RequiredSecurity, ScorecardSegment

MAX_BINS = 20
MAX_ABS_NUMBER = Decimal("1e12")  # beyond any feature's range; keeps float bounds finite


class DraftForm(forms.Form):
    segment = forms.ChoiceField(label=_("Segment"), choices=ScorecardSegment.choices)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=1000,
                             widget=forms.TextInput(attrs={"placeholder": _("Why (kept in the audit trail)"),
                                                           "style": "width: 24rem"}))


def _number(raw: str, *, field: str, row: int | None = None) -> Decimal | None:
    raw = (raw or "").strip().replace(",", "")
    if raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or abs(value) > MAX_ABS_NUMBER:
        message = (_("Row %(row)s: enter a number.") % {"row": row}) if row is not None else _("Enter a number.")
        raise ValidationError({field: [message]})
    return value


def parse_factor_post(data, *, categorical: bool) -> tuple[object, Decimal]:
    """Bins and missing points from the inline editor's rows.

    Numeric rows: ``lower``/``upper`` (blank = open) and ``points``; a row without points is ignored.
    Category rows: ``category`` and ``points``. Raises ValidationError (field-keyed) on bad numbers.
    """
    missing = _number(data.get("missing_points", ""), field="missing_points")
    if missing is None:
        raise ValidationError({"missing_points": [_("Give the points for a missing value.")]})
    points = data.getlist("points")[:MAX_BINS]
    if categorical:
        categories = data.getlist("category")[:MAX_BINS]
        bins: dict[str, float] = {}
        for row, (category, raw_points) in enumerate(zip(categories, points, strict=False), start=1):
            category = (category or "").strip()
            value = _number(raw_points, field="bins", row=row)
            if not category and value is None:
                continue
            if not category or value is None:
                raise ValidationError({"bins": [_("Row %(row)s needs a category and points.") % {"row": row}]})
            if category in bins:
                raise ValidationError({"bins": [_("Category %(category)s is listed twice.") % {"category": category}]})
            bins[category] = float(value)
        if not bins:
            raise ValidationError({"bins": [_("Give at least one category with its points.")]})
        return bins, missing
    lowers, uppers = data.getlist("lower")[:MAX_BINS], data.getlist("upper")[:MAX_BINS]
    rows = []
    for row, (lower, upper, raw_points) in enumerate(zip(lowers, uppers, points, strict=False), start=1):
        value = _number(raw_points, field="bins", row=row)
        low = _number(lower, field="bins", row=row)
        high = _number(upper, field="bins", row=row)
        if value is None:
            if low is not None or high is not None:
                raise ValidationError({"bins": [_("Row %(row)s needs points.") % {"row": row}]})
            continue
        rows.append({"lower": None if low is None else float(low), "upper": None if high is None else float(high),
                     "points": float(value)})
    if not rows:
        raise ValidationError({"bins": [_("Give at least one bin with its points.")]})
    return rows, missing


class AddFactorForm(forms.Form):
    feature = forms.ChoiceField(label=_("Feature"))

    def __init__(self, *args, features: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["feature"].choices = features


def _sized(rem: float, *, number: bool = False) -> forms.Widget:
    """An input sized for the grade table (the table has ten columns; full-width inputs would overflow it)."""
    widget = forms.NumberInput if number else forms.TextInput
    return widget(attrs={"style": f"width: {rem}rem"})


class GradeRowForm(forms.Form):
    """One grade of a new master-scale version (best grade first; the worst has no lower score / PD cap)."""

    code = forms.CharField(label=_("Grade"), max_length=4, widget=_sized(3.5))
    label = forms.CharField(label=_("Label"), max_length=80, required=False, widget=_sized(11))
    label_zh = forms.CharField(label=_("Label (Chinese)"), max_length=80, required=False, widget=_sized(8))
    min_score = forms.DecimalField(label=_("Score from"), max_digits=8, decimal_places=2, required=False,
                                   widget=_sized(5.5, number=True))
    pd_max = forms.DecimalField(label=_("PD below"), max_digits=9, decimal_places=6, required=False,
                                min_value=Decimal(0), max_value=Decimal(1), widget=_sized(6.5, number=True))
    # xgettext:no-python-format
    max_limit_pct_revenue = forms.DecimalField(label=_("Max limit, % of revenue"), max_digits=6, decimal_places=2,
                                               required=False, min_value=Decimal(0), widget=_sized(5, number=True))
    max_limit_amount = forms.DecimalField(label=_("Max limit, amount"), max_digits=18, decimal_places=2,
                                          required=False, min_value=Decimal(0), widget=_sized(8.5, number=True))
    standard_terms_days = forms.IntegerField(label=_("Terms (days)"), min_value=0, max_value=365, widget=_sized(4.5, number=True))
    required_security = forms.ChoiceField(label=_("Required security"), choices=RequiredSecurity.choices)
    review_months = forms.IntegerField(label=_("Review (months)"), min_value=1, max_value=60, widget=_sized(4.5, number=True))
    auto_approve = forms.BooleanField(label=_("Auto-approve"), required=False)


GradeFormSet = forms.formset_factory(GradeRowForm, extra=0, min_num=2, max_num=26, validate_min=True,
                                     validate_max=True)


class MasterScaleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=120, required=False)


class TrainModelForm(forms.Form):
    algorithm = forms.ChoiceField(label=_("Algorithm"), choices=ModelAlgorithm.choices)
    labels = forms.ChoiceField(label=_("Labels"), choices=LabelSource.choices)


class OverrideProposeForm(forms.Form):
    proposed_grade = forms.ChoiceField(label=_("Proposed grade"))
    reason = forms.CharField(label=_("Reason"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Required: why the computed grade does not fit this customer."))
    expires_on = forms.DateField(label=_("Expires on"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, grades: list[str], current: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proposed_grade"].choices = [(code, code) for code in grades if code != current]


class OverrideDecisionForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=4000, required=False,
                           widget=forms.TextInput(attrs={"placeholder": _("Required when rejecting")}))
