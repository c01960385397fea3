import uuid

import pytest

from orderline.core.errors import Forbidden
from orderline.tenancy.rules import Principal, Scope


def principal(*scopes: str) -> Principal:
    return Principal(business_id=uuid.uuid4(), key_id=uuid.uuid4(), key_prefix="ol_test",
                     scopes=frozenset(scopes), currency="USD", reservation_ttl_seconds=900)


def test_a_write_key_may_read_back_what_it_writes() -> None:
    principal("write").require(Scope.READ)


def test_a_read_key_may_not_write_and_only_admin_manages_keys() -> None:
    with pytest.raises(Forbidden) as refused:
        principal("read").require(Scope.WRITE)
    assert refused.value.details["required_scope"] == "write"
    with pytest.raises(Forbidden):
        principal("read", "write").require(Scope.ADMIN)
    principal("admin").require(Scope.ADMIN)
