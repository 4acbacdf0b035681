"""The read models the API reads, as projections with pure handlers.

- ``cameras``: each camera's configuration and live status (cameras topic).
- ``recordings``: one row per recorded segment on disk (recordings topic).
- ``analytics_recordings``: the DuckDB copy of segments for timeline and storage stats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from events.catalogue import (
    CameraAdded,
    CameraConnected,
    CameraDisconnected,
    CameraRemoved,
    CameraUpdated,
    Event,
    RecordingStarted,
    RecordingStopped,
    RetentionPurged,
    SegmentClosed,
    SegmentTranscoded,
    Topic,
)
from projector.projection import Projection
from projector.rows import Delete, Patch, RowOp, TableSpec, Upsert

CAMERAS = TableSpec(
    name="cameras",
    columns=(
        "camera_id",
        "name",
        "directory",
        "rtsp_url",
        "credentials_ciphertext",
        "camera_group",
        "position",
        "enabled",
        "detection_enabled",
        "status",
        "last_error",
        "status_changed_at",
        "updated_at",
    ),
    key=("camera_id",),
    ddl="""CREATE TABLE IF NOT EXISTS {table} (
        camera_id uuid PRIMARY KEY,
        name text NOT NULL,
        directory text NOT NULL,
        rtsp_url text NOT NULL,
        credentials_ciphertext text,
        camera_group text,
        position integer NOT NULL,
        enabled boolean NOT NULL,
        detection_enabled boolean NOT NULL,
        status text NOT NULL,
        last_error text,
        status_changed_at timestamptz,
        updated_at timestamptz NOT NULL)""",
)

SEGMENTS = TableSpec(
    name="segments",
    columns=(
        "segment_id",
        "camera_id",
        "path",
        "start_at",
        "end_at",
        "duration_s",
        "bytes",
        "video_codec",
        "width",
        "height",
        "fps",
        "audio_codec",
        "recovered",
    ),
    key=("segment_id",),
    ddl="""CREATE TABLE IF NOT EXISTS {table} (
        segment_id uuid PRIMARY KEY,
        camera_id uuid NOT NULL,
        path text NOT NULL,
        start_at timestamptz NOT NULL,
        end_at timestamptz NOT NULL,
        duration_s double precision NOT NULL,
        bytes bigint NOT NULL,
        video_codec text NOT NULL,
        width integer NOT NULL,
        height integer NOT NULL,
        fps double precision NOT NULL,
        audio_codec text,
        recovered boolean NOT NULL)""",
    indexes=("CREATE INDEX IF NOT EXISTS segments_camera_start ON {table} (camera_id, start_at)",),
)


def _camera_configured(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, CameraAdded | CameraUpdated)
    values = {
        "name": event.name,
        "directory": event.directory,
        "rtsp_url": event.rtsp_url,
        "credentials_ciphertext": event.credentials_ciphertext,
        "camera_group": event.group,
        "position": event.position,
        "enabled": event.enabled,
        "detection_enabled": event.detection_enabled,
        "updated_at": event.occurred_at,
    }
    if isinstance(event, CameraUpdated):  # keep the status ingest reported
        return [Patch(CAMERAS, (event.camera_id,), values)]
    row = {
        "camera_id": event.camera_id,
        **values,
        "status": "offline",
        "last_error": None,
        "status_changed_at": event.occurred_at,
    }
    return [Upsert(CAMERAS, row)]


def _camera_removed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, CameraRemoved)
    return [Delete(CAMERAS, (event.camera_id,))]


def _status(status: str, error_field: str | None = None) -> Callable[[Event], Sequence[RowOp]]:
    def handler(event: Event) -> Sequence[RowOp]:
        camera_id = event.camera_id  # type: ignore[attr-defined]
        values: dict[str, object] = {"status": status, "status_changed_at": event.occurred_at}
        if error_field is not None:
            values["last_error"] = getattr(event, error_field)
        elif status in ("online", "recording"):
            values["last_error"] = None
        return [Patch(CAMERAS, (camera_id,), values)]

    return handler


def _segment_closed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, SegmentClosed)
    return [
        Upsert(
            SEGMENTS,
            {
                "segment_id": event.segment_id,
                "camera_id": event.camera_id,
                "path": event.path,
                "start_at": event.start,
                "end_at": event.end,
                "duration_s": event.duration_s,
                "bytes": event.bytes,
                "video_codec": event.video_codec,
                "width": event.width,
                "height": event.height,
                "fps": event.fps,
                "audio_codec": event.audio_codec,
                "recovered": event.recovered,
            },
        )
    ]


def _segment_purged(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, RetentionPurged)
    return [Delete(SEGMENTS, (event.segment_id,))]


def _segment_transcoded(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, SegmentTranscoded)
    return [
        Patch(
            SEGMENTS,
            (event.segment_id,),
            {"bytes": event.new_bytes, "video_codec": event.new_codec, "path": event.path},
        )
    ]


def cameras_projection() -> Projection:
    return Projection(
        name="cameras",
        topic=Topic.CAMERAS,
        tables=(CAMERAS,),
        handlers={
            CameraAdded: _camera_configured,
            CameraUpdated: _camera_configured,
            CameraRemoved: _camera_removed,
            CameraConnected: _status("online"),
            CameraDisconnected: _status("offline", "reason"),
            RecordingStarted: _status("recording"),
            RecordingStopped: _status("online", "reason"),
        },
    )


def recordings_projection(name: str = "recordings") -> Projection:
    return Projection(
        name=name,
        topic=Topic.RECORDINGS,
        tables=(SEGMENTS,),
        handlers={
            SegmentClosed: _segment_closed,
            RetentionPurged: _segment_purged,
            SegmentTranscoded: _segment_transcoded,
        },
    )


def postgres_projections() -> list[Projection]:
    """The PostgreSQL read models the ``projector`` worker keeps."""
    return [cameras_projection(), recordings_projection()]


def analytics_projections() -> list[Projection]:
    """The DuckDB analytics tables the ``analytics`` worker keeps."""
    return [recordings_projection("analytics_recordings")]
