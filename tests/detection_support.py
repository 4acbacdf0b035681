"""Clips made from real photographs (scikit-image's data) for detection tests and benches.

A clip is a timeline of scenes over an empty background: each scene pastes a photograph
(a person, a motorcycle) at a known place for a known time window, so a test can check
that the detector finds the right class inside the window, with the box on the subject,
and nothing outside it. Frames are encoded by the real ffmpeg (H.264, 1-s GOP).
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import numpy as np
import pytest

from events.catalogue import SegmentClosed
from tests.factories import T0

MODEL_PATH = Path(
    os.environ.get(
        "RONIN_TEST_MODEL", Path(__file__).resolve().parents[2] / "shared/models/yolox_nano.onnx"
    )
)


def require_model() -> Path:
    if not MODEL_PATH.is_file():
        pytest.skip(
            f"no detection model at {MODEL_PATH} (the shared YOLOX-Nano; set RONIN_TEST_MODEL)"
        )
    return MODEL_PATH


@functools.cache
def photo(name: str) -> np.ndarray:
    """A scikit-image photograph as BGR uint8."""
    from skimage import data

    image = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3][..., ::-1])


def empty_scene(width: int, height: int) -> np.ndarray:
    """A plain, slightly textured wall: nothing a COCO model should name."""
    rng = np.random.default_rng(7)
    base = np.linspace(90, 150, width, dtype=np.float32)[None, :, None]
    texture = rng.normal(0, 4, (height, width, 1)).astype(np.float32)
    return np.clip(base + texture + np.array([0, 10, 20], np.float32), 0, 255).astype(np.uint8)


@dataclass(frozen=True, slots=True)
class Scene:
    photo: str
    start_s: float
    end_s: float
    x: float  # left edge, fraction of the width
    y: float
    height: float  # fraction of the frame height

    def box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Where the photograph lies, normalised (x1, y1, x2, y2)."""
        picture = photo(self.photo)
        h = round(self.height * height)
        w = round(picture.shape[1] * h / picture.shape[0])
        return (self.x, self.y, self.x + w / width, self.y + h / height)


def render(scenes: Sequence[Scene], t: float, width: int, height: int) -> np.ndarray:
    import cv2

    frame = empty_scene(width, height)
    for scene in scenes:
        if scene.start_s <= t < scene.end_s:
            picture = photo(scene.photo)
            h = round(scene.height * height)
            w = round(picture.shape[1] * h / picture.shape[0])
            x, y = round(scene.x * width), round(scene.y * height)
            resized = cv2.resize(picture, (w, h))[: height - y, : width - x]
            frame[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return frame


def encode_clip(
    path: Path,
    frames: Iterator[np.ndarray],
    width: int,
    height: int,
    fps: int,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        *("ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24"),
        *("-s", f"{width}x{height}", "-r", str(fps), "-i", "-"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps), "-pix_fmt", "yuv420p"),
        *("-movflags", "+faststart", str(path)),
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert process.stdin is not None
    for frame in frames:
        process.stdin.write(frame.tobytes())
    process.stdin.close()
    assert process.wait() == 0
    return path


def scene_clip(
    path: Path,
    scenes: Sequence[Scene],
    seconds: float,
    width: int = 640,
    height: int = 360,
    fps: int = 10,
) -> Path:
    """A clip of ``scenes`` over the empty wall."""

    def frames() -> Iterator[np.ndarray]:
        for n in range(round(seconds * fps)):
            yield render(scenes, n / fps, width, height)

    return encode_clip(path, frames(), width, height, fps)


def walking(photo_name: str, seconds: float, step_s: float = 0.5) -> list[Scene]:
    """A photograph crossing the picture from left to right (moves every ``step_s``)."""
    steps = round(seconds / step_s)
    return [
        Scene(photo_name, i * step_s, (i + 1) * step_s, 0.02 + 0.5 * i / steps, 0.1, 0.8)
        for i in range(steps)
    ]


def segment_for(
    root: Path,
    relative: str,
    seconds: float,
    width: int = 640,
    height: int = 360,
    fps: float = 10.0,
    camera_id: UUID | None = None,
) -> SegmentClosed:
    """The SegmentClosed ingest would emit for a clip at ``root / relative``."""
    return SegmentClosed(
        segment_id=uuid4(),
        camera_id=camera_id or uuid4(),
        path=relative,
        start=T0,
        end=T0 + timedelta(seconds=seconds),
        duration_s=seconds,
        bytes=(root / relative).stat().st_size,
        video_codec="h264",
        width=width,
        height=height,
        fps=fps,
        audio_codec=None,
    )


PERSON_AND_MOTORCYCLE = (
    Scene("astronaut", 6.0, 12.0, 0.30, 0.10, 0.85),
    Scene("motorcycle_left", 18.0, 24.0, 0.20, 0.20, 0.60),
)
"""The accuracy clip's timeline (30 s): empty, a person 6-12 s, empty, a motorcycle 18-24 s."""
