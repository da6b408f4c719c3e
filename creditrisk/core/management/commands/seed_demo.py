"""seed_demo: a realistic demo portfolio and demo users for every role."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from creditrisk.core.demo import demo_users_create


class Command(BaseCommand):
    help = ("Create demo users for every role and a deterministic demo portfolio (customers, groups, invoices, "
            "payments, orders, financial statements, credit reports). The portfolio is only built into an empty "
            "customer table: with existing customers the command refuses, or with --if-empty leaves them alone.")

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300, help="number of customers (default 300)")
        parser.add_argument("--months", type=int, default=24, help="months of invoice history (default 24)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument("--if-empty", action="store_true", help="leave an existing portfolio alone instead of refusing")
        parser.add_argument("--force", action="store_true", help="allow seeding in production")
        parser.add_argument("--no-scores", action="store_true",
                            help="do not train a first PD model and score the portfolio after seeding")

    def handle(self, *args, **options):
        if settings.PRODUCTION and not options["force"]:
            raise CommandError("Refusing to seed demo data in production (pass --force if you really mean it).")
        if options["customers"] < 0 or options["months"] < 1:
            raise CommandError("--customers must be >= 0 and --months >= 1.")
        users = demo_users_create()  # only the missing ones
        seeded = self._seed_portfolio(options)
        if seeded and not options["no_scores"]:
            self._score_portfolio(options)
        self._print_logins(users)

    def _seed_portfolio(self, options):
        from customers.demo import MAX_CUSTOMERS, portfolio_exists, seed_portfolio

        if options["customers"] == 0:
            return False
        if options["customers"] > MAX_CUSTOMERS:
            raise CommandError(f"--customers must be at most {MAX_CUSTOMERS:,}.")
        if portfolio_exists():
            if options["if_empty"]:
                self.stdout.write("Customers already exist; the demo portfolio is left as it is.")
                return False
            raise CommandError("The database already holds customers; seed_demo only builds a portfolio into an "
                               "empty customer table (pass --if-empty to skip it, or --customers 0).")
        seed_portfolio(customers=options["customers"], months=options["months"], seed=options["seed"],
                       stdout=self.stdout)
        return True

    # Above this size training a first model belongs to an operator's deliberate `train_model` run.
    AUTO_TRAIN_MAX_CUSTOMERS = 20_000

    def _score_portfolio(self, options):
        """Train a first PD model (it becomes champion) and score everyone, so the demo opens graded."""
        from django.core.exceptions import ValidationError
        from django.utils import timezone

        from creditrisk.core.exceptions import DomainError
        from scoring.ml.train import TrainingError
        from scoring.services import scoring_run_portfolio
        from scoring.training import model_train

        if options["customers"] <= self.AUTO_TRAIN_MAX_CUSTOMERS:
            try:
                model = model_train(algorithm="logistic", actor=None)
            except (DomainError, ValidationError, TrainingError) as exc:
                self.stdout.write(f"No PD model trained ({exc}); grades come from the scorecards alone.")
            else:
                self.stdout.write(f"Trained PD model v{model.version} ({model.algorithm}): "
                                  f"AUC {model.metrics.get('auc', float('nan')):.3f} on held-out dates.")
        else:
            self.stdout.write("Large portfolio: train a PD model with `manage.py train_model` when ready.")
        run = scoring_run_portfolio(as_of=timezone.localdate(), actor=None)
        self.stdout.write(f"Scored {run.counts.get('scored', 0)} customers (scoring run {run.pk}).")

    def _print_logins(self, users):
        self.stdout.write(self.style.SUCCESS("Demo logins (username / password / role):"))
        for username, password, role in users:
            self.stdout.write(f"  {username:<12} {password:<22} {role}")
