"""The static files shipped in the package (``static/``), each known by its plain path and by its
fingerprinted name (the content's SHA-256 in the name, ``rules.fingerprinted``).

The index is read once per process, on first use: the package's files do not change while it
runs. Only files in the index are ever served, so a request cannot name anything outside
``static/``.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from orderline.web.rules import fingerprinted

STATIC_DIR = Path(__file__).with_name("static")
STATIC_PREFIX = "/static/"


@dataclass(frozen=True, slots=True)
class Asset:
    path: str  # relative to static/, with forward slashes
    file: Path
    sha256: str

    @property
    def fingerprinted_path(self) -> str:
        return fingerprinted(self.path, self.sha256)


@dataclass(frozen=True, slots=True)
class AssetIndex:
    by_path: dict[str, Asset]
    by_fingerprint: dict[str, Asset]

    def url(self, path: str) -> str:
        """The fingerprinted URL of a static file; a name that is not shipped is a bug in the
        template that names it, and fails loudly (a broken page, not a silent 404)."""
        try:
            asset = self.by_path[path.lstrip("/")]
        except KeyError:
            raise LookupError(f"no static file {path!r} in {STATIC_DIR}") from None
        return STATIC_PREFIX + asset.fingerprinted_path


def build_index(root: Path) -> AssetIndex:
    assets = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        assets.append(Asset(path=file.relative_to(root).as_posix(), file=file, sha256=digest))
    return AssetIndex(by_path={a.path: a for a in assets},
                      by_fingerprint={a.fingerprinted_path: a for a in assets})


@functools.cache
def asset_index() -> AssetIndex:
    return build_index(STATIC_DIR)


def static_url(path: str) -> str:
    """The template global: ``{{ static_url("css/site.css") }}``."""
    return asset_index().url(path)
