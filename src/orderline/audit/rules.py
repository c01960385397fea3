"""What an audit entry holds: the fields that changed, in JSON, with secrets redacted.

Pure: no clock, no database. A secret (a webhook signing secret, an API key or its hash, a
proof master key, a provider's secret) is named by its field and replaced by ``REDACTED``
before anything is stored; the entry still says that it changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any, Protocol

REDACTED = "[redacted]"

# Field names whose values are never stored nor shown, whichever entity holds them.
SECRET_FIELDS = frozenset({
    "secret", "previous_secret", "key", "api_key", "key_hash", "master_key", "master_keys",
    "signing_secret", "webhook_secret", "client_secret", "password", "token", "access_token",
})
_SECRET_SUFFIXES = ("_secret", "_key_hash", "_password", "_token", "_master_key")


class EntityType(StrEnum):
    BUSINESS = "business"  # the business settings (PATCH /v1/business), allowed origins too
    API_KEY = "api_key"
    COD_SETTINGS = "cod_settings"
    MANUAL_PAYMENT_SETTINGS = "manual_payment_settings"  # the proof settings
    PAYMENT_METHOD = "payment_method"  # a manual method: the account buyers pay into
    WEBHOOK_ENDPOINT = "webhook_endpoint"
    STAFF_MEMBER = "staff_member"  # a person of the merchant console: role, status, 2FA
    STAFF_INVITATION = "staff_invitation"
    PRODUCT = "product"  # its name and description, archiving
    VARIANT = "variant"  # its name, price, threshold, weight, archiving
    DRAFT_ORDER = "draft_order"  # its lines, buyer, delivery, link and status


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    REVOKED = "revoked"
    ENABLED = "enabled"
    SECRET_ROTATED = "secret_rotated"
    INVITED = "invited"
    ROLE_CHANGED = "role_changed"
    DISABLED = "disabled"
    REMOVED = "removed"
    SECOND_FACTOR_ENABLED = "second_factor_enabled"
    SECOND_FACTOR_DISABLED = "second_factor_disabled"
    SESSIONS_ENDED = "sessions_ended"
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"


class Actor(Protocol):
    """Who made a change: the calling API key, or a staff member (``staff_id`` set; then no
    key is recorded). ``tenancy.rules.Principal`` is one."""

    @property
    def business_id(self) -> uuid.UUID: ...

    @property
    def key_id(self) -> uuid.UUID: ...

    @property
    def key_prefix(self) -> str: ...

    @property
    def key_name(self) -> str: ...

    @property
    def staff_id(self) -> uuid.UUID | None: ...


def is_secret(field: str) -> bool:
    name = field.lower()
    return name in SECRET_FIELDS or name.endswith(_SECRET_SUFFIXES)


def json_value(value: Any) -> Any:
    """A value as JSON holds it: ids and times as strings, containers element by element."""
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_value(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value


def redacted(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values in JSON, each secret replaced by ``REDACTED`` (a secret that was empty
    stays ``None``, so "no secret" and "a secret" can still be told apart)."""
    return {k: (None if v is None else REDACTED) if is_secret(k) else json_value(v)
            for k, v in values.items()}


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
            ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """What the entry keeps: all fields for a creation (no ``before``) or a deletion (no
    ``after``); for an update only the fields whose values differ, compared before any
    redaction (a rotated secret differs, and both sides then read ``REDACTED``). Fields only
    one side names count as changed."""
    if before is None or after is None:
        return (None if before is None else redacted(before),
                None if after is None else redacted(after))
    keys = [k for k in dict.fromkeys([*before, *after])
            if json_value(before.get(k)) != json_value(after.get(k))]
    return (redacted({k: before.get(k) for k in keys}),
            redacted({k: after.get(k) for k in keys}))
