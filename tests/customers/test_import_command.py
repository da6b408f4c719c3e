"""manage.py import_data: exit codes, every bad row printed, nothing written on failure."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from creditrisk.core.models import AuditEvent
from customers.models import Invoice
from tests.customers.factories import CustomerFactory

HEADER = "customer_code,number,issue_date,due_date,amount,currency\n"


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_data", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_it_imports_and_prints_counts(tmp_path):
    CustomerFactory(code="C001")
    path = tmp_path / "inv.csv"
    path.write_text(HEADER + "C001,I-1,2026-01-01,2026-01-31,10,CNY\n")

    out, _err = run("invoices", str(path))

    assert "created 1" in out
    assert Invoice.objects.count() == 1
    out, _err = run("invoices", str(path))
    assert "unchanged 1" in out


@pytest.mark.django_db
def test_it_dry_runs_without_writing(tmp_path):
    CustomerFactory(code="C001")
    path = tmp_path / "inv.csv"
    path.write_text(HEADER + "C001,I-1,2026-01-01,2026-01-31,10,CNY\n")

    out, _err = run("invoices", str(path), "--dry-run")

    assert "dry run" in out
    assert not Invoice.objects.exists()
    assert AuditEvent.objects.get(action="import.invoices").after["dry_run"] is True


@pytest.mark.django_db
def test_it_exits_non_zero_listing_every_bad_row(tmp_path):
    CustomerFactory(code="C001")
    path = tmp_path / "inv.csv"
    path.write_text(HEADER + "C001,I-1,2026-01-01,2026-01-31,10,CNY\nC002,I-2,2026-01-01,2026-01-31,10,CNY\n"
                    "C001,I-3,2026-01-01,2025-12-31,0,CNY\n")
    err = io.StringIO()

    with pytest.raises(CommandError, match="3 errors in 3 rows; nothing was written"):
        call_command("import_data", "invoices", str(path), stdout=io.StringIO(), stderr=err)

    assert sorted(err.getvalue().splitlines()) == [
        "row 3, column customer_code: Unknown customer code C002.",
        "row 4, column amount: The amount must be positive.",
        "row 4, column due_date: The due date is before the issue date.",
    ]
    assert not Invoice.objects.exists()


@pytest.mark.django_db
def test_it_reads_a_gbk_file_with_an_explicit_encoding(tmp_path):
    CustomerFactory(code="C001")
    path = tmp_path / "inv.csv"
    path.write_bytes(("客户编码,发票号,开票日期,到期日,金额\nC001,发票一,2026-01-01,2026-01-31,10\n").encode("gbk"))

    run("invoices", str(path), "--encoding", "gbk")

    assert Invoice.objects.get().number == "发票一"


@pytest.mark.django_db
@pytest.mark.parametrize(("args", "message"), [
    (("widgets", "x.csv"), "Unknown kind"),
    (("invoices", "missing.csv"), "does not exist"),
    (("invoices", "{empty}"), "empty"),
    (("invoices", "{empty}", "--encoding", "klingon"), "empty"),
    (("invoices", "{header}", "--encoding", "klingon"), "Unknown text encoding"),
    (("invoices", "{header}", "--create-attributes"), "only applies to customer"),
    (("invoices", "{header}"), "Required columns are missing: due_date"),
    (("invoices", "{header}", "--user", "ghost"), "no active user"),
])
def test_it_fails_clearly_on_bad_arguments(tmp_path, args, message):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("customer_code,number,issue_date,amount\nC1,I1,2026-01-01,4\n")
    args = [a.format(empty=tmp_path / "empty.csv", header=tmp_path / "header.csv") for a in args]

    with pytest.raises(CommandError, match=message):
        run(*args)
