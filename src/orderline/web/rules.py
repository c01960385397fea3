"""The pages' pure decisions: which language a page is in, what a static file's fingerprinted
name is, which requests get HTML error pages, and the security headers every page carries.
No I/O, no framework."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "id")
DEFAULT_LOCALE = "en"
# Old systems (Java before 17, some Android builds) still send ISO 639's withdrawn code.
_LANGUAGE_ALIASES = {"in": "id"}

FINGERPRINT_LENGTH = 12

# The one policy of every HTML page: nothing inline (no <script>, no <style>, no style=""),
# nothing from another origin. htmx is told not to add its indicator <style> (base.html's
# htmx-config), and the API docs start from small files of their own.
_POLICY = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),
    ("style-src", "'self'"),
    ("img-src", "'self' data:"),
    ("connect-src", "'self'"),
    ("font-src", "'self'"),
    ("object-src", "'none'"),
    ("base-uri", "'self'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
)


def content_security_policy(*, also: Mapping[str, Sequence[str]] | None = None) -> str:
    """The pages' policy; ``also`` adds sources to directives (or new directives) for one page
    that needs them, such as ReDoc's nonce'd <style> elements."""
    directives = {name: [value] for name, value in _POLICY}
    for name, sources in (also or {}).items():
        directives.setdefault(name, []).extend(sources)
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


CONTENT_SECURITY_POLICY = content_security_policy()
PAGE_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Referrer-Policy", "same-origin"),
    ("X-Content-Type-Options", "nosniff"),
)
IMMUTABLE = "public, max-age=31536000, immutable"

# Answered by machines, in JSON, whatever the caller accepts.
_MACHINE_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """The language ranges of an ``Accept-Language`` header, most wanted first (ties keep the
    header's order); malformed parts and ``q=0`` are dropped."""
    ranges: list[tuple[str, float, int]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if 0 < quality <= 1:
            ranges.append((tag, quality, position))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(tag, quality) for tag, quality, _ in ranges]


def _supported(tag: str, supported: tuple[str, ...]) -> str | None:
    language = tag.replace("_", "-").split("-")[0].lower()
    language = _LANGUAGE_ALIASES.get(language, language)
    return language if language in supported else None


def negotiate_locale(accept_language: str | None, *, explicit: str | None = None,
                     supported: tuple[str, ...] = SUPPORTED_LOCALES,
                     default: str = DEFAULT_LOCALE) -> str:
    """The page's language: an explicit choice (a person's setting, when there is one) if it is
    supported, else the most wanted supported language of ``Accept-Language`` (``id-ID``
    counts as ``id``), else the default."""
    if explicit:
        chosen = _supported(explicit, supported)
        if chosen:
            return chosen
    for tag, _ in parse_accept_language(accept_language):
        if tag == "*":
            return default
        chosen = _supported(tag, supported)
        if chosen:
            return chosen
    return default


def fingerprinted(path: str, digest: str) -> str:
    """``css/site.css`` with digest ``ab12...`` is ``css/site.ab12cd34ef56.css``: the name
    changes whenever the content does, so it can be cached for a year."""
    folder, slash, name = path.rpartition("/")
    stem, dot, suffix = name.partition(".")
    short = digest[:FINGERPRINT_LENGTH]
    named = f"{stem}.{short}.{suffix}" if dot else f"{name}.{short}"
    return f"{folder}{slash}{named}"


def is_machine_path(path: str) -> bool:
    """The JSON API and the endpoints machines call: they answer JSON errors, always."""
    return path == "/v1" or path.startswith("/v1/") or path in _MACHINE_PATHS


def wants_html_error(path: str, accept: str | None) -> bool:
    """A refusal is an HTML page for a browser asking for a page, JSON for everything else
    (an API client, a script or stylesheet fetch, anything under ``/v1``)."""
    return not is_machine_path(path) and "text/html" in (accept or "").lower()
