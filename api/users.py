"""Users (admins only): add, list, change role and cameras, reset a password, remove.

A viewer sees only the cameras granted to them (``cameras``; null: every camera). Any
change ends the user's sessions at once. The last admin cannot be removed or demoted.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Role, User, Users
from api.deps import ADMIN_ONLY, Connection, EventStoreDep
from api.exports import remove_exports_of
from api.inputs import CONTROL_FREE
from api.user_directory import UserDirectory
from events.catalogue import PushUnsubscribed
from projector.readmodels import push

router = APIRouter(prefix="/api/users", tags=["users"])

_NAME_PATTERN = r"^[A-Za-z0-9_.@-]+$"
_NAME = Field(min_length=1, max_length=100, pattern=_NAME_PATTERN)
UserName = Annotated[str, Path(min_length=1, max_length=100, pattern=_NAME_PATTERN)]
"""A user named in the path: the same rule as when the user was made."""


class UserOut(BaseModel):
    username: str
    role: Role
    cameras: list[UUID] | None


class Access(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role = "viewer"
    cameras: list[UUID] | None = Field(default=None, max_length=10_000)
    """The cameras a viewer may see; null: every camera (admins see every camera)."""


class UserIn(Access):
    username: str = _NAME
    password: str = Field(min_length=8, max_length=200, pattern=CONTROL_FREE)


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=8, max_length=200, pattern=CONTROL_FREE)


def _out(user: User) -> UserOut:
    cameras = None if user.cameras is None else sorted(user.cameras)
    return UserOut(username=user.username, role=user.role, cameras=cameras)


def _cameras(access: Access) -> frozenset[UUID] | None:
    return None if access.cameras is None else frozenset(access.cameras)


def _changed(request: Request, user: User | None, username: str) -> UserOut:
    directory: UserDirectory = request.app.state.users
    directory.forget(username)
    if user is None:
        raise HTTPException(404, "no such user")
    return _out(user)


@router.get("", response_model=list[UserOut], **ADMIN_ONLY)
def list_users(conn: Connection) -> list[UserOut]:
    return [_out(u) for u in Users(conn).all()]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "the name is taken"}}, **ADMIN_ONLY)  # fmt: skip
def add_user(body: UserIn, conn: Connection) -> UserOut:
    added = Users(conn).add(body.username, body.password, body.role, _cameras(body))
    if added is None:
        raise HTTPException(409, f"a user named {body.username!r} exists already")
    return _out(added)


@router.put("/{username}/access", response_model=UserOut, **ADMIN_ONLY)
def set_access(username: UserName, body: Access, request: Request, conn: Connection) -> UserOut:
    """Role and cameras; the user's sessions end (they log in again with the new ones)."""
    changed = Users(conn).set_access(username, body.role, _cameras(body))
    return _changed(request, changed, username)


@router.put("/{username}/password", response_model=UserOut, **ADMIN_ONLY)
def reset_password(
    username: UserName, body: PasswordReset, request: Request, conn: Connection
) -> UserOut:
    return _changed(request, Users(conn).set_password(username, body.password), username)


@router.delete("/{username}", status_code=status.HTTP_204_NO_CONTENT, **ADMIN_ONLY)
def remove_user(
    username: UserName, request: Request, conn: Connection, store: EventStoreDep
) -> Response:
    """Remove a user, and with them their sessions (their account id is gone with them:
    a later user of the same name is another account), browsers' push subscriptions and
    exports."""
    removed = Users(conn).remove(username)
    _changed(request, User(username) if removed else None, username)
    gone = "the user was removed"
    store.append_many([PushUnsubscribed(subscription_id=row.subscription_id, reason=gone)
                       for row in push.of_user(conn, username)])  # fmt: skip
    remove_exports_of(store.client, request.app.state.storage_root, username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
