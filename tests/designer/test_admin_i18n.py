"""The Simplified Chinese catalog: complete, and its committed .mo matches the .po.

CI compiles nothing (it may have no gettext tools), so a stale .mo would ship old text.
"""

import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES"
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def po_entries(path: Path) -> dict:
    """{msgid: [msgstr, ...]} of a .po file; plural entries are keyed by their singular."""
    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(r"(msgid_plural|msgid|msgstr(?:\[\d+\])?) ", line)
            if match:
                key = match.group(1)
                fields[key] = ""
            if key and _STRING.search(line):
                fields[key] += _unescape(_STRING.search(line).group(1))
        if fields.get("msgid"):
            entries[fields["msgid"]] = [
                v for k, v in sorted(fields.items()) if k.startswith("msgstr")
            ]
    return entries


def test_every_message_has_a_chinese_translation():
    entries = po_entries(LOCALE / "django.po")

    untranslated = [msgid for msgid, strings in entries.items() if not all(strings)]
    assert len(entries) > 100
    assert untranslated == []
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text(encoding="utf-8")


def test_the_committed_mo_file_matches_the_po_file():
    with (LOCALE / "django.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)

    for msgid, strings in po_entries(LOCALE / "django.po").items():
        assert catalog.gettext(msgid) == strings[0], msgid


@pytest.mark.django_db
def test_the_login_lockout_speaks_chinese_to_a_chinese_browser(client):
    from django.contrib.auth.models import User

    User.objects.create_user("wang", password="right", is_staff=True)
    for _ in range(11):
        locked = client.post(
            "/admin/login/",
            {"username": "wang", "password": "wrong"},
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
    assert locked.status_code == 429
    assert "分钟后重试" in locked.content.decode()
