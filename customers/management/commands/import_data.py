"""import_data KIND FILE: validate a CSV/XLSX file and, unless it is a dry run or a row is bad, import it."""

from __future__ import annotations

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from customers.importers import KINDS, ImportFileError, import_file


class Command(BaseCommand):
    help = ("Import customers, invoices, payments, orders, financials, credit_reports or outcomes from a CSV or "
            "XLSX file. Every bad row is listed and nothing is written if any row is bad.")

    def add_arguments(self, parser):
        parser.add_argument("kind", help=f"one of: {', '.join(KINDS)}")
        parser.add_argument("file", help="path of the CSV or XLSX file")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
        parser.add_argument("--encoding", help="text encoding of a CSV file (default: detected)")
        parser.add_argument("--create-attributes", action="store_true",
                            help="define unknown customer columns as custom attributes (type inferred)")
        parser.add_argument("--user", help="username recorded in the audit trail (default: system)")

    def handle(self, *args, **options):
        kind = options["kind"]
        if kind not in KINDS:
            raise CommandError(f"Unknown kind {kind!r}; use one of: {', '.join(KINDS)}.")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} does not exist or is not a file.")
        if options["create_attributes"] and kind != "customers":
            raise CommandError("--create-attributes only applies to customer files.")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"], is_active=True).first()
            if actor is None:
                raise CommandError(f"There is no active user {options['user']!r}.")
        started = time.monotonic()
        try:
            result = import_file(kind=kind, path=path, file_name=path.name, dry_run=options["dry_run"],
                                 encoding=options["encoding"], create_attributes=options["create_attributes"],
                                 actor=actor)
        except ImportFileError as exc:
            raise CommandError(f"{path.name}: {exc.message}") from None
        elapsed = time.monotonic() - started
        for attribute in result.new_attributes:
            self.stdout.write(f"new attribute {attribute['key']} ({attribute['type']})"
                              + (f": {', '.join(attribute['choices'])}" if attribute["choices"] else ""))
        if result.error_count:
            for error in result.errors:
                column = f", column {error.column}" if error.column else ""
                self.stderr.write(f"row {error.row}{column}: {error.message}")
            if result.more_errors:
                self.stderr.write(f"… and {result.more_errors} more errors")
            raise CommandError(f"{path.name}: {result.error_count} errors in {result.rows} rows; nothing was written.")
        if result.dry_run:
            self.stdout.write(self.style.SUCCESS(
                f"{path.name}: {result.rows} rows are valid (dry run, nothing written) in {elapsed:.1f}s."))
            return
        counts = ", ".join(f"{name} {value}" for name, value in result.counts.items())
        self.stdout.write(self.style.SUCCESS(f"{path.name}: imported {result.rows} {kind} rows in {elapsed:.1f}s: {counts}."))
