"""The Chinese catalogue is complete and its committed .mo is compiled from the current .po."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES"


def _po_entries(text: str) -> dict[tuple[str | None, str], str]:
    """(msgctxt, msgid) → msgstr (msgstr[0] for plurals), joining continued lines; the header is skipped."""
    entries, current, key = {}, {}, None
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if not line:
            if current.get("msgid"):
                key_ = (current.get("msgctxt"), current["msgid"])
                entries[key_] = current.get("msgstr", current.get("msgstr[0]", ""))
            current, key = {}, None
        elif line.startswith("#"):
            continue
        elif line.startswith('"') and key:
            current[key] += ast.literal_eval(line)
        else:
            key, _sep, value = line.partition(" ")
            if key.startswith("msgctxt"):
                key = "msgctxt"
            current[key] = ast.literal_eval(value)
    return entries


def test_every_string_has_a_chinese_translation():
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = _po_entries(text)
    assert len(entries) > 500
    missing = [msgid for msgid, msgstr in entries.items() if not msgstr]
    assert missing == []
    assert "#, fuzzy" not in text.split("\n\n", 1)[1], "fuzzy entries are not used at run time"


def test_the_compiled_catalogue_matches_the_po_file():
    entries = _po_entries((LOCALE / "django.po").read_text(encoding="utf-8"))
    with open(LOCALE / "django.mo", "rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    stale = [msgid for (context, msgid), msgstr in entries.items()
             if (catalogue.pgettext(context, msgid) if context else catalogue.gettext(msgid)) != msgstr]
    assert stale == [], f"run `make messages` (or msgfmt): {len(stale)} entries differ, e.g. {stale[:3]}"
