"""The pages' pure decisions: the language of a page, fingerprinted names, which requests get
HTML error pages, and the content security policy."""

from __future__ import annotations

import pytest

from orderline.web.rules import (
    CONTENT_SECURITY_POLICY,
    content_security_policy,
    fingerprinted,
    negotiate_locale,
    parse_accept_language,
    wants_html_error,
)

DIGEST = "ab12cd34ef56" + "0" * 52


@pytest.mark.parametrize(("header", "locale"), [
    ("id", "id"),
    ("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7", "id"),
    ("en-GB,en;q=0.9,id;q=0.8", "en"),
    ("fr-FR,fr;q=0.9,id;q=0.5", "id"),  # the first language this server speaks
    ("en;q=0.3, id;q=0.6", "id"),  # quality, not order, decides
    ("in", "id"),  # the withdrawn code old systems still send
    ("ID-id", "id"),
    ("id;q=0", "en"),  # q=0 means "not this one"
    ("fr, de", "en"),
    ("*", "en"),
    ("", "en"),
    (None, "en"),
    ("id;q=nonsense, en;q=0.1", "en"),
    (";;;,,,", "en"),
])
def test_the_page_language_comes_from_accept_language(header: str | None, locale: str) -> None:
    assert negotiate_locale(header) == locale


def test_an_explicit_choice_wins_over_the_header_when_it_is_supported() -> None:
    assert negotiate_locale("en", explicit="id") == "id"
    assert negotiate_locale("id", explicit="en-AU") == "en"
    assert negotiate_locale("id", explicit="fr") == "id"  # unsupported: the header decides


def test_accept_language_ranges_are_ordered_by_quality_keeping_ties_in_order() -> None:
    assert parse_accept_language("de;q=0.5, id, en;q=0.5, fr;q=1") == [
        ("id", 1.0), ("fr", 1.0), ("de", 0.5), ("en", 0.5)]


@pytest.mark.parametrize(("path", "name"), [
    ("css/orderline.css", "css/orderline.ab12cd34ef56.css"),
    ("vendor/htmx.org/htmx.min.js", "vendor/htmx.org/htmx.ab12cd34ef56.min.js"),
    ("vendor/htmx.org/LICENSE", "vendor/htmx.org/LICENSE.ab12cd34ef56"),
    ("favicon.svg", "favicon.ab12cd34ef56.svg"),
])
def test_a_fingerprinted_name_carries_the_content_hash_and_keeps_the_suffix(
        path: str, name: str) -> None:
    assert fingerprinted(path, DIGEST) == name


def test_a_different_content_gives_a_different_name() -> None:
    assert fingerprinted("css/a.css", "1" * 64) != fingerprinted("css/a.css", "2" * 64)


@pytest.mark.parametrize(("path", "accept", "html"), [
    ("/console", "text/html,application/xhtml+xml,*/*;q=0.8", True),
    ("/nothing", "TEXT/HTML", True),
    ("/console", "*/*", False),  # an API client, a script's fetch
    ("/console", None, False),
    ("/v1/orders", "text/html", False),  # the API keeps its JSON errors
    ("/v1", "text/html", False),
    ("/healthz", "text/html", False),
    ("/readyz", "text/html", False),
    ("/openapi.json", "text/html", False),
    ("/v10/anything", "text/html", True),  # not the API's prefix
])
def test_only_a_browser_asking_for_a_page_gets_an_html_error(
        path: str, accept: str | None, html: bool) -> None:
    assert wants_html_error(path, accept) is html


def test_the_policy_forbids_inline_scripts_and_styles_and_other_origins() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives == {
        "default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
        "img-src": "'self' data:", "connect-src": "'self'", "font-src": "'self'",
        "object-src": "'none'", "base-uri": "'self'", "form-action": "'self'",
        "frame-ancestors": "'none'"}


def test_one_page_may_add_sources_without_loosening_the_others() -> None:
    policy = content_security_policy(also={"style-src": ["'nonce-abc'"],
                                           "worker-src": ["'self'", "blob:"]})
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["style-src"] == "'self' 'nonce-abc'"
    assert directives["worker-src"] == "'self' blob:"
    assert directives["script-src"] == "'self'"
