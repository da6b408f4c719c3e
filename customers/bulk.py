"""Set-based upserts for the credit file, shared by file imports and the API's bulk sync.

Rows are validated dicts keyed by the import column names (see customers.importers.columns), with
ids resolved by customers.importers.rows.resolve_chunk. Each write looks up the existing rows of a
chunk in one query, creates the new ones with bulk_create, rewrites only the rows whose values
changed with bulk_update, and counts created / updated / unchanged: re-sending the same rows
changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from creditrisk.core.audit import audit_record
from creditrisk.core.exceptions import DomainError
from customers.models import (
    CreditReport,
    Customer,
    CustomerGroup,
    FinancialStatement,
    Invoice,
    InvoiceStatus,
    OutcomeFlag,
    Payment,
    PaymentAllocation,
    SalesOrder,
)

ZERO = Decimal("0")
CREATE_BATCH = 2000
UPDATE_BATCH = 500
LOOKUP_BATCH = 5000  # keeps every IN (...) well inside SQLite's parameter limit


@dataclass
class WriteContext:
    now: dt.datetime = field(default_factory=timezone.now)
    counts: Counter = field(default_factory=Counter)


def _batches(items: list, size: int = LOOKUP_BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


_PLAIN_TYPES = {"CharField", "TextField", "SlugField", "BooleanField", "IntegerField", "BigIntegerField",
                "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
                "ForeignKey"}


def _column_adapters(model: type[models.Model], now: dt.datetime) -> list[tuple[str, Callable, Callable]]:
    """(attname, default, adapt) per concrete column: what bulk_create does per value, computed once."""
    ops = connection.ops
    adapters = []
    for column in model._meta.concrete_fields:
        if column.primary_key:
            continue
        kind = column.get_internal_type()
        if getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
            stamp = ops.adapt_datetimefield_value(now)
            adapters.append((column.attname, lambda: None, lambda _value, stamp=stamp: stamp))
            continue
        if column.has_default() and callable(column.default):
            default = column.get_default
        else:
            fixed = column.get_default()
            default = lambda fixed=fixed: fixed  # noqa: E731
        if kind in _PLAIN_TYPES:
            adapt = _identity
        elif kind == "DateField":
            adapt = ops.adapt_datefield_value
        elif kind == "DateTimeField":
            adapt = ops.adapt_datetimefield_value
        elif kind == "DecimalField":
            adapt = lambda value, c=column: ops.adapt_decimalfield_value(value, c.max_digits, c.decimal_places)  # noqa: E731
        else:
            adapt = lambda value, c=column: c.get_db_prep_save(value, connection)  # noqa: E731
        adapters.append((column.attname, default, adapt))
    return adapters


def _identity(value):
    return value


def insert_rows(model: type[models.Model], rows: list[dict], *, now: dt.datetime) -> None:
    """INSERT plain rows (attname -> value) in batches: bulk_create without building model instances,
    which is most of bulk_create's cost for a million invoices. Database constraints still apply."""
    adapters = _column_adapters(model, now)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(column.column) for column in model._meta.concrete_fields if not column.primary_key)
    tuples = [tuple(adapt(row[name]) if name in row else adapt(default()) for name, default, adapt in adapters)
              for row in rows]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            try:
                from psycopg2.extras import execute_values
            except ImportError:  # psycopg 3: executemany pipelines well enough
                execute_values = None
            if execute_values is not None:
                for batch in _batches(tuples, CREATE_BATCH):
                    execute_values(cursor.cursor, f"INSERT INTO {table} ({columns}) VALUES %s", batch,  # noqa: S608
                                   page_size=CREATE_BATCH)
                return
        placeholders = ", ".join(["%s"] * len(adapters))
        for batch in _batches(tuples, CREATE_BATCH):
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", batch)  # noqa: S608


