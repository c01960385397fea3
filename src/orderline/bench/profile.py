"""``--profile DIR`` of ``orderline bench orders`` and ``bench checkout``: py-spy records the
server processes during one measured HTTP phase, and the stacks are folded into where the CPU
goes (``profile_stacks``).

py-spy (a dev dependency) samples each process that serves requests from outside, 250 times
a second, without pausing it (``--nonblocking``), from right after the phase's warm-up to the
phase's end, when it is stopped with SIGINT (on which it writes its file; ``--duration`` is
only a backstop, in case this process dies first). Only uvicorn's worker processes are
recorded: with ``--workers`` above 1 the supervisor that spawned them does no request work
(nor does multiprocessing's resource tracker); with one worker the process itself serves.

DIR receives one raw file per process (``py-spy-PID.txt``, ``frame;frame;... count`` lines,
readable by flamegraph tools) and ``profile.txt``, the summary of all of them together. py-spy
reads another process's memory, which needs ptrace: as root it works; as another user,
``kernel.yama.ptrace_scope`` and a container's capabilities decide. When py-spy is missing or
cannot attach, the bench says so, with what to do, and goes on without the profile.

py-spy's own sampling takes CPU on the same cores, so a profiled run's figures are a little
lower than an unprofiled one's: compare profiled runs with profiled runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orderline.bench import cpu as bench_cpu
from orderline.bench.profile_stacks import ProfileSummary, describe, summarize
from orderline.bench.profile_stacks import as_json as summary_json

RATE = 250  # samples per second and process
ATTACH_SECONDS = 20.0  # how long py-spy may take to say it samples (a busy 2-core machine)
STOP_SECONDS = 30.0  # how long py-spy may take to write its file after SIGINT
SUMMARY_FILE = "profile.txt"
TOP_GROUPS = 8  # groups the bench's report shows; profile.txt has all
_SAMPLING = "Sampling process"  # what py-spy prints once it is attached


@dataclass
class ProfileOutcome:
    """What ``--profile`` gave: a summary, or why there is none."""

    directory: Path
    phase: str
    pids: list[int] = field(default_factory=list)
    summary: ProfileSummary | None = None
    refused: str | None = None  # why there is no profile, and what to do
    seconds: float | None = None  # how long py-spy sampled
    py_spy_cpu_seconds: float | None = None  # what py-spy itself took, on the same cores
    errors: int | None = None  # samples py-spy could not read (it reports them)

    @property
    def sampled_seconds(self) -> float | None:
        """Seconds of non-idle server threads sampled (all processes together)."""
        return None if self.summary is None else round(self.summary.samples / RATE, 2)

    def as_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "phase": self.phase, "pids": self.pids,
                "refused": self.refused, "seconds": self.seconds, "rate": RATE,
                "py_spy_cpu_seconds": self.py_spy_cpu_seconds, "errors": self.errors,
                "sampled_seconds": self.sampled_seconds,
                "summary": None if self.summary is None else summary_json(self.summary)}


def find_py_spy() -> str | None:
    """py-spy beside this interpreter (the virtualenv's), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def serving_pids(server_pid: int) -> list[int]:
    """The processes of ``orderline serve`` that serve requests: uvicorn's spawned workers
    (``multiprocessing.spawn``) when it has some, else the process itself."""
    workers = [pid for pid in bench_cpu.process_tree(server_pid)[1:]
               if "multiprocessing.spawn" in _cmdline(pid)]
    return workers or [server_pid]


@dataclass
class _Spy:
    pid: int
    output: Path
    log: Path
    process: subprocess.Popen[bytes]

    def said(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def _refusal(spy: _Spy) -> str:
    said = " ".join(line.strip() for line in spy.said().splitlines()
                    if line.strip() and not line.startswith(("Stack backtrace", "   ")))[:400]
    advice = ("run the bench as root, or let your user trace its own processes (sudo sysctl "
              "kernel.yama.ptrace_scope=0; in a container, start it with --cap-add SYS_PTRACE)"
              if "ermission" in said or "ptrace" in said.lower() else
              "check that the server process is still running and is Python")
    return (f"py-spy could not attach to server process {spy.pid}: {said or 'no message'} "
            f"(exit {spy.process.returncode}). To profile, {advice}.")


def _start(py_spy: str, pids: list[int], directory: Path, max_seconds: float | None) -> list[_Spy]:
    # A backstop only: SIGINT at the phase's end is the usual stop.
    duration = "unlimited" if max_seconds is None else str(math.ceil(max_seconds) + 30)
    spies = []
    for pid in pids:
        output, log = directory / f"py-spy-{pid}.txt", directory / f"py-spy-{pid}.log"
        output.unlink(missing_ok=True)
        with log.open("wb") as sink:
            spies.append(_Spy(pid, output, log, subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--duration", duration, "--rate",
                 str(RATE), "--format", "raw", "--nonblocking", "--output", str(output)],
                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)))
    return spies


async def _attached(spies: list[_Spy]) -> str | None:
    """None once every py-spy samples; else why one could not (the others are stopped)."""
    deadline = time.monotonic() + ATTACH_SECONDS
    waiting = list(spies)
    while waiting and time.monotonic() < deadline:
        for spy in list(waiting):
            if _SAMPLING in spy.said():
                waiting.remove(spy)
            elif spy.process.poll() is not None:
                _stop(spies)
                return _refusal(spy)
        await asyncio.sleep(0.05)
    return None  # still attaching after ATTACH_SECONDS: it samples as soon as it can


def _stop(spies: list[_Spy]) -> None:
    for spy in spies:
        if spy.process.poll() is None:
            spy.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_SECONDS
    for spy in spies:
        try:
            spy.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            spy.process.kill()
            spy.process.wait()


