"""Custom customer attributes: validating values against their definitions, and guessing a new
column's type for ``import_data --create-attributes``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from customers.models import AttributeDefinition, AttributeType
from customers.parsing import BadValue, clean_text, is_blank, parse_bool, parse_date, parse_decimal

TEXT_MAX_LENGTH = 500
# A column becomes a category when it has few distinct values that repeat.
CATEGORY_MAX_CHOICES = 20


def active_definitions() -> dict[str, AttributeDefinition]:
    return {d.key: d for d in AttributeDefinition.objects.filter(active=True)}


def _clean_one(definition: AttributeDefinition, value):
    """The JSON-safe stored form of one value: float, str (text, category, ISO date) or bool."""
    kind = definition.type
    if kind == AttributeType.NUMBER:
        number = parse_decimal(value, places=6, max_digits=24)
        if definition.min_value is not None and number < definition.min_value:
            raise BadValue(_("The value must be at least %(min)s.") % {"min": definition.min_value.normalize()})
        if definition.max_value is not None and number > definition.max_value:
            raise BadValue(_("The value must be at most %(max)s.") % {"max": definition.max_value.normalize()})
        return float(number)
    if kind == AttributeType.CATEGORY:
        text = clean_text(value, max_length=TEXT_MAX_LENGTH)
        allowed = [str(choice) for choice in (definition.choices or [])]
        if text in allowed:
            return text
        folded = {choice.casefold(): choice for choice in allowed}
        if text.casefold() in folded:
            return folded[text.casefold()]
        raise BadValue(_("%(value)s is not one of: %(allowed)s.") % {"value": text[:40], "allowed": ", ".join(allowed)})
    if kind == AttributeType.DATE:
        return parse_date(value).isoformat()
    if kind == AttributeType.BOOLEAN:
        return parse_bool(value)
    return clean_text(value, max_length=TEXT_MAX_LENGTH)


def clean_attribute_values(values: dict, *, partial: bool = False,
                           definitions: dict[str, AttributeDefinition] | None = None) -> dict:
    """Validate and normalise custom attribute values against the active definitions.

    Returns only the non-empty values, in stored form (numbers as float, dates as ISO strings,
    booleans as bool, text and categories as str). Keys of retired (inactive) definitions are kept
    as they are. Unless ``partial``, every required attribute must have a value. Raises
    ValidationError keyed ``attributes.<key>``. ``definitions`` (key -> definition) lets bulk
    callers load the definitions once.
    """
    if definitions is None:
        definitions = active_definitions()
    if not isinstance(values, dict):
        raise ValidationError({"attributes": [_("Custom attributes must be a mapping of key to value.")]})
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    retired: set[str] | None = None
    for key, value in values.items():
        key = str(key)
        definition = definitions.get(key)
        if definition is None:
            if retired is None:
                retired = set(AttributeDefinition.objects.filter(active=False).values_list("key", flat=True))
            if key in retired:
                cleaned[key] = value
                continue
            errors[f"attributes.{key}"] = [_("There is no custom attribute %(key)s.") % {"key": key[:60]}]
            continue
        if is_blank(value):
            continue
        try:
            cleaned[key] = _clean_one(definition, value)
        except BadValue as exc:
            errors[f"attributes.{key}"] = [str(exc)]
    if not partial:
        for key, definition in definitions.items():
            if definition.required and key not in cleaned and f"attributes.{key}" not in errors:
                errors[f"attributes.{key}"] = [_("%(label)s is required.") % {"label": definition.label}]
    if errors:
        raise ValidationError(errors)
    return cleaned


class AttributeTypeGuess:
    """Streaming type inference: feed values one at a time, then ask for the type and choices."""

    def __init__(self) -> None:
        self.count = 0
        self.number = self.date = self.boolean = True
        self.distinct: dict[str, int] = {}
        self.too_many = False

    def add(self, value) -> None:
        if is_blank(value):
            return
        self.count += 1
        if self.boolean:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.boolean = False  # a numeric cell is a number, even if it is 0 or 1
            else:
                try:
                    parse_bool(value)
                except BadValue:
                    self.boolean = False
        if self.number:
            try:
                parse_decimal(value, places=6, max_digits=24)
            except BadValue:
                self.number = False
        if self.date:
            if isinstance(value, (dt.date, dt.datetime)) or (isinstance(value, str) and not value.strip().isdigit()):
                try:
                    parse_date(value)
                except BadValue:
                    self.date = False
            else:
                self.date = False
        if not self.too_many:
            try:
                text = clean_text(value, max_length=TEXT_MAX_LENGTH)
            except BadValue:
                text = ""
            self.distinct[text] = self.distinct.get(text, 0) + 1
            if len(self.distinct) > CATEGORY_MAX_CHOICES:
                self.too_many = True
                self.distinct = {}

    @property
    def type(self) -> str:
        if self.count == 0:
            return AttributeType.TEXT
        if self.boolean:
            return AttributeType.BOOLEAN
        if self.number:
            return AttributeType.NUMBER
        if self.date:
            return AttributeType.DATE
        if not self.too_many and len(self.distinct) * 2 <= self.count and self.count >= 4:
            return AttributeType.CATEGORY
        return AttributeType.TEXT

    @property
    def choices(self) -> list[str]:
        return sorted(self.distinct) if self.type == AttributeType.CATEGORY else []


def infer_attribute_type(values: Iterable) -> str:
    """number, date, boolean, category (few repeated values) or text, ignoring blanks."""
    guess = AttributeTypeGuess()
    for value in values:
        guess.add(value)
    return str(guess.type)
