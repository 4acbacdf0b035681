"""The read models the API reads, as projections with pure handlers.

- ``cameras``: each camera's configuration and live status (cameras topic).
- ``recordings``: one row per recorded segment on disk (recordings topic).
- ``detections``: every detection (per model) and one row per detection job.
- ``alerts``: every alert raised, with its snapshot.
- ``analytics_recordings`` / ``analytics_detections``: DuckDB copies for the stats pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from events.catalogue import (
    AlertRaised,
    CameraAdded,
    CameraConnected,
    CameraDisconnected,
    CameraRemoved,
    CameraUpdated,
    DetectionJobCompleted,
    DetectionJobFailed,
    DetectionJobStarted,
    DetectionsPurged,
    Event,
    ObjectDetected,
    RecordingStarted,
    RecordingStopped,
    RetentionPurged,
    SegmentClosed,
    SegmentOpened,
    SegmentTranscoded,
    Topic,
)
from projector.projection import Projection
from projector.rows import Delete, DeleteWhere, Patch, RowOp, TableSpec, Upsert

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
        "retention_days",
        "retention_max_gb",
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
        updated_at timestamptz NOT NULL,
        retention_days double precision,
        retention_max_gb double precision)""",
    indexes=(
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS retention_days double precision",
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS retention_max_gb double precision",
    ),
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
        "opened_as",
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
        recovered boolean NOT NULL,
        opened_as uuid)""",
    indexes=(
        "CREATE INDEX IF NOT EXISTS segments_camera_start ON {table} (camera_id, start_at)",
        # the id it had while it was written: a player that asked for that still gets it
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS opened_as uuid",
        "CREATE INDEX IF NOT EXISTS segments_opened_as ON {table} (opened_as)",
    ),
)


OPEN_SEGMENTS = TableSpec(
    name="open_segments",
    columns=("segment_id", "camera_id", "path", "start_at", "video_codec", "width", "height"),
    key=("segment_id",),
    ddl="""CREATE TABLE IF NOT EXISTS {table} (
        segment_id uuid PRIMARY KEY,
        camera_id uuid NOT NULL,
        path text NOT NULL,
        start_at timestamptz NOT NULL,
        video_codec text NOT NULL,
        width integer NOT NULL,
        height integer NOT NULL)""",
)
"""The segment each camera is writing now (at most one a camera; its end is its file's)."""


PURGES = TableSpec(
    name="purges",
    columns=("segment_id", "camera_id", "path", "bytes_freed", "reason", "purged_at"),
    key=("segment_id",),
    ddl="""CREATE TABLE IF NOT EXISTS {table} (
        segment_id uuid PRIMARY KEY,
        camera_id uuid NOT NULL,
        path text NOT NULL,
        bytes_freed bigint NOT NULL,
        reason text NOT NULL,
        purged_at timestamptz NOT NULL)""",
    indexes=("CREATE INDEX IF NOT EXISTS purges_time ON {table} (purged_at)",),
)
"""The audit trail of retention: one row per purged segment (from RetentionPurged)."""


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
        "retention_days": event.retention_days,
        "retention_max_gb": event.retention_max_gb,
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


def _segment_opened(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, SegmentOpened)
    row = {"segment_id": event.segment_id, "camera_id": event.camera_id, "path": event.path,
           "start_at": event.start, "video_codec": event.video_codec, "width": event.width,
           "height": event.height}  # fmt: skip
    # a camera writes one segment at a time: this one replaces any left by a crash
    return [DeleteWhere(OPEN_SEGMENTS, "camera_id", event.camera_id), Upsert(OPEN_SEGMENTS, row)]


def _segment_closed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, SegmentClosed)
    closed: list[RowOp] = [] if event.opened_as is None else [
        Delete(OPEN_SEGMENTS, (event.opened_as,))
    ]  # fmt: skip
    return [
        *closed,
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
                "opened_as": event.opened_as,
            },
        ),
    ]


def _segment_purged(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, RetentionPurged)
    audit = {
        "segment_id": event.segment_id,
        "camera_id": event.camera_id,
        "path": event.path,
        "bytes_freed": event.bytes_freed,
        "reason": event.reason.value,
        "purged_at": event.occurred_at,
    }
    return [Delete(SEGMENTS, (event.segment_id,)), Upsert(PURGES, audit)]


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
        tables=(SEGMENTS, PURGES, OPEN_SEGMENTS),
        handlers={
            SegmentOpened: _segment_opened,
            SegmentClosed: _segment_closed,
            RetentionPurged: _segment_purged,
            SegmentTranscoded: _segment_transcoded,
        },
    )


DETECTIONS = TableSpec(
    name="detections",
    columns=(
        "detection_id",
        "camera_id",
        "segment_id",
        "model_id",
        "detected_at",
        "offset_s",
        "label",
        "class_id",
        "confidence",
        "x1",
        "y1",
        "x2",
        "y2",
        "frame_number",
        "live",
    ),
    key=("detection_id",),
    ddl="""CREATE TABLE IF NOT EXISTS {table} (
        detection_id uuid PRIMARY KEY,
        camera_id uuid NOT NULL,
        segment_id uuid,
        model_id text NOT NULL,
        detected_at timestamptz NOT NULL,
        offset_s double precision,
        label text NOT NULL,
        class_id integer NOT NULL,
        confidence double precision NOT NULL,
        x1 double precision NOT NULL,
        y1 double precision NOT NULL,
        x2 double precision NOT NULL,
        y2 double precision NOT NULL,
        frame_number bigint NOT NULL,
        live boolean NOT NULL)""",
    indexes=(
        "CREATE INDEX IF NOT EXISTS detections_camera_model_time"
        " ON {table} (camera_id, model_id, detected_at)",
        "CREATE INDEX IF NOT EXISTS detections_segment ON {table} (segment_id)",
    ),
)

