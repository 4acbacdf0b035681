"""The event catalogue: every fact Ronin records, as frozen, versioned pydantic models.

Names are past tense (something that happened). Each class has a ``topic`` (the Redis
stream it travels on) and a ``schema_version``; the codec writes both into the envelope.
Events carry identifiers, paths relative to the storage root, times and boxes, never pixels.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, model_validator


class Topic(StrEnum):
    """A stream of related events; one Redis stream per topic."""

    CAMERAS = "cameras"
    RECORDINGS = "recordings"
    DETECTIONS = "detections"
    FRAMES = "frames"
    ALERTS = "alerts"
    NOTIFICATIONS = "notifications"


def utc_now() -> datetime:
    return datetime.now(UTC)


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
UnitFloat = Annotated[float, Strict(), Field(ge=0, le=1, allow_inf_nan=False)]
"""A fraction or a coordinate in [0, 1]: a JSON number (not `false`, not "0.5")."""
NonNegativeInt = Annotated[int, Field(ge=0, le=2**63 - 1)]
Text = Annotated[str, Field(max_length=4096)]
ModelId = Annotated[str, Field(min_length=1, max_length=200)]


class Event(BaseModel):
    """Base of all events: an id (the idempotency key) and when it happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: ClassVar[Topic]
    schema_version: ClassVar[int] = 1

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime = Field(default_factory=utc_now)


# --- cameras -------------------------------------------------------------------------


class CameraEvent(Event):
    topic: ClassVar[Topic] = Topic.CAMERAS
    camera_id: UUID


Days = Annotated[float, Field(gt=0, le=36500)]
Gigabytes = Annotated[float, Field(gt=0)]


class RetentionTier(StrEnum):
    """What a segment holds, for retention: an alert review item, only detections, or
    neither (continuous footage). Higher tiers may be kept longer."""

    ALERT = "alert"
    DETECTION = "detection"
    CONTINUOUS = "continuous"


class RetentionTiers(BaseModel):
    """A camera's limits per tier. Footage of a tier is kept at least as long as footage
    of the tiers below it; a size is that tier's own budget."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_days: Days | None = None
    alert_max_gb: Gigabytes | None = None
    detection_days: Days | None = None
    detection_max_gb: Gigabytes | None = None
    continuous_max_gb: Gigabytes | None = None


class CameraConfigured(CameraEvent):
    """Shared shape of CameraAdded and CameraUpdated: the camera's whole configuration."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    directory: Annotated[str, Field(min_length=1, max_length=255)]
    """The camera's folder under the storage root (see ``unique_directory`` in
    ``ingest.camera_config.naming``)."""
    rtsp_url: Text
    sub_rtsp_url: Text | None = None
    """Its low-resolution second stream, for the grid and live detection (None: none;
    everything then comes from ``rtsp_url``). The same credentials open both."""
    credentials_ciphertext: Text | None = None
    group: Annotated[str, Field(max_length=200)] | None = None
    position: NonNegativeInt = 0
    enabled: bool = True
    detection_enabled: bool = True
    retention_days: Annotated[float, Field(gt=0, le=36500)] | None = None
    """This camera's own age limit (else RETENTION_DAYS)."""
    retention_max_gb: Annotated[float, Field(gt=0)] | None = None
    """This camera's own size limit (on top of RETENTION_MAX_GB for all cameras)."""
    retention_tiers: RetentionTiers | None = None
    """How much longer footage with review items is kept (else the RETENTION_* tiers)."""


class CameraAdded(CameraConfigured):
    """A camera was registered. Credentials travel only as Fernet ciphertext."""


class CameraUpdated(CameraConfigured):
    """A camera's configuration changed; the event carries the whole new configuration."""


class CameraRemoved(CameraEvent):
    """A camera was removed; its recordings stay until retention purges them."""


Point = tuple[UnitFloat, UnitFloat]
"""A place in the picture: (x, y), fractions of its width and height from the top left."""
Polygon = Annotated[tuple[Point, ...], Field(min_length=3, max_length=100)]
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
"""Text without control characters (NUL, line breaks, escapes): names and labels."""

Label = Annotated[str, Field(min_length=1, max_length=64, pattern=ONE_LINE)]


