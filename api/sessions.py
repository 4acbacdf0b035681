"""Signing in and out: a user name and password for an access token (with growing
delays after failures), media tokens, and the signed-in user's own password."""

from __future__ import annotations

import secrets
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from api.auth import AuthError, LoginLimiter, Outcome, Role, Tokens, User, Users
from api.client_address import client_address, limit_key
from api.deps import PUBLIC, SIGNED_IN, Connection, CurrentUser
from api.inputs import CONTROL_FREE
from api.known_cameras import KnownCameras
from api.media_resources import MEDIA_PATH, MEDIA_TOKEN_S, resource_of
from api.user_directory import UserDirectory

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=100, pattern=CONTROL_FREE)
    password: str = Field(min_length=1, max_length=200, pattern=CONTROL_FREE)


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    username: str
    role: Role
    is_admin: bool


class MediaTokenRequest(BaseModel):
    path: str = Field(
        max_length=500,
        pattern=MEDIA_PATH,
        description="the media URL's path, e.g. /api/segments/ID/video",
    )


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=200, pattern=CONTROL_FREE)
    new_password: str = Field(min_length=8, max_length=200, pattern=CONTROL_FREE)


@router.post(
    "/login",
    response_model=AccessToken,
    responses={401: {"description": "wrong user name or password"},
               429: {"description": "too many failed logins from here; see Retry-After"}},
    **PUBLIC,
)  # fmt: skip
def login(body: Login, request: Request, response: Response, conn: Connection) -> AccessToken:
    """Sign in. A browser that signs in gets a device cookie of this user (HttpOnly, a
    year): its later attempts are limited on their own, never by strangers' guesses."""
    user = _verify_limited(request, Users(conn), body.username, body.password)
    tokens: Tokens = request.app.state.tokens
    _remember_device(request, response, tokens, user)
    return AccessToken(access_token=tokens.issue(user), expires_in=tokens.expiry_s)


DEVICE_COOKIE = "ronin_device"
_DEVICE_S = 365 * 86_400


def _remember_device(request: Request, response: Response, tokens: Tokens, user: User) -> None:
    device = _device(request, tokens, user) or secrets.token_urlsafe(16)
    response.set_cookie(
        DEVICE_COOKIE, tokens.issue(user, "device", _DEVICE_S, resource=device),
        max_age=_DEVICE_S, path="/api/auth", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def _device(request: Request, tokens: Tokens, user: User | None) -> str | None:
    """The device id in the request's device cookie, when it is one of this account's
    (a removed user's cookie is nothing to a later account of the same name)."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie or user is None:
        return None
    try:
        claims = tokens.verify(cookie, "device")
    except AuthError:
        return None
    mine = (claims.username, claims.user_id) == (user.username, user.user_id)
    return claims.resource if mine else None


def _verify_limited(request: Request, users: Users, username: str, password: str) -> User:
    """Check a password under the login limits (429 with Retry-After when over them)."""
    limiter: LoginLimiter = request.app.state.limiter
    client = limit_key(client_address(request))
    device = _device(request, request.app.state.tokens, users.get(username))
    wait = limiter.begin(client, username, device)
    if wait is not None:
        raise HTTPException(
            429, f"too many failed logins: try again in {wait} s", {"Retry-After": str(wait)}
        )
    outcome: Outcome = "error"
    try:
        user = users.verify(username, password)
        outcome = "ok"
    except AuthError:
        outcome = "failed"
        raise
    finally:
        limiter.end(client, username, outcome, device)
    return user


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, **SIGNED_IN)
def logout(user: CurrentUser, request: Request, conn: Connection) -> Response:
    """End every session of this user (every token issued so far stops working)."""
    Users(conn).revoke(user.username)
    directory: UserDirectory = request.app.state.users
    directory.forget(user.username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/media-token", response_model=AccessToken,
             responses={404: {"description": "no such camera (or not this user's)"}},
             **SIGNED_IN)  # fmt: skip
def media_token(body: MediaTokenRequest, user: CurrentUser, request: Request) -> AccessToken:
    """A token for one media URL (``?token=``), where no header can be sent: it opens
    that resource only, for a few minutes (whether the user may see it is checked when
    it is opened)."""
    resource = resource_of(body.path)
    if resource is None:
        raise HTTPException(422, "not a media URL (a segment's video, a snapshot, an export)")
    kind, _, name = resource.partition(":")
    known: KnownCameras = request.app.state.known_cameras
    if kind == "live" and not _is_camera(known, name):
        raise HTTPException(404, "no such camera")
    tokens: Tokens = request.app.state.tokens
    token = tokens.issue(user, "media", MEDIA_TOKEN_S, resource=resource)
    return AccessToken(access_token=token, expires_in=MEDIA_TOKEN_S)


def _is_camera(known: KnownCameras, text: str) -> bool:
    try:
        return known.exists(UUID(text))
    except ValueError:  # 36 characters of hex digits and dashes, but no UUID
        return False


@router.get("/me", response_model=Me, **SIGNED_IN)
def me(user: CurrentUser) -> Me:
    return Me(username=user.username, role=user.role, is_admin=user.is_admin)


@router.post(
    "/password",
    response_model=AccessToken,
    responses={
        401: {"description": "the current password is wrong"},
        429: {"description": "too many wrong passwords: wait"},
    },
    **SIGNED_IN,
)
def change_password(
    body: PasswordChange, user: CurrentUser, request: Request, conn: Connection
) -> AccessToken:
    """Change one's own password: every other session ends; the answer is a new token."""
    users = Users(conn)
    _verify_limited(request, users, user.username, body.current_password)
    changed = users.set_password(user.username, body.new_password)
    directory: UserDirectory = request.app.state.users
    directory.forget(user.username)
    if changed is None:
        raise AuthError("this user no longer exists")
    tokens: Tokens = request.app.state.tokens
    return AccessToken(access_token=tokens.issue(changed), expires_in=tokens.expiry_s)
