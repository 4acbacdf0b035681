"""A world for security tests: two cameras with footage, detections and alerts in the
read models, an admin, and a viewer who may see only the first camera; and a fake RTSP
camera that records every ``Authorization`` header it is sent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
from fastapi.testclient import TestClient

from api.app import ApiConfig, create_app
from api.auth import Users
from api.exports import ExportJob
from events.archive import EventArchive, EventLog
from events.catalogue import AlertRaised, BoundingBox, ObjectDetected, TrackEnded
from events.store import RedisEventStore
from projector.postgres import PostgresReadModels
from projector.readmodels import (
    alerts_projection,
    cameras_projection,
    detections_projection,
    recordings_projection,
)
from projector.runner import ProjectionRunner
from tests.factories import camera_added, segment_closed

SECRET = "security-test-secret-" + "x" * 40
ADMIN_PASSWORD = "admin password 1"
VIEWER_PASSWORD = "viewer password 1"


@dataclass
class World:
    client: TestClient
    seen: UUID
    """The camera the viewer may see."""
    hidden: UUID
    """The camera the viewer may not see."""
    hidden_segment: UUID
    hidden_alert: UUID
    hidden_export: UUID
    hidden_track: UUID

    def login(self, username: str, password: str) -> dict[str, str]:
        answer = self.client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def admin(self) -> dict[str, str]:
        return self.login("admin", ADMIN_PASSWORD)

    def viewer(self) -> dict[str, str]:
        return self.login("viewer", VIEWER_PASSWORD)


def fold(store: RedisEventStore, database_url: str) -> None:
    projections = (cameras_projection(), recordings_projection(), detections_projection(),
                   alerts_projection())  # fmt: skip
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        for projection in projections:
            ProjectionRunner(projection, store, EventLog(store, EventArchive(archive)),
                             PostgresReadModels(conn), "t").step()  # fmt: skip


def _footage(store: RedisEventStore, name: str) -> tuple[UUID, UUID, UUID, UUID]:
    """A camera with a segment, a detection, a tracked object and an alert: their ids."""
    added = camera_added(name)
    segment = segment_closed(added.camera_id)
    detection = ObjectDetected(
        detection_id=uuid4(), camera_id=added.camera_id, segment_id=segment.segment_id,
        offset_s=1.0, detected_at=segment.start + timedelta(seconds=1), label="person",
        class_id=0, confidence=0.9, box=BoundingBox(x1=0.1, y1=0.1, x2=0.5, y2=0.9),
        frame_number=15, model_id="yolox_nano",
    )  # fmt: skip
    alert = AlertRaised(
        alert_id=uuid4(), camera_id=added.camera_id, detection_id=detection.detection_id,
        label="person", confidence=0.9, detected_at=detection.detected_at,
        snapshot_path=f"{name}/snapshot.jpg",
    )  # fmt: skip
    tracked = TrackEnded(
        track_id=uuid4(), camera_id=added.camera_id, segment_id=segment.segment_id,
        model_id="yolox_nano", label="person", start=detection.detected_at,
        last_seen=detection.detected_at, best_detection_id=detection.detection_id,
        best_at=detection.detected_at, best_confidence=0.9, best_box=detection.box, sightings=1,
    )  # fmt: skip
    store.append_many([added, segment, detection, tracked, alert])
    return added.camera_id, segment.segment_id, alert.alert_id, tracked.track_id


def make_world(
    servers_redis_url: str,
    store: RedisEventStore,
    database_url: str,
    tmp_path: Path,
    **config: object,
) -> Iterator[World]:
    seen, _, _, _ = _footage(store, "Door")
    hidden, hidden_segment, hidden_alert, hidden_track = _footage(store, "Garden")
    fold(store, database_url)
    with psycopg.connect(database_url) as conn:
        Users(conn).add("admin", ADMIN_PASSWORD, role="admin")
        Users(conn).add("viewer", VIEWER_PASSWORD, role="viewer", cameras=frozenset({seen}))
    export = ExportJob(export_id=uuid4(), camera_id=hidden, owner="admin", state="done",
                       progress=1.0, download_url="/x")  # fmt: skip
    store.client.set(f"ronin:export:{export.export_id}", export.model_dump_json())
    api_config = ApiConfig(servers_redis_url, database_url, tmp_path / "none.duckdb", [],
                           jwt_secret=SECRET, storage_root=tmp_path / "storage",
                           **config)  # type: ignore[arg-type]  # fmt: skip
    with TestClient(create_app(api_config)) as client:
        yield World(
            client, seen, hidden, hidden_segment, hidden_alert, export.export_id, hidden_track
        )


@dataclass
class AuthorizationRecorder:
    """A TCP listener that answers RTSP like a camera asking for a password (401 with a
    Basic challenge) and keeps every Authorization header it receives."""

    port: int = 0
    headers: list[str] = field(default_factory=list)
    connections: int = 0
    _server: socket.socket | None = None

    def __enter__(self) -> AuthorizationRecorder:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/stream"

    def _serve(self) -> None:
        assert self._server is not None
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            conn.settimeout(5)
            while True:
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    request, buffer = buffer.split(b"\r\n\r\n", 1)
                    self._reply(conn, request.decode(errors="replace"))

    def _reply(self, conn: socket.socket, request: str) -> None:
        cseq = "1"
        for line in request.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "authorization":
                self.headers.append(value.strip())
            if name.strip().lower() == "cseq":
                cseq = value.strip()
        conn.sendall(
            f'RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: Basic realm="cam"'
            "\r\nContent-Length: 0\r\n\r\n".encode()
        )
