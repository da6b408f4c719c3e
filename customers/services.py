"""Writes to the credit file. Every service validates, owns its transaction and audits in it."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Iterable
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from creditrisk.core.audit import audit_model_change, audit_record, snapshot
from customers.attributes import clean_attribute_values
from customers.models import (
    AttributeDefinition,
    AttributeType,
    Contact,
    CreditReport,
    Customer,
    CustomerGroup,
    CustomerStatus,
    Document,
    FinancialStatement,
    Invoice,
    InvoiceStatus,
    OrderStatus,
    Payment,
    PaymentAllocation,
    SalesOrder,
)
from customers.validators import validate_uscc

ZERO = Decimal("0")
CENT = Decimal("0.01")

# --------------------------------------------------------------------------------------------------
# helpers


def _apply(instance, data: dict, allowed: Iterable[str]) -> list[str]:
    """Set the allowed keys of ``data`` on ``instance``; return the names that actually changed."""
    allowed = set(allowed)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError({key: [_("This field cannot be changed here.")] for key in unknown})
    changed = []
    for key, value in data.items():
        if getattr(instance, key) != value:
            setattr(instance, key, value)
            changed.append(key)
    return changed


def _save_update(instance, changed: list[str]) -> None:
    if changed:
        if "updated_at" in {f.name for f in instance._meta.concrete_fields}:
            changed = [*changed, "updated_at"]
        instance.save(update_fields=changed)


_TIMESTAMPS = {"created_at", "updated_at"}


def _fields(instance) -> list[str]:
    return [f.attname for f in instance._meta.concrete_fields if f.name not in _TIMESTAMPS]


def _snap(instance) -> dict:
    """A before/after snapshot without the timestamps (they change on every save and say nothing)."""
    return snapshot(instance, _fields(instance))


def _audit(*, actor, action: str, instance, before: dict | None, reason: str = ""):
    return audit_model_change(actor=actor, action=action, instance=instance, before=before, reason=reason,
                              fields=_fields(instance))


def _require_settings_permission(actor) -> None:
    # Custom attributes change what every credit file holds: managers (settings permission) only.
    # actor=None is the command line / system (imports with --create-attributes).
    if actor is not None and not actor.has_perm("core.manage_settings"):
        raise PermissionDenied(_("Only credit managers may define custom attributes."))


# --------------------------------------------------------------------------------------------------
# customers and groups

CUSTOMER_FIELDS = ("code", "name", "registration_no", "country", "region", "industry", "size", "group",
                   "relationship_start", "status", "owner", "currency", "attributes")


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _clean_customer_identity(customer: Customer) -> dict[str, list]:
    """Normalise identifiers; return the USCC error (if any) to report with the other field errors."""
    customer.code = _text(customer.code)
    customer.name = _text(customer.name)
    customer.registration_no = _text(customer.registration_no).upper()
    customer.country = _text(customer.country).upper()
    customer.currency = _text(customer.currency).upper()
    if customer.country == "CN" and customer.registration_no:
        try:
            validate_uscc(customer.registration_no)
        except ValidationError as exc:
            return {"registration_no": exc.messages}
    return {}


def _full_clean(instance, errors: dict[str, list], **kwargs) -> None:
    """full_clean, reporting its errors together with ``errors`` found before it."""
    errors = {key: list(value) for key, value in errors.items()}
    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(m for m in messages if m not in errors.get(key, []))
    if errors:
        raise ValidationError(errors)


def _attribute_values(values: dict | None, *, partial: bool) -> dict:
    return clean_attribute_values(values or {}, partial=partial)


@transaction.atomic
def customer_create(
    *,
    code: str,
    name: str,
    registration_no: str = "",
    country: str = "CN",
    region: str = "",
    industry: str = "",
    size: str = "small",
    group: CustomerGroup | None = None,
    relationship_start: dt.date | None = None,
    status: str = CustomerStatus.ACTIVE,
    owner=None,
    currency: str | None = None,
    attributes: dict | None = None,
    actor,
    reason: str = "",
) -> Customer:
    customer = Customer(
        code=code, name=name, registration_no=registration_no or "", country=country, region=region or "",
        industry=industry or "", size=size, group=group, relationship_start=relationship_start, status=status,
        owner=owner, currency=currency or settings.DEFAULT_CURRENCY,
    )
    errors = _clean_customer_identity(customer)
    try:
        customer.attributes = _attribute_values(attributes, partial=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    _full_clean(customer, errors, exclude=["attributes"])
    customer.save(force_insert=True)
    _audit(actor=actor, action="customer.create", instance=customer, before=None, reason=reason)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, data: dict, actor, reason: str = "") -> Customer:
    """Change the given fields. ``data["attributes"]`` is merged into the existing values (None removes a key)."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = _snap(customer)
    data = dict(data)
    if "attributes" in data:
        incoming = data.pop("attributes") or {}
        if not isinstance(incoming, dict):
            raise ValidationError({"attributes": [_("Custom attributes must be a mapping of key to value.")]})
        removed = {key for key, value in incoming.items() if value is None or value == ""}
        cleaned = _attribute_values({k: v for k, v in incoming.items() if k not in removed}, partial=True)
        merged = {k: v for k, v in {**customer.attributes, **cleaned}.items() if k not in removed}
        required = set(AttributeDefinition.objects.filter(active=True, required=True).values_list("key", flat=True))
        missing = sorted(required & removed)
        if missing:
            raise ValidationError({f"attributes.{key}": [_("This field is required.")] for key in missing})
        data["attributes"] = merged
    changed = _apply(customer, data, CUSTOMER_FIELDS)
    _full_clean(customer, _clean_customer_identity(customer))
    _save_update(customer, changed)
    if changed:
        _audit(actor=actor, action="customer.update", instance=customer, before=before, reason=reason)
    return customer


