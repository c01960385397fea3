"""When each API key was last used (``api_keys.last_used_at``), written cheaply.

Writing the time on every request would put a write in every read and make each busy key's
row a hot spot. So the time is recorded at most once per key per ``RECORD_EVERY`` (five
minutes): the database keeps it with one conditional statement (``UPDATE api_keys SET
last_used_at = :now WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :now -
RECORD_EVERY)``), so any number of processes together write it at most once per interval,
and each process asks only when it has not itself recorded the key within the interval
(``KeyUseMemo``, a small LRU of key ids kept on the runtime). The shown time is therefore
accurate to five minutes, which is what "is this key still in use?" needs.

Recording is bookkeeping: a database that refuses the write (busy, read-only) is logged and
the request goes on.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from orderline.core.runtime import Part, Runtime
from orderline.tenancy import store

log = logging.getLogger(__name__)

RECORD_EVERY = timedelta(minutes=5)
MEMO_SIZE = 1024  # keys remembered per process; a forgotten one costs one no-op UPDATE


class KeyUseMemo:
    """The keys this process recorded lately and when: at most ``size`` of them, the least
    recently recorded forgotten first."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._recorded: OrderedDict[uuid.UUID, datetime] = OrderedDict()

    def __len__(self) -> int:
        return len(self._recorded)

    def claim(self, key_id: uuid.UUID, now: datetime) -> bool:
        """True when this process should record the key's use now (and notes that it does,
        before the write, so concurrent requests of one process ask once)."""
        last = self._recorded.get(key_id)
        if last is not None and now - last < RECORD_EVERY:
            return False
        self._recorded[key_id] = now
        self._recorded.move_to_end(key_id)
        while len(self._recorded) > self.size:
            self._recorded.popitem(last=False)
        return True


KEY_USE = Part[KeyUseMemo]("the API keys' last-use memo", build=lambda runtime: KeyUseMemo())


async def note_key_used(runtime: Runtime, key_id: uuid.UUID) -> None:
    """Record that the key was used now, unless it was recorded within ``RECORD_EVERY``."""
    now = runtime.clock.now()
    if not runtime.get(KEY_USE).claim(key_id, now):
        return
    try:
        await runtime.db.run(lambda conn: store.record_key_use(
            conn, key_id, now=now, unless_since=now - RECORD_EVERY))
    except SQLAlchemyError:
        log.warning("could not record the use of API key %s", key_id, exc_info=True)
