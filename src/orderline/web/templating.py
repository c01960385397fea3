"""The Jinja2 environment of the pages: templates from ``templates/``, always autoescaped, a
mistyped variable an error (``StrictUndefined``), ``static_url()`` for fingerprinted URLs, and
gettext (``_``, ``gettext``, ``ngettext`` and ``{% trans %}``) bound to one language.

One environment per language, built once per process: gettext is bound when the environment
is made, so a page never renders half in one language and half in another.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from orderline.web.assets import static_url
from orderline.web.translations import translations_for

TEMPLATES_DIR = Path(__file__).with_name("templates")
# So extraction (pybabel extract, tests/unit/test_page_translations.py) sees what runtime sees.
JINJA_EXTENSIONS = ["jinja2.ext.i18n"]


@functools.cache
def environment(locale: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=JINJA_EXTENSIONS,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = static_url
    # Added to the environment by the i18n extension, so unknown to the type checker.
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations_for(locale), newstyle=True)
    return env
