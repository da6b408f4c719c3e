"""schedules_install: create the default periodic schedules that do not exist yet."""

from django.core.management.base import BaseCommand

from creditrisk.schedules import schedules_install


class Command(BaseCommand):
    help = "Create the default periodic schedules (never overwrites an operator's change)."

    def handle(self, *args, **options):
        created = schedules_install()
        self.stdout.write(f"{created} default schedule(s) created.")
