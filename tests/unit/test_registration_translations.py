"""Every string the registration and enterprise-record pages show has a Chinese translation (the shared
messages.pot predates them, so they are extracted here from their own files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    "python": ["web/registration.py", "web/registration_labels.py", "web/admin_records.py"],
    "jinja2": ["web/templates/registration/form.html", "web/templates/registration/code.html",
               "web/templates/admin/enterprise.html", "web/templates/admin/enterprises.html"],
}
KEYWORDS = {"_": None, "_l": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}


def _messages() -> set[str]:
    found: set[str] = set()
    for method, paths in FILES.items():
        for path in paths:
            for _line, message, _comments, _context in extract_from_file(method, str(ROOT / path),
                                                                          keywords=KEYWORDS):
                found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", ["zh", "en"])
def test_registration_messages_are_in_the_catalogs(language):
    with open(ROOT / "web" / "translations" / language / "LC_MESSAGES" / "messages.po", "rb") as catalog:
        entries = {m.id: m.string for m in read_po(catalog, locale=language) if m.id}
    wanted = _messages()
    assert len(wanted) > 80
    missing = {message for message in wanted if message not in entries}
    assert missing == set()
    if language == "zh":
        assert {message for message in wanted if not entries[message]} == set()
