"""The pages' message catalogs: ``locale/<language>/LC_MESSAGES/messages.po``, compiled in memory
when a process first needs a language (Babel's ``read_po`` and ``write_mo``).

Why compile on load: the ``.po`` files are what translators edit and what git shows, and there
is no build step to forget and no ``.mo`` beside them to drift out of sync. Compiling both
catalogs takes a few milliseconds, once per process. English is the templates' own text, so it
needs no catalog.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from orderline.web.rules import DEFAULT_LOCALE

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"


def catalog_file(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations_for(locale: str) -> gettext.NullTranslations:
    """The compiled catalog of ``locale``: the templates' own English for the default, and a
    missing catalog is an error (a supported language without one is a packaging bug)."""
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    with catalog_file(locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)