def _upsert(*, model: type[models.Model], rows: list[dict], existing: dict, key: Callable[[dict], tuple],
            values: Callable[[dict, models.Model | None], dict], ctx: WriteContext,
            fast_insert: bool = False) -> list[tuple[dict, models.Model]]:
    """Create the missing rows, update the changed ones; return (row, instance) pairs for the rows
    created as instances and the rows updated (``fast_insert`` creates plain rows, not returned)."""
    to_create, to_insert, to_update, changed_fields, touched = [], [], [], set(), []
    for row in rows:
        instance = existing.get(key(row))
        if instance is None:
            if fast_insert:
                to_insert.append(values(row, None))
            else:
                instance = model(**values(row, None))
                to_create.append(instance)
                touched.append((row, instance))
            continue
        wanted = values(row, instance)
        changed = [name for name, value in wanted.items() if getattr(instance, name) != value]
        if not changed:
            ctx.counts["unchanged"] += 1
            continue
        for name in changed:
            setattr(instance, name, wanted[name])
        instance.updated_at = ctx.now
        changed_fields.update(changed)
        to_update.append(instance)
        touched.append((row, instance))
    if to_create:
        model.objects.bulk_create(to_create, batch_size=CREATE_BATCH)
    if to_insert:
        insert_rows(model, to_insert, now=ctx.now)
    if to_update:
        model.objects.bulk_update(to_update, sorted(changed_fields | {"updated_at"}), batch_size=UPDATE_BATCH)
    ctx.counts["created"] += len(to_create) + len(to_insert)
    ctx.counts["updated"] += len(to_update)
    return touched


KEY_BATCH = 2000  # rows per key lookup: at most 6,000 parameters


def _adapt_key_value(value):
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return connection.ops.adapt_datefield_value(value)
    return value


