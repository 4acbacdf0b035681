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
from datetime import datetime, timedelta
from uuid import UUID

import duckdb
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
from projector import analytics
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
        "CREATE INDEX tracks_camera_seen ON {table} (camera_id, last_seen)",
        "CREATE INDEX tracks_in_view ON {table} USING gist (tstzrange(start, last_seen, '[]'))",
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
    best_track_id: UUID
    """The track of its clearest sighting (whose thumbnail shows the item)."""


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
    min_duration_s: float | None = None


_SCOPE = """(model_id = %(model)s OR %(model)s::text IS NULL)
      AND (camera_id = %(camera)s OR %(camera)s::uuid IS NULL)
      AND (camera_id = ANY(%(visible)s) OR %(visible)s::uuid[] IS NULL)"""
_IN_VIEW = "tstzrange(start, last_seen, '[]')"
"""When a track was in view (the expression the GiST index is on)."""
_WINDOW = _IN_VIEW + " && tstzrange(%(lower)s::timestamptz, %(upper)s::timestamptz, '[)')"
"""In view during ``[lower, upper)`` (a NULL bound: unbounded), by the index."""

_REVIEW_SQL = (
    """
WITH latest AS (
    SELECT DISTINCT ON (track_id) track_id, camera_id, label, start, last_seen, zones,
           in_required_zone, best_detection_id, best_at, best_confidence
    FROM detections.tracks
    WHERE """
    + _SCOPE
    + " AND "
    + _WINDOW
    + """
    ORDER BY track_id, last_seen DESC
), reach AS (
    SELECT *, max(last_seen) OVER (PARTITION BY camera_id ORDER BY start, track_id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached
    FROM latest
), grouped AS (
    SELECT *, sum(CASE WHEN reached IS NULL OR start > reached + make_interval(secs => %(merge)s)
                  THEN 1 ELSE 0 END) OVER (PARTITION BY camera_id ORDER BY start, track_id)
              AS grp
    FROM reach
), items AS (
    SELECT (array_agg(track_id ORDER BY start, track_id))[1] AS item_id, camera_id,
           min(start) AS start, max(last_seen) AS "end",
           array_agg(DISTINCT label ORDER BY label) AS labels,
           coalesce(string_agg(nullif(zones, ''), ','), '') AS zones,
           bool_or((label = ANY(%(alerting)s) OR %(alerting)s::text[] IS NULL)
                   AND in_required_zone) AS alert,
           count(*) AS tracks,
           (array_agg(best_detection_id ORDER BY best_confidence DESC))[1] AS best_detection_id,
           (array_agg(best_at ORDER BY best_confidence DESC))[1] AS best_at,
           (array_agg(track_id ORDER BY best_confidence DESC))[1] AS best_track_id
    FROM grouped GROUP BY camera_id, grp
)
SELECT * FROM items
WHERE ("end" >= %(start)s OR %(start)s::timestamptz IS NULL)
  AND (start < %(end)s OR %(end)s::timestamptz IS NULL)
  AND (%(label)s = ANY(labels) OR %(label)s::text IS NULL)
  AND (%(zone)s = ANY(string_to_array(zones, ',')) OR %(zone)s::text IS NULL)
  AND (alert = %(alert)s OR %(alert)s::bool IS NULL)
  AND (extract(epoch FROM "end" - start) >= %(min_duration)s OR %(min_duration)s::float8 IS NULL)
ORDER BY start DESC
LIMIT %(limit)s
"""
)

_CUT_SQL = (
    """
SELECT EXISTS (  -- a track ending before the window would join an item inside it
    SELECT 1 FROM detections.tracks p
    WHERE """
    + _SCOPE.replace("model_id", "p.model_id").replace("camera_id", "p.camera_id")
    + " AND tstzrange(p.start, p.last_seen, '[]')"
    + """ && tstzrange(%(lower)s::timestamptz,
                         %(lower)s::timestamptz + make_interval(secs => %(merge)s), '[)')
      AND EXISTS (
        SELECT 1 FROM detections.tracks x
        WHERE x.camera_id = p.camera_id AND x.model_id = p.model_id
          AND x.last_seen < %(lower)s
          AND x.last_seen >= p.start - make_interval(secs => %(merge)s)
          AND NOT EXISTS (SELECT 1 FROM detections.tracks y
                          WHERE y.track_id = x.track_id AND y.last_seen >= %(lower)s))
) AND %(lower)s::timestamptz IS NOT NULL AS lower_cut, EXISTS (
    -- a track starting after the window would join an item inside it
    SELECT 1 FROM detections.tracks p
    WHERE """
    + _SCOPE.replace("model_id", "p.model_id").replace("camera_id", "p.camera_id")
    + " AND tstzrange(p.start, p.last_seen, '[]')"
    + """ && tstzrange(%(upper)s::timestamptz - make_interval(secs => %(merge)s),
                %(upper)s::timestamptz, '[)')
      AND (p.last_seen >= %(lower)s OR %(lower)s::timestamptz IS NULL)
      AND EXISTS (
        SELECT 1 FROM detections.tracks z
        WHERE z.camera_id = p.camera_id AND z.model_id = p.model_id AND z.start >= %(upper)s
          AND z.start <= p.last_seen + make_interval(secs => %(merge)s))
) AND %(upper)s::timestamptz IS NOT NULL AS upper_cut
"""
)


@dataclass(frozen=True, slots=True)
class _Cuts:
    lower_cut: bool
    upper_cut: bool


@dataclass(frozen=True, slots=True)
class _Newest:
    newest: datetime | None
    oldest: datetime | None


