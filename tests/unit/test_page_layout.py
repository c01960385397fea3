"""The base layout every page extends: a skip link to the main landmark, the htmx settings the
CSP needs, the error summary linking to its fields, flash messages, and escaping."""

from __future__ import annotations

from typing import Any

from orderline.web.pages import FieldError, Flash
from orderline.web.templating import environment


def _render(locale: str = "en", **context: Any) -> str:
    values: dict[str, Any] = {"locale": locale, "shop_name": None, "errors": [], "flashes": [],
                              "current_path": "/"}
    return environment(locale).get_template("front_page.html").render({**values, **context})


def test_the_layout_has_a_skip_link_to_the_main_landmark_first() -> None:
    html = _render()
    body = html.split("<body>", 1)[1]
    assert body.lstrip().startswith('<a class="skip-link" href="#main">Skip to main content</a>')
    assert '<main id="main"' in html
    assert '<html lang="en">' in html


def test_htmx_is_told_not_to_write_its_indicator_style() -> None:
    assert '"includeIndicatorStyles": false' in _render()


def test_no_template_has_an_inline_script_or_style() -> None:
    html = _render(errors=[FieldError("x", "f")], flashes=[Flash("y")])
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert "<script src=" in html


def test_the_error_summary_links_each_problem_to_its_field() -> None:
    html = _render(errors=[FieldError("Enter a name", field="name"),
                           FieldError("The order could not be saved")])
    assert 'class="error-summary" role="alert"' in html
    assert "There is a problem" in html
    assert '<a href="#name">Enter a name</a>' in html
    assert "<li>The order could not be saved</li>" in html
    assert "error-summary" not in _render()


def test_flash_messages_are_announced() -> None:
    html = _render(flashes=[Flash("Order #1042 was cancelled", kind="success")])
    assert 'role="status"' in html and "flash-success" in html
    assert "Order #1042 was cancelled" in html


def test_what_a_page_shows_is_escaped() -> None:
    html = _render(shop_name="<b>Toko</b>", errors=[FieldError("<script>x</script>", "f")])
    assert "<b>Toko</b>" not in html and "&lt;b&gt;Toko&lt;/b&gt;" in html
    assert "<script>x</script>" not in html


def test_the_shop_name_fills_the_header_and_the_title() -> None:
    html = _render(shop_name="Toko Sari")
    assert '<a class="shop-name" href="/">Toko Sari</a>' in html
    assert "<title>Welcome · Toko Sari</title>" in html
