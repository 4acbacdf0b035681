"""Review items through the API on real PostgreSQL and Redis: tracks grouped by time into
items with a severity, marked reviewed per user, and kept to the cameras a user may see."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import cv2
import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import ApiConfig, create_app
from api.auth import Users
from events.archive import EventArchive, EventLog
from events.catalogue import BoundingBox, DetectionJobStarted, SegmentClosed, TrackEnded
from events.store import RedisEventStore, StreamId
from projector.analytics import DuckDBReadModels
from projector.postgres import PostgresReadModels
from projector.projection import Projection
from projector.readmodels import (
    analytics_projections,
    detections_projection,
    recordings_projection,
    tracks,
)
from projector.rows import fold
from projector.runner import ProjectionRunner
from tests.conftest import Servers
from tests.factories import T0

DOOR, YARD = UUID(int=1), UUID(int=2)


def track(
    camera: UUID, label: str, start_s: float, end_s: float, required: bool = True
) -> TrackEnded:
    return TrackEnded(
        track_id=uuid4(), camera_id=camera, model_id="m", label=label,
        start=T0 + timedelta(seconds=start_s), last_seen=T0 + timedelta(seconds=end_s),
        best_detection_id=uuid4(), best_at=T0 + timedelta(seconds=start_s), best_confidence=0.8,
        best_box=BoundingBox(x1=0.1, y1=0.1, x2=0.2, y2=0.2), sightings=3,
        zones=("porch",) if required else (), in_required_zone=required,
    )  # fmt: skip


def project(
    store: RedisEventStore, database_url: str, projection: Projection | None = None
) -> None:
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        runner = ProjectionRunner(projection or detections_projection(), store,
                                  EventLog(store, EventArchive(archive)),
                                  PostgresReadModels(conn), "t")  # fmt: skip
        while runner.step():
            pass
        runner.release()


@pytest.fixture
def client(servers: Servers, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with psycopg.connect(database_url) as conn:
        Users(conn).add("alice", "correct horse battery", role="admin")
        Users(conn).add("bob", "correct horse battery", role="viewer", cameras=frozenset({DOOR}))
    config = ApiConfig(
        servers.redis_url, database_url, tmp_path / "none.duckdb", [],
        jwt_secret="test-secret-" + "r" * 40, alert_classes=frozenset({"person"}),
        storage_root=tmp_path / "recordings",
    )  # fmt: skip
    with TestClient(create_app(config)) as test_client:
        yield test_client


def login(client: TestClient, user: str) -> dict[str, str]:
    response = client.post(
        "/api/auth/login", json={"username": user, "password": "correct horse battery"}
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_overlapping_tracks_are_one_item_with_a_severity_and_marks_are_per_user(
    client: TestClient, store: RedisEventStore, database_url: str
) -> None:
    visit = [track(DOOR, "person", 0, 20), track(DOOR, "car", 10, 40)]  # overlap: one item
    later = track(DOOR, "person", 100, 110)
    parked = track(DOOR, "car", 200, 260)  # not an alert class: a detection
    street = track(DOOR, "person", 300, 305, required=False)  # outside the required zone
    yard = track(YARD, "person", 0, 5)
    store.append_many([*visit, later, parked, street, yard])
    project(store, database_url)
    alice, bob = login(client, "alice"), login(client, "bob")

    items = client.get("/api/review", headers=alice, params={"camera_id": str(DOOR)}).json()
    assert [(i["labels"], i["severity"], i["tracks"]) for i in items] == [
        (["person"], "detection", 1),
        (["car"], "detection", 1),
        (["person"], "alert", 1),
        (["car", "person"], "alert", 2),
    ]
    backwards = {"start": "2000-01-01T00:00:00Z", "end": "1999-01-01T00:00:00Z"}
    assert client.get("/api/review", headers=alice, params=backwards).json() == []  # empty window
    ages = {"start": "0001-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}
    assert len(client.get("/api/review", headers=alice, params=ages).json()) == len(items) + 1
    long_ones = client.get(
        "/api/review", headers=alice, params={"camera_id": str(DOOR), "min_duration_s": 30}
    ).json()
    assert [(i["labels"], i["tracks"]) for i in long_ones] == [(["car"], 1), (["car", "person"], 2)]
    first = items[-1]
    assert first["item_id"] == str(visit[0].track_id) and first["zones"] == ["porch"]
    assert first["end"] == (T0 + timedelta(seconds=40)).isoformat().replace("+00:00", "Z")
    alerts = client.get("/api/review", headers=alice, params={"severity": "alert"}).json()
    assert len(alerts) == 3  # the yard's person too
    assert len(client.get("/api/review", headers=alice, params={"label": "car"}).json()) == 2

    marked = client.post(
        "/api/review/reviewed", headers=alice, json={"item_ids": [first["item_id"]]}
    )
    assert marked.status_code == 202
    project(store, database_url)
    open_items = client.get("/api/review", headers=alice, params={"reviewed": False}).json()
    assert first["item_id"] not in [i["item_id"] for i in open_items] and len(open_items) == 4
    assert [i["reviewed"] for i in client.get("/api/review", headers=bob).json()] == [False] * 4

    hidden = client.post(
        "/api/review/reviewed", headers=bob, json={"item_ids": [str(yard.track_id)]}
    )
    assert hidden.status_code == 404  # bob may not see the yard: it does not exist for him
    unmark = {"item_ids": [first["item_id"]], "reviewed": False}
    assert client.post("/api/review/reviewed", headers=alice, json=unmark).status_code == 202
    project(store, database_url)
    assert not [i for i in client.get("/api/review", headers=alice).json() if i["reviewed"]]


def test_a_jobs_next_run_replaces_its_tracks_and_leaves_other_models_alone(
    store: RedisEventStore, database_url: str
) -> None:
    segment = uuid4()
    old = track(DOOR, "person", 0, 20).model_copy(update={"segment_id": segment})
    other = old.model_copy(update={"track_id": uuid4(), "model_id": "other"})
    store.append_many([old, other])
    project(store, database_url)
    redone = DetectionJobStarted(
        job_id=uuid4(), segment_id=segment, camera_id=DOOR, segment_start=T0, model_id="m",
        attempt=2,
    )  # fmt: skip
    new = old.model_copy(update={"track_id": uuid4(), "last_seen": T0 + timedelta(seconds=18)})
    store.append_many([redone, new])
    project(store, database_url)
    with psycopg.connect(database_url) as conn:
        found = tracks.search(conn, tracks.TrackFilter(), 100)
    assert {(t.track_id, t.model_id) for t in found} == {
        (new.track_id, "m"),
        (other.track_id, "other"),
    }


def test_an_item_longer_than_the_window_asked_for_comes_back_whole(
    store: RedisEventStore, database_url: str
) -> None:
    """Items are grouped from the tracks near the range asked for; a chain of
    overlapping tracks reaching far outside it still comes back as the one item it is,
    and the newest items are found however far back they lie."""
    minute = 60.0
    chain = [track(DOOR, "car", 9 * minute * i, 9 * minute * i + 10 * minute) for i in range(20)]
    old = track(DOOR, "dog", -5 * 86400, -5 * 86400 + 30)  # five days before
    store.append_many([*chain, old])
    project(store, database_url)
    whole = (chain[0].track_id, chain[0].start, chain[-1].last_seen, 20)
    with psycopg.connect(database_url) as conn:
        inside = T0 + timedelta(hours=2)
        [item] = tracks.review_items(
            conn, tracks.ReviewFilter(start=inside, end=inside + timedelta(minutes=1)), {}, 10
        )
        assert (item.item_id, item.start, item.end, item.tracks) == whole
        newest = tracks.review_items(conn, tracks.ReviewFilter(), {}, 10)
        assert [(i.item_id, i.tracks) for i in newest] == [(whole[0], 20), (old.track_id, 1)]
        [only] = tracks.review_items(conn, tracks.ReviewFilter(), {}, 1)
        assert (only.item_id, only.start, only.tracks) == (whole[0], whole[1], 20)


def test_an_item_has_a_thumbnail_cut_from_the_recording_and_a_preview_clip(
    client: TestClient, store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    root = client.app.state.storage_root  # type: ignore[attr-defined]
    relative = "Door/2026-11-24/08-00-00.mp4"
    (root / relative).parent.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=640x360:rate=10:duration=30", "-c:v", "libx264", "-preset",
         "ultrafast", "-g", "10", "-y", str(root / relative)],
        check=True,
    )  # fmt: skip
    segment = SegmentClosed(
        segment_id=uuid4(), camera_id=DOOR, path=relative, start=T0,
        end=T0 + timedelta(seconds=30), duration_s=30, bytes=(root / relative).stat().st_size,
        video_codec="h264", width=640, height=360, fps=10,
    )  # fmt: skip
    seen = track(DOOR, "person", 12, 20)
    store.append_many([segment, seen])
    project(store, database_url)
    project(store, database_url, recordings_projection())
    bob = login(client, "bob")
    [item] = client.get("/api/review", headers=bob).json()
    assert item["preview"] == {
        "segment_id": str(segment.segment_id),
        "start_s": 11.0,
        "end_s": 20.0,
    }
    assert item["thumbnail_url"] == f"/api/tracks/{seen.track_id}/thumbnail"
    picture = client.get(item["thumbnail_url"], headers=bob)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    still = cv2.imdecode(np.frombuffer(picture.content, np.uint8), cv2.IMREAD_COLOR)
    assert still.shape[1] == 320  # the box with room around it, 320 px wide
    assert client.get(item["thumbnail_url"], headers=bob).content == picture.content  # kept
    token = client.post("/api/auth/media-token", headers=bob,
                        json={"path": item["thumbnail_url"]}).json()["access_token"]  # fmt: skip
    assert client.get(item["thumbnail_url"], params={"token": token}).status_code == 200
    other = client.get(f"/api/tracks/{uuid4()}/thumbnail", headers=bob)
    assert other.status_code == 404
    yard = track(YARD, "person", 0, 5)  # a camera bob may not see: as if it did not exist
    store.append(yard)
    project(store, database_url)
    assert client.get(f"/api/tracks/{yard.track_id}/thumbnail", headers=bob).status_code == 404


def test_how_long_people_stayed_per_day_comes_from_the_duckdb_analytics(
    client: TestClient, tmp_path: Path
) -> None:
    """ "People who stayed over 30 s on the porch": the tracks' analytics copy, the same
    events folded into DuckDB, asked through the API."""
    stayed = track(DOOR, "person", 0, 45)  # on the porch for 45 s
    passed = track(DOOR, "person", 100, 110)  # 10 s
    street = track(DOOR, "person", 200, 300, required=False)  # long, but not on the porch
    hidden = track(YARD, "person", 0, 60)  # a camera bob may not see
    [projection] = [p for p in analytics_projections() if p.name == "analytics_detections"]
    sink = DuckDBReadModels(tmp_path / "none.duckdb")
    sink.ensure(projection)
    with sink.batch(projection) as batch:
        ops = [op for e in (stayed, passed, street, hidden) for op in projection.project(e)]
        batch.write(fold(ops))
        batch.set_position(StreamId(1, 0))
    sink.close()
    alice, bob = login(client, "alice"), login(client, "bob")
    query = {"days": 30, "zone": "porch", "min_duration_s": 30, "model_id": "m"}
    [day] = client.get("/api/stats/tracks", headers=alice, params=query).json()
    assert (day["label"], day["tracks"], day["longest_s"]) == ("person", 2, 60.0)
    [day] = client.get("/api/stats/tracks", headers=bob, params=query).json()
    assert (day["tracks"], day["longest_s"]) == (1, 45.0)  # the door's only
    everyone = client.get("/api/stats/tracks", headers=alice, params={"days": 30}).json()
    assert [(d["tracks"], d["total_s"]) for d in everyone] == [(4, 45 + 10 + 100 + 60)]
    mine = client.get("/api/stats/tracks", headers=bob, params={"days": 30}).json()
    assert [(d["tracks"], d["total_s"]) for d in mine] == [(3, 45 + 10 + 100)]  # not the yard
