"""Authentication: argon2 password hashes, JWT access tokens, login rate limits in Redis.

PyJWT signs the tokens (HS256): it is maintained and small; python-jose, named in the
seed, has had no release in years. Login attempts are limited per user and per client
address in Redis, so every API process shares the counts; over the limit the answer is
429 with Retry-After.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import jwt
import psycopg
import redis
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from pydantic import BaseModel, ConfigDict

from events.errors import RoninError


class AuthError(RoninError):
    """Missing, expired, tampered or wrong credentials (HTTP 401)."""


Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")


class Forbidden(RoninError):
    """A signed-in user asked for what their role does not allow (HTTP 403)."""


@dataclass(frozen=True, slots=True)
class User:
    """Who asks: an admin may do everything; a viewer watches the cameras granted to them
    (``cameras``; None: every camera) and changes nothing but their own password."""

    username: str
    role: Role = "viewer"
    cameras: frozenset[UUID] | None = None
    generation: int = 0
    user_id: UUID | None = None
    """The account's id, never reused (None: a user not read from the table)."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, camera_id: UUID) -> bool:
        return self.is_admin or self.cameras is None or camera_id in self.cameras

    def camera_filter(self) -> list[UUID] | None:
        """The cameras a query must keep to, or None for every camera."""
        return None if self.is_admin or self.cameras is None else sorted(self.cameras)


_COLUMNS = "username, role, cameras, generation, user_id"


class StoredUser(BaseModel):
    """An account as the table stores it (a backup's line); tokens issued before a restore
    stop working (its generation is bumped)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    username: str
    password_hash: str
    role: Role
    cameras: list[UUID] | None
    generation: int
    user_id: UUID
    created_at: datetime


def _user(row: tuple[Any, ...]) -> User:
    cameras = None if row[2] is None else frozenset(row[2])
    return User(row[0], row[1], cameras, int(row[3]), row[4])


class Users:
    """The ``users`` table (migrations 002, 003): its only reader and writer. Every change
    to a user's password, role or cameras bumps their generation, which ends every token
    issued before."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._hasher = PasswordHasher()

    @staticmethod
    def check_password(password: str) -> None:
        if len(password) < 8:
            raise RoninError("a password needs at least 8 characters")

    def add(
        self,
        username: str,
        password: str,
        role: Role = "viewer",
        cameras: frozenset[UUID] | None = None,
    ) -> User | None:
        """A new user; None when the name is taken."""
        if not username:
            raise RoninError("a user needs a name")
        self.check_password(password)
        with self._conn.transaction():
            row = self._conn.execute(
                "INSERT INTO users (username, password_hash, role, cameras)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (username) DO NOTHING"
                f" RETURNING {_COLUMNS}",
                (username, self._hasher.hash(password), role, _array(cameras)),
            ).fetchone()
        return None if row is None else _user(row)

    def get(self, username: str) -> User | None:
        with self._conn.transaction():
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM users WHERE username = %s", (username,)
            ).fetchone()
        return None if row is None else _user(row)

    def named(self, usernames: set[str]) -> dict[str, User]:
        """The users of these names that exist, in one query."""
        with self._conn.transaction():
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM users WHERE username = ANY(%s)", (sorted(usernames),)
            )
            return {user.username: user for user in map(_user, rows)}

    def all(self) -> list[User]:
        with self._conn.transaction():
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM users ORDER BY username")
            return [_user(r) for r in rows]

    def count(self) -> int:
        return len(self.all())

    def export_all(self) -> list[StoredUser]:
        """Every account as stored (password hashes included), for a backup."""
        with self._conn.transaction():
            rows = self._conn.execute(
                "SELECT username, password_hash, role, cameras, generation, user_id, created_at"
                " FROM users ORDER BY username"
            ).fetchall()
        return [
            StoredUser(username=r[0], password_hash=r[1], role=r[2], cameras=r[3],
                       generation=r[4], user_id=r[5], created_at=r[6])
            for r in rows
        ]  # fmt: skip

    def replace_all(self, users: Sequence[StoredUser]) -> None:
        """Exactly these accounts (a restore), in one transaction."""
        with self._conn.transaction():
            self._conn.execute("DELETE FROM users")
            for u in users:
                self._conn.execute(
                    "INSERT INTO users (username, password_hash, role, cameras, generation,"
                    " user_id, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (u.username, u.password_hash, u.role, u.cameras, u.generation + 1,
                     u.user_id, u.created_at),
                )  # fmt: skip

    def verify(self, username: str, password: str) -> User:
        with self._conn.transaction():
            row = self._conn.execute(
                f"SELECT password_hash, {_COLUMNS} FROM users WHERE username = %s", (username,)
            ).fetchone()
        try:
            if row is None:
                self._hasher.hash(password)  # same time either way: no user enumeration
                raise AuthError("wrong user name or password")
            self._hasher.verify(row[0], password)
        except VerificationError as e:
            raise AuthError("wrong user name or password") from e
        return _user(row[1:])

    def set_password(self, username: str, password: str) -> User | None:
        self.check_password(password)
        return self._change(
            "password_hash = %s", (self._hasher.hash(password),), username, demotes=False
        )

    def set_access(self, username: str, role: Role, cameras: frozenset[UUID] | None) -> User | None:
        return self._change(
            "role = %s, cameras = %s", (role, _array(cameras)), username, demotes=role != "admin"
        )

    def revoke(self, username: str) -> User | None:
        """End every token issued so far (logout)."""
        return self._change("role = role", (), username, demotes=False)

    def remove(self, username: str) -> bool:
        with self._conn.transaction():
            self._lock()
            self._keep_an_admin(username)
            return (
                self._conn.execute("DELETE FROM users WHERE username = %s", (username,)).rowcount
                == 1
            )

    def _change(
        self, assignments: str, params: tuple[Any, ...], username: str, demotes: bool
    ) -> User | None:
        with self._conn.transaction():
            self._lock()
            if demotes:
                self._keep_an_admin(username)
            row = self._conn.execute(
                f"UPDATE users SET {assignments}, generation = generation + 1"
                f" WHERE username = %s RETURNING {_COLUMNS}",
                (*params, username),
            ).fetchone()
        return None if row is None else _user(row)

    def _lock(self) -> None:
        """Changes to roles are serialised, so two requests cannot remove the last two
        admins at once."""
        self._conn.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")

    def _keep_an_admin(self, username: str) -> None:
        row = self._conn.execute(
            "SELECT count(*) FROM users WHERE role = 'admin' AND username <> %s", (username,)
        ).fetchone()
        target = self._conn.execute(
            "SELECT role FROM users WHERE username = %s", (username,)
        ).fetchone()
        if target is not None and target[0] == "admin" and row is not None and row[0] == 0:
            raise Forbidden("the last admin cannot be removed or made a viewer")


