"""The interface's gettext catalogs: complete, compiled, and in step with the code.

The .mo files are committed so that an install needs no build step; these tests fail
when a text in the code, the .pot, the .po or the .mo has moved on without the others
(`make translations` brings them back in step).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from survey_engine.i18n import MESSAGES, TRANSLATIONS_DIR, UI_LANGUAGES, message
from survey_engine.public.routes import CLIENT_MESSAGES, client_messages
from tests.conftest import DEMO_SLUG

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)s")


def catalog_file(lang: str, ext: str) -> Path:
    return TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"messages.{ext}"


def read_catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def ids(catalog) -> set[str]:
    return {m.id for m in catalog if m.id}


def mo_content(fileobj) -> dict:
    """What a .mo holds: its metadata and every (context, msgid) -> msgstr."""
    catalog = read_mo(fileobj)
    return {
        "headers": catalog.mime_headers,
        "messages": {(m.context, m.id): m.string for m in catalog if m.id},
    }


def code_msgids() -> set[str]:
    """What `pybabel extract -F babel.cfg .` finds in the code today."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    return {
        msgid
        for _file, _line, msgid, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map
        )
    }


def test_the_catalogs_hold_exactly_the_texts_of_the_code():
    in_code = code_msgids()
    assert set(MESSAGES.values()) <= in_code
    assert ids(read_catalog(TRANSLATIONS_DIR / "messages.pot")) == in_code
    for lang in UI_LANGUAGES:
        assert ids(read_catalog(catalog_file(lang, "po"))) == in_code, lang


def test_every_text_has_its_vietnamese_with_the_same_placeholders():
    catalog = read_catalog(catalog_file("vi", "po"))
    for m in catalog:
        if not m.id:
            continue
        assert m.string and not m.fuzzy, f"no Vietnamese for {m.id!r}"
        assert sorted(PLACEHOLDER_RE.findall(m.string)) == sorted(PLACEHOLDER_RE.findall(m.id)), (
            m.id
        )
    assert [(m.id, errors) for m, errors in catalog.check()] == []


@pytest.mark.parametrize("lang", UI_LANGUAGES)
def test_the_committed_mo_is_the_compiled_po(lang):
    """As `pybabel compile` writes it; compared by content, not by Babel's bytes."""
    compiled = io.BytesIO()
    write_mo(compiled, read_catalog(catalog_file(lang, "po")), use_fuzzy=False)
    compiled.seek(0)
    with catalog_file(lang, "mo").open("rb") as committed:
        assert mo_content(committed) == mo_content(compiled)


def test_message_in_either_language_english_for_another_and_vietnamese_for_none():
    assert message("too_long", "en", limit=500) == (
        "The answer is too long (at most 500 characters)."
    )
    assert message("too_long", "vi", limit=500) == "Câu trả lời quá dài (tối đa 500 ký tự)."
    # A survey's language the interface has no catalog for (French): English.
    assert message("required", "fr") == message("required", "en") == "Please answer this question."
    assert message("required", "") == "Vui lòng trả lời câu hỏi này."
    assert message("thanks_title", "en") == "Thank you!"


@pytest.mark.parametrize("lang", UI_LANGUAGES)
def test_the_page_script_gets_its_placeholders_as_it_fills_them(lang):
    """survey.js replaces {name}; the catalogs say %(name)s."""
    texts = client_messages(lang)
    assert texts.keys() == CLIENT_MESSAGES.keys()
    for key, placeholders in CLIENT_MESSAGES.items():
        assert "%(" not in texts[key]
        assert sorted(re.findall(r"\{(\w+)\}", texts[key])) == sorted(placeholders), key
    assert client_messages("en")["progress"] == "Page {page} of {total}"
    assert client_messages("vi")["progress"] == "Trang {page}/{total}"


def test_each_request_speaks_its_own_language(client):
    """The locale Flask-Babel looked up for one request does not stay for the next."""
    url = f"/s/{DEMO_SLUG}"
    assert ">Submit<" in client.get(url + "?lang=en").get_data(as_text=True)
    html = client.get(url).get_data(as_text=True)
    assert ">Gửi phiếu<" in html and ">English<" in html
    html = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert ">Tiếng Việt<" in html and ">Next<" in html
    assert "Không tìm thấy khảo sát" in client.get("/s/no-such-survey").get_data(as_text=True)
    html = client.get("/s/no-such-survey?lang=en").get_data(as_text=True)
    assert "Survey not found" in html


def test_a_language_chosen_after_the_locale_was_looked_up_replaces_it(app):
    """choose_language refreshes Flask-Babel only when it has looked a locale up in this
    request (it skips the refresh otherwise: every submission chooses a language); if
    Flask-Babel kept that state elsewhere, the page would speak the first language."""
    from flask_babel import get_locale, gettext

    from survey_engine.i18n import choose_language

    with app.test_request_context("/s/x?lang=en"):
        assert str(get_locale()) == "vi"
        assert choose_language(["vi", "en"], "vi") == "en"
        assert str(get_locale()) == "en"
        assert gettext("Submit") == "Submit"
    with app.test_request_context("/s/x", headers={"Accept-Language": "en"}):
        assert gettext("Submit") == "Submit"  # looked up in English before any choice
        assert choose_language(["vi"], "vi") == "vi"
        assert gettext("Submit") == "Gửi phiếu"
