"""Custom attribute values: validated and normalised against their definitions; types inferred."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from customers.attributes import clean_attribute_values, infer_attribute_type
from customers.models import AttributeDefinition


@pytest.fixture
def definitions(db):
    AttributeDefinition.objects.create(key="capital", label="Capital", type="number", min_value=Decimal("0"),
                                       max_value=Decimal("1000000000"), required=True)
    AttributeDefinition.objects.create(key="tier", label="Tier", type="category", choices=["Gold", "Silver"])
    AttributeDefinition.objects.create(key="founded", label="Founded", type="date")
    AttributeDefinition.objects.create(key="listed", label="Listed", type="boolean")
    AttributeDefinition.objects.create(key="note", label="Note", type="text")
    AttributeDefinition.objects.create(key="legacy", label="Legacy", type="text", active=False)


def test_it_normalises_values(definitions):
    cleaned = clean_attribute_values({"capital": "1,500,000.50", "tier": "gold", "founded": "2001/5/1",
                                      "listed": "是", "note": "  hello ", "legacy": "kept"})

    assert cleaned == {"capital": 1500000.5, "tier": "Gold", "founded": "2001-05-01", "listed": True,
                       "note": "hello", "legacy": "kept"}


def test_it_accepts_native_values(definitions):
    cleaned = clean_attribute_values({"capital": 12, "founded": dt.date(2020, 1, 2), "listed": False})

    assert cleaned == {"capital": 12.0, "founded": "2020-01-02", "listed": False}


def test_it_reports_every_bad_value_by_key(definitions):
    with pytest.raises(ValidationError) as caught:
        clean_attribute_values({"capital": "-5", "tier": "Bronze", "founded": "yesterday", "listed": "maybe",
                                "colour": "red"})

    assert set(caught.value.message_dict) == {"attributes.capital", "attributes.tier", "attributes.founded",
                                              "attributes.listed", "attributes.colour"}


def test_it_requires_required_values_unless_partial(definitions):
    with pytest.raises(ValidationError) as caught:
        clean_attribute_values({"tier": "Gold"})
    assert list(caught.value.message_dict) == ["attributes.capital"]

    assert clean_attribute_values({"tier": "Gold", "note": ""}, partial=True) == {"tier": "Gold"}


@pytest.mark.parametrize(("values", "expected"), [
    (["1", "2.5", "1,000"], "number"),
    (["2026-01-01", "2026/02/03", ""], "date"),
    (["yes", "no", "是"], "boolean"),
    (["a", "b", "a", "b", "a"], "category"),
    (["alpha", "beta", "gamma"], "text"),
    ([], "text"),
])
def test_it_infers_types(values, expected):
    assert infer_attribute_type(values) == expected


def test_it_imports_the_attributes_module_first_without_the_importers():
    """customers.attributes and customers.importers share customers.parsing instead of importing each other."""
    import subprocess
    import sys

    code = ("import os, sys, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'creditrisk.settings'); "
            "django.setup(); import customers.attributes; "
            "assert 'customers.importers' not in sys.modules, 'attributes pulls in the importers'; "
            "import customers.importers; import customers.services")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
