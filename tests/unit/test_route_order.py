"""The app tries its routers in the order ``create_app`` includes them, and the buyer path's
routers come first so that its requests try the fewest routes. That is safe only while no
route is answered by another one tried before it: for every route, a path it names (each
parameter filled in) must not be matched, for one of its methods, by an earlier route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from starlette.routing import BaseRoute, Route

from orderline.api.app import create_app
from orderline.core.config import Settings


def _in_order(routes: list[BaseRoute]) -> Iterator[Route]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # an included router
        if inner is not None:
            yield from _in_order(inner.routes)
        elif isinstance(route, Route):
            yield route


def _example(path_format: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path_format)


def _shadowed(routes: list[Route]) -> list[str]:
    found = []
    for i, later in enumerate(routes):
        path = _example(later.path_format)
        for earlier in routes[:i]:
            methods: Any = (earlier.methods or set()) & (later.methods or set())
            if methods and earlier.path_regex.match(path):
                found.append(f"{sorted(methods)} {later.path_format} is answered by "
                             f"{earlier.path_format}")
    return found


def test_no_route_is_answered_by_one_tried_before_it() -> None:
    routes = list(_in_order(create_app(Settings()).router.routes))
    assert len(routes) > 300  # every router was walked
    assert [r.path_format for r in routes[:3]] == ["/openapi.json", "/v1/orders", "/v1/carts"]
    assert _shadowed(routes) == []


def test_the_check_sees_a_route_an_earlier_one_would_answer() -> None:
    catch_all = Route("/v1/carts/{cart_id}", endpoint=lambda r: None, methods=["GET"])
    literal = Route("/v1/carts/mine", endpoint=lambda r: None, methods=["GET", "POST"])
    assert _shadowed([catch_all, literal]) == [
        "['GET', 'HEAD'] /v1/carts/mine is answered by /v1/carts/{cart_id}"]
    assert _shadowed([literal, catch_all]) == []
