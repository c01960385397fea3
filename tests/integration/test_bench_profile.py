"""``bench --profile``'s recorder on real processes: py-spy attached to a busy Python process
writes its raw stacks and a summary; a process it cannot attach to leaves the phase running
without a profile and says why."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderline.bench import profile as bench_profile
from orderline.bench.profile_stacks import LIBRARY_GROUPS, TRAILING_GROUPS
from tests.conftest import IN_CI

pytestmark = pytest.mark.slow

# Busy without a pause, nearly always inside the standard library's json encoder, so that
# py-spy's samples land there however loaded the machine is (a sleep between encodings let
# a busy CI machine's samples all fall on the loop instead).
BUSY = """
import json
def encode_forever():
    payload = {"order": list(range(5000))}
    while True:
        json.dumps(payload)
encode_forever()
"""


@pytest.fixture
def busy_python() -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


async def record(directory: Path, pid: int, seconds: float) -> tuple[
        bench_profile.ProfileOutcome, list[str]]:
    said: list[str] = []
    kept: list[bench_profile.ProfileOutcome] = []
    async with bench_profile.recording(directory, pid, phase="a test", max_seconds=None,
                                       say=said.append, keep=kept.append):
        await asyncio.sleep(seconds)
    assert len(kept) == 1
    return kept[0], said


async def test_a_busy_python_process_is_recorded_and_summarized(busy_python: int,
                                                                tmp_path: Path) -> None:
    outcome, said = await record(tmp_path, busy_python, 2.0)

    if outcome.refused is not None:  # py-spy needs ptrace; CI must have it
        if IN_CI:
            pytest.fail(f"py-spy could not record on this machine: {outcome.refused}")
        pytest.skip(outcome.refused)
    assert outcome.pids == [busy_python]  # no uvicorn workers: the process itself serves
    assert outcome.summary is not None and outcome.summary.samples > 0
    encoding = outcome.summary.group("event loop/stdlib")  # json and time are the stdlib
    assert encoding.self_samples > 0
    raw = (tmp_path / f"py-spy-{busy_python}.txt").read_text()
    assert re.search(r"^<module> \(<string>:[0-9]+\);encode_forever \(<string>:[0-9]+\)", raw,
                     re.MULTILINE), raw[:2000]
    summary = (tmp_path / bench_profile.SUMMARY_FILE).read_text()
    for group in (*LIBRARY_GROUPS, *TRAILING_GROUPS):
        assert f"  {group} " in summary
    assert any("samples; raw stacks and" in line for line in said)


async def test_a_process_py_spy_cannot_attach_to_leaves_the_phase_without_a_profile(
        tmp_path: Path) -> None:
    not_python = subprocess.Popen(["sleep", "60"])
    try:
        outcome, said = await record(tmp_path, not_python.pid, 0.1)
    finally:
        not_python.kill()
        not_python.wait()

    assert outcome.summary is None
    assert outcome.refused is not None
    assert outcome.refused.startswith(f"py-spy could not attach to server process "
                                      f"{not_python.pid}: ")
    assert any(line.startswith("profile: py-spy could not attach") and
               line.endswith("The bench goes on without the profile.") for line in said)
    assert not (tmp_path / bench_profile.SUMMARY_FILE).exists()
    assert bench_profile.report_lines(outcome)[0].startswith(
        "where the server CPU goes: not profiled. py-spy could not attach")


async def test_without_py_spy_the_bench_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_profile, "find_py_spy", lambda: None)

    outcome, said = await record(tmp_path, os.getpid(), 0.0)

    assert outcome.summary is None and outcome.refused is not None
    assert "pip install py-spy" in outcome.refused
    assert said == [f"profile: {outcome.refused} The bench goes on without the profile."]
