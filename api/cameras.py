"""Cameras: commands that become CameraAdded/Updated/Removed, and the cameras read model.

Credentials are encrypted with Fernet before they enter an event, and never returned.
A camera is saved only when its RTSP connection works (``skip_test`` to save an offline
camera anyway); the answer says what is wrong. Only admins change cameras or test
connections (one test at a time each); a stored password is sent only to the scheme,
host and port it was saved for, and cameras may not point at link-local or metadata
addresses (``camera_targets``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid4

import psycopg
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.camera_targets import target_refusal
from api.deps import ADMIN_ONLY, SIGNED_IN, AdminUser, Connection, CurrentUser, EventStoreDep
from events.catalogue import CameraAdded, CameraRemoved, CameraUpdated
from ingest.connection_test import ConnectionResult, test_connection
from ingest.credentials import CredentialCipher, Credentials, same_endpoint, with_credentials
from ingest.naming import unique_directory

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

RtspUrl = Annotated[str, Field(pattern=r"^rtsps?://[^\s/@]+(/[^\s]*)?$", max_length=2000)]


class ConnectionTest(BaseModel):
    rtsp_url: RtspUrl
    username: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=200)


ConnectionAnswer = ConnectionResult  # the domain answer is the response model as it is


class CameraIn(ConnectionTest):
    name: str = Field(min_length=1, max_length=200)
    group: str | None = Field(None, max_length=200)
    position: int = Field(0, ge=0, le=100_000)
    enabled: bool = True
    detection_enabled: bool = True
    retention_days: float | None = Field(None, gt=0, le=36500)
    retention_max_gb: float | None = Field(None, gt=0, le=1_000_000)
    skip_test: bool = False


class CameraOut(BaseModel):
    camera_id: UUID
    name: str
    directory: str
    rtsp_url: str
    has_credentials: bool
    group: str | None
    position: int
    enabled: bool
    detection_enabled: bool
    status: str
    last_error: str | None
    status_changed_at: datetime | None
    retention_days: float | None
    retention_max_gb: float | None


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


def _allowed_target(request: Request, url: str) -> None:
    refused = target_refusal(url, request.app.state.config.camera_deny_networks)
    if refused is not None:
        raise HTTPException(422, refused)


async def _check(request: Request, user: str, body: ConnectionTest) -> ConnectionAnswer:
    """One connection test at a time per user (a test opens a connection to anywhere the
    URL says: no port scans in parallel)."""
    _allowed_target(request, body.rtsp_url)
    running: set[str] = request.app.state.connection_tests
    if user in running:
        raise HTTPException(429, "a connection test is running already: wait for its answer",
                            {"Retry-After": "10"})  # fmt: skip
    running.add(user)
    try:
        url = with_credentials(body.rtsp_url, _credentials(body))
        return await run_in_threadpool(test_connection, url)
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
        credentials_ciphertext=ciphertext,
        group=body.group,
        position=body.position,
        enabled=body.enabled,
        detection_enabled=body.detection_enabled,
        retention_days=body.retention_days,
        retention_max_gb=body.retention_max_gb,
    )


def _rows(conn: Connection, where: str = "", params: tuple[object, ...] = ()) -> list[CameraOut]:
    """The read model's rows (``where`` a fixed clause; values only in ``params``)."""
    try:
        rows = conn.execute(
            "SELECT camera_id, name, directory, rtsp_url, credentials_ciphertext IS NOT NULL,"
            " camera_group, position, enabled, detection_enabled, status, last_error,"
            " status_changed_at, retention_days, retention_max_gb"
            f" FROM cameras.cameras {where} ORDER BY position, name",
            params,
        ).fetchall()
    except psycopg.errors.UndefinedTable:  # the projector has not created it yet
        conn.rollback()
        return []
    fields = list(CameraOut.model_fields)
    return [CameraOut(**dict(zip(fields, row, strict=True))) for row in rows]


def _stored_ciphertext(conn: Connection, camera_id: UUID) -> str | None:
    row = conn.execute(
        "SELECT credentials_ciphertext FROM cameras.cameras WHERE camera_id = %s", (camera_id,)
    ).fetchone()
    return row[0] if row else None


@router.get("", response_model=list[CameraOut], **SIGNED_IN)
def list_cameras(user: CurrentUser, conn: Connection) -> list[CameraOut]:
    """Every camera the user may see, with its status; credentials are never returned."""
    visible = user.camera_filter()
    if visible is None:
        return _rows(conn)
    return _rows(conn, "WHERE camera_id = ANY(%s)", (visible,))