JOBS = TableSpec(
    name="jobs",
    columns=(
        "job_id",
        "segment_id",
        "camera_id",
        "segment_start",
        "model_id",
        "reprocess",
        "status",
        "attempt",
        "started_at",
        "finished_at",
        "frames_sampled",
        "frames_analysed",
        "frames_skipped",
        "detections",
        "inference_s",
        "elapsed_s",
        "error",
    ),
    key=("job_id",),
    ddl="""CREATE TABLE IF NOT EXISTS {table} (
        job_id uuid PRIMARY KEY,
        segment_id uuid NOT NULL,
        camera_id uuid NOT NULL,
        segment_start timestamptz NOT NULL,
        model_id text NOT NULL,
        reprocess boolean NOT NULL,
        status text NOT NULL,
        attempt integer NOT NULL,
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        frames_sampled integer,
        frames_analysed integer,
        frames_skipped integer,
        detections integer,
        inference_s double precision,
        elapsed_s double precision,
        error text)""",
    indexes=("CREATE INDEX IF NOT EXISTS jobs_status ON {table} (status, started_at)",),
)

ALERTS = TableSpec(
    name="alerts",
    columns=(
        "alert_id",
        "camera_id",
        "detection_id",
        "label",
        "confidence",
        "detected_at",
        "snapshot_path",
    ),
    key=("alert_id",),
    ddl="""CREATE TABLE IF NOT EXISTS {table} (
        alert_id uuid PRIMARY KEY,
        camera_id uuid NOT NULL,
        detection_id uuid NOT NULL,
        label text NOT NULL,
        confidence double precision NOT NULL,
        detected_at timestamptz NOT NULL,
        snapshot_path text)""",
    indexes=("CREATE INDEX IF NOT EXISTS alerts_time ON {table} (detected_at)",),
)


def _object_detected(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, ObjectDetected)
    return [
        Upsert(
            DETECTIONS,
            {
                "detection_id": event.detection_id,
                "camera_id": event.camera_id,
                "segment_id": event.segment_id,
                "model_id": event.model_id,
                "detected_at": event.detected_at,
                "offset_s": event.offset_s,
                "label": event.label,
                "class_id": event.class_id,
                "confidence": event.confidence,
                "x1": event.box.x1,
                "y1": event.box.y1,
                "x2": event.box.x2,
                "y2": event.box.y2,
                "frame_number": event.frame_number,
                "live": event.segment_id is None,
            },
        )
    ]


def _job_started(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionJobStarted)
    row: dict[str, object] = dict.fromkeys(JOBS.columns)
    row.update(
        job_id=event.job_id,
        segment_id=event.segment_id,
        camera_id=event.camera_id,
        segment_start=event.segment_start,
        model_id=event.model_id,
        reprocess=event.reprocess,
        status="running",
        attempt=event.attempt,
        started_at=event.occurred_at,
    )
    return [Upsert(JOBS, row)]


def _job_completed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionJobCompleted)
    values = {
        "status": "done",
        "finished_at": event.occurred_at,
        "frames_sampled": event.frames_sampled,
        "frames_analysed": event.frames_analysed,
        "frames_skipped": event.frames_skipped,
        "detections": event.detections,
        "inference_s": event.inference_s,
        "elapsed_s": event.elapsed_s,
        "error": None,
    }
    return [Patch(JOBS, (event.job_id,), values)]


def _job_failed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionJobFailed)
    values = {
        "status": "failed" if event.final else "retrying",
        "finished_at": event.occurred_at if event.final else None,
        "error": event.reason,
    }
    return [Patch(JOBS, (event.job_id,), values)]


def _alert_raised(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, AlertRaised)
    row = {
        "alert_id": event.alert_id,
        "camera_id": event.camera_id,
        "detection_id": event.detection_id,
        "label": event.label,
        "confidence": event.confidence,
        "detected_at": event.detected_at,
        "snapshot_path": event.snapshot_path,
    }
    return [Upsert(ALERTS, row)]


def _detections_purged(with_jobs: bool) -> Callable[[Event], Sequence[RowOp]]:
    def handler(event: Event) -> Sequence[RowOp]:
        assert isinstance(event, DetectionsPurged)
        ops: list[RowOp] = [DeleteWhere(DETECTIONS, "segment_id", event.segment_id)]
        if with_jobs:
            ops.append(DeleteWhere(JOBS, "segment_id", event.segment_id))
        return ops

    return handler


def detections_projection(name: str = "detections", with_jobs: bool = True) -> Projection:
    handlers: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
        ObjectDetected: _object_detected,
        DetectionsPurged: _detections_purged(with_jobs),
    }
    if with_jobs:
        handlers |= {
            DetectionJobStarted: _job_started,
            DetectionJobCompleted: _job_completed,
            DetectionJobFailed: _job_failed,
        }
    tables = (DETECTIONS, JOBS) if with_jobs else (DETECTIONS,)
    return Projection(name=name, topic=Topic.DETECTIONS, tables=tables, handlers=handlers)


def alerts_projection() -> Projection:
    return Projection(
        name="alerts", topic=Topic.ALERTS, tables=(ALERTS,), handlers={AlertRaised: _alert_raised}
    )


def postgres_projections() -> list[Projection]:
    """The PostgreSQL read models the ``projector`` worker keeps."""
    return [
        cameras_projection(),
        recordings_projection(),
        detections_projection(),
        alerts_projection(),
    ]


def analytics_projections() -> list[Projection]:
    """The DuckDB analytics tables the ``analytics`` worker keeps."""
    return [
        recordings_projection("analytics_recordings"),
        detections_projection("analytics_detections", with_jobs=False),
    ]
