"""The vendored JS and CSS are the pinned files that VENDORED.md lists: each hash matches, each
vendored file is listed with its package, version and licence, each package keeps its licence
file, and the one change to an upstream file is exactly the one written down."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from orderline.web.assets import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
VENDORED = STATIC_DIR / "vendor" / "VENDORED.md"
VENDOR_DIRS = [STATIC_DIR / "vendor", ROOT / "tests" / "support" / "vendor"]


def _rows(heading: str | None) -> list[list[str]]:
    """The rows of the first table after ``heading`` (None: the first table)."""
    text = VENDORED.read_text()
    if heading is not None:
        text = text.split(heading, 1)[1]
    rows, started = [], False
    for line in text.splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if not set(cells[0]) <= {"-", " "} and cells[0] not in {"package", "file"}:
                rows.append(cells)
        elif started:
            break
    return rows


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_listed_file_has_its_listed_hash() -> None:
    rows = _rows(None)
    assert len(rows) >= 15
    wrong = [(file, digest, _sha256(ROOT / file)) for _p, _v, _l, file, _src, digest in rows
             if _sha256(ROOT / file) != digest]
    assert not wrong, wrong


def test_every_vendored_file_is_listed_with_its_version_and_licence() -> None:
    listed = {row[3] for row in _rows(None)}
    for package, version, licence, *_ in _rows(None):
        assert package and re.fullmatch(r"\d+\.\d+\.\d+", version) and licence, package
    shipped = {p.relative_to(ROOT).as_posix() for folder in VENDOR_DIRS
               for p in folder.rglob("*") if p.is_file() and p != VENDORED}
    assert shipped == listed, {"not listed": shipped - listed, "missing": listed - shipped}


def test_every_package_keeps_its_licence_file() -> None:
    files_by_package: dict[str, list[str]] = {}
    for package, _v, _l, file, *_ in _rows(None):
        files_by_package.setdefault(package, []).append(Path(file).name)
    for package, names in files_by_package.items():
        assert any(name.upper().startswith("LICENSE") for name in names), package


def test_the_pages_need_the_packages_the_brief_names() -> None:
    packages = {row[0]: row[1] for row in _rows(None)}
    assert packages["htmx.org"].startswith("2.")  # htmx 2, not 4
    assert packages["htmx-ext-sse"].startswith("2.")
    assert {"uplot", "@picocss/pico", "swagger-ui-dist", "redoc", "axe-core"} <= set(packages)


def test_a_changed_upstream_file_differs_only_by_the_written_down_change() -> None:
    changes = _rows("## Changes")
    assert changes
    for file, upstream, replaced, replacement in changes:
        content = (ROOT / file).read_bytes()
        assert content.count(replacement.encode()) >= 1, file
        assert replaced.encode() not in content, file
        restored = content.replace(replacement.encode(), replaced.encode())
        assert hashlib.sha256(restored).hexdigest() == upstream, file
