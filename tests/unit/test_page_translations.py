"""Every message in the templates has its Bahasa Indonesia translation, and the catalog is one
the runtime can use (compiled on load from the .po, no .mo to keep in step)."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from orderline.web.rules import SUPPORTED_LOCALES
from orderline.web.templating import JINJA_EXTENSIONS, TEMPLATES_DIR, environment
from orderline.web.translations import catalog_files, read_catalog, translations_for

# The same map as src/orderline/web/babel.cfg, which pybabel extract reads.
METHOD_MAP = [("**.html", "jinja2")]
OPTIONS = {"**.html": {"extensions": ",".join(JINJA_EXTENSIONS), "trimmed": "true"}}


def _template_messages() -> set[str]:
    messages = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(TEMPLATES_DIR), METHOD_MAP, OPTIONS):
        messages.add(message if isinstance(message, str) else message[0])
    return messages


def test_the_templates_have_messages_to_translate() -> None:
    assert "Skip to main content" in _template_messages()


def test_every_template_message_has_an_indonesian_translation() -> None:
    for locale in (loc for loc in SUPPORTED_LOCALES if loc != "en"):
        catalog = read_catalog(locale)
        untranslated = sorted(
            message for message in _template_messages()
            if message not in catalog or not catalog[message].string
            or catalog[message].fuzzy)
        assert not untranslated, (
            f"{locale}: no translation for {untranslated} (docs/guides/pages.md: "
            "pybabel extract, pybabel update, then translate)")


def test_the_indonesian_catalogs_keep_every_placeholder() -> None:
    for path in catalog_files("id"):
        with path.open("rb") as po:
            catalog = read_po(po, locale="id")
        problems = [(message.id, [str(e) for e in errors])
                    for message, errors in catalog.check()]
        assert not problems, (path.name, problems)


def test_a_message_in_two_catalogs_has_one_translation() -> None:
    seen: dict[str, tuple[str, object]] = {}
    for path in catalog_files("id"):
        with path.open("rb") as po:
            for message in read_po(po, locale="id"):
                if not message.id:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                earlier = seen.setdefault(key, (path.name, message.string))
                assert earlier[1] == message.string, (key, earlier[0], path.name)


def test_a_page_renders_in_indonesian_from_the_catalog() -> None:
    assert translations_for("id").gettext("Skip to main content") == "Langsung ke konten utama"
    html = environment("id").get_template("error.html").render(
        locale="id", shop_name=None, errors=[], flashes=[], current_path="/x", status=500,
        request_id="<req-1>")
    assert "Terjadi kesalahan" in html
    assert "<code>&lt;req-1&gt;</code>" in html  # the placeholder is escaped, the markup kept


def test_english_is_the_templates_own_text() -> None:
    assert translations_for("en").gettext("Skip to main content") == "Skip to main content"


def test_an_error_page_inside_the_console_leads_back_to_the_console() -> None:
    def way_on(path: str) -> str:
        html = environment("id").get_template("error.html").render(
            locale="id", shop_name=None, errors=[], flashes=[], current_path=path, status=403,
            request_id=None)
        return html.split("<h1>", 1)[1]

    assert '<a href="/console">Kembali ke konsol</a>' in way_on("/console/settings")
    assert '<a href="/">Ke halaman depan</a>' in way_on("/nothing-here")
