"""The ``tracks`` read model: tracked objects, one piece per segment that reported them.

A track that goes on across segment boundaries is reported by each segment's job under
one ``track_id``; each report is cumulative (start, best sighting and count so far), so
the track is its latest piece, with ``ended`` once any piece says so. A redone job
replaces its own pieces only (its start sweeps them: a reprocessing whose tracks came
out differently leaves none of the old ones), and a purged segment takes its pieces
with it. Live tracks
have the one piece ``live``. Lives in the ``detections`` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import (
    DetectionJobStarted,
    DetectionsPurged,
    Event,
    TrackEnded,
    TrackEvent,
    TrackStarted,
    TrackUpdated,
)
from projector.postgres import fetch
from projector.rows import DeleteWhere, RowOp, Upsert, table_of

LIVE = "live"


@dataclass(frozen=True, slots=True)
class TrackPieceRow:
    track_id: UUID
    piece: str
    """The reporting segment's id, or ``live``."""
    camera_id: UUID
    model_id: str
    label: str
    start: datetime
    last_seen: datetime
    best_detection_id: UUID
    best_at: datetime
    best_confidence: float
    best_x1: float
    best_y1: float
    best_x2: float
    best_y2: float
    stationary: bool
    sightings: int
    ended: bool
    zones: str
    """The zones it entered, comma-separated, in the order it entered them."""
    in_required_zone: bool
    source: str = ""
    """``{model_id}/{piece}``: the job that reported it, so that job's next run (a retry,
    a reprocessing) replaces its pieces rather than adding to them."""

    @property
    def duration_s(self) -> float:
        return (self.last_seen - self.start).total_seconds()


TRACKS = table_of(
    TrackPieceRow, "tracks", key=("track_id", "piece"),
    indexes=(
        "CREATE INDEX tracks_camera_time ON {table} (camera_id, model_id, start)",
        "CREATE INDEX tracks_piece ON {table} (piece)",
        "CREATE INDEX tracks_source ON {table} (source)",
    ),
)  # fmt: skip
TABLES = (TRACKS,)


def _reported(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, TrackEvent)
    box = event.best_box
    row = {
        "track_id": event.track_id,
        "piece": str(event.segment_id) if event.segment_id else LIVE,
        "camera_id": event.camera_id,
        "model_id": event.model_id,
        "label": event.label,
        "start": event.start,
        "last_seen": event.last_seen,
        "best_detection_id": event.best_detection_id,
        "best_at": event.best_at,
        "best_confidence": event.best_confidence,
        "best_x1": box.x1,
        "best_y1": box.y1,
        "best_x2": box.x2,
        "best_y2": box.y2,
        "stationary": event.stationary,
        "sightings": event.sightings,
        "ended": isinstance(event, TrackEnded),
        "zones": ",".join(event.zones),
        "in_required_zone": event.in_required_zone,
    }
    row["source"] = f"{event.model_id}/{row['piece']}"
    return [Upsert(TRACKS, row)]


def _job_started(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionJobStarted)
    return [DeleteWhere(TRACKS, "source", f"{event.model_id}/{event.segment_id}")]


def _purged(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionsPurged)
    return [DeleteWhere(TRACKS, "piece", str(event.segment_id))]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
    TrackStarted: _reported,
    TrackUpdated: _reported,
    TrackEnded: _reported,
    DetectionJobStarted: _job_started,
    DetectionsPurged: _purged,
}

# --- queries -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackFilter:
    """What a track search narrows by; None means any. A track matches a time window
    when it was in view during it."""

    model_id: str | None = None
    camera_id: UUID | None = None
    visible: Collection[UUID] | None = None
    label: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    min_duration_s: float | None = None
    zone: str | None = None


_TRACKS_SQL = """
WITH latest AS (
    SELECT DISTINCT ON (track_id) track_id, piece, camera_id, model_id, label, start, last_seen,
           best_detection_id, best_at, best_confidence, best_x1, best_y1, best_x2, best_y2,
           stationary, sightings,
           bool_or(ended) OVER (PARTITION BY track_id) AS ended, zones, in_required_zone, source
    FROM detections.tracks
    WHERE (model_id = %s OR %s::text IS NULL) AND (camera_id = %s OR %s::uuid IS NULL)
      AND (camera_id = ANY(%s) OR %s::uuid[] IS NULL) AND (label = %s OR %s::text IS NULL)
    ORDER BY track_id, last_seen DESC
)
SELECT * FROM latest
WHERE (last_seen >= %s OR %s::timestamptz IS NULL) AND (start < %s OR %s::timestamptz IS NULL)
  AND (extract(epoch FROM last_seen - start) >= %s OR %s::float8 IS NULL)
  AND (%s = ANY(string_to_array(zones, ',')) OR %s::text IS NULL)
ORDER BY start DESC
LIMIT %s
"""