class Zone(BaseModel):
    """A named area of a camera's picture. An object is in it when the bottom centre of
    its box is (where it stands), for ``inertia`` sightings in a row; it has entered it
    once it stayed ``loitering_s`` (0: at once)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Label
    points: Polygon
    labels: Annotated[tuple[Label, ...], Field(max_length=100)] = ()
    """The classes it applies to (none: every class)."""
    inertia: Annotated[int, Field(ge=1, le=30)] = 3
    loitering_s: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = 0.0


class ZoneConfig(BaseModel):
    """A camera's zones and masks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    zones: Annotated[tuple[Zone, ...], Field(max_length=50)] = ()
    required_zones: Annotated[tuple[Label, ...], Field(max_length=50)] = ()
    """An alert needs its object to have entered one of these (none: anywhere alerts)."""
    motion_masks: Annotated[tuple[Polygon, ...], Field(max_length=50)] = ()
    """Parts of the picture the motion gate ignores (a tree in the wind, the camera's clock)."""
    object_masks: Annotated[tuple[Polygon, ...], Field(max_length=50)] = ()
    """An object standing in one (bottom centre) is ignored (a parked car's spot)."""


class CameraZonesChanged(CameraEvent):
    """A camera's zones and masks were set (the whole configuration, replacing the last)."""

    config: ZoneConfig


class CameraConnected(CameraEvent):
    """Ingest opened the camera's stream."""

    worker: Text


class CameraDisconnected(CameraEvent):
    """Ingest lost the camera's stream, with the reason in words."""

    reason: Text


class RecordingStarted(CameraEvent):
    """Ingest began writing segments for a camera."""

    worker: Text


class RecordingStopped(CameraEvent):
    """Ingest stopped writing segments for a camera."""

    reason: Text


# --- recordings ----------------------------------------------------------------------


class SegmentEvent(Event):
    topic: ClassVar[Topic] = Topic.RECORDINGS
    segment_id: UUID
    camera_id: UUID


class SegmentOpened(SegmentEvent):
    """Ingest began writing a segment: it can be watched while it grows, at ``path``
    (relative to the storage root, in the staging folder) until its SegmentClosed, whose
    ``opened_as`` is this ``segment_id``. ``start`` may be up to a GOP early for the
    first segment of a connection (SegmentClosed has the exact one)."""

    path: Text
    start: AwareDatetime
    video_codec: Annotated[str, Field(max_length=32)]
    width: NonNegativeInt
    height: NonNegativeInt


class SegmentClosed(SegmentEvent):
    """A recording segment is complete and fsynced; ``path`` is relative to the storage root."""

    path: Text
    start: AwareDatetime
    end: AwareDatetime
    duration_s: NonNegativeFloat
    bytes: NonNegativeInt
    video_codec: Annotated[str, Field(max_length=32)]
    width: NonNegativeInt
    height: NonNegativeInt
    fps: NonNegativeFloat
    audio_codec: Annotated[str, Field(max_length=32)] | None = None
    recovered: bool = False
    opened_as: UUID | None = None
    """The SegmentOpened that announced this file while it was written, if any."""


class PurgeReason(StrEnum):
    AGE = "age"
    SIZE = "size"
    EMERGENCY = "emergency"
    RECONCILED = "reconciled"
    CAMERA_REMOVED = "camera_removed"


class RetentionPurged(SegmentEvent):
    """A segment's file was (or is about to be) deleted by retention, with the reason."""

    path: Text
    bytes_freed: NonNegativeInt
    reason: PurgeReason
    tier: RetentionTier | None = None
    """What the segment held when it was chosen (None: not chosen by the policy)."""


class SegmentTranscoded(SegmentEvent):
    """A closed segment was re-encoded and swapped in place."""

    path: Text
    old_bytes: NonNegativeInt
    new_bytes: NonNegativeInt
    old_codec: Annotated[str, Field(max_length=32)]
    new_codec: Annotated[str, Field(max_length=32)]


# --- frames, detections, alerts ------------------------------------------------------


