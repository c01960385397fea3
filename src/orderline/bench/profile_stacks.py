"""Where the server CPU goes: py-spy's raw stacks folded into shares by group. Pure: text in,
a typed summary out, no I/O.

py-spy's ``--format raw`` writes one line per distinct stack, ``frame;frame;...;leaf COUNT``,
outermost frame first, each frame ``function (file:line)`` with the file shortened to its
package path (``sqlalchemy/engine/base.py``, ``asyncio/runners.py``, ``orderline/orders/
service.py``). Each frame's file puts it in a group: a library group, an Orderline capability
folder (``orderline/orders``), the event loop and the standard library, or ``other``.

Two views of the same samples:

- **self**: the group of the leaf frame, the code the CPU was running when sampled. Every
  sample counts in exactly one group, so the self shares add up to 100%.
- **inclusive**: every group with a frame anywhere in what the event loop is running (a task or
  a callback), once per sample. A group that calls the others (uvicorn, the middleware, the use
  case) is high here; shares overlap. The frames that start the process and enter the loop
  (``orderline serve``, typer, ``uvicorn.run``, ``asyncio.run``) are left out of this view:
  every sample has them, so they would say 100% for the CLI, "other" (typer) and the loop.

A frame of generated code (``<string>``: a dataclass's ``__init__``, SQLAlchemy's generated
functions) has no package of its own: it takes its caller's group.

Three things py-spy shows that the grouping has to take as they are:

- SQLAlchemy's async bridge runs the ORM's synchronous code on a greenlet, and py-spy shows a
  greenlet's stack on its own, starting at the greenlet's first frame (``Connection.execute``),
  not under the request that waits for it. Such a sample's inclusive groups miss the request's
  frames (the route, the use case); its self group is right. They are counted as
  ``greenlet_samples``: stacks that start neither at a ``<module>`` nor at a thread's bootstrap.
- uvloop and the C parts of asyncpg's protocol and httptools' parser have no Python frame:
  with ``--nonblocking`` py-spy cannot unwind native code, so that CPU is sampled on the frame
  that entered the loop (``Runner.run (asyncio/runners.py)``), in the event loop group.
- A sample with no Python frame at all is kept in a group of its own.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

SQLALCHEMY = "sqlalchemy"
ASYNCPG = "asyncpg"
WEB = "fastapi+starlette+pydantic"
SERVER = "uvicorn/httptools/uvloop"
LOOP = "event loop/stdlib"
NO_FRAME = "no Python frame"
OTHER = "other"
# The groups every summary lists, in this order, with the Orderline folders between the
# libraries and the loop; a group no sample fell in shows 0%.
LIBRARY_GROUPS = (SQLALCHEMY, ASYNCPG, WEB, SERVER)
TRAILING_GROUPS = (LOOP, NO_FRAME, OTHER)
TOP_LEAVES = 15

_PACKAGE_GROUPS = {
    "sqlalchemy": SQLALCHEMY, "greenlet": SQLALCHEMY,  # greenlet: SQLAlchemy's async bridge
    "asyncpg": ASYNCPG,
    "fastapi": WEB, "starlette": WEB, "pydantic": WEB, "pydantic_core": WEB,
    "sse_starlette": WEB, "annotated_types": WEB, "typing_inspection": WEB,
    "uvicorn": SERVER, "httptools": SERVER, "uvloop": SERVER, "h11": SERVER,
}
# How an interpreter's own files look when py-spy could not shorten them.
_PATH_ROOTS = ("/site-packages/", "/dist-packages/")
_LOOP_FUNCTIONS = frozenset({"run", "run_until_complete", "run_forever", "_run_once", "_run"})


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a stack, without its line number (samples of one function add up)."""

    function: str
    file: str

    @property
    def generated(self) -> bool:
        """Code made at run time (``<string>``), or a frame py-spy gave no file."""
        return self.file == "" or self.file.startswith("<string")

    @property
    def enters_the_loop(self) -> bool:
        """asyncio.run, run_until_complete, run_forever, _run_once, Handle._run: the frames
        under which the loop runs its tasks and callbacks (uvloop's loop is C: Runner.run)."""
        return (self.file.startswith("asyncio/")
                and self.function.rpartition(".")[2] in _LOOP_FUNCTIONS)

    def __str__(self) -> str:
        return f"{self.function} ({self.file})"


@dataclass(frozen=True, slots=True)
class GroupShare:
    group: str
    self_samples: int  # samples whose leaf frame is in the group
    inclusive_samples: int  # samples with a frame of the group anywhere in the stack


@dataclass(frozen=True, slots=True)
class LeafShare:
    frame: Frame
    group: str
    samples: int


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    samples: int
    greenlet_samples: int  # stacks that start at a greenlet's first frame
    groups: tuple[GroupShare, ...]  # LIBRARY_GROUPS, the orderline folders, TRAILING_GROUPS
    leaves: tuple[LeafShare, ...]  # the TOP_LEAVES leaf functions with the most samples
    unreadable_lines: int = 0  # lines that are not ``stack COUNT``

    def share(self, samples: int) -> float:
        return samples / self.samples if self.samples else 0.0

    def group(self, name: str) -> GroupShare:
        found = next((g for g in self.groups if g.group == name), None)
        return found or GroupShare(name, 0, 0)

    def by_self_share(self) -> list[GroupShare]:
        """The groups, most self samples first (ties in the summary's order)."""
        return sorted(self.groups, key=lambda g: -g.self_samples)


