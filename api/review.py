"""Review: what happened, as items to look at and mark reviewed, per user.

An item is a camera's tracks that overlap in time (or follow within 10 s), with its
classes, the zones entered and a severity: ``alert`` when an alert class (ALERT_CLASSES)
entered a zone the camera requires for alerts (anywhere, when it requires none),
``detection`` otherwise. ``GET /api/review`` lists them newest first with filters;
``POST /api/review/reviewed`` marks some (or unmarks them) for the user asking.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from api.deps import SIGNED_IN, Connection, CurrentUser, EventStoreDep, ensure_visible
from api.inputs import CONTROL_FREE, Flag, Instant
from events.catalogue import ReviewMarked
from projector.readmodels import jobs, reviews, segments, tracks

router = APIRouter(prefix="/api/review", tags=["review"])

Severity = Literal["alert", "detection"]


class Preview(BaseModel):
    """A short clip of the item: ``segment_id``'s video from ``start_s`` to ``end_s``
    (a media fragment, ``#t=start,end``, plays just that)."""

    segment_id: UUID
    start_s: float
    end_s: float


class ReviewItem(BaseModel):
    item_id: UUID
    camera_id: UUID
    start: datetime
    end: datetime
    labels: list[str]
    zones: list[str]
    severity: Severity
    tracks: int
    best_detection_id: UUID
    best_at: datetime
    """The moment of its clearest sighting (where Playback opens)."""
    thumbnail_url: str
    """The object of that sighting, cropped from the recording."""
    preview: Preview | None
    """Where its first seconds are recorded (None: not on disk any more)."""
    reviewed: bool


class Marks(BaseModel):
    item_ids: list[UUID] = Field(min_length=1, max_length=1000)
    reviewed: Flag = True


PREVIEW_S = 10.0
"""The longest preview clip."""
_BEFORE_S = 1.0


def _item(row: tracks.ReviewItemRow, reviewed: set[UUID], preview: Preview | None) -> ReviewItem:
    zones = list(dict.fromkeys(z for z in row.zones.split(",") if z))
    return ReviewItem(
        item_id=row.item_id, camera_id=row.camera_id, start=row.start, end=row.end,
        labels=row.labels, zones=zones, severity="alert" if row.alert else "detection",
        tracks=row.tracks, best_detection_id=row.best_detection_id, best_at=row.best_at,
        thumbnail_url=f"/api/tracks/{row.best_track_id}/thumbnail", preview=preview,
        reviewed=row.item_id in reviewed,
    )  # fmt: skip


def preview_of(
    item: tracks.ReviewItemRow, recorded: Sequence[segments.SegmentRow]
) -> Preview | None:
    """The clip of an item (pure): from a second before it starts, up to PREVIEW_S, in
    the one segment that holds its start (or the first that holds any of it)."""
    begin = item.start - timedelta(seconds=_BEFORE_S)
    for s in recorded:
        if s.end_at > begin and s.start_at < item.end:
            start_s = max(0.0, (begin - s.start_at).total_seconds())
            end_s = min((item.end - s.start_at).total_seconds(), start_s + PREVIEW_S)
            length = (s.end_at - s.start_at).total_seconds()
            return Preview(segment_id=s.segment_id, start_s=start_s, end_s=min(end_s, length))
    return None


def _previews(conn: Connection, rows: Sequence[tracks.ReviewItemRow]) -> dict[UUID, Preview]:
    """Each item's clip, from one query of segments per camera."""
    out: dict[UUID, Preview] = {}
    by_camera: dict[UUID, list[tracks.ReviewItemRow]] = {}
    for row in rows:
        by_camera.setdefault(row.camera_id, []).append(row)
    for camera_id, items in by_camera.items():
        first = min(i.start for i in items) - timedelta(seconds=_BEFORE_S)
        recorded = segments.overlapping(conn, camera_id, first, max(i.end for i in items))
        for item in items:
            clip = preview_of(item, recorded)
            if clip is not None:
                out[item.item_id] = clip
    return out


@router.get("", response_model=list[ReviewItem], **SIGNED_IN)
def review_items(
    request: Request,
    user: CurrentUser,
    conn: Connection,
    camera_id: UUID | None = None,
    label: str | None = Query(None, max_length=64, pattern=CONTROL_FREE),
    zone: str | None = Query(None, max_length=64, pattern=CONTROL_FREE),
    severity: Severity | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    reviewed: bool | None = Query(None, description="only reviewed (true) or not (false)"),
    min_duration_s: float | None = Query(None, ge=0, description="lasted at least this long"),
    model_id: str | None = Query(
        None, description="default: the primary model", max_length=200, pattern=CONTROL_FREE
    ),
    limit: int = Query(100, ge=1, le=1000),
) -> list[ReviewItem]:
    """Newest first, of the cameras the user may see; ``reviewed`` is the user's own."""
    ensure_visible(user, camera_id)
    if start and end and start >= end:
        return []  # nothing happened in an empty window
    where = tracks.ReviewFilter(
        model_id=model_id or jobs.primary_model(conn), camera_id=camera_id,
        visible=user.camera_filter(), label=label, zone=zone,
        alert=None if severity is None else severity == "alert", start=start, end=end,
        min_duration_s=min_duration_s,
    )  # fmt: skip
    wanted = limit if reviewed is None else 1000  # filtered below: read enough
    rows = tracks.review_items(conn, where, request.app.state.config.alert_classes, wanted)
    marked = reviews.reviewed_among(conn, user.username, [r.item_id for r in rows])
    clips = _previews(conn, rows)
    items = [_item(r, marked, clips.get(r.item_id)) for r in rows]
    if reviewed is not None:
        items = [i for i in items if i.reviewed == reviewed]
    return items[:limit]


@router.post("/reviewed", status_code=status.HTTP_202_ACCEPTED,
             responses={404: {"description": "an item named is unknown"}}, **SIGNED_IN)  # fmt: skip
def mark_reviewed(
    body: Marks, user: CurrentUser, conn: Connection, store: EventStoreDep
) -> dict[str, int]:
    """Mark items reviewed (``reviewed: false`` to unmark), for the user asking only."""
    found = tracks.cameras_of(conn, body.item_ids)
    unknown = [i for i in body.item_ids if i not in found or not user.may_see(found[i])]
    if unknown:
        raise HTTPException(404, f"no such review item: {', '.join(map(str, unknown[:5]))}")
    ids = tuple(dict.fromkeys(body.item_ids))
    store.append(ReviewMarked(username=user.username, item_ids=ids, reviewed=body.reviewed))
    return {"marked": len(ids)}
