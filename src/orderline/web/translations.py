"""The pages' message catalogs: ``locale/<language>/LC_MESSAGES/*.po``, compiled in memory
when a process first needs a language (Babel's ``read_po`` and ``write_mo``).

A language may have several ``.po`` files, one per part of the pages (``messages.po`` for the
shared layout, ``console-orders.po`` for the order pages, ...): they are read in name order into
one catalog, so people working on different pages never edit the same file. A message in two
files must have the same translation (a unit test checks).

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

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from orderline.web.rules import DEFAULT_LOCALE

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"


def catalog_file(locale: str) -> Path:
    """The shared layout's catalog of ``locale`` (where a new message goes by default)."""
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalog_files(locale: str) -> list[Path]:
    """Every catalog of ``locale``, in name order."""
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


def read_catalog(locale: str) -> Catalog:
    """The catalogs of ``locale`` read into one."""
    merged = Catalog(locale=locale, domain=DOMAIN)
    for path in catalog_files(locale):
        with path.open("rb") as po:
            for message in read_po(po, locale=locale, domain=DOMAIN):
                if message.id:
                    merged[message.id] = message
    return merged


@functools.cache
def translations_for(locale: str) -> gettext.NullTranslations:
    """The compiled catalog of ``locale``: the templates' own English for the default, and a
    missing catalog is an error (a supported language without one is a packaging bug)."""
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    catalog = read_catalog(locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)