@transaction.atomic
def customer_group_create(*, code: str, name: str, registration_no: str = "", country: str = "CN",
                          notes: str = "", actor, reason: str = "") -> CustomerGroup:
    group = CustomerGroup(code=_text(code), name=_text(name),
                          registration_no=_text(registration_no).upper(),
                          country=_text(country).upper(), notes=notes or "")
    if group.country == "CN" and group.registration_no:
        try:
            validate_uscc(group.registration_no)
        except ValidationError as exc:
            raise ValidationError({"registration_no": exc.messages}) from exc
    group.full_clean()
    group.save(force_insert=True)
    _audit(actor=actor, action="customer_group.create", instance=group, before=None, reason=reason)
    return group


@transaction.atomic
def customer_group_update(*, group: CustomerGroup, data: dict, actor, reason: str = "") -> CustomerGroup:
    group = CustomerGroup.objects.select_for_update().get(pk=group.pk)
    before = _snap(group)
    changed = _apply(group, dict(data), ("code", "name", "registration_no", "country", "notes"))
    group.registration_no = (group.registration_no or "").strip().upper()
    if group.country == "CN" and group.registration_no:
        try:
            validate_uscc(group.registration_no)
        except ValidationError as exc:
            raise ValidationError({"registration_no": exc.messages}) from exc
    group.full_clean()
    _save_update(group, changed)
    if changed:
        _audit(actor=actor, action="customer_group.update", instance=group, before=before,
                           reason=reason)
    return group


# --------------------------------------------------------------------------------------------------
# contacts

def _single_primary(contact: Contact) -> None:
    if contact.is_primary:
        Contact.objects.filter(customer_id=contact.customer_id, is_primary=True).exclude(pk=contact.pk).update(
            is_primary=False, updated_at=timezone.now())


@transaction.atomic
def contact_create(*, customer: Customer, name: str, role: str = "", email: str = "", phone: str = "",
                   is_primary: bool = False, actor, reason: str = "") -> Contact:
    contact = Contact(customer=customer, name=_text(name), role=role or "", email=_text(email),
                      phone=_text(phone), is_primary=is_primary)
    contact.full_clean(validate_constraints=False)
    _single_primary(contact)
    contact.save(force_insert=True)
    _audit(actor=actor, action="contact.create", instance=contact, before=None, reason=reason)
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, data: dict, actor, reason: str = "") -> Contact:
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    before = _snap(contact)
    changed = _apply(contact, dict(data), ("name", "role", "email", "phone", "is_primary"))
    contact.full_clean(validate_constraints=False)
    _single_primary(contact)
    _save_update(contact, changed)
    if changed:
        _audit(actor=actor, action="contact.update", instance=contact, before=before, reason=reason)
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, actor, reason: str = "") -> None:
    before = _snap(contact)
    _audit(actor=actor, action="contact.delete", instance=contact, before=before, reason=reason)
    contact.delete()


# --------------------------------------------------------------------------------------------------
# custom attribute definitions (managers)

ATTRIBUTE_FIELDS = ("label", "label_zh", "type", "choices", "required", "min_value", "max_value", "help_text",
                    "active")


