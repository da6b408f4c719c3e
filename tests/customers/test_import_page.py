"""The /imports/ page: upload, dry run, commit without re-upload, templates, permissions."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from creditrisk.core.audit import audit_record
from creditrisk.core.models import AuditEvent
from customers.models import AttributeDefinition, Customer, Invoice
from tests.customers.factories import CustomerFactory

GOOD = "customer_code,number,issue_date,due_date,amount,currency\nC001,INV-1,2026-03-01,2026-03-31,\"1,000.00\",CNY\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(text: str | bytes, name: str = "invoices.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8") if isinstance(text, str) else text, "text/csv")


@pytest.mark.django_db
def test_it_shows_the_page_with_templates_and_recent_imports(client_for, analyst, django_assert_max_num_queries):
    audit_record(actor=None, action="import.invoices", subject_type="import", subject_id="x", subject_label="old.csv",
                 after={"kind": "invoices", "rows": 3, "committed": True, "counts": {}})
    client = client_for(analyst)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("imports"))

    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("imports_template", args=["invoices"]) in body
    assert "old.csv" in body
    assert 'name="create_attributes"' not in body  # managers only


@pytest.mark.django_db
def test_it_dry_runs_then_commits_the_staged_file(analyst):
    CustomerFactory(code="C001")
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)
    page = client.get(reverse("imports"))
    token = page.cookies["csrftoken"].value

    dry = client.post(reverse("imports"), {"kind": "invoices", "file": upload(GOOD), "dry_run": "on",
                                           "csrfmiddlewaretoken": token}, HTTP_HX_REQUEST="true")

    assert dry.status_code == 200
    assert "Commit this file" in dry.content.decode()
    assert not Invoice.objects.exists()
    sha256 = dry.context["sha256"]
    refused = client.post(reverse("imports_commit"), {"sha256": sha256, "kind": "invoices"})
    assert refused.status_code == 403  # no CSRF token

    committed = client.post(reverse("imports_commit"), {"sha256": sha256, "kind": "invoices", "file_name": "x.csv",
                                                        "csrfmiddlewaretoken": token}, HTTP_HX_REQUEST="true")

    assert committed.status_code == 200
    assert committed.context["result"].committed
    assert Invoice.objects.get().amount == 1000
    assert list(AuditEvent.objects.filter(action="import.invoices").values_list("reason", flat=True)) == ["", "dry run"]
    # The staged copy is gone once committed.
    again = client.post(reverse("imports_commit"), {"sha256": sha256, "kind": "invoices",
                                                    "csrfmiddlewaretoken": token})
    assert again.status_code == 400


@pytest.mark.django_db
def test_it_lists_every_bad_row_and_writes_nothing(client_for, analyst):
    CustomerFactory(code="C001")
    text = GOOD + "C404,INV-2,2026-03-01,2026-03-31,5,CNY\nC001,INV-3,2026-03-01,2026-02-01,5,CNY\n"

    response = client_for(analyst).post(reverse("imports"), {"kind": "invoices", "file": upload(text)},
                                        HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    errors = [(e.row, e.column) for e in response.context["result"].errors]
    assert errors == [(3, "customer_code"), (4, "due_date")]
    assert 'id="import-errors"' in response.content.decode()
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_it_commits_directly_without_dry_run(client_for, ops):
    CustomerFactory(code="C001")

    response = client_for(ops).post(reverse("imports"), {"kind": "invoices", "file": upload(GOOD)})

    assert response.status_code == 200
    assert response.context["result"].counts["created"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content", "message"), [
    ("invoices.pdf", b"%PDF-1.4", "Upload a .csv"),
    ("invoices.xlsx", b"a,b\n1,2\n", "not an Excel"),
    ("invoices.csv", b"PK\x03\x04zzzz", "spreadsheet"),
])
def test_it_refuses_wrong_uploads(client_for, analyst, name, content, message):
    response = client_for(analyst).post(reverse("imports"), {"kind": "invoices", "file": upload(content, name)})

    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.django_db
def test_it_refuses_files_over_the_size_limit(client_for, analyst, settings):
    settings.CREDITRISK_MAX_UPLOAD_BYTES = 100

    response = client_for(analyst).post(reverse("imports"), {"kind": "invoices", "file": upload(GOOD * 5)})

    assert response.status_code == 400
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_it_shows_a_file_error_clearly(client_for, analyst):
    response = client_for(analyst).post(reverse("imports"), {"kind": "invoices", "file": upload("a,b\n1,2\n")},
                                        HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "Unknown columns: a, b" in response.content.decode()


@pytest.mark.django_db
def test_it_lets_only_managers_create_attributes(client_for, analyst, manager):
    text = "code,name,tier\nC1,A,gold\nC2,B,gold\n"
    analyst_post = client_for(analyst).post(reverse("imports"), {"kind": "customers", "file": upload(text),
                                                                 "create_attributes": "on"})
    assert "Unknown columns: tier" in analyst_post.content.decode()
    assert not AttributeDefinition.objects.exists()
    commit = client_for(analyst).post(reverse("imports_commit"), {"sha256": "0" * 64, "kind": "customers",
                                                                  "create_attributes": "1"})
    assert commit.status_code == 403

    response = client_for(manager).post(reverse("imports"), {"kind": "customers", "file": upload(text),
                                                             "create_attributes": "on"})

    assert response.context["result"].committed
    assert AttributeDefinition.objects.get().key == "tier"
    assert Customer.objects.get(code="C1").attributes == {"tier": "gold"}


@pytest.mark.django_db
def test_it_cannot_commit_another_users_staged_file(client_for, analyst, analyst2):
    CustomerFactory(code="C001")
    dry = client_for(analyst).post(reverse("imports"), {"kind": "invoices", "file": upload(GOOD), "dry_run": "on"})
    sha256 = dry.context["sha256"]

    response = client_for(analyst2).post(reverse("imports_commit"), {"sha256": sha256, "kind": "invoices"})

    assert response.status_code == 400
    assert not Invoice.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["auditor", "outsider"])
def test_it_forbids_roles_without_imports(client_for, personas, persona):
    client = client_for(personas[persona])

    assert client.get(reverse("imports")).status_code == 403
    assert client.post(reverse("imports"), {"kind": "invoices", "file": upload(GOOD)}).status_code == 403
    assert client.post(reverse("imports_commit"), {"sha256": "0" * 64, "kind": "invoices"}).status_code == 403
    assert client.get(reverse("imports_template", args=["invoices"])).status_code == 403


@pytest.mark.django_db
def test_it_serves_templates_that_import_cleanly(client_for, analyst, tmp_path):
    client = client_for(analyst)

    response = client.get(reverse("imports_template", args=["invoices"]))
    xlsx = client.get(reverse("imports_template", args=["invoices"]) + "?format=xlsx")

    assert response["Content-Type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header[:6] == ["customer_code", "number", "issue_date", "due_date", "amount", "currency"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [cell.value for cell in sheet[1]][:2] == ["customer_code", "number"]
    assert client.get(reverse("imports_template", args=["nonsense"])).status_code == 404


@pytest.mark.django_db
def test_it_shows_upload_errors_in_the_htmx_panel(client_for, analyst):
    response = client_for(analyst).post(reverse("imports"), {"kind": "invoices", "file": upload(b"x", "a.pdf")},
                                        HTTP_HX_REQUEST="true")

    assert response.status_code == 200  # htmx swaps only 2xx
    body = response.content.decode()
    assert 'id="import-panel"' in body
    assert "Upload a .csv" in body
    assert "<html" not in body


@pytest.mark.django_db
def test_it_refreshes_the_recent_imports_out_of_band_after_a_dry_run_and_a_commit(client_for, analyst):
    CustomerFactory(code="C001")
    client = client_for(analyst)

    dry = client.post(reverse("imports"), {"kind": "invoices", "file": upload(GOOD, "fresh.csv"), "dry_run": "on"},
                      HTTP_HX_REQUEST="true")

    body = dry.content.decode()
    assert 'id="import-panel"' in body
    oob = body[body.index('id="recent-imports-card"'):]
    assert 'hx-swap-oob="true"' in oob.split(">", 1)[0]
    assert "fresh.csv" in oob
    assert "dry run" in oob
    assert "imported" not in oob

    committed = client.post(reverse("imports_commit"), {"sha256": dry.context["sha256"], "kind": "invoices",
                                                        "file_name": "fresh.csv"}, HTTP_HX_REQUEST="true")

    oob = committed.content.decode().split('id="recent-imports-card"', 1)[1]
    assert 'hx-swap-oob="true"' in oob.split(">", 1)[0]
    assert oob.count("fresh.csv") == 2
    assert "imported" in oob


@pytest.mark.django_db
def test_it_renders_the_full_page_list_without_out_of_band_markup(client_for, analyst):
    response = client_for(analyst).get(reverse("imports"))

    body = response.content.decode()
    assert 'id="recent-imports-card"' in body
    assert "hx-swap-oob" not in body
