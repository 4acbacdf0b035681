"""The read models, one module each: its table (declared once, as the dataclass its rows
are read back as), its pure handlers, and the named queries the API and the workers
call. Nothing outside a read model's module writes SQL against its tables.

- :mod:`.cameras`: each camera's configuration and live status (cameras topic).
- :mod:`.segments` and :mod:`.purges`: footage on disk and retention's audit trail, in
  the ``recordings`` schema (recordings topic).
- :mod:`.detections`, :mod:`.jobs` and :mod:`.tracks`: every detection (per model),
  every detection job, every tracked object (:mod:`.tracks`) and review marks
  (:mod:`.reviews`) and when the picture moved (:mod:`.motion`), in the ``detections``
  schema (detections topic).
- :mod:`.alerts`: every alert raised, with its snapshot.
- :mod:`.webhooks` and :mod:`.push`: each webhook and its delivery log, each browser's
  web push subscription (notifications topic).
- ``analytics_recordings`` / ``analytics_detections``: DuckDB copies for the charts
  (segments; detections and tracks).

A projection here is a schema: the tables of the modules that follow one topic. A
changed table is never migrated; it is rebuilt by replay (see ``Projection``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from events.catalogue import Event, Topic
from projector.projection import Projection
from projector.readmodels import (
    alerts,
    cameras,
    detections,
    jobs,
    motion,
    purges,
    push,
    reviews,
    segments,
    tracks,
    webhooks,
)
from projector.rows import RowOp, TableSpec

Handler = Callable[[Event], Sequence[RowOp]]


def _together(*handler_maps: Mapping[type[Event], Handler]) -> dict[type[Event], Handler]:
    """One handler per event type: each module's operations for it, in module order."""
    by_type: dict[type[Event], list[Handler]] = {}
    for handlers in handler_maps:
        for event_type, handler in handlers.items():
            by_type.setdefault(event_type, []).append(handler)

    def run_all(steps: list[Handler]) -> Handler:
        if len(steps) == 1:
            return steps[0]
        return lambda event: [op for step in steps for op in step(event)]

    return {event_type: run_all(steps) for event_type, steps in by_type.items()}


def _projection(
    name: str, topic: Topic, *modules: tuple[tuple[TableSpec, ...], Mapping[type[Event], Handler]]
) -> Projection:
    tables = tuple(t for module_tables, _ in modules for t in module_tables)
    handlers = _together(*(module_handlers for _, module_handlers in modules))
    return Projection(name=name, topic=topic, tables=tables, handlers=handlers)


def cameras_projection() -> Projection:
    return _projection("cameras", Topic.CAMERAS, (cameras.TABLES, cameras.HANDLERS))


def recordings_projection(name: str = "recordings") -> Projection:
    return _projection(
        name,
        Topic.RECORDINGS,
        (segments.TABLES, segments.HANDLERS),
        (purges.TABLES, purges.HANDLERS),
    )


def detections_projection(name: str = "detections", analytics: bool = False) -> Projection:
    """Detections and tracks; for the API also jobs, review marks and motion."""
    parts = [(detections.TABLES, detections.HANDLERS), (tracks.TABLES, tracks.HANDLERS)]
    if not analytics:
        parts += [(jobs.TABLES, jobs.HANDLERS), (reviews.TABLES, reviews.HANDLERS),
                  (motion.TABLES, motion.HANDLERS)]  # fmt: skip
    return _projection(name, Topic.DETECTIONS, *parts)


def alerts_projection() -> Projection:
    return _projection("alerts", Topic.ALERTS, (alerts.TABLES, alerts.HANDLERS))


def notifications_projection() -> Projection:
    return _projection(
        "notifications", Topic.NOTIFICATIONS,
        (webhooks.TABLES, webhooks.HANDLERS), (push.TABLES, push.HANDLERS),
    )  # fmt: skip


def postgres_projections() -> list[Projection]:
    """The PostgreSQL read models the ``projector`` worker keeps."""
    return [
        cameras_projection(),
        recordings_projection(),
        detections_projection(),
        alerts_projection(),
        notifications_projection(),
    ]


def analytics_projections() -> list[Projection]:
    """The DuckDB analytics tables the ``analytics`` worker keeps."""
    return [
        recordings_projection("analytics_recordings"),
        detections_projection("analytics_detections", analytics=True),
    ]
