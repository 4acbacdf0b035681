"""The shapes inside a backup, and the pure steps of a restore."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import orjson
from pydantic import BaseModel, ConfigDict

from events.errors import RoninError
from events.store import StreamId

FORMAT = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Manifest(_Frozen):
    format: int = FORMAT
    made_at: datetime
    migrations: list[str]
    """The migrations the database had: a restore refuses a backup from a newer schema."""
    events: dict[str, int]
    """How many events of each topic the backup holds."""
    users: int


class Secrets(_Frozen):
    encryption_key: str
    """Reads the ``*_ciphertext`` fields of the events (camera and webhook secrets)."""
    vapid_private_pem: str | None = None
    """Browsers' push subscriptions are bound to its public half."""


class GroupPosition(_Frozen):
    topic: str
    group: str
    position: str
    """The last entry the group finished with (``ms-seq``); later ones are redelivered."""


class EventLine(_Frozen):
    """One event as the stream held it: its id, type, schema version and JSON data."""

    id: str
    type: str
    v: int
    data: str

    @property
    def stream_id(self) -> StreamId:
        return StreamId.parse(self.id)


def check_restorable(manifest: Manifest, known_migrations: list[str]) -> None:
    if manifest.format != FORMAT:
        raise RoninError(f"backup format {manifest.format}; this Ronin reads format {FORMAT}")
    newer = sorted(set(manifest.migrations) - set(known_migrations))
    if newer:
        raise RoninError(
            f"the backup comes from a newer Ronin (migrations {', '.join(newer)}); restore it"
            " with that version or a later one"
        )


def group_position(last_delivered: StreamId, oldest_pending: StreamId | None) -> StreamId:
    """Where a restored group resumes: after what it had finished, so that what it had
    been handed but not acknowledged is delivered again (consumers are idempotent)."""
    if oldest_pending is None:
        return last_delivered
    if oldest_pending.seq > 0:
        return StreamId(oldest_pending.ms, oldest_pending.seq - 1)
    return StreamId(oldest_pending.ms - 1, 2**63 - 1)


def reencrypted(data: str, recrypt: Callable[[str], str]) -> str:
    """``data`` (an event's JSON) with every ``*_ciphertext`` string passed through
    ``recrypt``: secrets sealed with the old machine's key, sealed with this one's."""

    def walk(value: object) -> object:
        if isinstance(value, dict):
            return {
                k: recrypt(v) if k.endswith("_ciphertext") and isinstance(v, str) else walk(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    if "_ciphertext" not in data:
        return data
    return orjson.dumps(walk(orjson.loads(data))).decode()
