"""Recordings and live streams through the API, from real recorded segments."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect

from api.app import ApiConfig, create_app
from api.auth import Users
from api.footage import LayoutCache
from api.live import rewrite_playlist
from api.live_feed import TOO_SLOW, Viewer
from api.timeline import Span, gaps
from events.archive import EventArchive, EventLog
from events.catalogue import CameraAdded, CameraRemoved, SegmentClosed
from events.store import RedisEventStore
from ingest.live.fmp4 import Fragment, InitSegment, StreamParser
from ingest.live.ring import LiveStreamKind
from ingest.live.virtual_mp4 import plan_range
from projector.postgres import PostgresReadModels
from projector.readmodels import cameras_projection, recordings_projection
from projector.readmodels.segments import SEGMENTS, SegmentRow
from projector.runner import ProjectionRunner
from tests.api_server import served
from tests.conftest import Servers
from tests.factories import insert_row
from tests.ingest_support import recorder, run_until, segments, sim

T0 = datetime(2026, 1, 1, tzinfo=UTC)
spans = st.lists(
    st.tuples(st.integers(0, 100), st.integers(1, 30)).map(
        lambda t: Span(T0 + timedelta(seconds=t[0]), T0 + timedelta(seconds=t[0] + t[1]))
    ),
    max_size=8,
)


@given(spans)
def test_gaps_and_spans_tile_the_window(covered: list[Span]) -> None:
    window = Span(T0 + timedelta(seconds=10), T0 + timedelta(seconds=90))
    holes = gaps(covered, window, tolerance_s=0)
    for second in range(10, 90):
        t = T0 + timedelta(seconds=second, milliseconds=500)
        in_span = any(s.start <= t < s.end for s in covered)
        in_gap = any(g.start <= t < g.end for g in holes)
        assert in_span != in_gap


def test_playlist_rewrite_puts_the_token_on_every_uri() -> None:
    text = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1.0,\nseg00000001.m4s\n'
    out = rewrite_playlist(text, "T")
    assert 'URI="init.mp4?token=T"' in out and "seg00000001.m4s?token=T" in out
    sub = rewrite_playlist(text, "T", LiveStreamKind.SUB)
    assert 'URI="init.mp4?token=T&stream=sub"' in sub
    assert "seg00000001.m4s?token=T&stream=sub" in sub


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list]]:
    """A camera recorded for two 10-second segments, its live stream still running."""
    root = tmp_path_factory.mktemp("storage")
    camera, server = sim()
    rec, events = recorder(root, camera.url)
    run_until(rec, lambda: len(segments(events)) >= 2, 60)
    yield root, events
    rec.stop("test over")
    server.terminate()


@pytest.fixture
def api(servers: Servers, store: RedisEventStore, database_url: str, recorded, tmp_path: Path):
    root, events = recorded
    camera_id = segments(events)[0].camera_id
    store.append(CameraAdded(camera_id=camera_id, name="Door", directory="Door",
                             rtsp_url="rtsp://127.0.0.1/x"))  # fmt: skip
    store.append_many(segments(events))
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        Users(conn).add("alice", "correct horse battery")
        for projection in (cameras_projection(), recordings_projection()):
            ProjectionRunner(projection, store, EventLog(store, EventArchive(archive)),
                             PostgresReadModels(conn), "t").step()  # fmt: skip
    config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                       jwt_secret="s" * 40, storage_root=root)  # fmt: skip
    with TestClient(create_app(config)) as client:
        token = client.post(
            "/api/auth/login", json={"username": "alice", "password": "correct horse battery"}
        ).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}, camera_id, root, events


def test_day_timeline_lists_segments_and_gaps(api) -> None:
    client, headers, camera_id, _, events = api
    first = segments(events)[0]
    day = first.start.date().isoformat()
    days = client.get(f"/api/cameras/{camera_id}/days", headers=headers).json()
    assert day in days
    timeline = client.get(f"/api/cameras/{camera_id}/timeline", headers=headers,
                          params={"day": day}).json()  # fmt: skip
    ids = [s["segment_id"] for s in timeline["segments"]]
    assert str(first.segment_id) in ids
    assert timeline["gaps"] and timeline["gaps"][0]["start"] == timeline["start"]
    listed = client.get(f"/api/cameras/{camera_id}/segments", headers=headers, params={
        "start": first.start.isoformat(), "end": first.end.isoformat()}).json()  # fmt: skip
    assert listed[0]["segment_id"] == str(first.segment_id)


def test_segment_video_honours_ranges(api) -> None:
    client, headers, _, root, events = api
    seg: SegmentClosed = segments(events)[0]
    data = (root / seg.path).read_bytes()
    whole = client.get(f"/api/segments/{seg.segment_id}/video", headers=headers)
    assert whole.status_code == 200 and whole.content == data
    part = client.get(f"/api/segments/{seg.segment_id}/video",
                      headers={**headers, "Range": "bytes=100-1099"})  # fmt: skip
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert client.get(f"/api/segments/{seg.segment_id}/video").status_code == 401
    path = f"/api/segments/{seg.segment_id}/video"
    media = client.post("/api/auth/media-token", headers=headers, json={"path": path})
    assert media.json()["expires_in"] <= 1800
    assert client.get(f"{path}?token={media.json()['access_token']}").status_code == 200
    other = segments(events)[1].segment_id  # the token opens its own segment only
    opened = client.get(f"/api/segments/{other}/video?token={media.json()['access_token']}")
    assert opened.status_code == 404
    api_token = headers["Authorization"].split()[1]  # an access token is no media token
    assert client.get(f"/api/segments/{seg.segment_id}/video?token={api_token}").status_code == 401


def test_live_stream_needs_a_token(api) -> None:
    client, headers, camera_id, _, _ = api
    assert client.get(f"/api/cameras/{camera_id}/live/stream.m3u8").status_code == 401
    started = client.post(f"/api/cameras/{camera_id}/stream/start", headers=headers).json()
    playlist = client.get(started["playlist_url"])
    assert playlist.status_code == 200 and "#EXTM3U" in playlist.text
    uri = next(
        line
        for line in playlist.text.splitlines()
        if line.endswith("token=" + started["playlist_url"].split("token=")[1])
        and not line.startswith("#")
    )
    segment = client.get(f"/api/cameras/{camera_id}/live/{uri}")
    assert segment.status_code == 200 and len(segment.content) > 1000
    assert client.get(f"/api/cameras/{camera_id}/live/{uri.split('?')[0]}").status_code == 401
    assert started["expires_in"] <= 300  # minutes, renewed by the player
    init_uri = playlist.text.split('#EXT-X-MAP:URI="')[1].split('"')[0]
    init = client.get(f"/api/cameras/{camera_id}/live/{init_uri}")
    assert init.status_code == 200 and init.content[4:8] == b"ftyp"
    pieces = StreamParser().feed(init.content + segment.content)  # a group of pictures
    assert isinstance(pieces[1], Fragment) and pieces[1].keyframe
    gone = client.get(f"/api/cameras/{camera_id}/live/seg99999999.m4s?{uri.split('?')[1]}")
    assert gone.status_code == 404


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "stream.m3u8.bak",
                                  "..", "seg1.m4s"])  # fmt: skip
def test_live_names_outside_the_whitelist_are_refused(api, name: str) -> None:
    client, headers, camera_id, _, _ = api
    started = client.post(f"/api/cameras/{camera_id}/stream/start", headers=headers).json()
    token = started["playlist_url"].split("token=")[1]
    response = client.get(f"/api/cameras/{camera_id}/live/{name}?token={token}")
    assert response.status_code in (404, 405)  # ".." is normalised away by the client
    assert "root:" not in response.text


def test_a_segment_path_that_escapes_the_root_is_refused(api, database_url: str) -> None:
    client, headers, camera_id, root, _ = api
    outside = root.parent / "secret.mp4"
    outside.write_bytes(b"secret")
    (root / "Door" / "link.mp4").symlink_to(outside)
    with psycopg.connect(database_url) as conn:
        for path in ("../secret.mp4", "/etc/passwd", "Door/link.mp4"):
            segment_id = uuid4()
            now = datetime.now(UTC)
            row = SegmentRow(segment_id, camera_id, path, now, now, 1.0, 1, "h264", 1, 1, 1.0,
                             None, False, None)  # fmt: skip
            insert_row(conn, "recordings", SEGMENTS, row)
            conn.commit()
            response = client.get(f"/api/segments/{segment_id}/video", headers=headers)
            assert response.status_code == 404, path
    os.unlink(root / "Door" / "link.mp4")


def test_status_reports_storage_disk_cameras_and_workers(api) -> None:
    client, headers, camera_id, _, events = api
    report = client.get("/api/status", headers=headers).json()
    [camera] = [c for c in report["cameras"] if c["camera_id"] == str(camera_id)]
    closed = segments(events)
    assert camera["name"] == "Door" and camera["segments"] == len(closed)
    assert camera["bytes"] == sum(s.bytes for s in closed) == report["recordings_bytes"]
    assert report["disk"]["free_bytes"] > 0
    assert report["components"] == []  # a viewer's: components are for admins
    assert client.get("/api/status").status_code == 401


def test_export_across_two_segments_has_the_asked_duration(api, tmp_path: Path) -> None:
    import time as clock

    from ingest.probe import probe

    client, headers, camera_id, _, events = api
    first, second = segments(events)[:2]
    start = first.end - timedelta(seconds=3)
    end = second.start + timedelta(seconds=4)
    job = client.post(f"/api/cameras/{camera_id}/exports", headers=headers,
                      json={"start": start.isoformat(), "end": end.isoformat()}).json()  # fmt: skip
    deadline = clock.monotonic() + 60
    while job["state"] in ("pending", "running") and clock.monotonic() < deadline:
        clock.sleep(0.2)
        job = client.get(f"/api/exports/{job['export_id']}", headers=headers).json()
    assert job["state"] == "done", job
    download = client.get(job["download_url"], headers=headers)
    assert download.status_code == 200
    target = tmp_path / "export.mp4"
    target.write_bytes(download.content)
    assert abs(probe(target).duration_s - 7.0) <= 1.1  # cut at keyframes: within one GOP
    assert client.get(job["download_url"]).status_code == 401
    nothing = client.post(f"/api/cameras/{camera_id}/exports", headers=headers, json={
        "start": "2001-01-01T00:00:00Z", "end": "2001-01-01T01:00:00Z"})  # fmt: skip
    assert nothing.status_code == 404


def test_status_keeps_a_removed_cameras_footage_under_its_id(
    api, store: RedisEventStore, database_url: str
) -> None:
    client, headers, camera_id, _, events = api
    store.append(CameraRemoved(camera_id=camera_id))
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        ProjectionRunner(cameras_projection(), store, EventLog(store, EventArchive(archive)),
                         PostgresReadModels(conn), "t").step()  # fmt: skip
    answer = client.get("/api/status", headers=headers)
    assert answer.status_code == 200, answer.text
    [camera] = [c for c in answer.json()["cameras"] if c["camera_id"] == str(camera_id)]
    assert camera["status"] == "removed" and camera["segments"] == len(segments(events))


def _socket_url(client: TestClient, headers: dict[str, str], camera_id: object) -> str:
    started = client.post(f"/api/cameras/{camera_id}/stream/start", headers=headers).json()
    return str(started["socket_url"])


def test_live_socket_streams_fmp4_from_a_keyframe_as_it_is_written(api) -> None:
    client, headers, camera_id, _, _ = api
    url = _socket_url(client, headers, camera_id)
    parser = StreamParser()
    with client.websocket_connect(url) as socket:
        mime = json.loads(socket.receive_text())["mime"]
        assert mime.startswith('video/mp4; codecs="avc1.')
        init = parser.feed(socket.receive_bytes())
        assert isinstance(init[0], InitSegment) and init[0].mime == mime
        first = parser.feed(socket.receive_bytes())
        assert isinstance(first[0], Fragment) and first[0].keyframe
        # 13 s at 15 fps: past the start of the ring's next file, which must not show
        frames = [p for _ in range(200) for p in parser.feed(socket.receive_bytes())]
        times = [p.decode_time for p in frames if isinstance(p, Fragment) and p.decode_time]
        assert len(times) == 200 and times == sorted(times)  # one fragment per frame, in order
        steps = {b - a for a, b in itertools.pairwise(times)}
        assert max(steps) < 3 * min(steps)  # one timeline: no jump back, no jump ahead


def test_many_viewers_of_a_camera_share_one_reader(api) -> None:
    client, headers, camera_id, _, _ = api
    app = create_app(client.app.state.config)  # type: ignore[attr-defined]
    with served(app) as base:
        url = "ws" + base[4:] + _socket_url(client, headers, camera_id)
        with connect(url) as one, connect(url) as two:
            for socket in (one, two):
                assert json.loads(socket.recv())["mime"].startswith("video/mp4")
                assert isinstance(socket.recv(), bytes)
            feeds = app.state.live_feeds
            assert feeds.viewers(camera_id) == 2 and len(feeds._feeds) == 1
            fragments = [two.recv() for _ in range(10)]
            assert all(isinstance(f, bytes) for f in fragments)


@pytest.mark.parametrize("which", ["none", "access token", "other camera"])
def test_live_socket_refuses_without_this_cameras_media_token(api, which: str) -> None:
    client, headers, camera_id, _, _ = api
    other = f"/api/cameras/{uuid4()}/live/socket"
    refused = client.post("/api/auth/media-token", headers=headers, json={"path": other})
    assert refused.status_code == 404  # no such camera: no token
    alice = client.app.state.users.get("alice")
    made_up = client.app.state.tokens.issue(
        alice, "media", 60, resource=f"live:{other.split('/')[3]}"
    )
    token = {"none": "", "access token": headers["Authorization"].split()[1],
             "other camera": made_up}[which]  # fmt: skip
    url = f"/api/cameras/{camera_id}/live/socket?token={token}"
    with client.websocket_connect(url) as socket, pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_text()
    assert closed.value.code == (4404 if which == "other camera" else 4401)
    made_up_socket = f"{other}?token={made_up}"
    with (
        client.websocket_connect(made_up_socket) as socket,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        socket.receive_text()
    assert closed.value.code == 4404 and len(client.app.state.live_feeds) == 0  # no feed made


def test_open_streams_per_user_are_capped(api) -> None:
    client, headers, camera_id, _, _ = api
    quota = client.app.state.stream_quota
    quota.limits["live"] = 2
    url = client.post(f"/api/cameras/{camera_id}/stream/start", headers=headers).json()
    with client.websocket_connect(url["socket_url"]) as one, \
            client.websocket_connect(url["socket_url"]) as two:  # fmt: skip
        assert one.receive_text() and two.receive_text()  # the mime type: playing
        with client.websocket_connect(url["socket_url"]) as third, \
                pytest.raises(WebSocketDisconnect) as closed:  # fmt: skip
            third.receive_text()
        assert closed.value.code == 4429
    deadline = time.monotonic() + 5
    while quota.open("live", "alice") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert quota.open("live", "alice") == 0  # closed sockets give their places back
    for _ in range(quota.limits["events"]):
        quota.take("events", "alice")  # as if that many event streams were open
    refused = client.get("/api/events/stream", headers=headers)
    assert refused.status_code == 429 and "at most 8" in refused.json()["detail"]


def test_a_viewer_whose_access_is_removed_loses_the_live_picture_within_seconds(
    api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, headers, camera_id, _, _ = api
    monkeypatch.setattr("api.live.RECHECK_S", 0.5)
    url = client.post(f"/api/cameras/{camera_id}/stream/start", headers=headers).json()
    with client.websocket_connect(url["socket_url"]) as socket:
        socket.receive_text()
        with psycopg.connect(database_url) as conn:
            Users(conn).set_access("alice", "viewer", frozenset())  # may see no camera now
        started = time.monotonic()
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                socket.receive_bytes()
    assert closed.value.code == 4401 and time.monotonic() - started < 5


def test_a_slow_viewer_loses_its_backlog_and_is_closed_at_once() -> None:
    viewer = Viewer(max_backlog=100, max_bytes=1000)
    piece = Fragment(b"x" * 400, 0, True, 0)
    viewer.push([piece])
    viewer.push([piece])
    assert viewer.queued_bytes == 800
    viewer.push([piece])  # 1200 bytes behind: too slow
    assert viewer.queue.qsize() == 1 and viewer.queue.get_nowait() == TOO_SLOW


def _clip(path: Path, seconds: int) -> None:
    """A recording as ingest writes it: fragmented MP4, a keyframe every second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
         "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10",
         "-movflags", "+frag_keyframe+empty_moov+default_base_moof", str(path)],
        check=True,
    )  # fmt: skip


