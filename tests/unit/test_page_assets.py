"""The static files: every one is known by its fingerprinted name, and every file a template
names is shipped."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from orderline.web.assets import STATIC_DIR, asset_index, build_index, static_url
from orderline.web.templating import TEMPLATES_DIR


def test_a_static_url_is_the_fingerprinted_name_of_that_file() -> None:
    url = static_url("css/orderline.css")
    digest = hashlib.sha256((STATIC_DIR / "css" / "orderline.css").read_bytes()).hexdigest()
    assert url == f"/static/css/orderline.{digest[:12]}.css"
    asset = asset_index().by_fingerprint[url.removeprefix("/static/")]
    assert asset.file == STATIC_DIR / "css" / "orderline.css"


def test_a_static_url_of_a_file_that_is_not_shipped_fails_loudly() -> None:
    with pytest.raises(LookupError, match="no static file"):
        static_url("css/missing.css")


def test_a_changed_file_gets_a_new_url(tmp_path: Path) -> None:
    (tmp_path / "site.css").write_text("body { color: black; }")
    before = build_index(tmp_path).url("site.css")
    (tmp_path / "site.css").write_text("body { color: navy; }")
    after = build_index(tmp_path).url("site.css")
    assert before != after and before.endswith(".css") and after.endswith(".css")


def test_only_files_inside_the_static_folder_are_known() -> None:
    index = asset_index()
    for asset in index.by_path.values():
        assert asset.file.resolve().is_relative_to(STATIC_DIR.resolve())
    assert "../rules.py" not in index.by_path and "../rules.py" not in index.by_fingerprint


def test_every_static_file_a_template_names_is_shipped() -> None:
    named = set()
    for template in TEMPLATES_DIR.rglob("*.html"):
        named |= set(re.findall(r"static_url\(['\"]([^'\"]+)['\"]\)", template.read_text()))
    assert named, "the templates name no static file?"
    missing = sorted(path for path in named if path not in asset_index().by_path)
    assert not missing, missing
