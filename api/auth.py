"""Authentication: argon2 password hashes, JWT access tokens, login rate limits in Redis.

PyJWT signs the tokens (HS256): it is maintained and small; python-jose, named in the
seed, has had no release in years. Login attempts are limited per user and per client
address in Redis, so every API process shares the counts; over the limit the answer is
429 with Retry-After.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg
import redis
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from events.errors import RoninError


class AuthError(RoninError):
    """Missing, expired, tampered or wrong credentials (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    is_admin: bool


class Users:
    """The ``users`` table (migration 002)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._hasher = PasswordHasher()

    def add(self, username: str, password: str, is_admin: bool = False) -> User:
        if not username or len(password) < 8:
            raise RoninError("a user needs a name and a password of at least 8 characters")
        with self._conn.transaction():
            self._conn.execute(
                "INSERT INTO users (username, password_hash, is_admin) VALUES (%s, %s, %s)"
                " ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash",
                (username, self._hasher.hash(password), is_admin),
            )
        return User(username, is_admin)

    def count(self) -> int:
        row = self._conn.execute("SELECT count(*) FROM users").fetchone()
        self._conn.commit()
        return int(row[0]) if row else 0

    def verify(self, username: str, password: str) -> User:
        row = self._conn.execute(
            "SELECT password_hash, is_admin FROM users WHERE username = %s", (username,)
        ).fetchone()
        self._conn.commit()
        try:
            if row is None:
                self._hasher.hash(password)  # same time either way: no user enumeration
                raise AuthError("wrong user name or password")
            self._hasher.verify(row[0], password)
        except VerificationError as e:
            raise AuthError("wrong user name or password") from e
        return User(username, bool(row[1]))


def ensure_first_admin(users: Users, password: str | None) -> str | None:
    """Create ``admin`` when there is no user yet; returns the password to show once."""
    if users.count():
        return None
    chosen = password or secrets.token_urlsafe(12)
    users.add("admin", chosen, is_admin=True)
    return chosen


class Tokens:
    def __init__(self, secret: str, expiry_s: int) -> None:
        self._secret, self.expiry_s = secret, expiry_s

    def issue(self, user: User, scope: str = "api", expiry_s: int | None = None) -> str:
        now = int(time.time())
        claims = {"sub": user.username, "adm": user.is_admin, "scope": scope, "iat": now,
                  "exp": now + (expiry_s or self.expiry_s)}  # fmt: skip
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str, scope: str = "api") -> User:
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
        return User(str(claims["sub"]), bool(claims.get("adm")))


class LoginLimiter:
    """At most ``per_user`` failed logins per user and ``per_client`` per address in
    ``window_s``; a success clears the user's count."""

    def __init__(
        self, client: redis.Redis, per_user: int = 5, per_client: int = 20, window_s: int = 900
    ) -> None:
        self._redis: Any = client
        self._per_user, self._per_client, self._window = per_user, per_client, window_s

    def _keys(self, client: str, username: str) -> tuple[str, str]:
        return f"ronin:login:user:{username}", f"ronin:login:client:{client}"

    def retry_after(self, client: str, username: str) -> int | None:
        """Seconds to wait when over a limit, else None."""
        user_key, client_key = self._keys(client, username)
        waits = []
        for key, limit in ((user_key, self._per_user), (client_key, self._per_client)):
            if int(self._redis.get(key) or 0) >= limit:
                waits.append(max(1, int(self._redis.ttl(key))))
        return max(waits) if waits else None

    def failed(self, client: str, username: str) -> None:
        pipe = self._redis.pipeline()
        for key in self._keys(client, username):
            pipe.incr(key)
            pipe.expire(key, self._window, nx=True)
        pipe.execute()

    def succeeded(self, username: str) -> None:
        self._redis.delete(f"ronin:login:user:{username}")
