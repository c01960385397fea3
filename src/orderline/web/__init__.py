"""Pages for people: the server-rendered console and buyer pages, the front page, the offline
API docs (Swagger UI and ReDoc from vendored files) and the static files they use.

Jinja2 templates with gettext (English and Bahasa Indonesia, ``locale/``), htmx and its SSE
extension vendored under ``static/vendor`` (no Node build step, nothing from a CDN), a strict
Content-Security-Policy on every HTML answer, and HTML error pages for page routes (the ``/v1``
API keeps its JSON errors). Only ``api/app.py`` imports this package: it sits on top, beside
``api``, and calls the same use cases as the API. See docs/guides/pages.md.
"""
