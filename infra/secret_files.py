"""Secrets generated once into a file readable by Ronin's user only, read back ever after
(development keys, the embedded servers' passwords)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def secret_file(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(24)) -> str:
    """The secret in ``path``; made with ``make`` and written 0600 the first time (two
    processes racing: the first one's secret wins)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(make())
    return path.read_text().strip()


def replace_secret_file(path: Path, secret: str) -> None:
    """``path`` holds ``secret`` (0600), written beside it and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    partial.replace(path)