class BoundingBox(BaseModel):
    """A box in normalised image coordinates (0..1), top-left to bottom-right."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    x1: UnitFloat
    y1: UnitFloat
    x2: UnitFloat
    y2: UnitFloat

    @model_validator(mode="after")
    def _ordered(self) -> BoundingBox:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError("a box's second corner must be right of and below its first")
        return self


class FrameSampled(Event):
    """A live frame was chosen for detection; ``source_path`` is the still (a JPEG under the
    storage root, kept for a short while), ``offset_s`` its offset in the group of pictures
    it was taken from."""

    topic: ClassVar[Topic] = Topic.FRAMES
    camera_id: UUID
    source_path: Text
    offset_s: NonNegativeFloat
    captured_at: AwareDatetime
    frame_number: NonNegativeInt = 0


class ObjectDetected(Event):
    """A model found an object in a frame (of a recorded segment, or live when no segment)."""

    topic: ClassVar[Topic] = Topic.DETECTIONS
    detection_id: UUID
    camera_id: UUID
    segment_id: UUID | None = None
    offset_s: NonNegativeFloat | None = None
    detected_at: AwareDatetime
    label: Annotated[str, Field(min_length=1, max_length=64)]
    class_id: NonNegativeInt
    confidence: UnitFloat
    box: BoundingBox
    frame_number: NonNegativeInt
    model_id: ModelId
    frame_path: Text | None = None
    """Live only: the still the object was found in (for the alert's snapshot)."""


class TrackEvent(Event):
    """What a tracked object looked like at a moment: one class, first seen at ``start``,
    last seen at ``last_seen``, its best sighting (the snapshot), still or moving.

    ``segment_id`` is the recorded segment this report comes from (None live): a track
    that goes on across a segment boundary is reported by each segment's job under the
    same ``track_id``, and the read model keeps one piece per segment, so a redone job
    rewrites its own piece and nothing else.
    """

    topic: ClassVar[Topic] = Topic.DETECTIONS
    track_id: UUID
    camera_id: UUID
    segment_id: UUID | None = None
    model_id: ModelId
    label: Annotated[str, Field(min_length=1, max_length=64)]
    start: AwareDatetime
    last_seen: AwareDatetime
    best_detection_id: UUID
    best_at: AwareDatetime
    best_confidence: UnitFloat
    best_box: BoundingBox
    stationary: bool = False
    sightings: Annotated[int, Field(ge=1)]
    best_frame_path: Text | None = None
    """Live only: the still of the best sighting (an alert's snapshot is drawn on it)."""
    zones: Annotated[tuple[Label, ...], Field(max_length=50)] = ()
    """The zones it has entered so far."""
    in_required_zone: bool = True
    """It has entered a zone the camera requires for alerts (true when none is required)."""


class TrackStarted(TrackEvent):
    """An object was seen that no track was following."""


class TrackUpdated(TrackEvent):
    """A tracked object became stationary or moving again, or is still there (reported
    at a segment's end while it goes on, and every little while live)."""


class TrackEnded(TrackEvent):
    """A tracked object was not seen again: it ended when it was last seen."""


class ReviewMarked(Event):
    """A user marked review items reviewed (or not reviewed again); an item is named by
    its first track's id."""

    topic: ClassVar[Topic] = Topic.DETECTIONS
    username: Annotated[str, Field(min_length=1, max_length=200)]
    item_ids: Annotated[tuple[UUID, ...], Field(min_length=1, max_length=1000)]
    reviewed: bool = True


class DetectionsPurged(Event):
    """A segment's footage was purged; its detections and jobs go with it (retention
    emits this right after RetentionPurged, on the detections stream)."""

    topic: ClassVar[Topic] = Topic.DETECTIONS
    segment_id: UUID
    camera_id: UUID


class DetectionJobStarted(Event):
    """A detection worker began analysing a recorded segment with a model."""

    topic: ClassVar[Topic] = Topic.DETECTIONS
    job_id: UUID
    segment_id: UUID
    camera_id: UUID
    segment_start: AwareDatetime
    model_id: ModelId
    attempt: Annotated[int, Field(ge=1)]
    reprocess: bool = False


class DetectionJobCompleted(Event):
    """A segment was analysed; what it cost and what it found."""

    topic: ClassVar[Topic] = Topic.DETECTIONS
    job_id: UUID
    segment_id: UUID
    model_id: ModelId
    frames_sampled: NonNegativeInt
    frames_analysed: NonNegativeInt
    frames_skipped: NonNegativeInt
    """Sampled frames the motion pre-filter judged static (no inference ran on them)."""
    detections: NonNegativeInt
    inference_s: NonNegativeFloat
    elapsed_s: NonNegativeFloat


class MotionSpan(BaseModel):
    """A stretch of time in which the picture moved, and the most of it that did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    peak: UnitFloat
    """The largest fraction of the (unmasked) picture that changed between two samples."""


class MotionMeasured(Event):
    """What the motion gate measured over a recorded segment, as spans of activity (the
    timeline's motion strip). Every job on the segment reports the same spans."""

    topic: ClassVar[Topic] = Topic.DETECTIONS
    segment_id: UUID
    camera_id: UUID
    spans: Annotated[tuple[MotionSpan, ...], Field(max_length=20_000)] = ()


class DetectionJobFailed(Event):
    """A segment's analysis failed; ``final`` when it will not be retried."""

    topic: ClassVar[Topic] = Topic.DETECTIONS
    job_id: UUID
    segment_id: UUID
    model_id: ModelId
    attempt: Annotated[int, Field(ge=1)]
    reason: Text
    final: bool


class AlertRaised(Event):
    """A debounced detection worth telling a person about, with a snapshot."""

    topic: ClassVar[Topic] = Topic.ALERTS
    alert_id: UUID
    camera_id: UUID
    detection_id: UUID
    label: Annotated[str, Field(min_length=1, max_length=64)]
    confidence: UnitFloat
    detected_at: AwareDatetime
    snapshot_path: Text | None = None
    track_id: UUID | None = None
    """The tracked object that raised it (one alert per track; it came back: a new one)."""


# --- notifications ---------------------------------------------------------------


class NotificationRule(BaseModel):
    """Which review items a notification is for: all of them, narrowed by camera, class,
    zone and severity (an empty list: any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cameras: Annotated[tuple[UUID, ...], Field(max_length=1000)] = ()
    labels: Annotated[tuple[Label, ...], Field(max_length=100)] = ()
    zones: Annotated[tuple[Label, ...], Field(max_length=100)] = ()
    severity: Literal["alert", "detection"] | None = "alert"
    """``alert`` items only (the default), ``detection`` items only, or None: both."""


class WebhookEvent(Event):
    topic: ClassVar[Topic] = Topic.NOTIFICATIONS
    webhook_id: UUID


class WebhookConfigured(WebhookEvent):
    """A webhook was added or changed (the whole configuration). Its secret, which signs
    every delivery, travels only as Fernet ciphertext."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    secret_ciphertext: Text
    rule: NotificationRule = NotificationRule()
    enabled: bool = True


class WebhookRemoved(WebhookEvent):
    """A webhook was removed; its delivery log goes with it."""


class WebhookDelivered(WebhookEvent):
    """A delivery was accepted (a 2xx answer) after ``attempts`` tries."""

    delivery_id: UUID
    item_id: UUID | None = None
    """The review item it was about (None: a test)."""
    attempts: Annotated[int, Field(ge=1)]
    status_code: Annotated[int, Field(ge=100, le=599)]


class WebhookFailed(WebhookEvent):
    """A delivery was given up after ``attempts`` tries; ``reason`` says what went wrong."""

    delivery_id: UUID
    item_id: UUID | None = None
    attempts: Annotated[int, Field(ge=1)]
    reason: Text


Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class PushRule(NotificationRule):
    """A push subscription's rule: the items it wants, when not to buzz (``quiet_from``
    to ``quiet_until``, local time in ``timezone``; across midnight when ``from`` is
    later), and at most one push per ``cooldown_s``."""

    quiet_from: Clock | None = None
    quiet_until: Clock | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64, pattern=ONE_LINE)] = "UTC"
    cooldown_s: Annotated[int, Field(ge=0, le=86_400)] = 60


