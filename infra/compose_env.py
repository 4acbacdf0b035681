"""``.env`` for Docker Compose: the secrets compose.yaml requires, generated once.

Standard library only, so that ``python3 -m infra.compose_env`` (what
``bootstrap.sh compose-init`` runs) works on a machine where Ronin itself is not installed.
An existing file is never overwritten: its secrets already encrypt camera passwords and
sign sessions, and new ones would lock those out.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

SECRET_NAMES = ("JWT_SECRET_KEY", "ENCRYPTION_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD")


def generated_secrets() -> dict[str, str]:
    """Fresh values for :data:`SECRET_NAMES`; the passwords are hex (they sit in URLs)."""
    return {
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),  # a Fernet key
        "POSTGRES_PASSWORD": secrets.token_hex(24),
        "REDIS_PASSWORD": secrets.token_hex(24),
    }


def env_text(values: dict[str, str], extra: dict[str, str] | None = None) -> str:
    lines = [
        "# Ronin's secrets for Docker Compose, made by `ronin init`. Keep a copy:",
        "# ENCRYPTION_KEY is needed to read the camera passwords.",
        *(f"{name}={value}" for name, value in values.items()),
        *(f"{name}={value}" for name, value in (extra or {}).items()),
    ]
    return "\n".join(lines) + "\n"


def write_env(path: Path, extra: dict[str, str] | None = None) -> bool:
    """Writes ``path`` (mode 0600) unless it exists; True when written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as file:
        file.write(env_text(generated_secrets(), extra))
    return True


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path(".env")
    if write_env(path):
        print(f"wrote {path} (secrets, mode 0600); next: docker compose up -d")
    else:
        print(f"{path} exists; kept as it is (its secrets are in use). Next: docker compose up -d")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
