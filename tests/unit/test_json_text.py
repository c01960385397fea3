"""The JSON columns' text: what goes in comes back, including what orjson cannot write."""

from __future__ import annotations

import json

from orderline.core import json_text


def test_values_come_back_as_they_went_in() -> None:
    value = {"name": "Kedai Sari · ร้านค้า", "total": 2**63 - 1, "lines": [{"qty": 1}],
             "none": None, "ok": True, "ratio": 0.5}
    text = json_text.dumps(value)
    assert json_text.loads(text) == value == json.loads(text)
    assert "ร้านค้า" in text  # written as it is, not escaped


def test_integer_keys_are_written_as_strings_like_the_standard_library() -> None:
    assert json_text.loads(json_text.dumps({1: "a"})) == json.loads(json.dumps({1: "a"}))


def test_an_integer_past_64_bits_is_written_exactly() -> None:
    text = json_text.dumps({"n": 10**30})
    assert json.loads(text) == {"n": 10**30}
