"""Request dependencies: who asks (and what they may do), database connections, the
event store.

Every operation declares its access with one of the route options below, which also
name it in the OpenAPI document (``x-access``), so a test generated from the document
checks each operation as what it says it is:

- ``PUBLIC``: no token (login, health);
- ``SIGNED_IN``: any user; what it lists is filtered to the cameras they may see;
- ``ADMIN_ONLY``: admins only (configuration, users), 403 for a viewer;
- ``MEDIA``: a media token in the query (or an access token in the header), for what a
  ``<video>`` or ``<img>`` element opens; filtered by camera like ``SIGNED_IN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import PoolTimeout
from starlette.requests import HTTPConnection

from api.auth import AuthError, Forbidden, TokenClaims, Tokens, User
from api.user_directory import UserDirectory
from events.store import RedisEventStore

_bearer = HTTPBearer(auto_error=False)


def _known(request: HTTPConnection, claims: TokenClaims) -> User:
    """The token's user as they are now: a password, role or access change, a removal
    or a logout ends older tokens at once."""
    directory: UserDirectory = request.app.state.users
    user = directory.get(claims.username)
    if user is None:
        raise AuthError("this user no longer exists")
    if user.generation != claims.generation or user.user_id != claims.user_id:
        raise AuthError("this session has ended: log in again")  # or another account
    return user


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """Every endpoint but login and health needs a valid access token."""
    if credentials is None:
        raise AuthError("log in first: no access token")
    tokens: Tokens = request.app.state.tokens
    return _known(request, tokens.verify(credentials.credentials))


def optional_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """Whether an admin asks; no token (or a bad one) is no admin, and no error. With
    PostgreSQL down the token's own (signed) role answers, so an admin learns what is
    down."""
    if credentials is None:
        return False
    tokens: Tokens = request.app.state.tokens
    try:
        claims = tokens.verify(credentials.credentials)
    except AuthError:
        return False
    try:
        return _known(request, claims).is_admin
    except AuthError:
        return False
    except (PoolTimeout, psycopg.OperationalError):
        return claims.role == "admin"


def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("only an admin may do this")
    return user


@dataclass(frozen=True, slots=True)
class MediaGrant:
    """Who opens a media file, with which token: a media token opens the resource it
    names (e.g. ``live:<camera>``) only; an access token (header) what the user may see."""

    user: User
    resource: str | None
    token: str

    def opens(self, resource: str, camera_id: UUID) -> bool:
        named = self.resource is None or self.resource == resource
        return named and self.user.may_see(camera_id)


def media_grant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None, Query(description="a media token", max_length=2000, pattern=r"^[\w.=-]*$")
    ] = None,
) -> MediaGrant:
    """Media (recordings, live, snapshots) opened by a ``<video>`` or ``<img>`` element: a
    short-lived media token in the query, or an access token in the header."""
    tokens: Tokens = request.app.state.tokens
    if token:
        claims = tokens.verify(token, scope="media")
        if claims.resource is None:
            raise AuthError("this media token names no resource: ask for a new one")
        return MediaGrant(_known(request, claims), claims.resource, token)
    if credentials is None:
        raise AuthError("log in first: no media token")
    return MediaGrant(_known(request, tokens.verify(credentials.credentials)), None, "")


def socket_grant(connection: HTTPConnection, token: str | None) -> MediaGrant:
    """A WebSocket's media token (a browser cannot send a header when it opens one); the
    same rules as :func:`media_grant`. Raises AuthError."""
    if not token:
        raise AuthError("log in first: no media token")
    tokens: Tokens = connection.app.state.tokens
    claims = tokens.verify(token, scope="media")
    if claims.resource is None:
        raise AuthError("this media token names no resource: ask for a new one")
    return MediaGrant(_known(connection, claims), claims.resource, token)


def still_valid(connection: HTTPConnection, grant: MediaGrant) -> bool:
    """Whether an open stream's user still exists with the same generation (a logout, a
    password, role or access change ends it) and may still see what it opened."""
    try:
        user = connection.app.state.users.get(grant.user.username)
    except (PoolTimeout, psycopg.OperationalError):
        return True  # PostgreSQL restarting: the stream goes on, checked again later
    return user is not None and (user.generation, user.user_id) == (
        grant.user.generation,
        grant.user.user_id,
    )


def visible_camera(camera_id: UUID, user: Annotated[User, Depends(current_user)]) -> UUID:
    """A camera in the path that the user may see; others do not exist for them."""
    ensure_visible(user, camera_id)
    return camera_id


def ensure_visible(user: User, camera_id: UUID | None) -> None:
    if camera_id is not None and not user.may_see(camera_id):
        raise HTTPException(404, "no such camera")


def connection(request: Request) -> Iterator[psycopg.Connection]:
    with request.app.state.pool.connection() as conn:
        yield conn


def event_store(request: Request) -> RedisEventStore:
    store: RedisEventStore = request.app.state.store
    return store


def _access(kind: str, *dependencies: Any) -> dict[str, Any]:
    return {"openapi_extra": {"x-access": kind}, "dependencies": list(dependencies)}


PUBLIC = _access("public")
SIGNED_IN = _access("signed-in", Depends(current_user))
ADMIN_ONLY = _access("admin", Depends(admin_user))
MEDIA = _access("media", Depends(media_grant))

BearerToken = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
Media = Annotated[MediaGrant, Depends(media_grant)]
VisibleCamera = Annotated[UUID, Depends(visible_camera)]
Connection = Annotated[psycopg.Connection, Depends(connection)]
EventStoreDep = Annotated[RedisEventStore, Depends(event_store)]