def _errors(spies: list[_Spy]) -> int | None:
    """py-spy's count of samples it could not read (``Samples: N Errors: M``)."""
    total = None
    for spy in spies:
        for line in spy.said().splitlines():
            if "Errors:" in line:
                tail = line.rsplit("Errors:", 1)[1].strip()
                if tail.isdigit():
                    total = (total or 0) + int(tail)
    return total


def _write_summary(outcome: ProfileOutcome) -> None:
    assert outcome.summary is not None
    summary = outcome.summary
    head = [f"where the server CPU goes: {outcome.phase}",
            f"py-spy record --rate {RATE} --format raw --nonblocking, {_processes(outcome)} "
            f"({', '.join(map(str, outcome.pids))}), {outcome.seconds or 0:.1f}s: "
            f"{summary.samples} samples ({summary.greenlet_samples} on a greenlet's own stack; "
            f"py-spy could not read {outcome.errors if outcome.errors is not None else '?'})",
            "self = the group of the sampled (leaf) frame, adds up to 100%; inclusive = any "
            "frame of the group in what the event loop runs (overlapping)", ""]
    (outcome.directory / SUMMARY_FILE).write_text("\n".join([*head, *describe(summary)]) + "\n")


@contextlib.asynccontextmanager
async def recording(directory: Path | None, server_pid: int, *, phase: str,
                    max_seconds: float | None, say: Callable[[str], None],
                    keep: Callable[[ProfileOutcome], None]) -> AsyncIterator[None]:
    """py-spy on the serving processes of ``server_pid`` for the body's duration (nothing if
    ``directory`` is None); the outcome goes to ``keep``, also when py-spy could not run."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    outcome = ProfileOutcome(directory=directory, phase=phase,
                             pids=serving_pids(server_pid))
    keep(outcome)
    py_spy = find_py_spy()
    spies: list[_Spy] = []
    if py_spy is None:
        outcome.refused = ("py-spy is not installed, so the phase is not profiled: pip install "
                           "py-spy (it is among Orderline's dev dependencies: pip install -e "
                           "'.[dev]').")
    else:
        spies = _start(py_spy, outcome.pids, directory, max_seconds)
        outcome.refused = await _attached(spies)
    if outcome.refused is not None:
        say(f"profile: {outcome.refused} The bench goes on without the profile.")
        yield
        return
    say(f"profile: py-spy samples server processes {', '.join(map(str, outcome.pids))} "
        f"{RATE}/s during {phase}")
    started = time.perf_counter()
    try:
        yield
    finally:
        outcome.seconds = time.perf_counter() - started
        outcome.py_spy_cpu_seconds = sum(
            bench_cpu.cpu_by_pid(s.process.pid for s in spies).values()) or None
        await asyncio.to_thread(_stop, spies)
        outcome.errors = _errors(spies)
        outcome.summary = summarize("\n".join(
            s.output.read_text(errors="replace") for s in spies if s.output.exists()))
        _write_summary(outcome)
        say(f"profile: {outcome.summary.samples} samples; raw stacks and "
            f"{directory / SUMMARY_FILE} written")


class Profiled(Protocol):
    """A bench report that keeps what ``--profile`` gave."""

    profile: ProfileOutcome | None


def profiler(directory: Path | None, server_pid: int, *, phase: str, max_seconds: float | None,
             report: Profiled, say: Callable[[str], None],
             ) -> Callable[[], AbstractAsyncContextManager[None]] | None:
    """What records ``phase`` into ``report.profile`` (``recording``); None without a
    ``directory``."""
    if directory is None:
        return None

    def keep(outcome: ProfileOutcome) -> None:
        report.profile = outcome

    return lambda: recording(directory, server_pid, phase=phase, max_seconds=max_seconds,
                             say=say, keep=keep)


def _processes(outcome: ProfileOutcome) -> str:
    return f"{len(outcome.pids)} server process{'' if len(outcome.pids) == 1 else 'es'}"


def report_lines(outcome: ProfileOutcome | None,
                 server_cpu_seconds: float | None = None) -> list[str]:
    """The profile's top groups for the bench's report (all of them are in profile.txt), and
    the sampled seconds beside the servers' CPU seconds in the same phase."""
    if outcome is None:
        return []
    if outcome.summary is None:
        return [f"where the server CPU goes: not profiled. {outcome.refused or ''}".rstrip(), ""]
    summary = outcome.summary
    lines = [f"where the server CPU goes ({outcome.phase}; py-spy, {summary.samples} samples "
             f"at {RATE}/s from {_processes(outcome)}; py-spy itself took "
             + ("-" if outcome.py_spy_cpu_seconds is None
                else f"{outcome.py_spy_cpu_seconds:.1f}s")
             + " of CPU):",
             f"  {'group':<30} {'self':>7} {'inclusive':>10}"]
    lines += [f"  {g.group:<30} {summary.share(g.self_samples):>7.1%} "
              f"{summary.share(g.inclusive_samples):>10.1%}"
              for g in summary.by_self_share()[:TOP_GROUPS]]
    if server_cpu_seconds is not None and outcome.sampled_seconds is not None:
        waited = outcome.sampled_seconds > 1.1 * server_cpu_seconds
        lines.append(f"  sampled {outcome.sampled_seconds:.1f}s of busy server threads, "
                     f"{server_cpu_seconds:.1f}s of server CPU"
                     + ("; the difference is time ready to run, waiting for a core, which "
                        "inflates the frames that wake another process (docs/benchmarks.md)"
                        if waited else ""))
    lines += [f"  all groups and the top leaf functions: {outcome.directory / SUMMARY_FILE}", ""]
    return lines
