"""Every table has a place on a Citus cluster distributed by ``business_id``, on purpose.

Read from the SQLAlchemy metadata of every table (``orderline.schema``), no database needed: a
table is distributable when it has ``business_id`` and every primary key, unique constraint,
unique index and foreign key to another distributed table includes it; else it must be listed
as a reference, coordinator or known-blocked table in ``orderline.schema.distribution``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, UniqueConstraint, Uuid

from orderline.schema import metadata
from orderline.schema.distribution import (
    BLOCKED,
    COORDINATOR,
    REFERENCE,
    Placement,
    blockers,
    placements,
)


def _report(rows: list[str]) -> str:
    return "\n  " + "\n  ".join(rows)


def test_every_table_is_distributable_or_classified_on_purpose() -> None:
    unclassified = [f"{p.table}: {'; '.join(p.blockers)}"
                    for p in placements(metadata) if not p.classified]
    assert not unclassified, (
        "these tables cannot be distributed by business_id on Citus; make them distributable "
        "or list them (with what it would take) in src/orderline/schema/distribution.py, then "
        "run scripts/gen-docs:" + _report(unclassified))


def test_the_classification_names_only_tables_that_exist_and_still_need_it() -> None:
    tables = set(metadata.tables)
    listed = [*REFERENCE, *COORDINATOR, *BLOCKED]
    assert not [name for name in listed if name not in tables]
    assert len(listed) == len(set(listed)), "a table is listed in two placements"
    freed = [name for name in BLOCKED if not blockers(metadata.tables[name])]
    assert not freed, ("these tables are distributable now: take them out of BLOCKED in "
                       "src/orderline/schema/distribution.py:" + _report(freed))


def test_reference_and_coordinator_tables_belong_to_no_shop() -> None:
    # A shop's rows copied to every node, or kept off the shop's node, would be a mistake.
    owned = [name for name in [*REFERENCE, *COORDINATOR]
             if "business_id" in metadata.tables[name].columns]
    assert not owned


def test_the_tenant_table_and_the_order_counter_are_distributed_today() -> None:
    by_table = {p.table: p.placement for p in placements(metadata)}
    assert by_table["businesses"] is Placement.DISTRIBUTED
    assert by_table["order_counters"] is Placement.DISTRIBUTED
    assert by_table["orders"] is Placement.BLOCKED


@pytest.fixture
def sample() -> MetaData:
    sample = MetaData()
    Table("businesses", sample, Column("id", Uuid, primary_key=True))
    Table("shelves", sample, Column("business_id", Uuid, ForeignKey("businesses.id"),
                                    primary_key=True),
          Column("id", Integer, primary_key=True))
    return sample


def test_a_shop_keyed_table_has_no_blockers(sample: MetaData) -> None:
    assert blockers(sample.tables["businesses"]) == []
    assert blockers(sample.tables["shelves"]) == []


def test_each_kind_of_blocker_is_named(sample: MetaData) -> None:
    books = Table(
        "books", sample,
        Column("id", Integer, primary_key=True),
        Column("business_id", Uuid, ForeignKey("businesses.id")),
        Column("shelf_id", Integer, ForeignKey("shelves.id")),
        Column("isbn", Integer),
        UniqueConstraint("isbn", name="uq_books_isbn"))
    pages = Table("pages", sample, Column("id", Integer, primary_key=True))
    assert blockers(books) == [
        "primary key (id) lacks business_id",
        "unique `uq_books_isbn` (isbn) lacks business_id",
        "foreign key (shelf_id) -> shelves(id) lacks business_id",
    ]
    assert blockers(pages) == ["no business_id column"]