def _duration(data: bytes, tmp_path: Path) -> float:
    (tmp_path / "got.mp4").write_bytes(data)
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(tmp_path / "got.mp4")], capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(probed.stdout)


def test_footage_of_any_range_is_one_mp4_across_segments_and_midnight(
    api, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, headers, _, root, _ = api
    camera = uuid4()
    midnight = datetime(2026, 3, 1, tzinfo=UTC)
    with psycopg.connect(database_url) as conn:
        for start in (midnight + timedelta(seconds=s) for s in (-15, -5, 5)):
            path = f"Night/{start:%Y-%m-%d}/{start:%H-%M-%S}.mp4"
            _clip(root / path, 10)
            insert_row(conn, "recordings", SEGMENTS, SegmentRow(
                uuid4(), camera, path, start, start + timedelta(seconds=10), 10.0,
                (root / path).stat().st_size, "h264", 320, 240, 10.0, None, False, None,
            ))  # fmt: skip
    path = f"/api/cameras/{camera}/footage.mp4"
    token = client.post("/api/auth/media-token", headers=headers,
                        json={"path": path}).json()["access_token"]  # fmt: skip
    window = {"start": (midnight - timedelta(seconds=10)).isoformat(),
              "end": (midnight + timedelta(seconds=12)).isoformat()}  # fmt: skip
    got = client.get(path, params={**window, "token": token})
    assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
    assert abs(_duration(got.content, tmp_path) - 22) <= 1.0  # within one GOP
    part = client.get(path, params={**window, "token": token}, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == got.content[:100]
    assert client.get(path, params=window).status_code == 401
    empty = {"start": (midnight + timedelta(hours=2)).isoformat(),
             "end": (midnight + timedelta(hours=3)).isoformat()}  # fmt: skip
    assert client.get(path, params={**empty, "token": token}).status_code == 404
    too_long = {**window, "end": (midnight + timedelta(hours=25)).isoformat()}
    assert client.get(path, params={**too_long, "token": token}).status_code == 422
    other = f"/api/cameras/{uuid4()}/footage.mp4"
    assert client.get(other, params={**window, "token": token}).status_code == 404
    planned = []
    monkeypatch.setattr("api.footage.plan_range",
                        lambda *a: planned.append(a) or plan_range(*a))  # fmt: skip
    for n in range(20):  # a player's seeks, or someone asking for one byte again and again
        again = client.get(path, params={**window, "token": token},
                           headers={"Range": f"bytes={n}-{n}"})  # fmt: skip
        assert again.status_code == 206 and again.content == got.content[n : n + 1]
    assert len(planned) <= 1  # the layout was made once (the first request above) and kept
    quota = client.app.state.stream_quota
    for _ in range(quota.limits["footage"]):
        quota.take("footage", "alice")  # as many downloads in flight as one may have
    busy = client.get(path, params={**window, "token": token}, headers={"Range": "bytes=0-0"})
    assert busy.status_code == 429


def test_a_live_viewer_goes_on_through_an_ffmpeg_crash(
    servers: Servers, store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    """kill -9 of the camera's ffmpeg: the viewer's socket stays open and, once ingest has
    restarted it, frames come again on the same timeline (no reconnect, no jump back)."""
    camera, server = sim(gop=15)
    rec, _ = recorder(tmp_path, camera.url)
    camera_id = rec.source.camera_id
    try:
        run_until(rec, lambda: rec.status == "recording", 30)
        with psycopg.connect(database_url) as conn:
            Users(conn).add("alice", "correct horse battery")
        store.append(CameraAdded(camera_id=camera_id, name="Door", directory="Door",
                                 rtsp_url="rtsp://127.0.0.1/x"))  # a configured camera  # fmt: skip
        with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
            ProjectionRunner(cameras_projection(), store, EventLog(store, EventArchive(archive)),
                             PostgresReadModels(conn), "t").step()  # fmt: skip
        config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                           jwt_secret="s" * 40, storage_root=tmp_path)  # fmt: skip
        with TestClient(create_app(config)) as client:
            login = {"username": "alice", "password": "correct horse battery"}
            access = client.post("/api/auth/login", json=login).json()["access_token"]
            path = f"/api/cameras/{camera_id}/live/socket"
            token = client.post("/api/auth/media-token", json={"path": path},
                                headers={"Authorization": f"Bearer {access}"}).json()  # fmt: skip
            parser = StreamParser()
            with client.websocket_connect(f"{path}?token={token['access_token']}") as socket:
                socket.receive_text()
                before = [p for _ in range(16) for p in parser.feed(socket.receive_bytes())]
                killed = rec._run.proc.pid if rec._run else 0
                os.kill(killed, 9)
                run_until(rec, lambda: bool(rec._run) and rec._run.proc.pid != killed  # type: ignore[union-attr]
                          and rec.status == "recording", 30)  # fmt: skip
                after = [p for _ in range(30) for p in parser.feed(socket.receive_bytes())]
        times = [p.decode_time for p in before + after if isinstance(p, Fragment) and p.decode_time]
        assert len(times) >= 44 and times == sorted(times) and len(set(times)) == len(times)
    finally:
        rec.stop("test over")
        server.terminate()


def test_a_layout_is_planned_once_while_kept() -> None:
    cache, made = LayoutCache(size=2, ttl_s=60), []

    def make() -> None:
        made.append(1)

    for _ in range(5):
        cache.get(("day", 1), make)
    assert len(made) == 1
    cache.get(("day", 2), make)
    cache.get(("day", 3), make)  # the oldest goes beyond two
    cache.get(("day", 1), make)
    assert len(made) == 4
