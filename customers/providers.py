"""Credit report providers: a small plug-in interface, a registry, and the built-in manual/file provider.

A provider turns "get me a report on this customer" (``fetch``) or an uploaded report file
(``parse_file``) into :class:`ReportData`; customers.services.credit_report_create stores it.
Third-party bureaus plug in by subclassing :class:`CreditReportProvider` and calling :func:`register`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_REPORT_FILE_BYTES = 5 * 1024 * 1024


def _decimal(value, name: str, *, low: Decimal | None = None, high: Decimal | None = None) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValidationError({name: [_("Enter a number.")]}) from None
    if not number.is_finite():
        raise ValidationError({name: [_("Enter a number.")]})
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValidationError({name: [_("The value is out of range.")]})
    return number


def _date(value, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
    raise ValidationError({name: [_("Enter a date such as 2026-03-01.")]})


@dataclass
class ReportData:
    """What a provider returns: the fields of a CreditReport (everything but customer/provider/file)."""

    report_date: dt.date
    score: Decimal | None = None
    rating: str = ""
    pd: Decimal | None = None
    payment_index: Decimal | None = None
    recommended_limit: Decimal | None = None
    legal_events: int = 0
    raw_data: dict = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: dict) -> ReportData:
        """Validate loose input (strings from a form, CSV or JSON) into typed report data."""
        if not isinstance(data, dict):
            raise ValidationError(_("A report must be a set of named values."))
        legal = data.get("legal_events")
        legal_number = _decimal(legal, "legal_events", low=Decimal(0)) if legal not in (None, "") else Decimal(0)
        if legal_number != legal_number.to_integral_value():
            raise ValidationError({"legal_events": [_("Enter a whole number.")]})
        raw = data.get("raw_data")
        if raw is None:
            raw = {k: (str(v) if not isinstance(v, str | int | float | bool) and v is not None else v)
                   for k, v in data.items()}
        return cls(
            report_date=_date(data.get("report_date"), "report_date"),
            score=_decimal(data.get("score"), "score", low=Decimal("-99999999"), high=Decimal("99999999")),
            rating=str(data.get("rating") or "").strip()[:20],
            pd=_decimal(data.get("pd"), "pd", low=Decimal(0), high=Decimal(1)),
            payment_index=_decimal(data.get("payment_index"), "payment_index", low=Decimal("-999999"),
                                   high=Decimal("999999")),
            recommended_limit=_decimal(data.get("recommended_limit"), "recommended_limit", low=Decimal(0)),
            legal_events=int(legal_number),
            raw_data=raw if isinstance(raw, dict) else {"value": raw},
        )

    def as_model_fields(self) -> dict:
        return asdict(self)


class CreditReportProvider:
    """Base class of a report provider plug-in."""

    key: str = ""
    label = ""

    def fetch(self, customer) -> ReportData:
        """Fetch a fresh report for ``customer`` from the outside world."""
        raise ValidationError(_("The %(provider)s provider cannot fetch reports; enter or upload one.")
                              % {"provider": self.label or self.key})

    def parse_file(self, file) -> ReportData:
        """Read a report file the provider delivered."""
        raise ValidationError(_("The %(provider)s provider cannot read files.") % {"provider": self.label or self.key})


_REGISTRY: dict[str, CreditReportProvider] = {}


def register(provider: CreditReportProvider) -> CreditReportProvider:
    if not provider.key:
        raise ValueError("a provider needs a key")
    _REGISTRY[provider.key] = provider
    return provider


def get_provider(key: str) -> CreditReportProvider:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ValidationError({"provider": [_("Unknown credit report provider %(key)s.") % {"key": key}]}) from None


def provider_choices() -> list[tuple[str, str]]:
    return [(p.key, str(p.label)) for p in _REGISTRY.values()]


class ManualProvider(CreditReportProvider):
    """Manual entry, or a CSV/JSON file with the report's values (first data row for CSV)."""

    key = "manual"
    label = gettext_lazy("Manual entry / file")

    def parse_file(self, file) -> ReportData:
        name = (getattr(file, "name", "") or "").lower()
        file.seek(0)
        raw = file.read(MAX_REPORT_FILE_BYTES + 1)
        file.seek(0)
        if len(raw) > MAX_REPORT_FILE_BYTES:
            raise ValidationError({"file": [_("The report file is too large.")]})
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        text = None
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        if text is None:
            raise ValidationError({"file": [_("The report file is not readable text (UTF-8 or GB18030).")]})
        stripped = text.lstrip()
        if name.endswith(".json") or stripped.startswith(("{", "[")):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                raise ValidationError({"file": [_("The report file is not valid JSON.")]}) from None
            if isinstance(data, list) and data:
                data = data[0]
            if not isinstance(data, dict):
                raise ValidationError({"file": [_("The JSON report must be an object of named values.")]})
            return ReportData.from_mapping(data)
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows:
            raise ValidationError({"file": [_("The report file has no data row.")]})
        row = {str(k).strip().lower(): (v.strip() if isinstance(v, str) else v)
               for k, v in rows[0].items() if k is not None}
        return ReportData.from_mapping({**row, "raw_data": row})


register(ManualProvider())
