"""Settings: the index page and managers' custom attribute definitions (list, create, edit, deactivate)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from creditrisk.core.models import AuditEvent
from customers.models import AttributeDefinition, AttributeType
from tests.customers.factories import AttributeDefinitionFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/settings/attributes/"


def test_it_links_the_settings_index_to_the_attributes_page(client_for, manager):
    response = client_for(manager).get(reverse("settings"))
    assert response.status_code == 200
    assert f'href="{LIST_URL}"'.encode() in response.content


@pytest.mark.parametrize("persona", ["analyst", "ops", "auditor", "outsider"])
def test_it_keeps_settings_to_managers(request, client_for, persona):
    definition = AttributeDefinitionFactory(key="channel")
    client = client_for(request.getfixturevalue(persona))
    assert client.get(reverse("settings")).status_code == 403
    assert client.get(LIST_URL).status_code == 403
    assert client.post(reverse("attributes:create"), {"key": "x", "label": "X", "type": "text"}).status_code == 403
    assert client.post(reverse("attributes:toggle", args=[definition.pk])).status_code == 403
    assert AttributeDefinition.objects.count() == 1
    assert AttributeDefinition.objects.get().active


def test_it_lists_definitions(client_for, manager):
    AttributeDefinitionFactory(key="channel", label="Sales channel", type=AttributeType.CATEGORY,
                               choices=["direct", "online"])
    body = client_for(manager).get(LIST_URL).content.decode()
    assert "Sales channel" in body
    assert "direct, online" in body


def test_it_creates_a_category_attribute_with_an_audit_event(client_for, manager):
    response = client_for(manager).post(reverse("attributes:create"), {
        "key": "channel", "label": "Sales channel", "label_zh": "销售渠道", "type": "category",
        "choices_text": "direct\nonline\n\ndirect", "help_text": "", "active": "on"})
    assert response.status_code == 302
    definition = AttributeDefinition.objects.get()
    assert definition.choices == ["direct", "online"]
    assert definition.active
    assert AuditEvent.objects.filter(action="attribute_definition.create").count() == 1


def test_it_shows_service_errors_and_writes_nothing(client_for, manager):
    client = client_for(manager)
    response = client.post(reverse("attributes:create"), {"key": "tier", "label": "Tier", "type": "category",
                                                          "choices_text": "", "active": "on"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "choices" in response.context["form"].errors or response.context["form"].non_field_errors()
    assert response.content.decode().lstrip().startswith('<form id="attribute-form"')
    response = client.post(reverse("attributes:create"), {"key": "name", "label": "Name", "type": "text",
                                                          "active": "on"})
    assert "key" in response.context["form"].errors
    response = client.post(reverse("attributes:create"), {"key": "n", "label": "N", "type": "number",
                                                          "min_value": "5", "max_value": "1", "active": "on"})
    assert response.context["form"].errors
    assert not AttributeDefinition.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_edits_but_never_changes_key_or_type(client_for, manager):
    definition = AttributeDefinitionFactory(key="employees", label="Staff", type=AttributeType.NUMBER)
    response = client_for(manager).post(reverse("attributes:edit", args=[definition.pk]), {
        "key": "other", "label": "Employees", "type": "text", "min_value": "0", "active": "on"})
    assert response.status_code == 302
    definition.refresh_from_db()
    assert (definition.key, definition.type, definition.label) == ("employees", "number", "Employees")
    assert definition.min_value == 0


def test_it_deactivates_and_reactivates(client_for, manager):
    definition = AttributeDefinitionFactory(key="channel")
    client = client_for(manager)
    assert client.post(reverse("attributes:toggle", args=[definition.pk])).status_code == 302
    definition.refresh_from_db()
    assert not definition.active
    assert 'name="attr_channel"' not in client.get(reverse("customers:create")).content.decode()
    client.post(reverse("attributes:toggle", args=[definition.pk]))
    definition.refresh_from_db()
    assert definition.active
    assert AuditEvent.objects.filter(action="attribute_definition.update").count() == 2
