"""Start simulated cameras (``rtsp_server.py`` under the system Python) and wait for them."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from events.errors import EmbeddedServiceError

SERVER = Path(__file__).with_name("rtsp_server.py")


@dataclass(frozen=True, slots=True)
class SimCamera:
    port: int
    path: str = "stream"
    codec: Literal["h264", "h265"] = "h264"
    width: int = 640
    height: int = 360
    fps: int = 15
    gop: int = 15
    audio: Literal["none", "aac", "g711"] = "none"
    user: str | None = None
    password: str | None = None
    video: bool = True
    overlay: bool = True  # the burned-in clock; off for cheap many-camera benchmarks
    scene: Literal["ball", "person"] = "ball"
    person_png: str | None = None
    """For the "person" scene: a photograph of a person (see :func:`person_photo`)."""
    scene_period_s: int = 60
    sub_width: int | None = None
    """With ``sub_height``: a second, smaller stream of the same scene at ``{path}_sub``
    (a camera's sub-stream)."""
    sub_height: int | None = None
    host: str = "127.0.0.1"
    """The address it listens on (and its URL names): another than loopback for
    recorders elsewhere, such as Ronin in containers."""

    @property
    def url(self) -> str:
        """The camera's URL without credentials (as a user types it)."""
        return f"rtsp://{self.host}:{self.port}/{self.path}"

    @property
    def sub_url(self) -> str | None:
        return None if self.sub_width is None else f"{self.url}_sub"


def person_photo(target: Path) -> Path | None:
    """Write scikit-image's photograph of a person (an astronaut) as PNG for the "person"
    scene; None when scikit-image (the ``demo`` extra) is not installed."""
    try:
        import cv2
        from skimage import data
    except ImportError:
        return None
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), data.astronaut()[..., ::-1])  # type: ignore[no-untyped-call]
    return target


def system_python() -> str:
    return os.environ.get("RONIN_SIM_PYTHON", "/usr/bin/python3")


def sim_command(cameras: list[SimCamera]) -> list[str]:
    config = {"cameras": [asdict(c) for c in cameras]}
    return [system_python(), str(SERVER), json.dumps(config)]


def start_sim_cameras(
    cameras: list[SimCamera], log: Path | None = None, timeout_s: float = 30
) -> subprocess.Popen[bytes]:
    """Start one RTSP server process serving ``cameras``; returns once it listens."""
    stderr = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            sim_command(cameras), stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL
        )
    except OSError as e:
        raise EmbeddedServiceError(f"cannot start the simulated cameras: {e}") from e
    finally:
        if log:
            stderr.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("READY") or time.monotonic() > deadline:
        proc.kill()
        raise EmbeddedServiceError(
            "the simulated cameras did not start: GStreamer's RTSP server needs "
            "`bash infra/bootstrap.sh setup` (python3-gi, gir1.2-gst-rtsp-server-1.0)"
        )
    return proc
