"""The ``reviews`` read model: which review items each user has marked reviewed.

Review items themselves are not stored: they are the tracks of a camera grouped by time
(:func:`projector.readmodels.tracks.review_items`), so a rebuilt or reprocessed track
set gives the items again. Marks name an item by its first track's id. Lives in the
``detections`` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import Event, ReviewMarked
from projector.postgres import fetch
from projector.rows import Delete, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class ReviewMarkRow:
    username: str
    item_id: UUID
    reviewed_at: datetime


MARKS = table_of(ReviewMarkRow, "review_marks", key=("username", "item_id"))
TABLES = (MARKS,)


def _marked(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, ReviewMarked)
    if not event.reviewed:
        return [Delete(MARKS, (event.username, item)) for item in event.item_ids]
    return [
        Upsert(
            MARKS, {"username": event.username, "item_id": item, "reviewed_at": event.occurred_at}
        )
        for item in event.item_ids
    ]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {ReviewMarked: _marked}


def reviewed_among(conn: psycopg.Connection, username: str, items: Collection[UUID]) -> set[UUID]:
    """Which of ``items`` the user has marked reviewed."""
    if not items:
        return set()
    rows = fetch(
        conn, ReviewMarkRow,
        "SELECT * FROM detections.review_marks WHERE username = %s AND item_id = ANY(%s)",
        (username, list(items)),
    )  # fmt: skip
    return {row.item_id for row in rows}
