"""Cameras: commands that become CameraAdded/Updated/Removed, and the cameras read model.

Credentials are encrypted with Fernet before they enter an event, and never returned.
A camera is saved only when its RTSP connection works (``skip_test`` to save an offline
camera anyway); the answer says what is wrong. Only admins change cameras or test
connections (one test at a time each); a stored password is sent only to the scheme,
host and port it was saved for, and cameras may not point at link-local or metadata
addresses (``camera_targets``).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.camera_targets import target_refusal
from api.deps import ADMIN_ONLY, SIGNED_IN, AdminUser, Connection, CurrentUser, EventStoreDep
from api.inputs import CONTROL_FREE, Flag, Number, RtspUrl, Whole
from events.catalogue import CameraAdded, CameraRemoved, CameraUpdated, RetentionTiers
from ingest.camera_config.connection_test import ConnectionResult, test_connection
from ingest.camera_config.credentials import (
    CredentialCipher,
    Credentials,
    same_endpoint,
    with_credentials,
)
from ingest.camera_config.naming import unique_directory
from ingest.ffmpeg_log import redacted_reason
from projector.readmodels import cameras

router = APIRouter(prefix="/api/cameras", tags=["cameras"])


class ConnectionTest(BaseModel):
    rtsp_url: RtspUrl
    sub_rtsp_url: RtspUrl | None = None
    """The camera's low-resolution second stream, if it has one (the same credentials)."""
    username: str | None = Field(None, max_length=200, pattern=CONTROL_FREE)
    password: str | None = Field(None, max_length=200, pattern=CONTROL_FREE)

    def urls(self) -> list[str]:
        return [self.rtsp_url] + ([self.sub_rtsp_url] if self.sub_rtsp_url else [])


@dataclass(frozen=True, slots=True)
class ConnectionAnswer(ConnectionResult):
    """The main stream's answer, and the sub-stream's when there is one: ``ok`` only when
    both open; ``reason`` says which failed."""

    sub_stream: ConnectionResult | None = None


def connection_answer(main: ConnectionResult, sub: ConnectionResult | None) -> ConnectionAnswer:
    """Both streams' tests as one answer (pure)."""
    answer = ConnectionAnswer(**asdict(main), sub_stream=sub)
    if main.ok and sub is not None and not sub.ok:
        return replace(answer, ok=False, reason=f"the sub-stream: {sub.reason}")
    return answer


class CameraIn(ConnectionTest):
    name: str = Field(min_length=1, max_length=200, pattern=CONTROL_FREE)
    group: str | None = Field(None, max_length=200, pattern=CONTROL_FREE)
    position: Whole = Field(0, ge=0, le=100_000)
    enabled: Flag = True
    detection_enabled: Flag = True
    retention_days: Number | None = Field(None, gt=0, le=36500)
    retention_max_gb: Number | None = Field(None, gt=0, le=1_000_000)
    retention_tiers: RetentionTiers | None = None
    """Longer limits for footage with review items (None: RETENTION_ALERT_DAYS etc.)."""
    skip_test: Flag = False


class CameraOut(BaseModel):
    camera_id: UUID
    name: str
    directory: str
    rtsp_url: str | None
    """Admins only (None for viewers): a DVR's URL often carries credentials."""
    sub_rtsp_url: str | None
    has_sub_stream: bool
    has_credentials: bool
    group: str | None
    position: int
    enabled: bool
    detection_enabled: bool
    status: str
    last_error: str | None
    """Why the camera is down; for viewers one of the fixed reasons, or a generic one."""
    status_changed_at: datetime | None
    retention_days: float | None
    retention_max_gb: float | None
    retention_tiers: RetentionTiers | None


class Accepted(BaseModel):
    camera_id: UUID
    connection: ConnectionAnswer | None


def _cipher(request: Request) -> CredentialCipher:
    cipher: CredentialCipher = request.app.state.cipher
    return cipher


def _credentials(body: ConnectionTest) -> Credentials | None:
    if body.username is None:
        return None
    return Credentials(body.username, body.password or "")