def _array(cameras: frozenset[UUID] | None) -> list[UUID] | None:
    return None if cameras is None else sorted(cameras)


def ensure_first_admin(users: Users, password: str | None) -> str | None:
    """Create ``admin`` when there is no user yet; returns the password to show once."""
    if users.count():
        return None
    chosen = password or secrets.token_urlsafe(12)
    users.add("admin", chosen, role="admin")
    return chosen


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says: whose it is, the generation it was issued in, and for
    a media token the one resource it opens (e.g. ``live:<camera>``, ``segment:<id>``)."""

    username: str
    generation: int
    resource: str | None = None
    role: str = "viewer"
    user_id: UUID | None = None


class Tokens:
    def __init__(self, secret: str, expiry_s: int) -> None:
        self._secret, self.expiry_s = secret, expiry_s

    def issue(
        self,
        user: User,
        scope: str = "api",
        expiry_s: int | None = None,
        resource: str | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": user.username, "role": user.role,
                                  "gen": user.generation, "scope": scope, "iat": now,
                                  "exp": now + (expiry_s or self.expiry_s)}  # fmt: skip
        if resource is not None:
            claims["res"] = resource
        if user.user_id is not None:
            claims["uid"] = str(user.user_id)
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str, scope: str = "api") -> TokenClaims:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError as e:
            raise AuthError("the session expired: log in again") from e
        except jwt.InvalidTokenError as e:
            raise AuthError("invalid token") from e
        if claims.get("scope") != scope:
            raise AuthError("this token is not valid here")
        resource, uid = claims.get("res"), claims.get("uid")
        try:
            user_id = None if uid is None else UUID(str(uid))
        except ValueError as e:
            raise AuthError("invalid token") from e
        return TokenClaims(
            str(claims["sub"]),
            int(claims.get("gen", -1)),
            None if resource is None else str(resource),
            str(claims.get("role", "viewer")),
            user_id,
        )


Outcome = Literal["ok", "failed", "error"]

# KEYS: the client's hash, its attempts in flight, the user's hash (failures of unknown
# clients on that name), its attempts in flight.
# ARGV: now, free failures per client, free failures per user, cap per client (s),
# cap per user (s), in-flight expiry (s), known device (1) or not (0).
# A client may try when its own failures (and its attempts in flight, so parallel
# guesses count too) are within the free ones or their delay has passed; an unknown
# client (no device cookie of this user) also when the user name's shared budget allows
# it. Returns the seconds to wait, or 0 with the attempt counted in flight.
_BEGIN_LOGIN = """
local function delay(n, free, cap)
  if n < free then return 0 end
  return math.min(cap, 2 ^ (n - free))