def _clean_definition(definition: AttributeDefinition) -> None:
    errors: dict[str, list] = {}
    choices = definition.choices
    if definition.type == AttributeType.CATEGORY:
        if not isinstance(choices, list) or not choices:
            errors["choices"] = [_("A category needs at least one allowed value.")]
        else:
            cleaned = [str(c).strip() for c in choices if str(c).strip()]
            if len(cleaned) != len(set(cleaned)) or len(cleaned) != len(choices):
                errors["choices"] = [_("Allowed values must be non-empty and distinct.")]
            definition.choices = cleaned
    elif choices:
        errors["choices"] = [_("Only categories have allowed values.")]
    if definition.type != AttributeType.NUMBER and (definition.min_value is not None
                                                    or definition.max_value is not None):
        errors["min_value"] = [_("Only numbers have a minimum and a maximum.")]
    if (definition.min_value is not None and definition.max_value is not None
            and definition.min_value > definition.max_value):
        errors["max_value"] = [_("The maximum must not be below the minimum.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def attribute_definition_create(*, key: str, label: str, type: str, label_zh: str = "",
                                choices: list | None = None, required: bool = False,
                                min_value: Decimal | None = None, max_value: Decimal | None = None,
                                help_text: str = "", active: bool = True, actor,
                                reason: str = "") -> AttributeDefinition:
    _require_settings_permission(actor)
    definition = AttributeDefinition(key=_text(key).lower(), label=label, label_zh=label_zh, type=type,
                                     choices=list(choices or []), required=required, min_value=min_value,
                                     max_value=max_value, help_text=help_text, active=active)
    definition.full_clean()
    _clean_definition(definition)
    if definition.key in {f.name for f in Customer._meta.get_fields()}:
        raise ValidationError({"key": [_("This key is already a standard customer field.")]})
    definition.save(force_insert=True)
    _audit(actor=actor, action="attribute_definition.create", instance=definition, before=None,
                       reason=reason)
    return definition


@transaction.atomic
def attribute_definition_update(*, definition: AttributeDefinition, data: dict, actor,
                                reason: str = "") -> AttributeDefinition:
    _require_settings_permission(actor)
    definition = AttributeDefinition.objects.select_for_update().get(pk=definition.pk)
    before = _snap(definition)
    if "key" in data and data["key"] != definition.key:
        raise ValidationError({"key": [_("The key of an attribute cannot change (values are stored under it).")]})
    data = {k: v for k, v in data.items() if k != "key"}
    changed = _apply(definition, data, ATTRIBUTE_FIELDS)
    definition.full_clean()
    _clean_definition(definition)
    _save_update(definition, changed)
    if changed:
        _audit(actor=actor, action="attribute_definition.update", instance=definition, before=before,
                           reason=reason)
    return definition


# --------------------------------------------------------------------------------------------------
# invoices, payments and allocations

def _recompute_sql(id_filter_alloc: str, id_filter_invoice: str) -> str:
    pg = connection.vendor == "postgresql"
    distinct = "IS DISTINCT FROM" if pg else "IS NOT"
    total = "(i2.paid_outside + COALESCE(agg.paid, 0))"
    # Money sums are floats on SQLite: half a cent of slack decides "fully paid" the same way everywhere.
    full = f"{total} >= i2.amount - 0.005"
    # The date the invoice became fully paid: the later of the outside settlement (its date, or the due
    # date when the ERP gave none) and the last allocated payment.
    completed = """CASE WHEN agg.last_date IS NULL THEN COALESCE(i2.paid_outside_date, i2.due_date)
                        WHEN i2.paid_outside <= 0 OR i2.paid_outside_date IS NULL
                             OR agg.last_date >= i2.paid_outside_date THEN agg.last_date
                        ELSE i2.paid_outside_date END"""
    return f"""
    UPDATE customers_invoice
    SET amount_paid = src.paid, paid_date = src.new_paid_date, status = src.new_status
    FROM (
        SELECT i2.id AS id,
               ROUND({total}, 2) AS paid,
               CASE WHEN {full} THEN {completed} END AS new_paid_date,
               CASE WHEN i2.status IN ('written_off', 'cancelled') THEN i2.status
                    WHEN {full} THEN 'paid'
                    ELSE 'open' END AS new_status
        FROM customers_invoice i2
        LEFT JOIN (
            SELECT pa.invoice_id AS invoice_id, SUM(pa.amount) AS paid, MAX(p.date) AS last_date
            FROM customers_paymentallocation pa
            JOIN customers_payment p ON p.id = pa.payment_id
            WHERE 1 = 1{id_filter_alloc}
            GROUP BY pa.invoice_id
        ) agg ON agg.invoice_id = i2.id
        WHERE 1 = 1{id_filter_invoice}
    ) src
    WHERE src.id = customers_invoice.id
      AND (customers_invoice.amount_paid <> src.paid
           OR customers_invoice.status <> src.new_status
           OR customers_invoice.paid_date {distinct} src.new_paid_date)
    """  # noqa: S608 - only constant fragments are interpolated


def invoice_paid_recompute(*, invoice_ids: Iterable[int] | None, chunk_size: int = 5000) -> int:
    """Derive amount_paid, paid_date and status of invoices from what was paid on them, set-based.

    amount_paid = paid_outside (settled outside the payments recorded here, as the ERP reports it) +
    the sum of the payment allocations. One UPDATE … FROM an aggregate of the allocations (per chunk of
    ids; ``invoice_ids=None`` does every invoice in one statement). Written-off and cancelled invoices
    keep their status; the others are paid once amount_paid covers the amount, else open. paid_date is
    the date the invoice became fully paid, else empty: the later of paid_outside_date and the latest
    allocated payment's date (an outside part without a date counts at the due date, but only when
    nothing was allocated; otherwise the latest payment decides). paid_outside + allocations above
    the amount violate the invoice_paid_within_amount constraint (callers validate first). Only rows
    whose derived state changes are written, so running it twice writes nothing the second time.
    Returns the number of invoices whose state changed. Bulk loaders call this after writing allocations.
    """
    if invoice_ids is None:
        with connection.cursor() as cursor:
            cursor.execute(_recompute_sql("", ""))
            return cursor.rowcount
    ids = sorted({int(i) for i in invoice_ids})
    if not ids:
        return 0
    updated = 0
    # Several chunks are one unit: all recomputed or none.
    with transaction.atomic() if len(ids) > chunk_size else contextlib.nullcontext(), connection.cursor() as cursor:
        for start in range(0, len(ids), chunk_size):
            chunk = ids[start:start + chunk_size]
            if connection.vendor == "postgresql":
                cursor.execute(_recompute_sql(" AND pa.invoice_id = ANY(%s)", " AND i2.id = ANY(%s)"),
                               [chunk, chunk])
            else:
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(_recompute_sql(f" AND pa.invoice_id IN ({marks})", f" AND i2.id IN ({marks})"),
                               [*chunk, *chunk])
            updated += cursor.rowcount
        return updated


def _clean_dates(*, issue_date, due_date) -> None:
    if isinstance(issue_date, dt.date) and isinstance(due_date, dt.date) and due_date < issue_date:
        raise ValidationError({"due_date": [_("The due date cannot be before the issue date.")]})


def _clean_amount(value, field: str = "amount") -> Decimal:
    try:
        amount = Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        raise ValidationError({field: [_("Enter a number.")]}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({field: [_("The amount must be positive.")]})
    return amount


@transaction.atomic
def invoice_create(*, customer: Customer, number: str, issue_date: dt.date, due_date: dt.date,
                   amount: Decimal, currency: str | None = None, actor, reason: str = "") -> Invoice:
    invoice = Invoice(customer=customer, number=_text(number), issue_date=issue_date, due_date=due_date,
                      amount=_clean_amount(amount), currency=_text(currency or customer.currency).upper())
    _clean_dates(issue_date=issue_date, due_date=due_date)
    invoice.full_clean()
    invoice.save(force_insert=True)
    _audit(actor=actor, action="invoice.create", instance=invoice, before=None, reason=reason)
    return invoice


@transaction.atomic
def invoice_update(*, invoice: Invoice, data: dict, actor, reason: str = "") -> Invoice:
    """Change dates, amount, currency or status (open / written_off / cancelled; "paid" is derived)."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    before = _snap(invoice)
    data = dict(data)
    if "amount" in data:
        data["amount"] = _clean_amount(data["amount"])
    status = data.get("status", invoice.status)
    if status == InvoiceStatus.PAID and invoice.status != InvoiceStatus.PAID:
        raise ValidationError({"status": [_("An invoice becomes paid through payments, not by hand.")]})
    if status == InvoiceStatus.WRITTEN_OFF:
        data.setdefault("written_off_date", invoice.written_off_date or timezone.localdate())
    elif status in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        data["written_off_date"] = None
    if "currency" in data and data["currency"] != invoice.currency and invoice.allocations.exists():
        raise ValidationError({"currency": [_("The currency of an invoice with payments allocated to it "
                                              "cannot change.")]})
    if status == InvoiceStatus.CANCELLED and invoice.allocations.exists():
        raise ValidationError({"status": [_("An invoice with payments allocated to it cannot be cancelled.")]})
    changed = _apply(invoice, data, ("number", "issue_date", "due_date", "amount", "currency", "status",
                                     "written_off_date"))
    _clean_dates(issue_date=invoice.issue_date, due_date=invoice.due_date)
    if invoice.amount < invoice.amount_paid:
        raise ValidationError({"amount": [_("The amount cannot be below what has already been paid (%(paid)s).")
                                          % {"paid": invoice.amount_paid}]})
    if (invoice.written_off_date and invoice.written_off_date < invoice.issue_date):
        raise ValidationError({"written_off_date": [_("An invoice cannot be written off before it was issued.")]})
    invoice.full_clean()
    _save_update(invoice, changed)
    invoice_paid_recompute(invoice_ids=[invoice.pk])
    invoice.refresh_from_db()
    if changed:
        _audit(actor=actor, action="invoice.update", instance=invoice, before=before, reason=reason)
    return invoice


@transaction.atomic
def payment_create(*, customer: Customer, reference: str, date: dt.date, amount: Decimal,
                   currency: str | None = None, invoice_number: str | None = None, actor,
                   reason: str = "") -> Payment:
    """Record a payment and allocate it: first to ``invoice_number`` if given, the rest FIFO.

    FIFO goes to the customer's open invoices in the payment's currency, oldest due date first (the same
    rule as payments_allocate for bulk loads). What no open invoice absorbs stays unallocated (on account).
    """
    payment = Payment(customer=customer, reference=_text(reference), date=date,
                      amount=_clean_amount(amount), currency=_text(currency or customer.currency).upper())
    payment.full_clean()
    # Lock the customer's open invoices so concurrent payments cannot allocate the same open amount twice.
    open_invoices = list(
        Invoice.objects.select_for_update()
        .filter(customer=customer, status=InvoiceStatus.OPEN)
        .order_by("due_date", "issue_date", "number", "pk")
    )
    targets: list[Invoice] = []
    if invoice_number:
        target = Invoice.objects.filter(customer=customer, number=_text(invoice_number)).first()
        if target is None:
            raise ValidationError({"invoice_number": [_("This customer has no invoice %(number)s.")
                                                      % {"number": invoice_number}]})
        if target.currency != payment.currency:
            raise ValidationError({"invoice_number": [_("The invoice is in %(invoice)s, the payment in "
                                                        "%(payment)s.") % {"invoice": target.currency,
                                                                           "payment": payment.currency}]})
        if target.status != InvoiceStatus.OPEN:
            raise ValidationError({"invoice_number": [_("Invoice %(number)s is not open.")
                                                      % {"number": target.number}]})
        targets.append(next(inv for inv in open_invoices if inv.pk == target.pk))
    targets += [inv for inv in open_invoices
                if inv.currency == payment.currency and all(inv.pk != t.pk for t in targets)]
    payment.save(force_insert=True)
    remaining = payment.amount
    allocations = []
    for invoice in targets:
        if remaining <= 0:
            break
        share = min(remaining, invoice.amount - invoice.amount_paid)
        if share <= 0:
            continue
        allocations.append(PaymentAllocation(payment=payment, invoice=invoice, amount=share))
        remaining -= share
    PaymentAllocation.objects.bulk_create(allocations)
    invoice_paid_recompute(invoice_ids=[a.invoice_id for a in allocations])
    after = _snap(payment)
    after["allocations"] = [{"invoice": a.invoice.number, "amount": str(a.amount)} for a in allocations]
    after["unallocated"] = str(remaining)
    audit_record(actor=actor, action="payment.create", subject_type=payment._meta.label_lower,
                 subject_id=payment.pk, subject_label=str(payment), before=None, after=after, reason=reason)
    return payment


def _cents(values) -> np.ndarray:
    return np.rint(pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("float64") * 100
                   ).astype("int64")


def _fifo_pieces(invoices: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """Allocate payments to invoices in order within each key, vectorised.

    invoices: key, invoice_id, open (cents), already in allocation order; payments: key, payment_id,
    remaining (cents), in date order. Both are laid end to end on one axis per key; every stretch
    where an invoice and a payment overlap is an allocation piece.
    """
    inv = invoices.loc[invoices["open"] > 0, ["key", "invoice_id", "open"]].copy()
    pay = payments.loc[payments["remaining"] > 0, ["key", "payment_id", "remaining"]].copy()
    inv["end"] = inv.groupby("key", sort=False)["open"].cumsum()
    pay["end"] = pay.groupby("key", sort=False)["remaining"].cumsum()
    events = pd.concat([
        pd.DataFrame({"key": inv["key"].to_numpy(), "end": inv["end"].to_numpy(),
                      "invoice_id": inv["invoice_id"].to_numpy(dtype="float64"), "payment_id": np.nan}),
        pd.DataFrame({"key": pay["key"].to_numpy(), "end": pay["end"].to_numpy(), "invoice_id": np.nan,
                      "payment_id": pay["payment_id"].to_numpy(dtype="float64")}),
    ], ignore_index=True)
    if events.empty:
        return pd.DataFrame(columns=["payment_id", "invoice_id", "cents"])
    events = events.sort_values(["key", "end"], kind="stable").reset_index(drop=True)
    grouped = events.groupby("key", sort=False)
    events["length"] = events["end"] - grouped["end"].shift(1).fillna(0).astype("int64")
    # Each stretch belongs to the next invoice end and the next payment end at or after it.
    events["invoice_id"] = grouped["invoice_id"].bfill()
    events["payment_id"] = grouped["payment_id"].bfill()
    pieces = events[(events["length"] > 0) & events["invoice_id"].notna() & events["payment_id"].notna()]
    return (pieces.groupby(["payment_id", "invoice_id"], as_index=False)["length"].sum()
            .rename(columns={"length": "cents"}).astype("int64"))


@transaction.atomic
def payments_allocate(*, payment_ids: Iterable[int], invoice_hints: dict[int, int] | None = None,
                      chunk_size: int = 5000) -> int:
    """Allocate the unallocated part of many payments at once (bulk loads), then recompute the invoices.

    The same rule as payment_create: a payment goes first to its hinted invoice (``invoice_hints``:
    payment id -> invoice id, used when open and in the same customer and currency), the rest FIFO to
    the customer's open invoices in its currency, oldest due date first, payments taken in date order.
    Set-based: a few queries per chunk of payments and pandas for the arithmetic (in cents). The caller
    records the load's one audit event. Returns the number of allocations created.
    """
    hints = invoice_hints or {}
    ids = sorted({int(i) for i in payment_ids})
    created = 0
    touched: set[int] = set()
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start:start + chunk_size]
        pays = pd.DataFrame.from_records(
            list(Payment.objects.filter(pk__in=chunk).values("id", "customer_id", "currency", "date", "amount")),
            columns=["id", "customer_id", "currency", "date", "amount"])
        if pays.empty:
            continue
        done = dict(PaymentAllocation.objects.filter(payment_id__in=chunk).values("payment_id")
                    .annotate(total=Sum("amount")).values_list("payment_id", "total"))
        pays["remaining"] = _cents(pays["amount"]) - _cents(pays["id"].map(done).fillna(0))
        pays = pays[pays["remaining"] > 0].rename(columns={"id": "payment_id"})
        if pays.empty:
            continue
        invs = pd.DataFrame.from_records(
            list(Invoice.objects.filter(customer_id__in=pays["customer_id"].unique().tolist(),
                                        status=InvoiceStatus.OPEN)
                 .values("id", "customer_id", "currency", "due_date", "issue_date", "number", "amount",
                         "amount_paid")),
            columns=["id", "customer_id", "currency", "due_date", "issue_date", "number", "amount", "amount_paid"])
        if invs.empty:
            continue
        invs["open"] = _cents(invs["amount"]) - _cents(invs["amount_paid"])
        invs = invs.rename(columns={"id": "invoice_id"})
        pieces = []
        # 1. hinted invoices: payments of one invoice in date order, each taking what is still open
        pays["hint"] = pays["payment_id"].map(hints)
        hinted = pays[pays["hint"].notna()].astype({"hint": "int64"}).merge(
            invs[["invoice_id", "customer_id", "currency", "open"]], left_on=["hint", "customer_id", "currency"],
            right_on=["invoice_id", "customer_id", "currency"])
        if not hinted.empty:
            hinted = hinted.sort_values(["invoice_id", "date", "payment_id"])
            before = hinted.groupby("invoice_id")["remaining"].cumsum() - hinted["remaining"]
            hinted["cents"] = np.minimum(hinted["remaining"], (hinted["open"] - before).clip(lower=0))
            hinted = hinted[hinted["cents"] > 0]
            pieces.append(hinted[["payment_id", "invoice_id", "cents"]])
            paid_by_payment = hinted.groupby("payment_id")["cents"].sum()
            paid_on_invoice = hinted.groupby("invoice_id")["cents"].sum()
            pays["remaining"] -= pays["payment_id"].map(paid_by_payment).fillna(0).astype("int64")
            invs["open"] -= invs["invoice_id"].map(paid_on_invoice).fillna(0).astype("int64")
        # 2. FIFO per customer and currency
        keys = pd.concat([pays[["customer_id", "currency"]], invs[["customer_id", "currency"]]]).drop_duplicates()
        keys["key"] = np.arange(len(keys))
        pays = pays.merge(keys, on=["customer_id", "currency"]).sort_values(["key", "date", "payment_id"])
        invs = invs.merge(keys, on=["customer_id", "currency"]).sort_values(
            ["key", "due_date", "issue_date", "number", "invoice_id"])
        pieces.append(_fifo_pieces(invs, pays))
        allocation = pd.concat(pieces, ignore_index=True).groupby(["payment_id", "invoice_id"], as_index=False)[
            "cents"].sum()
        rows = [PaymentAllocation(payment_id=int(p), invoice_id=int(i), amount=Decimal(int(c)) / 100)
                for p, i, c in allocation.itertuples(index=False)]
        PaymentAllocation.objects.bulk_create(rows, batch_size=2000)
        created += len(rows)
        touched.update(int(i) for i in allocation["invoice_id"])
    invoice_paid_recompute(invoice_ids=touched)
    return created


# --------------------------------------------------------------------------------------------------
# sales orders

ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.OPEN: {OrderStatus.HELD, OrderStatus.RELEASED, OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.HELD: {OrderStatus.OPEN, OrderStatus.RELEASED, OrderStatus.CANCELLED},
    OrderStatus.RELEASED: {OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.HELD},
    OrderStatus.SHIPPED: set(),
    OrderStatus.CANCELLED: set(),
}


@transaction.atomic
def sales_order_create(*, customer: Customer, number: str, order_date: dt.date, amount: Decimal,
                       currency: str | None = None, status: str = OrderStatus.OPEN, actor,
                       reason: str = "") -> SalesOrder:
    order = SalesOrder(customer=customer, number=_text(number), order_date=order_date,
                       amount=_clean_amount(amount), currency=_text(currency or customer.currency).upper(),
                       status=status)
    order.full_clean()
    order.save(force_insert=True)
    _audit(actor=actor, action="sales_order.create", instance=order, before=None, reason=reason)
    return order


@transaction.atomic
def sales_order_update_status(*, order: SalesOrder, status: str, actor, reason: str = "") -> SalesOrder:
    order = SalesOrder.objects.select_for_update().get(pk=order.pk)
    if status == order.status:
        return order
    if status not in OrderStatus.values:
        raise ValidationError({"status": [_("Unknown order status %(status)s.") % {"status": status}]})
    if status not in ORDER_TRANSITIONS[order.status]:
        raise ValidationError({"status": [_("An order cannot go from %(old)s to %(new)s.")
                                          % {"old": order.get_status_display(),
                                             "new": OrderStatus(status).label}]})
    before = _snap(order)
    order.status = status
    order.save(update_fields=["status", "updated_at"])
    _audit(actor=actor, action="sales_order.status", instance=order, before=before, reason=reason)
    return order


# --------------------------------------------------------------------------------------------------
# financial statements

STATEMENT_FIELDS = ("period_end", "period_type", "audited", "source", "currency", "revenue", "cogs", "ebit",
                    "net_income", "interest_expense", "total_assets", "current_assets", "cash", "inventory",
                    "receivables", "total_liabilities", "current_liabilities", "retained_earnings", "equity",
                    "operating_cash_flow")
_NON_NEGATIVE = ("total_assets", "current_assets", "cash", "inventory", "receivables", "total_liabilities",
                 "current_liabilities", "revenue")


def balance_tolerance(total_assets: Decimal) -> Decimal:
    """How far assets may differ from liabilities + equity (rounding in published accounts)."""
    return max(Decimal("1.00"), abs(total_assets) * Decimal("0.005"))


def statement_validate(statement: FinancialStatement) -> None:
    """Raise a field-keyed ValidationError unless the statement is internally consistent."""
    errors: dict[str, list] = {}
    for name in _NON_NEGATIVE:
        value = getattr(statement, name)
        if value is not None and value < 0:
            errors.setdefault(name, []).append(_("This amount cannot be negative."))
    if statement.total_assets is not None and statement.total_assets <= 0 and "total_assets" not in errors:
        errors["total_assets"] = [_("Total assets must be positive.")]
    ta, ca = statement.total_assets, statement.current_assets
    if ta is not None and ca is not None and ca > ta:
        errors.setdefault("current_assets", []).append(_("Current assets cannot exceed total assets."))
    tl, cl = statement.total_liabilities, statement.current_liabilities
    if tl is not None and cl is not None and cl > tl:
        errors.setdefault("current_liabilities", []).append(
            _("Current liabilities cannot exceed total liabilities."))
    parts = [getattr(statement, n) for n in ("cash", "inventory", "receivables")]
    if ca is not None and all(p is not None for p in parts) and sum(parts) > ca + balance_tolerance(ca):
        errors.setdefault("current_assets", []).append(
            _("Cash, inventory and receivables together exceed current assets."))
    equity = statement.equity
    if ta is not None and tl is not None and equity is not None and not errors:
        gap = ta - (tl + equity)
        if abs(gap) > balance_tolerance(ta):
            errors["total_assets"] = [
                _("The balance sheet does not balance: total assets %(assets)s differ from liabilities plus "
                  "equity %(sum)s by %(gap)s (more than the tolerance of %(tolerance)s).")
                % {"assets": ta, "sum": tl + equity, "gap": gap, "tolerance": balance_tolerance(ta)}
            ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def financial_statement_create(*, customer: Customer, actor, reason: str = "", **fields) -> FinancialStatement:
    """Keyword fields are FinancialStatement's (see STATEMENT_FIELDS); currency defaults to the customer's."""
    unknown = sorted(set(fields) - set(STATEMENT_FIELDS))
    if unknown:
        raise ValidationError({key: [_("Unknown field.")] for key in unknown})
    fields.setdefault("currency", customer.currency)
    statement = FinancialStatement(customer=customer, **fields)
    statement.full_clean(validate_constraints=False)
    statement_validate(statement)
    statement.validate_constraints()
    statement.save(force_insert=True)
    _audit(actor=actor, action="financial_statement.create", instance=statement, before=None,
                       reason=reason)
    return statement


@transaction.atomic
def financial_statement_update(*, statement: FinancialStatement, data: dict, actor,
                               reason: str = "") -> FinancialStatement:
    statement = FinancialStatement.objects.select_for_update().get(pk=statement.pk)
    before = _snap(statement)
    changed = _apply(statement, dict(data), STATEMENT_FIELDS)
    statement.full_clean(validate_constraints=False)
    statement_validate(statement)
    statement.validate_constraints()
    _save_update(statement, changed)
    if changed:
        _audit(actor=actor, action="financial_statement.update", instance=statement, before=before,
                           reason=reason)
    return statement


# --------------------------------------------------------------------------------------------------
# credit reports

@transaction.atomic
def credit_report_create(*, customer: Customer, provider: str = "manual", data=None, file=None, actor,
                         reason: str = "") -> CreditReport:
    """Store a third-party report through a provider plug-in.

    ``data`` (a providers.ReportData or a dict) is manual entry; otherwise ``file`` is parsed by the
    provider; with neither, the provider fetches the report for the customer.
    """
    from customers.providers import ReportData, get_provider

    plugin = get_provider(provider)
    if data is None and file is not None:
        data = plugin.parse_file(file)
    elif data is None:
        data = plugin.fetch(customer)
    if isinstance(data, dict):
        data = ReportData.from_mapping(data)
    report = CreditReport(customer=customer, provider=plugin.key, **data.as_model_fields())
    report.full_clean(exclude=["file"])
    if file is not None:
        file.seek(0)
        report.file.save((getattr(file, "name", "") or "report").rsplit("/", 1)[-1], file, save=False)
    try:
        report.save(force_insert=True)
        _audit(actor=actor, action="credit_report.create", instance=report, before=None,
                           reason=reason)
    except Exception:
        if report.file:
            report.file.delete(save=False)
        raise
    return report


# --------------------------------------------------------------------------------------------------
# documents

DOCUMENT_MAX_BYTES = 20 * 1024 * 1024
DOCUMENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "csv": "text/csv",
    "txt": "text/plain",
}


def document_max_bytes() -> int:
    return min(settings.CREDITRISK_MAX_UPLOAD_BYTES, DOCUMENT_MAX_BYTES)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is fine.
            if exc.start >= len(head) - 4:
                return True
    return False


def detect_document_type(file, extension: str) -> str | None:
    """The content type the file's bytes prove for ``extension``, or None if they don't match."""
    file.seek(0)
    head = file.read(8192)
    file.seek(0)
    if extension == "pdf":
        ok = head.startswith(b"%PDF-")
    elif extension == "png":
        ok = head.startswith(b"\x89PNG\r\n\x1a\n")
    elif extension in ("jpg", "jpeg"):
        ok = head.startswith(b"\xff\xd8\xff")
    elif extension in ("xlsx", "docx"):
        ok = False
        if head.startswith(b"PK\x03\x04"):
            try:
                data = file.read()
                names = zipfile.ZipFile(io.BytesIO(data)).namelist()
                ok = "[Content_Types].xml" in names and any(
                    n.startswith("xl/" if extension == "xlsx" else "word/") for n in names)
            except (zipfile.BadZipFile, ValueError, OSError):
                ok = False
            finally:
                file.seek(0)
    elif extension in ("csv", "txt"):
        ok = _looks_like_text(head)
    else:
        return None
    return DOCUMENT_TYPES[extension] if ok else None


@transaction.atomic
def document_upload(*, customer: Customer, file, title: str = "", actor, reason: str = "") -> Document:
    """Store an uploaded file after checking size and type (by its bytes, not only its name)."""
    name = getattr(file, "name", "") or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, io.SEEK_END)
        size = file.tell()
        file.seek(0)
    limit = document_max_bytes()
    if size > limit:
        raise ValidationError({"file": [_("The file is too large (%(size)s MB; the limit is %(limit)s MB).")
                                        % {"size": round(size / 1024 / 1024, 1), "limit": limit // 1024 // 1024}]})
    if size == 0:
        raise ValidationError({"file": [_("The file is empty.")]})
    if extension not in DOCUMENT_TYPES:
        raise ValidationError({"file": [_("Only PDF, PNG, JPEG, XLSX, DOCX, CSV and TXT files can be uploaded.")]})
    content_type = detect_document_type(file, extension)
    if content_type is None:
        raise ValidationError({"file": [_("The file's content does not match its type (.%(ext)s).")
                                        % {"ext": extension}]})
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in (file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(65536), b"")):
        digest.update(chunk)
    file.seek(0)
    document = Document(customer=customer, title=(title or name)[:200], content_type=content_type, size=size,
                        sha256=digest.hexdigest(), uploaded_by=actor if getattr(actor, "is_authenticated", False)
                        else None)
    document.file.save(name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1], file, save=False)
    try:
        document.full_clean()
        document.save(force_insert=True)
        _audit(actor=actor, action="document.upload", instance=document, before=None, reason=reason)
    except Exception:
        document.file.delete(save=False)
        raise
    return document


@transaction.atomic
def document_delete(*, document: Document, actor, reason: str = "") -> None:
    before = _snap(document)
    _audit(actor=actor, action="document.delete", instance=document, before=before, reason=reason)
    stored = document.file.name
    storage = document.file.storage
    document.delete()
    transaction.on_commit(lambda: storage.delete(stored))
