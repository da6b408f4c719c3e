"""Row validation shared by file imports and API batches: coerce each cell, then check a whole
chunk against the database with one query per lookup (customer codes, owners, invoices)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from customers.attributes import clean_attribute_values
from customers.importers.columns import SPECS, Column
from customers.importers.errors import RowError
from customers.models import Customer, Invoice, InvoiceStatus, PeriodType
from customers.parsing import (
    BadValue,
    clean_text,
    is_blank,
    parse_bool,
    parse_choice,
    parse_country,
    parse_currency,
    parse_date,
    parse_decimal,
    parse_int,
)
from customers.validators import validate_uscc

ZERO = Decimal("0")
# Financial items that cannot be negative (equity, profits and cash flow can).
NON_NEGATIVE = {"paid_amount", "revenue", "current_assets", "cash", "inventory", "receivables", "total_liabilities",
                "current_liabilities", "recommended_limit"}


def coerce_cell(column: Column, value):
    kind = column.type
    if kind == "text":
        return clean_text(value, max_length=column.max_length)
    if kind == "date":
        return parse_date(value)
    if kind in ("money", "amount"):
        number = parse_decimal(value)
        if kind == "amount" and number <= 0:
            raise BadValue(_("The amount must be positive."))
        if column.name in NON_NEGATIVE and number < 0:
            raise BadValue(_("The value cannot be negative."))
        return number
    if kind == "decimal":
        return parse_decimal(value, places=2, max_digits=8)
    if kind == "int":
        return parse_int(value, minimum=0, maximum=2_000_000_000)
    if kind == "bool":
        return parse_bool(value)
    if kind == "currency":
        return parse_currency(value)
    if kind == "country":
        return parse_country(value)
    if kind == "choice":
        return parse_choice(value, column.choices)
    if kind == "pd":
        number = parse_decimal(value, places=6, max_digits=9, percent=True)
        if not ZERO <= number <= 1:
            raise BadValue(_("A probability of default is between 0 and 1 (or 0% and 100%)."))
        return number
    raise AssertionError(kind)


def coerce_row(kind: str, row: int | None, cells: dict, errors: list[RowError],
               partial: list[dict] | None = None) -> dict | None:
    """Typed values for the non-blank cells, or None if a cell is bad or a required value is missing
    (then what did coerce goes to ``partial``, so the database checks can still report on it)."""
    spec = SPECS[kind]
    clean: dict = {"_row": row}
    ok = True
    for column in spec.columns:
        value = cells.get(column.name)
        if is_blank(value):
            if column.required:
                errors.append(RowError(row, column.name, _("A value is required.")))
                ok = False
            continue
        try:
            clean[column.name] = coerce_cell(column, value)
        except BadValue as exc:
            errors.append(RowError(row, column.name, str(exc)))
            ok = False
            continue
        if column.required and clean[column.name] == "":
            errors.append(RowError(row, column.name, _("A value is required.")))
            ok = False
    if kind == "financials":
        clean.setdefault("period_type", PeriodType.ANNUAL.value)
    # Cross-column checks run on whatever did coerce, so one pass reports every problem of the row.
    checked = _check_row(kind, clean, errors)
    if ok and checked:
        return clean
    if partial is not None:
        partial.append(clean)
    return None


def _check_row(kind: str, clean: dict, errors: list[RowError]) -> bool:
    row = clean["_row"]
    before = len(errors)
    if kind == "invoices":
        issued = clean.get("issue_date")
        if issued and clean.get("due_date") and clean["due_date"] < issued:
            errors.append(RowError(row, "due_date", _("The due date is before the issue date.")))
        paid = clean.get("paid_amount")
        if paid is not None and "amount" in clean and paid > clean["amount"]:
            errors.append(RowError(row, "paid_amount", _("The paid amount is more than the invoice amount.")))
        if issued and clean.get("paid_date") and clean["paid_date"] < issued:
            errors.append(RowError(row, "paid_date", _("The paid date is before the issue date.")))
    elif kind == "financials":
        from customers.models import FinancialStatement
        from customers.services import statement_validate

        fields = {name: value for name, value in clean.items()
                  if name not in ("_row", "customer_code") and not name.startswith("_")}
        try:
            statement_validate(FinancialStatement(**fields))
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.append(RowError(row, name, " ".join(messages)))
    elif kind == "customers" and "registration_no" in clean:
        clean["registration_no"] = clean["registration_no"].upper()
    return len(errors) == before


def natural_key(kind: str, clean: dict) -> tuple:
    return tuple(clean[name] for name in SPECS[kind].key)


def _customers_by_code(codes) -> dict[str, tuple[int, str, str]]:
    if not codes:
        return {}
    return {code: (pk, currency, country) for pk, code, currency, country in
            Customer.objects.filter(code__in=list(codes)).values_list("id", "code", "currency", "country")}


def resolve_chunk(kind: str, rows: list[dict], errors: list[RowError], *, attribute_columns: dict | None = None,
                  definitions: dict | None = None, partial: list[dict] = ()) -> list[dict]:
    """Check a chunk of coerced rows against the database; return the rows that pass, with ids resolved.

    ``partial`` rows (a cell was bad) are only checked for an unknown customer code, in the same query.
    """
    if kind == "customers":
        return _resolve_customers(rows, errors, attribute_columns or {}, definitions or {})
    customers = _customers_by_code({row["customer_code"] for row in [*rows, *partial] if "customer_code" in row})
    for row in partial:
        if "customer_code" in row and row["customer_code"] not in customers:
            errors.append(RowError(row["_row"], "customer_code",
                                   _("Unknown customer code %(code)s.") % {"code": row["customer_code"]}))
    good = []
    for row in rows:
        found = customers.get(row["customer_code"])
        if found is None:
            errors.append(RowError(row["_row"], "customer_code",
                                   _("Unknown customer code %(code)s.") % {"code": row["customer_code"]}))
            continue
        row["customer_id"], customer_currency = found[0], found[1]
        if "currency" in SPECS[kind].by_name:
            row.setdefault("currency", customer_currency)
        good.append(row)
    if kind == "payments":
        good = _resolve_invoices(good, errors)
    elif kind == "invoices":
        good = _check_paid_amounts(good, errors)
    return good


def _check_paid_amounts(rows: list[dict], errors: list[RowError]) -> list[dict]:
    """What a row says was paid outside, plus the payments already allocated here to the invoice, must
    stay within its amount; and a row marked paid with a paid_amount must be fully paid by the two."""
    from customers.bulk import allocated_totals, outside_part, rows_by_key

    existing = {(invoice.customer_id, invoice.number): invoice
                for invoice in rows_by_key(Invoice, ("customer_id", "number"),
                                           [(row["customer_id"], row["number"]) for row in rows])}
    allocated = allocated_totals(invoice.pk for invoice in existing.values())
    good = []
    for row in rows:
        instance = existing.get((row["customer_id"], row["number"]))
        amount = row.get("amount", instance.amount if instance is not None else ZERO)
        paid_here = allocated.get(instance.pk, ZERO) if instance is not None else ZERO
        outside = outside_part(row, instance, paid_here)
        if paid_here > amount:
            errors.append(RowError(row["_row"], "amount", _(
                "The amount %(amount)s is below the payments already recorded for this invoice (%(paid)s).")
                % {"amount": amount, "paid": paid_here}))
            continue
        if outside + paid_here > amount:
            errors.append(RowError(row["_row"], "paid_amount" if row.get("paid_amount") is not None else "amount", _(
                "The paid amount %(outside)s and the payments recorded here (%(paid)s) together exceed the "
                "invoice amount %(amount)s.") % {"outside": outside, "paid": paid_here, "amount": amount}))
            continue
        if row.get("status") == InvoiceStatus.PAID and outside + paid_here < amount:
            errors.append(RowError(row["_row"], "paid_amount", _(
                "The invoice is marked paid, but the paid amount %(outside)s and the payments recorded here "
                "(%(paid)s) do not cover its amount %(amount)s.") % {"outside": outside, "paid": paid_here,
                                                                   "amount": amount}))
            continue
        good.append(row)
    return good


def _resolve_invoices(rows: list[dict], errors: list[RowError]) -> list[dict]:
    named = [row for row in rows if row.get("invoice_number")]
    if not named:
        return rows
    from customers.bulk import rows_by_key

    found = {
        (invoice.customer_id, invoice.number): (invoice.pk, invoice.currency, invoice.status)
        for invoice in rows_by_key(Invoice, ("customer_id", "number"),
                                   [(row["customer_id"], row["invoice_number"]) for row in named])
    }
    good = []
    for row in rows:
        number = row.get("invoice_number")
        if number:
            invoice = found.get((row["customer_id"], number))
            if invoice is None:
                errors.append(RowError(row["_row"], "invoice_number", _(
                    "Customer %(code)s has no invoice %(number)s.") % {"code": row["customer_code"], "number": number}))
                continue
            if invoice[1] != row["currency"]:
                errors.append(RowError(row["_row"], "currency", _(
                    "The payment is in %(pay)s but invoice %(number)s is in %(inv)s.")
                    % {"pay": row["currency"], "number": number, "inv": invoice[1]}))
                continue
            if invoice[2] == InvoiceStatus.CANCELLED:
                errors.append(RowError(row["_row"], "invoice_number", _(
                    "Invoice %(number)s is cancelled.") % {"number": number}))
                continue
            row["invoice_id"] = invoice[0]
        good.append(row)
    return good


def _resolve_customers(rows: list[dict], errors: list[RowError], attribute_columns: dict,
                       definitions: dict) -> list[dict]:
    existing = _customers_by_code({row["code"] for row in rows})
    owners: dict[str, int] = {}
    wanted = {row["owner"] for row in rows if row.get("owner")}
    if wanted:
        owners = dict(get_user_model().objects.filter(username__in=wanted, is_active=True)
                      .values_list("username", "id"))
    good = []
    for row in rows:
        ok = True
        found = existing.get(row["code"])
        row["_exists"] = found is not None
        country = row.get("country") or (found[2] if found else "CN")
        if row.get("registration_no") and country == "CN":
            try:
                validate_uscc(row["registration_no"])
            except ValidationError as exc:
                errors.append(RowError(row["_row"], "registration_no", " ".join(exc.messages)))
                ok = False
        if row.get("owner"):
            if row["owner"] in owners:
                row["owner_id"] = owners[row["owner"]]
            else:
                errors.append(RowError(row["_row"], "owner", _("There is no active user %(name)s.")
                                       % {"name": row["owner"]}))
                ok = False
        raw_attributes = row.pop("_attributes", {})
        if raw_attributes or (definitions and not row["_exists"]):
            try:
                row["attributes"] = clean_attribute_values(raw_attributes, partial=row["_exists"],
                                                           definitions=definitions)
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    attribute = key.removeprefix("attributes.")
                    errors.append(RowError(row["_row"], attribute_columns.get(attribute, key), " ".join(messages)))
                ok = False
        if ok:
            good.append(row)
    return good
