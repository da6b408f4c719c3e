"""Writing and verifying the hash-chained audit log.

Every service that changes credit-relevant data calls :func:`audit_record` inside its own
transaction. Appends are serialised (an advisory lock on PostgreSQL; SQLite's write lock, taken at
BEGIN IMMEDIATE), so concurrent writers extend one chain and never fork it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from creditrisk.core.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64


def _jsonable(value):
    """Round-trip through JSON so what we hash is exactly what the database gives back."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict:
    """A JSON-safe dict of a model instance's concrete fields, for before/after."""
    data = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields and field.attname not in fields:
            continue
        value = getattr(instance, field.attname)
        if isinstance(value, Decimal):
            value = str(value)
        elif hasattr(value, "name") and hasattr(value, "storage"):  # FieldFile (.url raises when empty)
            value = value.name or None
        data[field.attname] = value
    return _jsonable(data)


def diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Keep only the keys whose value changed (for updates)."""
    if not before or not after:
        return before, after
    changed = {key for key in set(before) | set(after) if before.get(key) != after.get(key)}
    return {k: before.get(k) for k in sorted(changed)}, {k: after.get(k) for k in sorted(changed)}


def _lock_head() -> AuditChainHead:
    # PostgreSQL: the head's row lock serialises appends. SQLite: every transaction is BEGIN IMMEDIATE,
    # which already holds the database's single write lock.
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        head, _ = AuditChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


@transaction.atomic
def audit_record(
    *,
    actor,
    action: str,
    subject_type: str,
    subject_id,
    subject_label: str = "",
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEvent:
    head = _lock_head()
    event = AuditEvent(
        seq=head.seq + 1,
        created_at=timezone.now(),
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=(actor.get_username() if actor is not None and actor.is_authenticated else "system"),
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        subject_label=str(subject_label)[:255],
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason or "",
        prev_hash=head.hash,
    )
    event.hash = event.compute_hash()
    event.save(force_insert=True)
    head.seq, head.hash = event.seq, event.hash
    head.save(update_fields=["seq", "hash"])
    return event


def audit_model_change(*, actor, action: str, instance: models.Model, before: dict | None, reason: str = "",
                       fields: list[str] | None = None) -> AuditEvent:
    """Record a create/update/delete of one model instance with its before/after snapshot."""
    after = None if action.endswith(".delete") else snapshot(instance, fields)
    if before is not None and after is not None:
        before, after = diff(before, after)
    return audit_record(
        actor=actor,
        action=action,
        subject_type=instance._meta.label_lower,
        subject_id=instance.pk,
        subject_label=str(instance),
        before=before,
        after=after,
        reason=reason,
    )


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    message: str


def audit_verify(*, chunk_size: int = 5000) -> Iterator[ChainProblem]:
    """Walk the chain in order; yield the first problem found (and stop), or nothing if intact."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if event.seq != expected_seq:
            yield ChainProblem(expected_seq, f"entry #{expected_seq} is missing (next entry found is #{event.seq})")
            return
        if event.prev_hash != prev_hash:
            yield ChainProblem(event.seq, f"entry #{event.seq} does not link to entry #{event.seq - 1}")
            return
        if event.compute_hash() != event.hash:
            yield ChainProblem(event.seq, f"entry #{event.seq} was altered (its content no longer matches its hash)")
            return
        prev_hash = event.hash
        expected_seq += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.seq != expected_seq - 1:
        yield ChainProblem(expected_seq, f"entries #{expected_seq}…#{head.seq} are missing from the end of the log")
    elif head is not None and head.hash != prev_hash:
        yield ChainProblem(expected_seq - 1, f"entry #{expected_seq - 1} does not match the recorded head of the chain")
