"""Detection speed: ours beside a bare ONNX Runtime session and bare decoding, in one run.

    .venv/bin/python bench/detector_bench.py [--model PATH] [--seconds 60] [--repeats 40]

1. Inference per frame at batch 1 and batch 8: ours = ``OnnxDetector.detect`` on BGR
   frames as the historical worker gets them (640x360) and as a 1080p still, letterbox,
   decode and NMS included; limit = ``session.run`` on the ready tensor (same model,
   same session options).
2. Historical analysis of a static and a busy 1080p H.264 clip (15 fps, 1-s GOP, made
   from real photographs): seconds of footage per wall-clock second, ours
   (``analyse_segment``: ffmpeg sampling at 2 fps, MOG2 gate, batched inference) beside
   the limit = decoding the same sampled frames + bare inference on every one of them.
3. Ways to sample 2 fps out of the busy clip (decode only): ffmpeg's fps filter
   (ours), ``-skip_frame nokey`` (keyframes only: 1 fps with this GOP), OpenCV seeking.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.analysis import AnalysisConfig, analyse_segment
from detector.frames import SamplePlan, read_frames
from detector.model import DetectorConfig, Layout, OnnxDetector, letterbox
from tests.detection_support import MODEL_PATH, Scene, photo, scene_clip, segment_for

console = Console()


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """Median wall time of ``repeats`` runs after one warm-up."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def inference_table(detector: OnnxDetector, repeats: int) -> Table:
    table = Table(title="inference per frame (ms), CPU")
    for column in ("input", "batch", "ours", "bare ORT", "ours/bare"):
        table.add_column(column, justify="right")
    astronaut = photo("astronaut")
    import cv2

    for name, size in (("640x360", (640, 360)), ("1920x1080", (1920, 1080))):
        frame = cv2.resize(astronaut, size)
        for batch in (1, 8):
            frames = [frame] * batch
            tensor = letterbox(frames, detector.size, detector.layout).tensor
            ours = best_of(repeats, lambda f=frames: detector.detect(f)) / batch
            bare = best_of(repeats, lambda t=tensor: detector.infer(t)) / batch
            table.add_row(name, str(batch), f"{ours * 1000:.2f}", f"{bare * 1000:.2f}",
                          f"{ours / bare:.2f}x")  # fmt: skip
    return table


def walking(seconds: float) -> list[Scene]:
    steps = round(seconds * 2)
    return [
        Scene("astronaut", i / 2, (i + 1) / 2, 0.02 + 0.6 * (i % 40) / 40, 0.1, 0.8)
        for i in range(steps)
    ]


def limit_speed(path: Path, detector: OnnxDetector, seconds: float) -> float:
    """Decode the same 2-fps frames, then bare inference on every one (batches of 8)."""
    started = time.perf_counter()
    frames = [f.image.copy() for f in read_frames(path, SamplePlan(2.0, 640, 360))]
    for i in range(0, len(frames), 8):
        chunk = frames[i : i + 8]
        detector.infer(letterbox(chunk, detector.size, Layout(detector.layout)).tensor)
    return seconds / (time.perf_counter() - started)


def analysis_table(detector: OnnxDetector, root: Path, seconds: float) -> Table:
    table = Table(title=f"historical analysis, 1080p H.264 15 fps, {seconds:g} s clip, 2 fps")
    for column in ("clip", "frames analysed", "ours (footage s / s)", "limit", "ours/limit"):
        table.add_column(column, justify="right")
    clips = {"static": (), "busy": walking(seconds)}
    for name, scenes in clips.items():
        relative = f"Bench/{name}.mp4"
        scene_clip(root / relative, scenes, seconds, width=1920, height=1080, fps=15)
        segment = segment_for(root, relative, seconds, 1920, 1080, 15.0)
        started = time.perf_counter()
        result = analyse_segment(segment, root, detector, AnalysisConfig(fps=2.0))
        ours = seconds / (time.perf_counter() - started)
        limit = limit_speed(root / relative, detector, seconds)
        table.add_row(name, f"{result.frames_analysed}/{result.frames_sampled}",
                      f"{ours:.1f}", f"{limit:.1f}", f"{ours / limit:.2f}x")  # fmt: skip
    return table


def sampling_table(root: Path, seconds: float) -> Table:
    import subprocess

    import cv2

    path = root / "Bench/busy.mp4"
    table = Table(title="sampling 2 fps from the busy clip (decode only)")
    for column in ("method", "frames", "footage s / s"):
        table.add_column(column, justify="right")

    def fps_filter() -> int:
        return sum(1 for _ in read_frames(path, SamplePlan(2.0, 640, 360)))

    def keyframes() -> int:
        out = subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-skip_frame", "nokey", "-i", str(path),
             "-vf", "scale=640:360", "-fps_mode", "passthrough", "-f", "rawvideo",
             "-pix_fmt", "bgr24", "pipe:1"],
            capture_output=True, check=True,
        )  # fmt: skip
        return len(out.stdout) // (640 * 360 * 3)

    def opencv_seek() -> int:
        capture = cv2.VideoCapture(str(path))
        count = 0
        for i in range(round(seconds * 2)):
            capture.set(cv2.CAP_PROP_POS_MSEC, i * 500)
            ok, _ = capture.read()
            count += ok
        capture.release()
        return count

    for name, method in (("ffmpeg fps filter (ours)", fps_filter),
                         ("ffmpeg -skip_frame nokey", keyframes),
                         ("OpenCV seek", opencv_seek)):  # fmt: skip
        started = time.perf_counter()
        frames = method()
        table.add_row(name, str(frames), f"{seconds / (time.perf_counter() - started):.1f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    detector = OnnxDetector(args.model, DetectorConfig(confidence_threshold=0.5))
    console.print(f"model {detector.model_id}, providers {', '.join(detector.providers)}")
    console.print(inference_table(detector, args.repeats))
    with tempfile.TemporaryDirectory(prefix="ronin-detbench-") as tmp:
        root = Path(tmp)
        console.print(analysis_table(detector, root, args.seconds))
        console.print(sampling_table(root, args.seconds))


if __name__ == "__main__":
    main()
