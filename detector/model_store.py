"""Detection models a user can get, kept under ``{data}/models``.

``install`` downloads a model the code knows (URL and sha256 pinned here, from the
project that publishes it) into a temporary file beside the target, checks its sha256,
and only then renames it into place: a cut download or a wrong file never becomes a
model. ``add`` registers a user's own ONNX file where it lies. ``models.json`` lists
them and which one detection uses when ``ML_MODEL_PATH`` is not set (the first one
installed or added, unless chosen). Nothing downloads at run time: only the command does.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from events.errors import ConfigurationError, RoninError

Registry = dict[str, Any]
"""``models.json``: ``{"default": name, "models": {name: {"path", "sha256"}}}``."""


@dataclass(frozen=True, slots=True)
class KnownModel:
    name: str
    url: str
    sha256: str
    file: str
    about: str


KNOWN: dict[str, KnownModel] = {
    "yolox-nano": KnownModel(
        name="yolox-nano",
        url="https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
        sha256="4903c9058f6e2553834e9905be1ae5d67e262cb6321964dbc57a49edc6fa10da",
        file="yolox_nano.onnx",
        about="YOLOX-Nano, COCO 80 classes, 3.7 MB, Apache-2.0 (Megvii)",
    ),
}


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    path: Path
    sha256: str
    default: bool


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ModelStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._registry = folder / "models.json"

    def entries(self) -> list[ModelEntry]:
        data = self._read()
        return [
            ModelEntry(name, Path(m["path"]), str(m["sha256"]), name == data.get("default"))
            for name, m in sorted(data["models"].items())
        ]

    def default(self) -> Path | None:
        """The model detection uses when none is configured (None: there is none)."""
        chosen = next((e for e in self.entries() if e.default), None)
        return chosen.path if chosen is not None and chosen.path.is_file() else None

    def install(self, name: str, url: str | None = None, timeout_s: float = 60) -> ModelEntry:
        """Download a known model (from ``url`` instead, e.g. a mirror: the same sha256
        is required) and register it."""
        known = KNOWN.get(name)
        if known is None:
            raise ConfigurationError(f"no model named {name!r}; known: {', '.join(KNOWN)}")
        source = url or known.url
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / known.file
        partial = self.folder / f".{known.file}.{os.getpid()}.part"
        try:
            got = _download(source, partial, timeout_s)
            if got != known.sha256:
                raise RoninError(
                    f"the file from {source} has sha256 {got}, not {known.sha256}: "
                    "refused, nothing installed"
                )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return self._register(name, target, known.sha256)

    def add(self, path: Path, name: str | None = None) -> ModelEntry:
        """Register a user's own ONNX file (left where it is)."""
        path = path.expanduser().resolve()
        if not path.is_file():
            raise ConfigurationError(f"no such file: {path}")
        with open(path, "rb") as f:
            if f.read(1) != b"\x08":  # an ONNX ModelProto starts with ir_version (field 1)
                raise ConfigurationError(f"{path} is not an ONNX model")
        return self._register(name or path.stem, path, sha256_of(path))

    def choose(self, name: str) -> None:
        data = self._read()
        if name not in data["models"]:
            raise ConfigurationError(f"no model named {name!r} here; see `ronin model list`")
        data["default"] = name
        self._write(data)

    def _register(self, name: str, path: Path, sha256: str) -> ModelEntry:
        data = self._read()
        data["models"][name] = {"path": str(path), "sha256": sha256}
        data.setdefault("default", name)
        self._write(data)
        return ModelEntry(name, path, sha256, data["default"] == name)

    def _read(self) -> Registry:
        if not self._registry.exists():
            return {"models": {}}
        data: Registry = json.loads(self._registry.read_text())
        data.setdefault("models", {})
        return data

    def _write(self, data: Registry) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self._registry.with_suffix(".json.part")
        partial.write_text(json.dumps(data, indent=2))
        os.replace(partial, self._registry)


def _download(url: str, target: Path, timeout_s: float) -> str:
    """Stream ``url`` into ``target``; its sha256."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer, open(target, "wb") as f:
            for chunk in iter(lambda: answer.read(1 << 20), b""):
                digest.update(chunk)
                f.write(chunk)
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        host = urlsplit(url).netloc
        reason = getattr(e, "reason", e)
        raise RoninError(
            f"cannot download from {host}: {reason}. On a machine that can, download {url}, "
            "then `ronin model add PATH` here"
        ) from e
    return digest.hexdigest()
