"""The figures page's chart data and the console app's kept files (pure parts of
web/console/verification_stats_pages.py and web/console/phone_app.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from orderline.web.assets import asset_index
from orderline.web.console.phone_app import WORKER_FILE, shell_paths
from orderline.web.console.verification_stats_pages import chosen_period, stats_charts

LABELS = {"period": "Period", "waiting": "Waiting", "median": "Median time",
          "minutes": "minutes", "hours": "hours", "approval": "Approved",
          "agreement": "Score agreed"}


def period(day: int, *, pending: int, median: float | None, approval: float | None,
           agreement: float | None = None) -> dict[str, Any]:
    return {"start": datetime(2026, 11, day, tzinfo=UTC), "pending_at_end": pending,
            "median_seconds_to_decision": median, "approval_rate": approval,
            "score_agreement_rate": agreement}


def test_a_short_median_is_drawn_in_minutes_and_a_period_without_decisions_is_a_gap() -> None:
    charts = stats_charts([period(1, pending=2, median=None, approval=None),
                           period(2, pending=0, median=90.0, approval=0.5, agreement=1.0)],
                          LABELS)
    assert charts.time_unit == "minutes"
    waiting = json.loads(charts.waiting_time)
    assert waiting["series"][0]["values"] == [None, 1.5]
    assert waiting["x"] == [int(datetime(2026, 11, d, tzinfo=UTC).timestamp()) for d in (1, 2)]
    assert json.loads(charts.pending)["series"][0]["values"] == [2, 0]
    rates = json.loads(charts.rates)
    assert rates["unit"] == "%"
    assert [s["values"] for s in rates["series"]] == [[None, 50.0], [None, 100.0]]


def test_a_median_past_two_hours_draws_every_period_in_hours() -> None:
    charts = stats_charts([period(1, pending=0, median=600.0, approval=1.0),
                           period(2, pending=1, median=3 * 3600.0, approval=0.0)], LABELS)
    assert charts.time_unit == "hours"
    assert json.loads(charts.waiting_time)["series"][0]["values"] == [0.2, 3.0]


def test_an_unknown_period_shows_the_days() -> None:
    assert chosen_period("week").value == "week"
    assert chosen_period("year").value == "day"


def test_the_worker_keeps_the_console_s_files_but_not_itself_licences_or_the_api_docs() -> None:
    kept = shell_paths(asset_index().by_path)
    assert "js/console.js" in kept and "css/console.css" in kept
    assert "vendor/htmx.org/htmx.min.js" in kept and "img/console-icon-192.png" in kept
    assert WORKER_FILE not in kept
    assert not [p for p in kept if "LICENSE" in p or "swagger" in p or "redoc" in p]
