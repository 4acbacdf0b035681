"""Login: a user name and password for an access token (rate-limited)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from api.auth import AuthError, LoginLimiter, Tokens, Users
from api.deps import Connection, CurrentUser

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    username: str
    is_admin: bool


@router.post(
    "/login",
    response_model=AccessToken,
    responses={401: {"description": "wrong user name or password"},
               429: {"description": "too many failed logins; see Retry-After"}},
)  # fmt: skip
def login(body: Login, request: Request, conn: Connection) -> AccessToken:
    limiter: LoginLimiter = request.app.state.limiter
    tokens: Tokens = request.app.state.tokens
    client = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(client, body.username)
    if wait is not None:
        raise HTTPException(
            429, f"too many failed logins: try again in {wait} s", {"Retry-After": str(wait)}
        )
    try:
        user = Users(conn).verify(body.username, body.password)
    except AuthError:
        limiter.failed(client, body.username)
        raise
    limiter.succeeded(body.username)
    return AccessToken(access_token=tokens.issue(user), expires_in=tokens.expiry_s)


@router.post("/media-token", response_model=AccessToken)
def media_token(user: CurrentUser, request: Request) -> AccessToken:
    """A short-lived token for media URLs (``?token=``), where no header can be sent."""
    tokens: Tokens = request.app.state.tokens
    return AccessToken(access_token=tokens.issue(user, "media", 3600), expires_in=3600)


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    return Me(username=user.username, is_admin=user.is_admin)
