"""Parsing values as ERP exports really write them (shared by customers.importers and
customers.attributes, and importing neither): thousands separators, currency symbols,
several date spellings, Excel serial dates, Chinese yes/no. Every parser raises BadValue with a
message that can be shown to the user next to the row and column."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from customers.validators import ISO_COUNTRIES, ISO_CURRENCIES


class BadValue(ValueError):
    """A cell that cannot be read as the column's type; str(exc) is the user-facing reason."""


BLANKS = {"", "-", "—", "n/a", "na", "null", "none", "nan", "#n/a"}

_SPACES = re.compile(r"[\s\u00a0\u2007\u2009\u202f\u3000'’]+")
_CURRENCY_AFFIX = re.compile(r"^(?:[A-Z]{3}|RMB|[¥￥$€£])\s*|\s*(?:[A-Z]{3}|RMB|元|[¥￥$€£])$")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?[eE][+-]?\d{1,3}")
_COMMA_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_DOT_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d*)?")
_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SIMPLE_DECIMAL = re.compile(r"-?\d{1,15}(?:\.\d{1,2})?")

EXCEL_EPOCH = dt.date(1899, 12, 30)
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)

TRUE_WORDS = {"1", "true", "t", "yes", "y", "是", "真", "对", "√", "✓"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "否", "假", "错", "×"}

CURRENCY_ALIASES = {"RMB": "CNY", "人民币": "CNY", "元": "CNY", "美元": "USD", "欧元": "EUR", "港币": "HKD",
                    "港元": "HKD", "日元": "JPY", "英镑": "GBP", "澳元": "AUD", "新加坡元": "SGD"}
COUNTRY_ALIASES = {"中国": "CN", "CHINA": "CN", "CHN": "CN", "中国香港": "HK", "香港": "HK", "美国": "US",
                   "USA": "US", "德国": "DE", "日本": "JP", "英国": "GB", "UK": "GB", "新加坡": "SG"}


def is_blank(value) -> bool:
    if value is None or value == "":
        return True
    if type(value) is str and len(value) > 4 and not value[0].isspace() and not value[-1].isspace():
        return False  # the common case: a real value (every blank spelling is at most 4 characters)
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str):
        return value.strip(" \t\r\n\u00a0\u3000").lower() in BLANKS
    return False


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def clean_text(value, *, max_length: int | None = None) -> str:
    """A trimmed string; numbers from spreadsheet cells become their plain spelling."""
    if value is None:
        return ""
    if type(value) is str:
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue(_("This is not a valid value."))
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    elif isinstance(value, (int, Decimal, dt.date)):
        text = str(value)
    else:
        text = str(value)
    text = text.strip(" \t\r\n\u00a0\u3000")
    if _CONTROL.search(text):
        if "\x00" in text:
            raise BadValue(_("The value contains a NUL character."))
        raise BadValue(_("The value contains control characters."))
    if max_length is not None and len(text) > max_length:
        raise BadValue(_("The value is too long (%(n)d characters, at most %(max)d).")
                       % {"n": len(text), "max": max_length})
    return text


def _number_text(value: str) -> tuple[str, bool]:
    """Strip currency and grouping from a number's spelling; return (plain text, negative)."""
    text = _nfkc(value).upper()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    for _i in range(2):
        text = _CURRENCY_AFFIX.sub("", text).strip()
        if text.startswith("-") or text.startswith("−"):
            negative, text = not negative, text[1:].strip()
        elif text.endswith("-"):
            negative, text = not negative, text[:-1].strip()
        elif text.startswith("+"):
            text = text[1:].strip()
    text = _SPACES.sub("", text)
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):  # 1.234,56
            if not _DOT_THOUSANDS.fullmatch(text):
                raise BadValue(_("This is not a number."))
            text = text.replace(".", "").replace(",", ".")
        else:  # 1,234.56
            if not _COMMA_THOUSANDS.fullmatch(text):
                raise BadValue(_("This is not a number."))
            text = text.replace(",", "")
    elif "," in text:
        if _COMMA_THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        elif text.count(",") == 1:  # decimal comma: 1234,56
            text = text.replace(",", ".")
        else:
            raise BadValue(_("This is not a number."))
    elif text.count(".") > 1:
        if not _DOT_THOUSANDS.fullmatch(text):
            raise BadValue(_("This is not a number."))
        text = text.replace(".", "")
    return text, negative


