"""Getting a detection model: the pinned download (from a local HTTP server serving the
shared file, since these machines cannot reach GitHub), the checksum refusal, the atomic
install, a user's own file, and the choice detection then uses."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.model_store import KNOWN, ModelStore, sha256_of
from events.errors import ConfigurationError, RoninError
from infra.settings import Settings
from tests.detection_support import MODEL_PATH
from tests.ingest_support import free_port

pytestmark = pytest.mark.skipif(not MODEL_PATH.is_file(), reason=f"no model at {MODEL_PATH}")


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server with the real file, and a wrong one of the same name."""
    served = tmp_path / "served"
    (served / "bad").mkdir(parents=True)
    (served / "yolox_nano.onnx").write_bytes(MODEL_PATH.read_bytes())
    (served / "bad" / "yolox_nano.onnx").write_bytes(MODEL_PATH.read_bytes()[:-1] + b"\0")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_the_pinned_checksum_is_the_shared_files() -> None:
    assert KNOWN["yolox-nano"].sha256 == sha256_of(MODEL_PATH)
    assert KNOWN["yolox-nano"].url.startswith("https://github.com/Megvii-BaseDetection/YOLOX/")


def test_install_checks_the_sha256_and_renames_into_place(mirror: str, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(RoninError, match="refused, nothing installed"):
        store.install("yolox-nano", f"{mirror}/bad/yolox_nano.onnx")
    assert list((tmp_path / "models").iterdir()) == []  # no partial file, no registry
    assert store.default() is None
    entry = store.install("yolox-nano", f"{mirror}/yolox_nano.onnx")
    assert entry.default and sha256_of(entry.path) == KNOWN["yolox-nano"].sha256
    assert store.default() == tmp_path / "models" / "yolox_nano.onnx"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "models.json", "yolox_nano.onnx"]  # fmt: skip


def test_an_unreachable_source_says_so_plainly(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(RoninError, match=r"cannot download from 127\.0\.0\.1.*ronin model add"):
        store.install("yolox-nano", f"http://127.0.0.1:{free_port()}/yolox_nano.onnx")
    assert store.entries() == []
    with pytest.raises(ConfigurationError, match="known: yolox-nano"):
        store.install("yolo-giant")


def test_a_users_own_file_is_added_and_chosen(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    not_onnx = tmp_path / "notes.onnx"
    not_onnx.write_text("hello")
    with pytest.raises(ConfigurationError, match="not an ONNX model"):
        store.add(not_onnx)
    first = store.add(MODEL_PATH, "shared")
    assert first.default and store.default() == MODEL_PATH.resolve()
    copy = tmp_path / "mine.onnx"
    copy.write_bytes(MODEL_PATH.read_bytes())
    second = store.add(copy)
    assert second.name == "mine" and not second.default
    store.choose("mine")
    assert store.default() == copy


def test_detection_uses_the_chosen_model_unless_one_is_configured(
    mirror: str, tmp_path: Path
) -> None:
    env = {**os.environ, "RONIN_DATA_DIR": str(tmp_path / "data")}
    env.pop("ML_MODEL_PATH", None)
    ronin = [sys.executable, "-m", "infra.cli", "model"]
    listed = subprocess.run([*ronin, "list"], env=env, capture_output=True, text=True)
    assert "ronin model install yolox-nano" in listed.stdout, listed.stderr
    installed = subprocess.run([*ronin, "install", "--url", f"{mirror}/yolox_nano.onnx"],
                               env=env, capture_output=True, text=True)  # fmt: skip
    assert installed.returncode == 0 and "used for detection" in installed.stdout, installed
    listed = subprocess.run([*ronin, "list"], env=env, capture_output=True, text=True)
    assert listed.stdout.startswith("* yolox-nano")
    settings = Settings(ronin_data_dir=tmp_path / "data")
    assert settings.model_path() == tmp_path / "data" / "models" / "yolox_nano.onnx"
    configured = Settings(ronin_data_dir=tmp_path / "data", ml_model_path=MODEL_PATH)
    assert configured.model_path() == MODEL_PATH