def rows_by_key(model: type[models.Model], columns: tuple[str, ...], keys: list[tuple]) -> Iterable[models.Model]:
    """The existing rows whose ``columns`` equal one of ``keys``: an indexed join against a VALUES list
    per KEY_BATCH keys (``a IN (...) AND b IN (...)`` would scan every row of the customers involved)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    db_columns = [model._meta.get_field(name).column for name in columns]
    names = ", ".join(f"k{i}" for i in range(len(columns)))
    join = " AND ".join(f"t.{quote(column)} = k.k{i}" for i, column in enumerate(db_columns))
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for batch in _batches(list(dict.fromkeys(keys)), KEY_BATCH):
        values = ", ".join([row] * len(batch))
        sql = f"WITH k ({names}) AS (VALUES {values}) SELECT t.* FROM k JOIN {table} t ON {join}"  # noqa: S608
        yield from model.objects.raw(sql, [_adapt_key_value(value) for key in batch for value in key])


def _existing(model, rows: list[dict], *, second: str, row_second: str | None = None,
              extra: tuple[str, ...] = ()) -> dict[tuple, models.Model]:
    """Existing rows keyed by (customer_id, second, *extra)."""
    row_second = row_second or second
    columns = ("customer_id", second, *extra)
    keys = [(r["customer_id"], r[row_second], *(r[name] for name in extra)) for r in rows]
    return {tuple(getattr(instance, name) for name in columns): instance
            for instance in rows_by_key(model, columns, keys)}


# --------------------------------------------------------------------------------------------------
# customers

CUSTOMER_FIELDS = ("name", "registration_no", "country", "region", "industry", "size", "relationship_start",
                   "status", "currency")


def write_customers(rows: list[dict], ctx: WriteContext) -> None:
    group_codes = sorted({row["group_code"] for row in rows if row.get("group_code")})
    groups = dict(CustomerGroup.objects.filter(code__in=group_codes).values_list("code", "id")) if group_codes else {}
    missing = [code for code in group_codes if code not in groups]
    if missing:
        # A parent company named in a customer file comes into being with the file (renamed later by hand).
        CustomerGroup.objects.bulk_create([CustomerGroup(code=code, name=code) for code in missing],
                                          batch_size=CREATE_BATCH)
        groups.update(CustomerGroup.objects.filter(code__in=missing).values_list("code", "id"))
        ctx.counts["groups_created"] += len(missing)
    existing = {}
    for batch in _batches(rows):
        existing.update((c.code, c) for c in Customer.objects.filter(code__in=[r["code"] for r in batch]))

    def values(row: dict, instance: Customer | None) -> dict:
        data = {name: row[name] for name in CUSTOMER_FIELDS if name in row}
        if row.get("group_code"):
            data["group_id"] = groups[row["group_code"]]
        if "owner_id" in row:
            data["owner_id"] = row["owner_id"]
        if instance is None:
            data["code"] = row["code"]
            data["attributes"] = row.get("attributes", {})
        elif row.get("attributes"):
            data["attributes"] = {**(instance.attributes or {}), **row["attributes"]}
        return data

    _upsert(model=Customer, rows=rows, existing=existing, key=lambda r: r["code"], values=values, ctx=ctx)


# --------------------------------------------------------------------------------------------------
# invoices

def allocated_totals(invoice_ids: Iterable[int]) -> dict[int, Decimal]:
    """invoice id -> sum of its payment allocations (invoices without allocations are left out)."""
    totals: dict[int, Decimal] = {}
    for batch in _batches(sorted(set(invoice_ids))):
        totals.update(PaymentAllocation.objects.filter(invoice_id__in=batch).values("invoice_id")
                      .annotate(total=models.Sum("amount")).values_list("invoice_id", "total"))
    return totals


def outside_part(row: dict, instance: Invoice | None, allocated: Decimal) -> Decimal:
    """What an invoice row says was settled outside the payments recorded here (Invoice.paid_outside).

    ``paid_amount`` when given; else, for status "paid", the part of the amount that the allocations
    here do not cover (the ERP says it is settled); else what the invoice already holds (0 when new).
    """
    if row.get("paid_amount") is not None:
        return row["paid_amount"]
    if row.get("status") == InvoiceStatus.PAID:
        return row.get("amount", instance.amount if instance is not None else ZERO) - allocated
    return instance.paid_outside if instance is not None else ZERO


def write_invoices(rows: list[dict], ctx: WriteContext) -> None:
    """Upsert invoices. ``paid_amount`` / ``paid_date`` are the ERP's settlement outside the payments
    recorded here: they go to paid_outside / paid_outside_date, and amount_paid, paid_date and status
    (open or paid) are derived from them plus the allocations, as invoice_paid_recompute does. A
    status column only decides written_off and cancelled (open or paid re-opens such an invoice).
    resolve_chunk has checked that paid_outside + allocations stay within the amount."""
    existing = _existing(Invoice, rows, second="number")
    allocated = allocated_totals(instance.pk for row in rows if row.get("status") == InvoiceStatus.PAID
                                 and row.get("paid_amount") is None
                                 and (instance := existing.get((row["customer_id"], row["number"]))) is not None)

    def values(row: dict, instance: Invoice | None) -> dict:
        data = {name: row[name] for name in ("issue_date", "due_date", "amount", "currency", "written_off_date")
                if name in row}
        outside = outside_part(row, instance, allocated.get(instance.pk, ZERO) if instance is not None else ZERO)
        data["paid_outside"] = outside
        if outside <= 0:
            data["paid_outside_date"] = None
        elif "paid_date" in row:
            data["paid_outside_date"] = row["paid_date"]
        status = row.get("status")
        if status in (InvoiceStatus.WRITTEN_OFF, InvoiceStatus.CANCELLED):
            data["status"] = status
        elif status and instance is not None and instance.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
            data["status"] = InvoiceStatus.OPEN  # re-opened; paid or open is derived below
        if instance is None:
            # A new invoice has no allocations: its derived state follows from the outside part alone
            # (the same rule as invoice_paid_recompute).
            data["number"], data["customer_id"] = row["number"], row["customer_id"]
            data["amount_paid"] = outside
            full = outside >= row["amount"]
            data.setdefault("status", InvoiceStatus.PAID if full else InvoiceStatus.OPEN)
            data["paid_date"] = (data.get("paid_outside_date") or row["due_date"]) if full else None
        return data

    touched = _upsert(model=Invoice, rows=rows, existing=existing, key=lambda r: (r["customer_id"], r["number"]),
                      values=values, ctx=ctx, fast_insert=True)
    updated = [instance.pk for _row, instance in touched if instance.pk]
    if updated:
        invoice_paid_recompute(invoice_ids=updated)


def invoice_paid_recompute(*, invoice_ids: Iterable[int]) -> int:
    from customers.services import invoice_paid_recompute as recompute

    return recompute(invoice_ids=invoice_ids)


# --------------------------------------------------------------------------------------------------
# payments and their allocations

def write_payments(rows: list[dict], ctx: WriteContext) -> None:
    existing = _existing(Payment, rows, second="reference")
    allocated: dict[int, set[int]] = defaultdict(set)
    for batch in _batches([p.pk for p in existing.values()]):
        for payment_id, invoice_id in PaymentAllocation.objects.filter(payment_id__in=batch).values_list(
                "payment_id", "invoice_id"):
            allocated[payment_id].add(invoice_id)
    # A payment the file now points at another invoice is reallocated, but only while that invoice is
    # still open: otherwise re-sending the same file would move money around every time.
    named = {row["invoice_id"] for row in rows if row.get("invoice_id")}
    open_named: set[int] = set()
    for batch in _batches(sorted(named)):
        open_named.update(Invoice.objects.filter(pk__in=batch, status=InvoiceStatus.OPEN,
                                                 amount__gt=models.F("amount_paid")).values_list("pk", flat=True))
    to_create, to_update, touched = [], [], []
    fields = ("date", "amount", "currency")
    for row in rows:
        payment = existing.get((row["customer_id"], row["reference"]))
        if payment is None:
            payment = Payment(customer_id=row["customer_id"], reference=row["reference"],
                              **{name: row[name] for name in fields})
            to_create.append(payment)
            touched.append((row.get("invoice_id"), payment))
            continue
        changed = [name for name in fields if getattr(payment, name) != row[name]]
        target = row.get("invoice_id")
        retarget = bool(target) and target in open_named and target not in allocated.get(payment.pk, ())
        if not changed and not retarget:
            ctx.counts["unchanged"] += 1
            continue
        for name in changed:
            setattr(payment, name, row[name])
        payment.updated_at = ctx.now
        to_update.append(payment)
        touched.append((target, payment))
    if to_create:
        Payment.objects.bulk_create(to_create, batch_size=CREATE_BATCH)
    if to_update:
        Payment.objects.bulk_update(to_update, [*fields, "updated_at"], batch_size=UPDATE_BATCH)
    ctx.counts["created"] += len(to_create)
    ctx.counts["updated"] += len(to_update)
    if touched:
        allocate_payments(touched, ctx)


def allocate_payments(items: list[tuple[int | None, Payment]], ctx: WriteContext) -> None:
    """(Re)allocate payments: first to the named invoice, the rest FIFO over the customer's open
    invoices in the payment's currency issued on or before the payment date (oldest due first), the
    same rule as services.payment_create. Then derive the invoices' paid amounts, set-based."""
    payment_ids = [payment.pk for _named, payment in items]
    stale: set[int] = set()
    for batch in _batches(payment_ids):
        old = PaymentAllocation.objects.filter(payment_id__in=batch)
        stale.update(old.values_list("invoice_id", flat=True))
        old.delete()
    if stale:
        invoice_paid_recompute(invoice_ids=stale)
    customer_ids = sorted({payment.customer_id for _named, payment in items})
    open_by_customer: dict[tuple[int, str], list[Invoice]] = defaultdict(list)
    remaining: dict[int, Decimal] = {}
    for batch in _batches(customer_ids):
        for invoice in (Invoice.objects.select_for_update().filter(customer_id__in=batch, status=InvoiceStatus.OPEN)
                        .only("id", "customer_id", "currency", "issue_date", "due_date", "number", "amount",
                              "amount_paid", "status")
                        .order_by("customer_id", "due_date", "issue_date", "number", "pk")):
            open_by_customer[(invoice.customer_id, invoice.currency)].append(invoice)
            remaining[invoice.pk] = invoice.amount - invoice.amount_paid
    allocations = []
    for named, payment in sorted(items, key=lambda item: (item[1].date, item[1].reference)):
        left = payment.amount
        candidates = open_by_customer.get((payment.customer_id, payment.currency), [])
        ordered = [inv for inv in candidates if inv.pk == named] + [
            inv for inv in candidates if inv.pk != named and inv.issue_date <= payment.date]
        for invoice in ordered:
            if left <= 0:
                break
            share = min(left, remaining[invoice.pk])
            if share <= 0:
                continue
            allocations.append(PaymentAllocation(payment_id=payment.pk, invoice_id=invoice.pk, amount=share))
            remaining[invoice.pk] -= share
            left -= share
        if left > 0:
            ctx.counts["unallocated_payments"] += 1
    PaymentAllocation.objects.bulk_create(allocations, batch_size=CREATE_BATCH)
    ctx.counts["allocations"] += len(allocations)
    touched = {a.invoice_id for a in allocations}
    if touched:
        invoice_paid_recompute(invoice_ids=touched)