@router.post("/test", response_model=ConnectionAnswer, **ADMIN_ONLY)
async def test_camera(body: ConnectionTest, request: Request, user: AdminUser) -> ConnectionAnswer:
    """Open the stream once and say what is there, or what is wrong; saves nothing."""
    return await _check(request, user.username, body)


@router.post(
    "",
    response_model=Accepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses={422: {"description": "the connection test failed; the reason says why"}},
    **ADMIN_ONLY,
)
async def add_camera(
    body: CameraIn, request: Request, user: AdminUser, conn: Connection, store: EventStoreDep
) -> Accepted:
    """Test the connection, then add the camera (CameraAdded)."""
    _allowed_target(request, body.rtsp_url)
    answer = None if body.skip_test else await _check(request, user.username, body)
    if answer is not None and not answer.ok:
        raise HTTPException(422, f"cannot connect to the camera: {answer.reason}")
    taken = [c.directory for c in _rows(conn)]
    credentials = _credentials(body)
    event = _configured(
        CameraAdded, uuid4(), unique_directory(body.name, taken), body,
        _cipher(request).encrypt(credentials) if credentials else None,
    )  # fmt: skip
    store.append(event)
    return Accepted(camera_id=event.camera_id, connection=answer)


@router.put("/{camera_id}", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
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
    found = _rows(conn, "WHERE camera_id = %s", (camera_id,))
    if not found:
        raise HTTPException(404, "no such camera")
    current = found[0]
    _allowed_target(request, body.rtsp_url)
    ciphertext = _stored_ciphertext(conn, camera_id)
    credentials = _credentials(body)
    if credentials is not None and body.password is None and ciphertext:
        if not same_endpoint(current.rtsp_url, body.rtsp_url):
            raise HTTPException(422, _PASSWORD_AGAIN)
        credentials = Credentials(
            credentials.username, _cipher(request).decrypt(ciphertext).password
        )
    test_body = ConnectionTest(rtsp_url=body.rtsp_url, username=credentials.username if
                               credentials else None, password=credentials.password if
                               credentials else None)  # fmt: skip
    answer = None if body.skip_test else await _check(request, user.username, test_body)
    if answer is not None and not answer.ok:
        raise HTTPException(422, f"cannot connect to the camera: {answer.reason}")
    ciphertext = _cipher(request).encrypt(credentials) if credentials else None
    store.append(_configured(CameraUpdated, camera_id, current.directory, body, ciphertext))
    return Accepted(camera_id=camera_id, connection=answer)


@router.delete("/{camera_id}", status_code=status.HTTP_202_ACCEPTED, **ADMIN_ONLY)
def remove_camera(camera_id: UUID, conn: Connection, store: EventStoreDep) -> dict[str, str]:
    """Remove a camera (CameraRemoved); its recordings stay until retention purges them."""
    if not _rows(conn, "WHERE camera_id = %s", (camera_id,)):
        raise HTTPException(404, "no such camera")
    store.append(CameraRemoved(camera_id=camera_id))
    return {"status": "removing"}


class CameraOrder(BaseModel):
    camera_ids: list[UUID] = Field(max_length=10_000)


@router.post("/order", status_code=status.HTTP_202_ACCEPTED, **ADMIN_ONLY)
def reorder_cameras(body: CameraOrder, conn: Connection, store: EventStoreDep) -> dict[str, int]:
    """Set the display order (position = index in ``camera_ids``); credentials are kept."""
    cameras = {c.camera_id: c for c in _rows(conn)}
    unknown = [str(i) for i in body.camera_ids if i not in cameras]
    if unknown:
        raise HTTPException(404, f"no such camera: {', '.join(unknown)}")
    changed = 0
    for position, camera_id in enumerate(body.camera_ids):
        c = cameras[camera_id]
        if c.position == position:
            continue
        store.append(
            CameraUpdated(
                camera_id=camera_id, name=c.name, directory=c.directory, rtsp_url=c.rtsp_url,
                credentials_ciphertext=_stored_ciphertext(conn, camera_id), group=c.group,
                position=position, enabled=c.enabled, detection_enabled=c.detection_enabled,
                retention_days=c.retention_days, retention_max_gb=c.retention_max_gb,
            )
        )  # fmt: skip
        changed += 1
    return {"changed": changed}
