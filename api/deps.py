"""Request dependencies: the signed-in user, database connections, the event store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import AuthError, Tokens, User
from events.store import RedisEventStore

_bearer = HTTPBearer(auto_error=False)


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """Every endpoint but login and health needs a valid access token."""
    if credentials is None:
        raise AuthError("log in first: no access token")
    tokens: Tokens = request.app.state.tokens
    return tokens.verify(credentials.credentials)


def media_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Query(description="a media token")] = None,
) -> str:
    """Media (recordings, live) opened by a ``<video>`` element: a short-lived media token
    in the query, or an access token in the header. Returns the query token ("" if none)."""
    tokens: Tokens = request.app.state.tokens
    if token:
        tokens.verify(token, scope="media")
        return token
    if credentials is None:
        raise AuthError("log in first: no media token")
    tokens.verify(credentials.credentials)
    return ""


def connection(request: Request) -> Iterator[psycopg.Connection]:
    with request.app.state.pool.connection() as conn:
        yield conn


def event_store(request: Request) -> RedisEventStore:
    store: RedisEventStore = request.app.state.store
    return store


CurrentUser = Annotated[User, Depends(current_user)]
Connection = Annotated[psycopg.Connection, Depends(connection)]
EventStoreDep = Annotated[RedisEventStore, Depends(event_store)]
MediaToken = Annotated[str, Depends(media_token)]
