"""Shared models: the base model and the append-only, hash-chained audit log."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True

    def clean_fields(self, exclude=None):
        """Refuse NUL characters in text: PostgreSQL cannot store them, so they must be a field error
        before full_clean's uniqueness queries send them to the database."""
        from django.core.exceptions import ValidationError

        errors = {}
        for field in self._meta.concrete_fields:
            if exclude and field.name in exclude:
                continue
            if isinstance(field, models.CharField | models.TextField):
                value = getattr(self, field.attname)
                if isinstance(value, str) and "\x00" in value:
                    errors[field.name] = [_("Null characters are not allowed.")]
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


def canonical_json(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class AuditEvent(models.Model):
    """One change to credit-relevant data. Rows are only ever appended (see creditrisk.core.audit)."""

    seq = models.BigIntegerField(_("sequence"), unique=True, editable=False)
    created_at = models.DateTimeField(_("time"), db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    subject_type = models.CharField(_("subject type"), max_length=80)
    subject_id = models.CharField(_("subject id"), max_length=120)
    subject_label = models.CharField(_("subject"), max_length=255, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), null=True, blank=True, encoder=DjangoJSONEncoder)
    reason = models.TextField(_("reason"), blank=True)
    prev_hash = models.CharField(max_length=64, unique=True, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["subject_type", "subject_id", "-seq"], name="audit_subject_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_seq_positive")]
        permissions = [
            ("view_audit", "Can read the audit trail"),
            ("run_import", "Can import data files"),
            ("manage_settings", "Can change credit policy and settings"),
            ("manage_jobs", "Can schedule and run background jobs"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.subject_type}:{self.subject_id}"

    def payload(self) -> dict:
        """The fields the hash covers, in a form that reads back identically from every database."""
        return {
            "seq": self.seq,
            "created_at": _utc_iso(self.created_at),
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "subject_type": self.subject_type,
            "subject_id": str(self.subject_id),
            "subject_label": self.subject_label,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }

    def compute_hash(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.prev_hash.encode("ascii"))
        digest.update(canonical_json(self.payload()).encode("utf-8"))
        return digest.hexdigest()


def _utc_iso(moment) -> str:
    from datetime import UTC

    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditChainHead(models.Model):
    """The chain's last entry, written in the same transaction as each append.

    Its row lock serialises appends, and it lets verify_audit notice entries cut from the tail.
    """

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single_row")]

    def __str__(self) -> str:
        return f"audit head #{self.seq}"
