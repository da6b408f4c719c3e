"""Browser forms of the credit file. Forms parse and validate input; services (customers.services) write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from customers.attributes import clean_attribute_values
from customers.models import (
    AttributeDefinition,
    AttributeType,
    Contact,
    Customer,
    CustomerGroup,
    CustomerStatus,
    InvoiceStatus,
    OrderStatus,
    SizeSegment,
)
from customers.validators import validate_uscc

ATTRIBUTE_PREFIX = "attr_"
CUSTOMER_FIELDS = ["code", "name", "registration_no", "country", "region", "industry", "size", "group",
                   "relationship_start", "status", "owner", "currency"]


def attribute_label(definition: AttributeDefinition) -> str:
    if definition.label_zh and (get_language() or "").startswith("zh"):
        return definition.label_zh
    return definition.label


def owner_choices_queryset():
    """Users who can own a credit file: analysts and managers."""
    return (get_user_model().objects.filter(is_active=True, groups__name__in=["analyst", "manager"])
            .distinct().order_by("username"))


def _attribute_field(definition: AttributeDefinition, *, for_filter: bool = False) -> forms.Field:
    label = attribute_label(definition)
    required = definition.required and not for_filter
    common = {"label": label, "required": required, "help_text": "" if for_filter else definition.help_text}
    if definition.type == AttributeType.NUMBER:
        return forms.DecimalField(
            min_value=None if for_filter else definition.min_value,
            max_value=None if for_filter else definition.max_value,
            widget=forms.NumberInput(attrs={"step": "any"}), **common)
    if definition.type == AttributeType.CATEGORY:
        blank = [("", _("Any") if for_filter else "—")]
        return forms.ChoiceField(choices=blank + [(str(c), str(c)) for c in definition.choices or []], **common)
    if definition.type == AttributeType.DATE:
        return forms.DateField(widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}), **common)
    if definition.type == AttributeType.BOOLEAN:
        choices = [("", _("Any") if for_filter else _("Unknown")), ("true", _("Yes")), ("false", _("No"))]
        return forms.TypedChoiceField(choices=choices, coerce=lambda v: v == "true", empty_value=None, **common)
    return forms.CharField(max_length=500, **common)


def attribute_json_value(value):
    """The JSON-safe value stored in Customer.attributes (dates as ISO, decimals as numbers)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class CustomerForm(forms.ModelForm):
    """Customer fields plus one field per active custom attribute (named attr_<key>)."""

    group_code = forms.CharField(label=_("Group code"), required=False, max_length=40,
                                 help_text=_("Code of the parent company's group, if any."))

    field_order = [*(f for f in CUSTOMER_FIELDS if f != "group"), "group_code"]
    field_order.insert(field_order.index("relationship_start"), field_order.pop())

    class Meta:
        model = Customer
        fields = [f for f in CUSTOMER_FIELDS if f != "group"]
        widgets = {"relationship_start": forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})}

    def __init__(self, *args, definitions: list[AttributeDefinition] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.definitions = list(definitions)
        self.fields["owner"].queryset = owner_choices_queryset()
        self.fields["registration_no"].help_text = _("For China: the 18-character unified social credit code.")
        if self.instance.pk:
            self.fields["reason"] = forms.CharField(
                label=_("Reason for the change"), required=False, max_length=500,
                help_text=_("Recorded with the change in the audit trail."))
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("The code links the ERP's data and cannot be changed here.")
            if self.instance.group_id and not self.is_bound:
                self.initial["group_code"] = self.instance.group.code
        for definition in self.definitions:
            name = ATTRIBUTE_PREFIX + definition.key
            self.fields[name] = _attribute_field(definition)
            if not self.is_bound and definition.key in (self.instance.attributes or {}):
                value = self.instance.attributes[definition.key]
                if definition.type == AttributeType.BOOLEAN and value is not None:
                    value = "true" if value else "false"
                self.initial[name] = value
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "")

    @property
    def attribute_fields(self):
        return [self[ATTRIBUTE_PREFIX + d.key] for d in self.definitions]

    @property
    def main_fields(self):
        return [self[name] for name in self.fields if not name.startswith(ATTRIBUTE_PREFIX) and name != "reason"]

    @property
    def reason_field(self):
        return self["reason"] if "reason" in self.fields else None

    def clean_group_code(self):
        code = self.cleaned_data.get("group_code", "").strip()
        if not code:
            self.group = None
            return ""
        self.group = CustomerGroup.objects.filter(code=code).first()
        if self.group is None:
            raise ValidationError(_("There is no group with the code %(code)s."), params={"code": code},
                                  code="unknown_group")
        return code

    def clean(self):
        cleaned = super().clean()
        # The same checks the services make, so inline validation shows them while typing.
        country = (cleaned.get("country") or "").strip().upper()
        registration_no = (cleaned.get("registration_no") or "").strip().upper()
        if country == "CN" and registration_no and "registration_no" not in self.errors:
            try:
                validate_uscc(registration_no)
            except ValidationError as exc:
                self.add_error("registration_no", exc)
        if self.definitions:
            try:
                clean_attribute_values(
                    {k: v for k, v in self.attribute_values().items() if v is not None},
                    partial=bool(self.instance.pk),
                    definitions={d.key: d for d in self.definitions})
            except ValidationError as exc:
                self.add_service_errors(exc)
        return cleaned

    def _post_clean(self):
        # Model validation (validators, constraints) runs on a throw-away copy: the service writes.
        if self.instance.pk:
            self.instance = _copy_customer(self.instance)
        self.instance.group = getattr(self, "group", None)
        self.instance.attributes = {k: v for k, v in self.attribute_values().items() if v is not None}
        super()._post_clean()

    def attribute_values(self) -> dict:
        """The edited custom attribute values; a blank value is None (the service removes that key)."""
        values = {}
        data = getattr(self, "cleaned_data", {})
        for definition in self.definitions:
            name = ATTRIBUTE_PREFIX + definition.key
            if name not in data or name in self.errors:
                continue
            value = data[name]
            values[definition.key] = None if value in (None, "") else attribute_json_value(value)
        return values

    def service_fields(self) -> dict:
        """Keyword arguments for customer_create, or the data dict of customer_update."""
        data = {name: self.cleaned_data[name] for name in CUSTOMER_FIELDS if name in self.cleaned_data}
        data["group"] = getattr(self, "group", None)
        attributes = self.attribute_values()
        if self.instance.pk:
            data.pop("code", None)
            data["attributes"] = attributes
        else:
            data["attributes"] = {k: v for k, v in attributes.items() if v is not None}
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the matching fields (unknown keys become form errors)."""
        if hasattr(error, "error_dict"):
            for key, messages in error.message_dict.items():
                field = key
                if key.startswith("attributes.") or key.startswith("attributes__"):
                    field = ATTRIBUTE_PREFIX + key.split(".", 1)[-1].split("__", 1)[-1]
                elif key == "group":
                    field = "group_code"
                if field not in self.fields:
                    field = None
                for message in messages:
                    self.add_error(field, message)
        else:
            for message in error.messages:
                self.add_error(None, message)


def _copy_customer(customer: Customer) -> Customer:
    clone = Customer(**{f.attname: getattr(customer, f.attname) for f in Customer._meta.concrete_fields})
    clone._state.adding = False
    clone._state.db = customer._state.db
    return clone


def customer_form(*, data=None, instance: Customer | None = None, definitions=()) -> CustomerForm:
    return CustomerForm(data=data, instance=instance, definitions=definitions)


class CustomerFilterForm(forms.Form):
    """The list page's filters (every field optional; bad values are simply ignored)."""

    q = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(required=False, choices=[("", _("Any status")), *CustomerStatus.choices])
    size = forms.ChoiceField(required=False, choices=[("", _("Any size")), *SizeSegment.choices])
    industry = forms.CharField(required=False, max_length=120)
    region = forms.CharField(required=False, max_length=80)
    owner = forms.CharField(required=False, max_length=150)
    group = forms.CharField(required=False, max_length=40)
    grade = forms.CharField(required=False, max_length=4)

    def __init__(self, *args, definitions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.definitions = list(definitions)
        for definition in self.definitions:
            if definition.type == AttributeType.NUMBER:
                self.fields[f"{ATTRIBUTE_PREFIX}{definition.key}_min"] = forms.DecimalField(required=False)
                self.fields[f"{ATTRIBUTE_PREFIX}{definition.key}_max"] = forms.DecimalField(required=False)
            elif definition.type == AttributeType.DATE:
                self.fields[f"{ATTRIBUTE_PREFIX}{definition.key}_from"] = forms.DateField(required=False)
                self.fields[f"{ATTRIBUTE_PREFIX}{definition.key}_to"] = forms.DateField(required=False)
            else:
                self.fields[ATTRIBUTE_PREFIX + definition.key] = _attribute_field(definition, for_filter=True)

    def clean(self):
        cleaned = super().clean()
        # Drop invalid filters instead of failing the page: a hand-edited URL still lists customers.
        for name in list(self.errors):
            cleaned.pop(name, None)
        self._errors = forms.utils.ErrorDict()
        return cleaned

    def filters(self) -> dict:
        """The filters dict for selectors.customer_list, with custom attributes under "attributes"."""
        self.is_valid()
        data = self.cleaned_data
        filters = {k: (data.get(k) or "").strip() for k in
                   ("q", "status", "size", "industry", "region", "owner", "group", "grade")}
        filters = {k: v for k, v in filters.items() if v}
        attributes = []
        for d in self.definitions:
            base = ATTRIBUTE_PREFIX + d.key
            if d.type == AttributeType.NUMBER:
                for suffix, lookup in (("_min", "gte"), ("_max", "lte")):
                    if data.get(base + suffix) is not None:
                        attributes.append((d, lookup, data[base + suffix]))
            elif d.type == AttributeType.DATE:
                for suffix, lookup in (("_from", "gte"), ("_to", "lte")):
                    if data.get(base + suffix) is not None:
                        attributes.append((d, lookup, data[base + suffix].isoformat()))
            elif d.type == AttributeType.TEXT:
                if (data.get(base) or "").strip():
                    attributes.append((d, "icontains", data[base].strip()))
            elif data.get(base) not in (None, ""):
                attributes.append((d, "exact", data[base]))
        if attributes:
            filters["attributes"] = attributes
        return filters

    @property
    def attribute_widgets(self):
        """(definition, [bound fields]) for the template."""
        out = []
        for d in self.definitions:
            base = ATTRIBUTE_PREFIX + d.key
            names = [n for n in (base, base + "_min", base + "_max", base + "_from", base + "_to") if n in self.fields]
            out.append((d, attribute_label(d), [self[n] for n in names]))
        return out


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "role", "email", "phone", "is_primary"]


class DocumentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    file = forms.FileField(label=_("File"))


class InvoiceFilterForm(forms.Form):
    inv_status = forms.ChoiceField(required=False, label=_("Status"),
                                   choices=[("", _("Any status")), *InvoiceStatus.choices])
    inv_from = forms.DateField(required=False, label=_("Issued from"))
    inv_to = forms.DateField(required=False, label=_("Issued to"))


class PaymentFilterForm(forms.Form):
    pay_from = forms.DateField(required=False, label=_("Paid from"))
    pay_to = forms.DateField(required=False, label=_("Paid to"))


class OrderFilterForm(forms.Form):
    ord_status = forms.ChoiceField(required=False, label=_("Status"),
                                   choices=[("", _("Any status")), *OrderStatus.choices])


class AttributeDefinitionForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=_("Allowed values"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For categories: one allowed value per line."))

    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "label_zh", "type", "required", "min_value", "max_value", "help_text", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Values are stored under the key and its type: both are fixed once defined.
            self.fields["key"].disabled = True
            self.fields["type"].disabled = True
            self.initial["choices_text"] = "\n".join(str(c) for c in self.instance.choices or [])

    def clean_choices_text(self):
        text = self.cleaned_data.get("choices_text") or ""
        values = []
        for line in text.splitlines():
            value = line.strip()
            if value and value not in values:
                values.append(value)
        return values

    def _post_clean(self):
        # Validate on a copy: the service does the write (and the audit).
        if self.instance.pk:
            clone = AttributeDefinition(**{f.attname: getattr(self.instance, f.attname)
                                           for f in AttributeDefinition._meta.concrete_fields})
            clone._state.adding = False
            self.instance = clone
        self.instance.choices = self.cleaned_data.get("choices_text", [])
        super()._post_clean()

    def service_fields(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}
        data["choices"] = self.cleaned_data.get("choices_text", [])
        if self.instance.pk:
            data.pop("key", None)
            data.pop("type", None)
        return data


