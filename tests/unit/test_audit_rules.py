"""The audit entry's values: only what changed, in JSON, secrets redacted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from orderline.audit.rules import REDACTED, changes, is_secret, redacted


def test_an_update_keeps_only_the_fields_that_changed() -> None:
    before = {"name": "A", "min_order_total": 0, "enabled": True}
    after = {"name": "B", "min_order_total": 0, "enabled": True}
    assert changes(before, after) == ({"name": "A"}, {"name": "B"})


def test_an_update_that_changes_nothing_keeps_nothing() -> None:
    assert changes({"a": [1, 2]}, {"a": [1, 2]}) == ({}, {})


def test_a_rotated_secret_is_recorded_as_changed_but_never_in_clear() -> None:
    before, after = changes({"secret": "whsec_old"}, {"secret": "whsec_new"})
    assert before == after == {"secret": REDACTED}


def test_creations_and_deletions_keep_every_field_with_secrets_redacted() -> None:
    key_id = uuid.uuid4()
    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    made = {"id": key_id, "key_hash": "abc", "created_at": at, "previous_secret": None}
    assert changes(None, made) == (None, {"id": str(key_id), "key_hash": REDACTED,
                                          "created_at": at.isoformat(),
                                          "previous_secret": None})
    assert changes(made, None)[1] is None


def test_secret_fields_are_known_by_their_names() -> None:
    for name in ("secret", "previous_secret", "key_hash", "key", "master_key",
                 "stripe_webhook_secret", "client_secret", "proof_master_key"):
        assert is_secret(name), name
    for name in ("account_number", "name", "key_prefix", "previous_secret_expires_at"):
        assert not is_secret(name), name
    assert redacted({"nested": {"a": uuid.UUID(int=1)}}) == {
        "nested": {"a": "00000000-0000-0000-0000-000000000001"}}
