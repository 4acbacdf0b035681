"""Camera credentials: encrypted at rest with Fernet (ENCRYPTION_KEY), decrypted only by
ingest to open the stream. They are never returned by the API nor written to a log."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import orjson
from cryptography.fernet import Fernet, InvalidToken

from events.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"


class CredentialCipher:
    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as e:
            raise ConfigurationError(
                "ENCRYPTION_KEY must be a Fernet key: 32 url-safe base64-encoded bytes"
            ) from e

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, credentials: Credentials) -> str:
        payload = orjson.dumps({"u": credentials.username, "p": credentials.password})
        return self._fernet.encrypt(payload).decode()

    def decrypt(self, token: str) -> Credentials:
        try:
            data = orjson.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, orjson.JSONDecodeError) as e:
            raise ConfigurationError(
                "camera credentials cannot be decrypted: ENCRYPTION_KEY changed?"
            ) from e
        return Credentials(str(data["u"]), str(data["p"]))


class SecretCipher:
    """Any other secret kept in an event (a webhook's signing key), with the same key."""

    def __init__(self, key: str | bytes) -> None:
        self._fernet = CredentialCipher(key)._fernet

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as e:
            raise ConfigurationError("a secret cannot be decrypted: ENCRYPTION_KEY changed?") from e


def with_credentials(url: str, credentials: Credentials | None) -> str:
    """The RTSP URL with ``user:password@`` inserted (percent-encoded)."""
    if credentials is None:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    auth = f"{quote(credentials.username, safe='')}:{quote(credentials.password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322}


def endpoint(url: str) -> tuple[str, str, int | None]:
    """Where a URL's credentials go: scheme, host (lower case) and port (the scheme's
    default when none is written)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def same_endpoint(a: str, b: str) -> bool:
    """Whether a password saved for URL ``a`` may be sent to URL ``b``."""
    return endpoint(a) == endpoint(b)
