"""verify_audit: walk the hash-chained audit log end to end."""

from django.core.management.base import BaseCommand, CommandError

from creditrisk.core.audit import audit_verify
from creditrisk.core.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exits non-zero naming the first broken or missing entry."

    def handle(self, *args, **options):
        for problem in audit_verify():
            raise CommandError(f"Audit chain broken: {problem.message}.")
        count = AuditEvent.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {count} entries verified."))