def parse_decimal(value, *, places: int = 2, max_digits: int = 18, percent: bool = False) -> Decimal:
    """A Decimal with at most ``places`` decimals and ``max_digits`` digits in all."""
    exact = True
    if isinstance(value, bool):
        raise BadValue(_("This is not a number."))
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue(_("This is not a number."))
        number, exact = Decimal(repr(value)), False
    elif isinstance(value, str) and _SIMPLE_DECIMAL.fullmatch(value):
        number = Decimal(value)  # the common case, without the separator and currency handling
    else:
        text = str(value)
        is_percent = percent and text.strip().endswith(("%", "％"))
        if is_percent:
            text = text.strip()[:-1]
        plain, negative = _number_text(text)
        if not (_PLAIN_NUMBER.fullmatch(plain) or _SCIENTIFIC.fullmatch(plain)):
            raise BadValue(_("This is not a number."))
        try:
            number = Decimal(plain)
        except InvalidOperation:
            raise BadValue(_("This is not a number.")) from None
        if negative:
            number = -number
        if is_percent:
            number = number / 100
    if not number.is_finite():
        raise BadValue(_("This is not a number."))
    quantum = Decimal(1).scaleb(-places)
    try:
        rounded = number.quantize(quantum)
    except InvalidOperation:
        raise BadValue(_("The number is too large.")) from None
    # Spreadsheet floats carry binary noise (0.1 + 0.2); anything beyond that is a real extra decimal.
    if rounded != number and (exact or abs(rounded - number) > Decimal("1e-9") * max(1, abs(number))):
        raise BadValue(_("The number has more than %(places)d decimal places.") % {"places": places})
    if abs(rounded) >= Decimal(10) ** (max_digits - places):
        raise BadValue(_("The number is too large."))
    return rounded + 0  # normalise -0.00 to 0.00


def parse_int(value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    number = int(parse_decimal(value, places=0, max_digits=12))
    if minimum is not None and number < minimum:
        raise BadValue(_("The value must be at least %(min)s.") % {"min": minimum})
    if maximum is not None and number > maximum:
        raise BadValue(_("The value must be at most %(max)s.") % {"max": maximum})
    return number


def _check_range(day: dt.date) -> dt.date:
    if not MIN_DATE <= day <= MAX_DATE:
        raise BadValue(_("The date %(date)s is outside 1900–2100.") % {"date": day.isoformat()})
    return day


def _from_serial(number: float) -> dt.date:
    if not math.isfinite(number) or not 1 <= number < 73051:  # 73051 = 2100-01-01
        raise BadValue(_("This is not a date; write it as YYYY-MM-DD."))
    return _check_range(EXCEL_EPOCH + dt.timedelta(days=int(number)))


def parse_date(value) -> dt.date:
    """Dates as 2026-03-01, 2026/03/01, 2026.3.1, 20260301, 2026年3月1日, Excel serials and real cells."""
    if isinstance(value, dt.datetime):
        return _check_range(value.date())
    if isinstance(value, dt.date):
        return _check_range(value)
    if isinstance(value, bool):
        raise BadValue(_("This is not a date; write it as YYYY-MM-DD."))
    if isinstance(value, (int, float, Decimal)):
        return _from_serial(float(value))
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return _check_range(dt.date.fromisoformat(value))
        except ValueError:
            raise BadValue(_("%(value)s is not a valid calendar date.") % {"value": value}) from None
    text = _nfkc(str(value))
    match = _YMD.fullmatch(text) or _COMPACT.fullmatch(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
        try:
            return _check_range(dt.date(year, month, day))
        except ValueError:
            raise BadValue(_("%(value)s is not a valid calendar date.") % {"value": text}) from None
    if _SERIAL.fullmatch(text):
        return _from_serial(float(text))
    raise BadValue(_("This is not a date; write it as YYYY-MM-DD."))


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        if value in (0, 1):
            return bool(value)
        raise BadValue(_("Write 1 or 0 (yes or no)."))
    text = _nfkc(str(value)).lower()
    if text in ("1.0", "1.00"):
        text = "1"
    elif text in ("0.0", "0.00"):
        text = "0"
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise BadValue(_("Write 1 or 0 (yes or no)."))


def parse_currency(value) -> str:
    if type(value) is str and value in ISO_CURRENCIES:
        return value
    text = _nfkc(clean_text(value)).upper()
    text = CURRENCY_ALIASES.get(text, text)
    if text not in ISO_CURRENCIES:
        raise BadValue(_("%(value)s is not an ISO 4217 currency code.") % {"value": text[:20]})
    return text


def parse_country(value) -> str:
    text = _nfkc(clean_text(value)).upper()
    text = COUNTRY_ALIASES.get(text, text)
    if text not in ISO_COUNTRIES:
        raise BadValue(_("%(value)s is not an ISO 3166 country code.") % {"value": text[:20]})
    return text


def choice_key(value) -> str:
    return re.sub(r"[\s\-]+", "_", _nfkc(clean_text(value)).lower())


def parse_choice(value, choices: dict[str, str]) -> str:
    """``choices`` maps every accepted spelling (already choice_key-normalised) to the stored value."""
    key = choice_key(value)
    if key in choices:
        return choices[key]
    allowed = sorted(set(choices.values()))
    raise BadValue(_("%(value)s is not one of: %(allowed)s.") % {"value": clean_text(value)[:40],
                                                                  "allowed": ", ".join(allowed)})
