"""train_model: train a PD model on the portfolio's history (or imported outcomes) and store it as a new version."""

from __future__ import annotations

import datetime as dt
import json
import time

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from creditrisk.core.exceptions import DomainError

SUMMARY_KEYS = ("auc", "gini", "ks", "brier", "n_train", "n_test", "n_bad_train", "n_bad_test", "bad_rate_train",
                "bad_rate_test", "auc_train", "validation", "train_from", "train_to", "test_from", "test_to",
                "observation_from", "observation_to", "base_log_odds")


class Command(BaseCommand):
    help = ("Train a PD model on the invoice history (derived labels: 90+ days past due or written off within "
            "12 months) or on imported outcome flags, evaluate it on data it did not train on and store it as a "
            "new model version. The first model becomes the champion; later ones are challengers unless --promote.")

    def add_arguments(self, parser):
        parser.add_argument("--algorithm", choices=["logistic", "gbm"], default="logistic")
        parser.add_argument("--labels", choices=["derived", "imported"], default="derived")
        parser.add_argument("--promote", action="store_true", help="make the new model the champion")
        parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
        parser.add_argument("--months", type=int, default=24,
                            help="derived labels: number of monthly observation dates (default 24)")
        parser.add_argument("--as-of", dest="as_of", help="derived labels: the date outcomes are known to, YYYY-MM-DD")

    def handle(self, *args, **options):
        from scoring.ml.train import TrainingError
        from scoring.training import model_train

        as_of = self._as_of(options["as_of"])
        started = time.perf_counter()
        try:
            version = model_train(algorithm=options["algorithm"], labels=options["labels"], actor=None,
                                  promote=options["promote"], as_of=as_of, months_back=options["months"])
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        metrics = version.metrics
        report = {
            "version": version.version,
            "status": version.status,
            "algorithm": version.algorithm,
            "labels": version.label_source,
            **{key: metrics.get(key) for key in SUMMARY_KEYS},
            "calibration": metrics.get("calibration", []),
            "feature_importance": metrics.get("feature_importance", [])[:10],
            "psi": (metrics.get("psi") or {}).get("score"),
            "model": metrics.get("model"),
            "features": len(version.features),
            "artefact_sha256": version.artefact_sha256,
            "seconds": round(elapsed, 2),
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            return
        self._print_summary(report)

    def _as_of(self, value: str | None) -> dt.date | None:
        if not value:
            return None
        try:
            as_of = dt.date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"--as-of {value!r} is not a date; use YYYY-MM-DD.") from None
        if as_of > timezone.localdate():
            raise CommandError(f"--as-of {value} is in the future.")
        return as_of

    def _print_summary(self, r: dict) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(
            f"Model v{r['version']} ({r['algorithm']}, {r['labels']} labels) stored as {r['status']} "
            f"in {r['seconds']:.1f} s."))
        write(f"  validation: {r['validation']}; train {r['n_train']} rows ({r['n_bad_train']} defaults), "
              f"test {r['n_test']} rows ({r['n_bad_test']} defaults)")
        if r.get("test_from"):
            write(f"  observation dates: train {r['train_from']} – {r['train_to']}, "
                  f"test {r['test_from']} – {r['test_to']}")
        write(f"  AUC {r['auc']:.3f}  Gini {r['gini']:.3f}  KS {r['ks']:.3f}  Brier {r['brier']:.4f}"
              f"  (training AUC {r['auc_train']:.3f})")
        write("  calibration by decile (n, mean PD, observed default rate):")
        for row in r["calibration"]:
            write(f"    {row['bin']:>2}  {row['n']:>7}  {row['mean_pd']:.4f}  {row['observed_rate']:.4f}")
        if r["feature_importance"]:
            write("  most important features (drop in AUC when shuffled):")
            for item in r["feature_importance"][:5]:
                write(f"    {item['feature']:<32} {item['importance']:.4f}")
        if r["psi"]:
            write(f"  score PSI training → today: {r['psi']['psi']:.3f} ({r['psi']['level']})")
        write(f"  artefact SHA-256 {r['artefact_sha256']}")