def search(conn: psycopg.Connection, where: TrackFilter, limit: int) -> list[TrackPieceRow]:
    """Tracked objects, newest first: each its latest piece, ``ended`` once any piece
    ended."""
    visible = None if where.visible is None else list(where.visible)
    w = where
    return fetch(
        conn, TrackPieceRow, _TRACKS_SQL,
        (w.model_id, w.model_id, w.camera_id, w.camera_id, visible, visible, w.label, w.label,
         w.start, w.start, w.end, w.end, w.min_duration_s, w.min_duration_s, w.zone, w.zone,
         limit),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReviewItemRow:
    """Tracks of one camera that overlap in time (or follow within ``merge_s``), as one
    thing to review, named by its first track."""

    item_id: UUID
    camera_id: UUID
    start: datetime
    end: datetime
    labels: list[str]
    zones: str
    """Every zone its tracks entered, comma-separated (may repeat)."""
    alert: bool
    """An alert class entered a zone the camera requires (or anywhere when none is)."""
    tracks: int
    best_detection_id: UUID
    best_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    model_id: str | None = None
    camera_id: UUID | None = None
    visible: Collection[UUID] | None = None
    label: str | None = None
    zone: str | None = None
    alert: bool | None = None
    start: datetime | None = None
    end: datetime | None = None


_REVIEW_SQL = """
WITH latest AS (
    SELECT DISTINCT ON (track_id) track_id, camera_id, label, start, last_seen, zones,
           in_required_zone, best_detection_id, best_at, best_confidence
    FROM detections.tracks
    WHERE (model_id = %s OR %s::text IS NULL) AND (camera_id = %s OR %s::uuid IS NULL)
      AND (camera_id = ANY(%s) OR %s::uuid[] IS NULL)
    ORDER BY track_id, last_seen DESC
), reach AS (
    SELECT *, max(last_seen) OVER (PARTITION BY camera_id ORDER BY start, track_id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached
    FROM latest
), grouped AS (
    SELECT *, sum(CASE WHEN reached IS NULL OR start > reached + make_interval(secs => %s)
                  THEN 1 ELSE 0 END) OVER (PARTITION BY camera_id ORDER BY start, track_id)
              AS grp
    FROM reach
), items AS (
    SELECT (array_agg(track_id ORDER BY start, track_id))[1] AS item_id, camera_id,
           min(start) AS start, max(last_seen) AS "end",
           array_agg(DISTINCT label ORDER BY label) AS labels,
           coalesce(string_agg(nullif(zones, ''), ','), '') AS zones,
           bool_or((label = ANY(%s) OR %s::text[] IS NULL) AND in_required_zone) AS alert,
           count(*) AS tracks,
           (array_agg(best_detection_id ORDER BY best_confidence DESC))[1] AS best_detection_id,
           (array_agg(best_at ORDER BY best_confidence DESC))[1] AS best_at
    FROM grouped GROUP BY camera_id, grp
)
SELECT * FROM items
WHERE ("end" >= %s OR %s::timestamptz IS NULL) AND (start < %s OR %s::timestamptz IS NULL)
  AND (%s = ANY(labels) OR %s::text IS NULL)
  AND (%s = ANY(string_to_array(zones, ',')) OR %s::text IS NULL)
  AND (alert = %s OR %s::bool IS NULL)
ORDER BY start DESC
LIMIT %s
"""


def review_items(
    conn: psycopg.Connection, where: ReviewFilter, alert_labels: Collection[str],
    limit: int | None, merge_s: float = 10.0,
) -> list[ReviewItemRow]:  # fmt: skip
    """Newest first (all of them when ``limit`` is None). ``alert_labels`` are the
    classes that make an item an alert (empty: every class)."""
    visible = None if where.visible is None else list(where.visible)
    w, labels = where, list(alert_labels) or None
    return fetch(
        conn, ReviewItemRow, _REVIEW_SQL,
        (w.model_id, w.model_id, w.camera_id, w.camera_id, visible, visible, merge_s,
         labels, labels, w.start, w.start, w.end, w.end, w.label, w.label, w.zone, w.zone,
         w.alert, w.alert, limit),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _TrackCamera:
    track_id: UUID
    camera_id: UUID


def cameras_of(conn: psycopg.Connection, track_ids: Collection[UUID]) -> dict[UUID, UUID]:
    """The camera of each of these tracks that exists."""
    rows = fetch(
        conn, _TrackCamera,
        "SELECT DISTINCT track_id, camera_id FROM detections.tracks WHERE track_id = ANY(%s)",
        (list(track_ids),),
    )  # fmt: skip
    return {row.track_id: row.camera_id for row in rows}