def group_of(file: str) -> str:
    """The group of a frame's file, as py-spy shortens it (``sqlalchemy/engine/base.py``)."""
    if file.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return LOOP
    for root in _PATH_ROOTS:
        if root in file:
            file = file.rsplit(root, 1)[1]
    parts = file.strip("/").split("/")
    top = parts[0].removesuffix(".py")
    if top == "orderline":
        # orderline/orders/service.py -> orderline/orders; orderline/wiring.py ->
        # orderline/wiring; the console script ``orderline`` itself is the CLI's.
        return f"orderline/{parts[1].removesuffix('.py')}" if len(parts) > 1 else "orderline/cli"
    if top in _PACKAGE_GROUPS:
        return _PACKAGE_GROUPS[top]
    if top in sys.stdlib_module_names or file.startswith("/"):
        return LOOP
    return OTHER


def parse_frame(text: str) -> Frame:
    """``function (file:line)`` -> Frame; a frame without a file keeps the whole text."""
    function, found, where = text.rpartition(" (")
    if not found or not where.endswith(")"):
        return Frame(function=text, file="")
    file, colon, line = where[:-1].rpartition(":")
    return Frame(function=function, file=file if colon and line.isdigit() else where[:-1])


def parse_line(line: str) -> tuple[tuple[Frame, ...], int] | None:
    """One raw line -> (frames outermost first, samples); None if it is not ``stack COUNT``."""
    stack, _, count = line.rstrip("\n").rpartition(" ")
    if not count.isdigit():
        return None
    frames = tuple(parse_frame(f) for f in stack.split(";") if f.strip())
    return frames, int(count)


def _starts_a_thread(frame: Frame) -> bool:
    return frame.function == "<module>" or frame.file.startswith("threading")


def stack_groups(frames: tuple[Frame, ...]) -> list[str]:
    """The group of each frame; generated code takes its caller's group."""
    groups: list[str] = []
    for frame in frames:
        if frame.generated:
            groups.append(groups[-1] if groups else OTHER)
        else:
            groups.append(group_of(frame.file))
    return groups


def running(frames: tuple[Frame, ...]) -> int:
    """Where the frames the loop is running start: after the innermost frame that enters the
    loop; 0 for a stack with no such frame (a greenlet's, a thread's); the leaf's own index if
    the loop itself was sampled."""
    entry = max((i for i, f in enumerate(frames) if f.enters_the_loop), default=-1)
    return min(entry + 1, len(frames) - 1)


def _canonical(groups: Iterable[str]) -> list[str]:
    capabilities = sorted({g for g in groups if g.startswith("orderline/")})
    return [*LIBRARY_GROUPS, *capabilities, *TRAILING_GROUPS]


def summarize(raw: str, *, top: int = TOP_LEAVES) -> ProfileSummary:
    """Fold py-spy raw output (one or more processes' files joined) into a summary."""
    selfs: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaves: Counter[tuple[Frame, str]] = Counter()
    samples = greenlets = unreadable = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        parsed = parse_line(line)
        if parsed is None:
            unreadable += 1
            continue
        frames, count = parsed
        samples += count
        if not frames:
            selfs[NO_FRAME] += count
            inclusive[NO_FRAME] += count
            continue
        if not _starts_a_thread(frames[0]):
            greenlets += count
        groups = stack_groups(frames)
        selfs[groups[-1]] += count
        leaves[frames[-1], groups[-1]] += count
        for group in set(groups[running(frames):]):
            inclusive[group] += count
    return ProfileSummary(
        samples=samples, greenlet_samples=greenlets,
        groups=tuple(GroupShare(g, selfs[g], inclusive[g]) for g in _canonical(inclusive)),
        leaves=tuple(LeafShare(frame, group, n)
                     for (frame, group), n in leaves.most_common(top)),
        unreadable_lines=unreadable)


def describe(summary: ProfileSummary) -> list[str]:
    """The whole summary as text lines: every group, self and inclusive, and the top leaves."""
    lines = [f"  {'group':<30} {'self':>7} {'inclusive':>10}"]
    lines += [f"  {g.group:<30} {summary.share(g.self_samples):>7.1%} "
              f"{summary.share(g.inclusive_samples):>10.1%}" for g in summary.groups]
    lines += ["", f"top {len(summary.leaves)} leaf functions (self):"]
    lines += [f"  {summary.share(leaf.samples):>6.1%}  {leaf.frame}  [{leaf.group}]"
              for leaf in summary.leaves]
    return lines


def as_json(summary: ProfileSummary) -> dict[str, object]:
    return {
        "samples": summary.samples, "greenlet_samples": summary.greenlet_samples,
        "unreadable_lines": summary.unreadable_lines,
        "self": {g.group: round(summary.share(g.self_samples), 4) for g in summary.groups},
        "inclusive": {g.group: round(summary.share(g.inclusive_samples), 4)
                      for g in summary.groups},
        "top_leaves": [{"function": leaf.frame.function, "file": leaf.frame.file,
                        "group": leaf.group, "share": round(summary.share(leaf.samples), 4),
                        "samples": leaf.samples} for leaf in summary.leaves],
    }
