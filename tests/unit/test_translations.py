"""Every visible string of the interface has a Chinese translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "web" / "translations"


def test_every_message_is_translated_to_chinese():
    with open(TRANSLATIONS / "messages.pot", "rb") as template:
        wanted = {m.id for m in read_po(template) if m.id}
    with open(TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po", "rb") as catalog:
        translated = {m.id for m in read_po(catalog, locale="zh") if m.id and m.string and not m.fuzzy}
    assert wanted, "no messages extracted"
    assert wanted - translated == set()
