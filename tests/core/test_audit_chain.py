"""The audit log is hash-chained and verify_audit detects every kind of tampering."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from creditrisk.core.audit import GENESIS_HASH, audit_record, audit_verify
from creditrisk.core.models import AuditEvent


def _seed_events(n: int = 5):
    return [
        audit_record(actor=None, action="customer.update", subject_type="customers.customer", subject_id=i,
                     subject_label=f"C{i}", before={"limit": "10.00"}, after={"limit": f"{i}0.00", "ok": True},
                     reason="test")
        for i in range(1, n + 1)
    ]


def _tamper(sql: str, params: list) -> None:
    """Change the table behind the app's back (on PostgreSQL the guard trigger must be bypassed first)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_it_links_each_event_to_the_previous_one():
    events = _seed_events(3)
    assert events[0].prev_hash == GENESIS_HASH
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert list(audit_verify()) == []


@pytest.mark.django_db
def test_verify_audit_passes_on_an_intact_chain(capsys):
    _seed_events(4)
    call_command("verify_audit")
    assert "4 entries verified" in capsys.readouterr().out


@pytest.mark.django_db
def test_verify_audit_names_an_altered_entry():
    _seed_events(5)
    _tamper("UPDATE core_auditevent SET reason = %s WHERE seq = %s", ["edited", 3])
    with pytest.raises(CommandError, match="#3 was altered"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_audit_names_a_deleted_entry():
    _seed_events(5)
    _tamper("DELETE FROM core_auditevent WHERE seq = %s", [2])
    with pytest.raises(CommandError, match="#2 is missing"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_audit_notices_entries_cut_from_the_end():
    _seed_events(5)
    _tamper("DELETE FROM core_auditevent WHERE seq >= %s", [4])
    with pytest.raises(CommandError, match="#4…#5 are missing"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_verify_audit_notices_a_rehashed_forgery():
    """Rewriting an entry and recomputing its own hash still breaks the link from the next entry."""
    _seed_events(4)
    event = AuditEvent.objects.get(seq=2)
    event.reason = "forged"
    forged_hash = event.compute_hash()
    _tamper("UPDATE core_auditevent SET reason = %s, hash = %s WHERE seq = %s", ["forged", forged_hash, 2])
    with pytest.raises(CommandError, match="#3 does not link"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_the_database_refuses_updates_and_deletes_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the guard trigger is PostgreSQL's; SQLite relies on verify_audit")
    _seed_events(2)
    for sql in ("UPDATE core_auditevent SET reason = 'x' WHERE seq = 1", "DELETE FROM core_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql)
    assert list(audit_verify()) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain():
    """Threads appending at once must leave one unbroken chain."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import close_old_connections

    def write(i):
        try:
            for j in range(5):
                audit_record(actor=None, action="test.concurrent", subject_type="t", subject_id=f"{i}-{j}")
        finally:
            close_old_connections()
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    assert AuditEvent.objects.count() == 20
    assert list(audit_verify()) == []