# --------------------------------------------------------------------------------------------------
# orders, financial statements, credit reports, outcomes

def write_orders(rows: list[dict], ctx: WriteContext) -> None:
    existing = _existing(SalesOrder, rows, second="number")

    def values(row: dict, instance: SalesOrder | None) -> dict:
        data = {name: row[name] for name in ("order_date", "amount", "currency", "status") if name in row}
        if instance is None:
            data["number"], data["customer_id"] = row["number"], row["customer_id"]
        return data

    _upsert(model=SalesOrder, rows=rows, existing=existing, key=lambda r: (r["customer_id"], r["number"]),
            values=values, ctx=ctx, fast_insert=True)


STATEMENT_VALUES = ("audited", "currency", "revenue", "cogs", "ebit", "net_income", "interest_expense",
                    "total_assets", "current_assets", "cash", "inventory", "receivables", "total_liabilities",
                    "current_liabilities", "retained_earnings", "equity", "operating_cash_flow", "source")


def write_financials(rows: list[dict], ctx: WriteContext) -> None:
    existing = _existing(FinancialStatement, rows, second="period_end", extra=("period_type",))

    def values(row: dict, instance: FinancialStatement | None) -> dict:
        data = {name: row[name] for name in STATEMENT_VALUES if name in row}
        if instance is None:
            data.update(customer_id=row["customer_id"], period_end=row["period_end"], period_type=row["period_type"])
            data.setdefault("source", "import")
        return data

    _upsert(model=FinancialStatement, rows=rows, existing=existing,
            key=lambda r: (r["customer_id"], r["period_end"], r["period_type"]), values=values, ctx=ctx,
            fast_insert=True)


