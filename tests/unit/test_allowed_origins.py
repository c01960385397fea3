"""The origins a business may allow: scheme, host and port only, as browsers send them."""

from __future__ import annotations

import pytest

from orderline.core.errors import ValidationFailed
from orderline.tenancy.rules import MAX_ALLOWED_ORIGINS, check_origin, check_origins


@pytest.mark.parametrize(("given", "kept"), [
    ("https://shop.example.com", "https://shop.example.com"),
    ("HTTPS://Shop.Example.com", "https://shop.example.com"),
    ("https://shop.example.com:443", "https://shop.example.com"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("https://shop.example.com:8443", "https://shop.example.com:8443"),
])
def test_an_origin_is_kept_as_browsers_send_it(given: str, kept: str) -> None:
    assert check_origin(given) == kept


@pytest.mark.parametrize("given", [
    "*", "null", "shop.example.com", "ftp://shop.example.com", "https://",
    "https://shop.example.com/", "https://shop.example.com/path", "https://*.example.com",
    "https://shop.example.com?x=1", "https://shop.example.com#top", "https://u:p@shop.com",
    "https://shop.example.com:99999", "file:///etc/passwd",
])
def test_anything_but_an_exact_origin_is_refused(given: str) -> None:
    with pytest.raises(ValidationFailed):
        check_origin(given)


def test_a_list_is_deduplicated_sorted_and_bounded() -> None:
    assert check_origins(["https://b.com", "https://a.com", "https://B.com:443"]) == [
        "https://a.com", "https://b.com"]
    with pytest.raises(ValidationFailed):
        check_origins([f"https://s{n}.example.com" for n in range(MAX_ALLOWED_ORIGINS + 1)])