end
local function wait_for(hash, inflight_key, free, cap, now)
  local h = redis.call('HMGET', hash, 'fails', 'last')
  local fails = tonumber(h[1]) or 0
  local inflight = tonumber(redis.call('GET', inflight_key)) or 0
  local wait = delay(fails, free, cap) - (now - (tonumber(h[2]) or 0))
  if inflight > 0 and fails + inflight >= free then wait = math.max(wait, 1) end
  return wait
end
local now = tonumber(ARGV[1])
local wait = wait_for(KEYS[1], KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[4]), now)
local unknown = ARGV[7] == '0'
if unknown then
  wait = math.max(wait, wait_for(KEYS[3], KEYS[4], tonumber(ARGV[3]), tonumber(ARGV[5]), now))
end
if wait > 0 then return math.ceil(wait) end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[6])
if unknown then
  redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], ARGV[6])
end
return 0
"""

# KEYS as above; ARGV: now, outcome (ok, failed, error), expiry (s), known device (1/0).
_END_LOGIN = """
local function settle(inflight_key)
  if tonumber(redis.call('DECR', inflight_key)) <= 0 then redis.call('DEL', inflight_key) end
end
local function fail(hash, now, expiry)
  redis.call('HINCRBY', hash, 'fails', 1)
  redis.call('HSET', hash, 'last', now)
  redis.call('EXPIRE', hash, expiry)
end
local unknown = ARGV[4] == '0'
settle(KEYS[2])
if unknown then settle(KEYS[4]) end
if ARGV[2] == 'failed' then
  fail(KEYS[1], ARGV[1], ARGV[3])
  if unknown then fail(KEYS[3], ARGV[1], ARGV[3]) end
elseif ARGV[2] == 'ok' then
  redis.call('DEL', KEYS[1])
end
return 0
"""


class LoginLimiter:
    """Growing delays after failed logins, counted atomically in Redis (every API process
    shares them), after OWASP's device-cookie defence.

    A client (an address, an IPv6 /64, or a known device) has ``free_per_client`` free
    failures, then each doubles its wait up to ``cap_s``. A browser that has signed in
    as a user holds a device cookie of that user: with it, only its own failures count.
    Every other client shares one budget per user name (``free_per_user`` failures, then
    doubling waits up to ``user_cap_s``), so an attacker with any number of addresses
    gets a few guesses a minute, and the owner's browser is never locked out."""

    def __init__(
        self,
        client: redis.Redis,
        free_per_client: int = 3,
        free_per_user: int = 5,
        cap_s: int = 900,
        expiry_s: int = 24 * 3600,
        user_cap_s: int = 60,
        inflight_s: int = 60,
    ) -> None:
        self._begin = client.register_script(_BEGIN_LOGIN)
        self._end = client.register_script(_END_LOGIN)
        self._free = (free_per_client, free_per_user)
        self._caps = (cap_s, user_cap_s)
        self._expiry_s, self._inflight_s = expiry_s, inflight_s

    @staticmethod
    def _keys(client: str, username: str, device: str | None) -> list[str]:
        who = f"ronin:login:device:{device}" if device else f"ronin:login:client:{client}"
        user = f"ronin:login:user:{username}"
        return [who, f"{who}:inflight", user, f"{user}:inflight"]

    def begin(self, client: str, username: str, device: str | None = None) -> int | None:
        """Seconds the client must wait, or None: go ahead (then call :meth:`end`).
        ``device``: the id in the client's device cookie for this user, if it has one."""
        args = [time.time(), *self._free, *self._caps, self._inflight_s, int(bool(device))]
        wait = int(self._begin(keys=self._keys(client, username, device), args=args))
        return wait or None

    def end(self, client: str, username: str, outcome: Outcome, device: str | None = None) -> None:
        args = [time.time(), outcome, self._expiry_s, int(bool(device))]
        self._end(keys=self._keys(client, username, device), args=args)