REPORT_VALUES = ("score", "rating", "pd", "payment_index", "recommended_limit", "legal_events")


def write_credit_reports(rows: list[dict], ctx: WriteContext) -> None:
    existing = _existing(CreditReport, rows, second="report_date", extra=("provider",))

    def values(row: dict, instance: CreditReport | None) -> dict:
        data = {name: row[name] for name in REPORT_VALUES if name in row}
        if instance is None:
            data.update(customer_id=row["customer_id"], provider=row["provider"], report_date=row["report_date"])
        return data

    _upsert(model=CreditReport, rows=rows, existing=existing,
            key=lambda r: (r["customer_id"], r["report_date"], r["provider"]), values=values, ctx=ctx)


def write_outcomes(rows: list[dict], ctx: WriteContext) -> None:
    existing = _existing(OutcomeFlag, rows, second="observation_date")

    def values(row: dict, instance: OutcomeFlag | None) -> dict:
        data = {"defaulted": row["defaulted"]}
        if instance is None:
            data.update(customer_id=row["customer_id"], observation_date=row["observation_date"])
        return data

    _upsert(model=OutcomeFlag, rows=rows, existing=existing,
            key=lambda r: (r["customer_id"], r["observation_date"]), values=values, ctx=ctx, fast_insert=True)


WRITERS: dict[str, Callable[[list[dict], WriteContext], None]] = {
    "customers": write_customers,
    "invoices": write_invoices,
    "payments": write_payments,
    "orders": write_orders,
    "financials": write_financials,
    "credit_reports": write_credit_reports,
    "outcomes": write_outcomes,
}


# --------------------------------------------------------------------------------------------------
# the API's bulk sync

def _bulk_upsert(kind: str, *, rows: list[dict], actor, action: str) -> dict:
    from customers.importers import errors_as_dict, validate_rows
    from customers.importers.engine import CHUNK_SIZE

    clean, errors = validate_rows(kind, rows)
    if errors:
        raise DomainError(_("%(count)d of %(total)d rows are invalid; nothing was written.")
                          % {"count": len({e.row for e in errors}), "total": len(rows)},
                          errors=errors_as_dict(errors))
    ctx = WriteContext()
    with transaction.atomic():
        for batch in _batches(clean, CHUNK_SIZE):
            WRITERS[kind](batch, ctx)
        counts = {name: ctx.counts.get(name, 0) for name in ("created", "updated", "unchanged")} | dict(ctx.counts)
        audit_record(actor=actor, action=action, subject_type="bulk", subject_id=kind,
                     subject_label=_("%(count)d %(kind)s") % {"count": len(rows), "kind": kind},
                     after={"rows": len(rows), "counts": counts})
    return counts


def invoices_upsert(*, rows: list[dict], actor) -> dict:
    """Idempotent upsert of invoice rows (customer_code, number, issue_date, due_date, amount, currency,
    paid_amount, status, paid_date, written_off_date; paid_amount and paid_date are stored as
    paid_outside and paid_outside_date, see write_invoices). All or nothing: raises DomainError (errors keyed by row index) if any row is
    bad. Returns {"created": n, "updated": n, "unchanged": n}."""
    return _bulk_upsert("invoices", rows=rows, actor=actor, action="invoice.bulk_upsert")


def payments_upsert(*, rows: list[dict], actor) -> dict:
    """Idempotent upsert of payment rows (customer_code, reference, date, amount, currency,
    invoice_number), allocating new or changed payments (named invoice first, then FIFO)."""
    return _bulk_upsert("payments", rows=rows, actor=actor, action="payment.bulk_upsert")