_PASSWORD_AGAIN = (
    "enter the password again when the scheme, host or port changes: a stored password "
    "is sent only where it was saved for"
)


def _allowed_targets(request: Request, body: ConnectionTest) -> None:
    for url in body.urls():
        refused = target_refusal(url, request.app.state.config.camera_deny_networks)
        if refused is not None:
            raise HTTPException(422, refused)


async def _check(request: Request, user: str, body: ConnectionTest) -> ConnectionAnswer:
    """One connection test at a time per user (a test opens a connection to anywhere the
    URL says: no port scans in parallel)."""
    _allowed_targets(request, body)
    running: set[str] = request.app.state.connection_tests
    if user in running:
        raise HTTPException(429, "a connection test is running already: wait for its answer",
                            {"Retry-After": "10"})  # fmt: skip
    running.add(user)
    try:
        urls = [with_credentials(url, _credentials(body)) for url in body.urls()]
        results = await asyncio.gather(*(run_in_threadpool(test_connection, u) for u in urls))
        return connection_answer(results[0], results[1] if len(results) > 1 else None)
    finally:
        running.discard(user)


def _configured(
    kind: type[CameraAdded | CameraUpdated],
    camera_id: UUID,
    directory: str,
    body: CameraIn,
    ciphertext: str | None,
) -> CameraAdded | CameraUpdated:
    return kind(
        camera_id=camera_id,
        name=body.name,
        directory=directory,
        rtsp_url=body.rtsp_url,
        sub_rtsp_url=body.sub_rtsp_url,
        credentials_ciphertext=ciphertext,
        group=body.group,
        position=body.position,
        enabled=body.enabled,
        detection_enabled=body.detection_enabled,
        retention_days=body.retention_days,
        retention_max_gb=body.retention_max_gb,
        retention_tiers=body.retention_tiers,
    )


def _out(row: cameras.CameraRow, admin: bool) -> CameraOut:
    return CameraOut(
        camera_id=row.camera_id, name=row.name, directory=row.directory,
        rtsp_url=row.rtsp_url if admin else None,
        sub_rtsp_url=row.sub_rtsp_url if admin else None,
        has_sub_stream=row.sub_rtsp_url is not None,
        has_credentials=row.credentials_ciphertext is not None,
        group=row.camera_group,
        position=row.position, enabled=row.enabled, detection_enabled=row.detection_enabled,
        status=row.status,
        last_error=row.last_error if admin else redacted_reason(row.last_error),
        status_changed_at=row.status_changed_at,
        retention_days=row.retention_days, retention_max_gb=row.retention_max_gb,
        retention_tiers=None if row.retention_tiers is None else row.tiers(),
    )  # fmt: skip


def _saved_for(current: cameras.CameraRow, url: str) -> bool:
    """Whether the stored password was saved for ``url``'s scheme, host and port (those of
    the camera's main stream or its sub-stream)."""
    saved = [current.rtsp_url] + ([current.sub_rtsp_url] if current.sub_rtsp_url else [])
    return any(same_endpoint(old, url) for old in saved)


def _found(conn: Connection, camera_id: UUID) -> cameras.CameraRow:
    row = cameras.camera(conn, camera_id)
    if row is None:
        raise HTTPException(404, "no such camera")
    return row


@router.get("", response_model=list[CameraOut], **SIGNED_IN)
def list_cameras(user: CurrentUser, conn: Connection) -> list[CameraOut]:
    """Every camera the user may see, with its status; credentials are never returned,
    stream URLs and the full reason a camera is down only to admins."""
    return [_out(row, user.is_admin) for row in cameras.all_cameras(conn, user.camera_filter())]


@router.post("/test", response_model=ConnectionAnswer,
             responses={429: {"description": "a connection test is running already"}},
             **ADMIN_ONLY)  # fmt: skip
async def test_camera(body: ConnectionTest, request: Request, user: AdminUser) -> ConnectionAnswer:
    """Open the stream once and say what is there, or what is wrong; saves nothing."""
    return await _check(request, user.username, body)


