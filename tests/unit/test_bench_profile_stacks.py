"""Folding py-spy's raw stacks into where the server CPU goes (``bench.profile_stacks``), and
the report's lines about it (``bench.profile.report_lines``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderline.bench.profile import ProfileOutcome, report_lines
from orderline.bench.profile_stacks import (
    ASYNCPG,
    LIBRARY_GROUPS,
    LOOP,
    NO_FRAME,
    OTHER,
    SERVER,
    SQLALCHEMY,
    TRAILING_GROUPS,
    WEB,
    Frame,
    as_json,
    describe,
    group_of,
    parse_frame,
    summarize,
)

# The frames that start `orderline serve` and enter uvloop's loop (C: no frame of its own).
LAUNCH = ("<module> (orderline:8);main (orderline/cli/main.py:558);"
          "Typer.__call__ (typer/main.py:1126);serve (orderline/cli/main.py:107);"
          "run (uvicorn/main.py:643);Server.run (uvicorn/server.py:86);"
          "asyncio_run (uvicorn/_compat.py:30);Runner.run (asyncio/runners.py:118)")
REQUEST = (LAUNCH + ";RequestResponseCycle.run_asgi (uvicorn/protocols/http/httptools_impl.py:420)"
           ";FastAPI.__call__ (fastapi/applications.py:1224)"
           ";Starlette.__call__ (starlette/applications.py:96)"
           ";create_order (orderline/checkout/direct_order_routes.py:40)")
GREENLET = "Connection.execute (sqlalchemy/engine/base.py:1494)"

RAW = f"""\
{LAUNCH} 35
{REQUEST};place (orderline/orders/placing.py:10);__create_fn__.<locals>.__init__ (<string>:3) 10
{REQUEST};validate_python (pydantic/type_adapter.py:400) 5
{GREENLET};AsyncAdapt_asyncpg_cursor.execute (sqlalchemy/dialects/postgresql/asyncpg.py:671);\
PreparedStatement.__do_execute (asyncpg/prepared_stmt.py:257) 20
{GREENLET};HasCacheKey._generate_cache_key (sqlalchemy/sql/cache_key.py:244) 15
{GREENLET};HasCacheKey._generate_cache_key (sqlalchemy/sql/cache_key.py:250) 5
_bootstrap (threading.py:995);_bootstrap_inner (threading.py:1038);\
collect (prometheus_client/metrics.py:10) 4
 6