_WIDEN_FIRST = timedelta(hours=1)
_WIDEN_TIMES = 12  # 1 h, 2 h, 4 h ... about 170 days; then the whole history


def review_items(
    conn: psycopg.Connection, where: ReviewFilter, alert_labels: Collection[str],
    limit: int | None, merge_s: float = 10.0,
) -> list[ReviewItemRow]:  # fmt: skip
    """Newest first (all of them when ``limit`` is None). ``alert_labels`` are the
    classes that make an item an alert (empty: every class).

    Items are grouped from the tracks near what is asked only (a day of 100,000 tracks,
    not all of them), and exactly: the window of tracks widens until no item crosses its
    edges (a chain of overlapping tracks longer than the window). Without a time range,
    the newest day is tried first, then eight times as far back, until ``limit`` items
    are found or the history ends."""
    params: dict[str, object] = {
        "model": where.model_id, "camera": where.camera_id,
        "visible": None if where.visible is None else list(where.visible), "merge": merge_s,
        "alerting": list(alert_labels) or None, "start": where.start, "end": where.end,
        "label": where.label, "zone": where.zone, "alert": where.alert, "limit": limit,
        "min_duration": where.min_duration_s,
    }  # fmt: skip
    if where.start is not None and where.end is not None and where.start >= where.end:
        return []  # nothing is in view during an empty window
    if where.start is not None or where.end is not None or limit is None:
        return _exact(conn, params, where.start, where.end, merge_s)
    spans = fetch(
        conn, _Newest,
        "SELECT max(start) AS newest, min(last_seen) AS oldest FROM detections.tracks WHERE "
        + _SCOPE,
        params,
    )  # fmt: skip
    span = spans[0] if spans else _Newest(None, None)  # none: no table yet
    if span.newest is None or span.oldest is None:
        return []
    back = timedelta(days=1)
    while True:
        lower = _moved(span.newest, -back)
        if lower is None or lower <= span.oldest:
            return _exact(conn, params, None, None, merge_s)
        rows = _exact(conn, {**params, "start": lower}, lower, None, merge_s)
        if len([r for r in rows if r.start >= lower]) >= limit:
            return rows
        back *= 8


def _moved(moment: datetime, by: timedelta) -> datetime | None:
    """``moment + by``, or None (unbounded) past what a datetime holds."""
    try:
        return moment + by
    except OverflowError:
        return None


def _exact(
    conn: psycopg.Connection,
    params: dict[str, object],
    lower: datetime | None,
    upper: datetime | None,
    merge_s: float,
) -> list[ReviewItemRow]:
    """The items overlapping ``params``' range, from the tracks in ``[lower, upper)``
    widened until no item is cut by an edge."""
    margin = _WIDEN_FIRST
    for _ in range(_WIDEN_TIMES):
        window = {**params, "lower": lower, "upper": upper}
        cuts = (fetch(conn, _Cuts, _CUT_SQL, window) or [_Cuts(False, False)])[0]
        if not cuts.lower_cut and not cuts.upper_cut:
            return fetch(conn, ReviewItemRow, _REVIEW_SQL, window)
        if cuts.lower_cut and lower is not None:
            lower = _moved(lower, -margin)
        if cuts.upper_cut and upper is not None:
            upper = _moved(upper, margin)
        margin *= 2
    return fetch(conn, ReviewItemRow, _REVIEW_SQL, {**params, "lower": None, "upper": None})


def track(conn: psycopg.Connection, track_id: UUID) -> TrackPieceRow | None:
    """One tracked object (its latest piece), if it exists."""
    rows = fetch(
        conn, TrackPieceRow,
        "SELECT * FROM detections.tracks WHERE track_id = %s ORDER BY last_seen DESC LIMIT 1",
        (track_id,),
    )  # fmt: skip
    return rows[0] if rows else None


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


@dataclass(frozen=True, slots=True)
class DailyTracks:
    day: datetime
    label: str
    tracks: int
    total_s: float
    """How long they were in view, all together."""
    longest_s: float


def per_day(
    con: duckdb.DuckDBPyConnection, since: datetime, where: TrackFilter
) -> list[DailyTracks]:
    """From the analytics copy: tracked objects per day and class that match ``where``
    (its window, least duration and zone included), with how long they stayed."""
    w = where
    cameras = None if w.visible is None else list(w.visible)
    return analytics.fetch(
        con, DailyTracks,
        """
        WITH latest AS (
            SELECT DISTINCT ON (track_id) track_id, camera_id, label, start, last_seen, zones,
                   date_diff('millisecond', start, last_seen) / 1000.0 AS seconds
            FROM analytics_detections.tracks
            WHERE last_seen >= ? AND (model_id = ? OR ? IS NULL)
              AND (camera_id = ? OR ? IS NULL) AND (label = ? OR ? IS NULL)
              AND (?::uuid[] IS NULL OR list_contains(?::uuid[], camera_id))
            ORDER BY track_id, last_seen DESC
        )
        SELECT date_trunc('day', start) AS day, label, count(*) AS tracks,
               sum(seconds) AS total_s, max(seconds) AS longest_s
        FROM latest
        WHERE (seconds >= ? OR ? IS NULL)
          AND (?::text IS NULL OR list_contains(string_split(zones, ','), ?))
          AND (start < ? OR ? IS NULL)
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        [since, w.model_id, w.model_id, w.camera_id, w.camera_id, w.label, w.label, cameras,
         cameras, w.min_duration_s, w.min_duration_s, w.zone, w.zone, w.end, w.end],
    )  # fmt: skip