@router.post(
    "",
    response_model=Accepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        422: {"description": "the connection test failed; the reason says why"},
        429: {"description": "a connection test is running already"},
    },
    **ADMIN_ONLY,
)
async def add_camera(
    body: CameraIn, request: Request, user: AdminUser, conn: Connection, store: EventStoreDep
) -> Accepted:
    """Test the connection (both streams), then add the camera (CameraAdded)."""
    _allowed_targets(request, body)
    answer = None if body.skip_test else await _check(request, user.username, body)
    if answer is not None and not answer.ok:
        raise HTTPException(422, f"cannot connect to the camera: {answer.reason}")
    taken = [c.directory for c in cameras.all_cameras(conn)]
    credentials = _credentials(body)
    event = _configured(
        CameraAdded, uuid4(), unique_directory(body.name, taken), body,
        _cipher(request).encrypt(credentials) if credentials else None,
    )  # fmt: skip
    store.append(event)
    return Accepted(camera_id=event.camera_id, connection=answer)


@router.put("/{camera_id:uuid}", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
            responses={422: {"description": "the connection test failed; the reason says why"},
                       429: {"description": "a connection test is running already"}},
            **ADMIN_ONLY)  # fmt: skip
async def update_camera(
    camera_id: UUID,
    body: CameraIn,
    request: Request,
    user: AdminUser,
    conn: Connection,
    store: EventStoreDep,
) -> Accepted:
    """Change a camera (CameraUpdated); without a new password the stored one is kept,
    as long as the URL still points at the same scheme, host and port."""
    current = _found(conn, camera_id)
    _allowed_targets(request, body)
    ciphertext = current.credentials_ciphertext
    credentials = _credentials(body)
    if credentials is not None and body.password is None and ciphertext:
        if not all(_saved_for(current, url) for url in body.urls()):
            raise HTTPException(422, _PASSWORD_AGAIN)
        credentials = Credentials(
            credentials.username, _cipher(request).decrypt(ciphertext).password
        )
    test_body = ConnectionTest(rtsp_url=body.rtsp_url, sub_rtsp_url=body.sub_rtsp_url,
                               username=credentials.username if credentials else None,
                               password=credentials.password if credentials else None)  # fmt: skip
    answer = None if body.skip_test else await _check(request, user.username, test_body)
    if answer is not None and not answer.ok:
        raise HTTPException(422, f"cannot connect to the camera: {answer.reason}")
    ciphertext = _cipher(request).encrypt(credentials) if credentials else None
    store.append(_configured(CameraUpdated, camera_id, current.directory, body, ciphertext))
    return Accepted(camera_id=camera_id, connection=answer)


@router.delete("/{camera_id:uuid}", status_code=status.HTTP_202_ACCEPTED, **ADMIN_ONLY)
def remove_camera(camera_id: UUID, conn: Connection, store: EventStoreDep) -> dict[str, str]:
    """Remove a camera (CameraRemoved); its recordings stay until retention purges them."""
    _found(conn, camera_id)
    store.append(CameraRemoved(camera_id=camera_id))
    return {"status": "removing"}


class CameraOrder(BaseModel):
    camera_ids: list[UUID] = Field(max_length=10_000)


@router.post("/order", status_code=status.HTTP_202_ACCEPTED,
             responses={404: {"description": "unknown camera"}}, **ADMIN_ONLY)  # fmt: skip
def reorder_cameras(body: CameraOrder, conn: Connection, store: EventStoreDep) -> dict[str, int]:
    """Set the display order (position = index in ``camera_ids``); credentials are kept."""
    by_id = {c.camera_id: c for c in cameras.all_cameras(conn)}
    unknown = [str(i) for i in body.camera_ids if i not in by_id]
    if unknown:
        raise HTTPException(404, f"no such camera: {', '.join(unknown)}")
    changed = 0
    for position, camera_id in enumerate(body.camera_ids):
        c = by_id[camera_id]
        if c.position == position:
            continue
        store.append(cameras.camera_updated(c, position=position))
        changed += 1
    return {"changed": changed}
