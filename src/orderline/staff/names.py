"""Who an order's history names, in people's words: ``staff:<id>`` is recorded as the actor of
what a staff member did in the console; a page showing the history (or a stale version's
412) shows that member's name instead. Anyone who may read the business may read its staff's
names here (the staff list itself, with emails and roles, stays an admin's)."""

from __future__ import annotations

from collections.abc import Iterable

from orderline.core.runtime import Runtime
from orderline.staff import store
from orderline.tenancy.rules import Principal, Scope

STAFF_ACTOR = "staff:"


async def actor_names(runtime: Runtime, principal: Principal,
                      actors: Iterable[str]) -> dict[str, str]:
    """``{actor: name}`` for the ``staff:<id>`` actors among ``actors`` who are (or were)
    members of the principal's business; other actors (keys, the system) are left out."""
    principal.require(Scope.READ)
    return await _names(runtime, principal, actors)


async def decider_names(runtime: Runtime, principal: Principal,
                        actors: Iterable[str]) -> dict[str, str]:
    """The same for whoever may verify payment proofs (a verifier has no ``read``): the
    names of the staff who decided the proofs they look at."""
    principal.require(Scope.VERIFY)
    return await _names(runtime, principal, actors)


async def _names(runtime: Runtime, principal: Principal,
                 actors: Iterable[str]) -> dict[str, str]:
    wanted = {a for a in actors if a.startswith(STAFF_ACTOR)}
    if not wanted:
        return {}
    async with runtime.db.read() as conn:
        members = await store.list_members(conn, principal.business_id)
    return {f"{STAFF_ACTOR}{m.id}": m.name for m in members
            if f"{STAFF_ACTOR}{m.id}" in wanted}