class PushSubscribed(Event):
    """A user's browser subscribed to web push (or changed its rule): where its push
    service takes messages for it, and the keys to encrypt them (RFC 8291)."""

    topic: ClassVar[Topic] = Topic.NOTIFICATIONS
    subscription_id: UUID
    username: Annotated[str, Field(min_length=1, max_length=200)]
    endpoint: Annotated[str, Field(min_length=1, max_length=2000)]
    p256dh: Annotated[str, Field(min_length=1, max_length=200)]
    auth: Annotated[str, Field(min_length=1, max_length=100)]
    rule: PushRule = PushRule()


class PushUnsubscribed(Event):
    """A push subscription ended (the user, or its push service said it is gone)."""

    topic: ClassVar[Topic] = Topic.NOTIFICATIONS
    subscription_id: UUID
    reason: Text | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        CameraAdded,
        CameraUpdated,
        CameraRemoved,
        CameraZonesChanged,
        CameraConnected,
        CameraDisconnected,
        RecordingStarted,
        RecordingStopped,
        SegmentOpened,
        SegmentClosed,
        RetentionPurged,
        SegmentTranscoded,
        FrameSampled,
        ObjectDetected,
        AlertRaised,
        DetectionJobStarted,
        DetectionJobCompleted,
        DetectionJobFailed,
        DetectionsPurged,
        TrackStarted,
        TrackUpdated,
        TrackEnded,
        MotionMeasured,
        ReviewMarked,
        WebhookConfigured,
        WebhookRemoved,
        WebhookDelivered,
        WebhookFailed,
        PushSubscribed,
        PushUnsubscribed,
    )
}
"""Every concrete event type by its wire name (the class name)."""