py-spy> not a stack line
"""


def shares(view: str) -> dict[str, float]:
    found = as_json(summarize(RAW))[view]
    assert isinstance(found, dict)
    return found


def test_every_sample_is_counted_once_by_its_leaf_frame() -> None:
    summary = summarize(RAW)

    assert summary.samples == 100
    assert summary.unreadable_lines == 1
    assert sum(g.self_samples for g in summary.groups) == 100
    assert {g.group: g.self_samples for g in summary.groups if g.self_samples} == {
        LOOP: 35, "orderline/orders": 10, WEB: 5, ASYNCPG: 20, SQLALCHEMY: 20, OTHER: 4,
        NO_FRAME: 6}


def test_generated_code_takes_its_callers_group() -> None:
    summary = summarize(RAW)

    init = next(leaf for leaf in summary.leaves if leaf.frame.file == "<string>")
    assert init.group == "orderline/orders" and init.samples == 10


def test_inclusive_counts_what_the_loop_runs_not_the_frames_that_start_the_process() -> None:
    summary = summarize(RAW)

    inclusive = {g.group: g.inclusive_samples for g in summary.groups}
    # The 15 request samples, not the 35 of the loop itself nor the launch frames' uvicorn.run.
    assert inclusive[SERVER] == 15 and inclusive[WEB] == 15
    assert inclusive["orderline/checkout"] == 15 and inclusive["orderline/orders"] == 10
    assert "orderline/cli" not in inclusive  # main() and serve() start every main stack
    assert inclusive[OTHER] == 4  # typer is a launch frame; the metrics thread is other
    assert inclusive[LOOP] == 35 + 4  # the loop itself, and the thread's bootstrap frames
    # A greenlet's stack starts at its own first frame: SQLAlchemy, whatever it then calls.
    assert inclusive[SQLALCHEMY] == 40 and inclusive[ASYNCPG] == 20
    assert inclusive[NO_FRAME] == 6


def test_stacks_that_start_at_a_greenlet_are_counted_as_such() -> None:
    assert summarize(RAW).greenlet_samples == 40


def test_the_top_leaves_add_up_the_lines_of_one_function() -> None:
    leaves = {(leaf.frame.function, leaf.group): leaf.samples for leaf in summarize(RAW).leaves}

    assert summarize(RAW).leaves[0].frame == Frame("Runner.run", "asyncio/runners.py")
    assert leaves[("HasCacheKey._generate_cache_key", SQLALCHEMY)] == 20
    assert leaves[("PreparedStatement.__do_execute", ASYNCPG)] == 20
    assert len(summarize(RAW, top=2).leaves) == 2


def test_shares_are_of_all_samples_and_self_shares_add_up_to_one() -> None:
    assert shares("self")[LOOP] == 0.35
    assert sum(shares("self").values()) == pytest.approx(1.0)
    assert shares("inclusive")[SERVER] == 0.15


def test_every_summary_lists_the_fixed_groups_with_the_orderline_folders_between() -> None:
    names = [g.group for g in summarize(RAW).groups]

    assert names == [*LIBRARY_GROUPS, "orderline/checkout", "orderline/orders",
                     *TRAILING_GROUPS]
    empty = summarize("")
    assert [g.group for g in empty.groups] == [*LIBRARY_GROUPS, *TRAILING_GROUPS]
    assert empty.samples == 0 and empty.share(0) == 0.0


def test_the_description_has_every_group_and_the_top_leaves() -> None:
    text = "\n".join(describe(summarize(RAW)))

    for group in (*LIBRARY_GROUPS, *TRAILING_GROUPS, "orderline/orders"):
        assert f"  {group} " in text
    assert "35.0%  Runner.run (asyncio/runners.py)  [event loop/stdlib]" in text


@pytest.mark.parametrize("file, group", [
    ("sqlalchemy/engine/base.py", SQLALCHEMY),
    ("asyncpg/prepared_stmt.py", ASYNCPG),
    ("starlette/routing.py", WEB),
    ("pydantic_core/core_schema.py", WEB),
    ("uvicorn/protocols/http/httptools_impl.py", SERVER),
    ("orderline/orders/service.py", "orderline/orders"),
    ("orderline/wiring.py", "orderline/wiring"),
    ("asyncio/base_events.py", LOOP),
    ("json/encoder.py", LOOP),
    ("<frozen importlib._bootstrap>", LOOP),
    ("/venv/lib/python3.11/site-packages/sqlalchemy/sql/base.py", SQLALCHEMY),
    ("httpx/_client.py", OTHER),
])
def test_a_frames_file_gives_its_group(file: str, group: str) -> None:
    assert group_of(file) == group


def test_a_frame_is_read_without_its_line_number() -> None:
    assert parse_frame("<module> (orderline:8)") == Frame("<module>", "orderline")
    assert parse_frame("f.<locals>.g (a/b.py:12)") == Frame("f.<locals>.g", "a/b.py")
    assert parse_frame("_call (<frozen importlib._bootstrap>:241)") == Frame(
        "_call", "<frozen importlib._bootstrap>")
    assert parse_frame("no file at all") == Frame("no file at all", "")


def test_the_report_shows_the_top_groups_and_the_sampled_seconds_beside_the_cpu() -> None:
    outcome = ProfileOutcome(directory=Path("prof"), phase="the http spread phase",
                             pids=[11, 12], summary=summarize(RAW), py_spy_cpu_seconds=0.5)
    lines = report_lines(outcome, server_cpu_seconds=0.1)

    assert lines[0].startswith("where the server CPU goes (the http spread phase; py-spy, 100 "
                               "samples at 250/s from 2 server processes; py-spy itself took")
    assert lines[2].split() == [LOOP.split()[0], *LOOP.split()[1:], "35.0%", "39.0%"]
    assert "sampled 0.4s of busy server threads, 0.1s of server CPU; the difference" in "".join(
        lines)
    assert lines[-2] == "  all groups and the top leaf functions: prof/profile.txt"
    assert report_lines(None) == []
