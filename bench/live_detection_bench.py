"""Live detection CPU on a camera's 640x360 sub-stream beside its 1080p main stream.

    .venv/bin/python bench/live_detection_bench.py [--model PATH] [--seconds 60]

The same scene (a person crossing the picture, 15 fps, 1-s GOP) is encoded at 1920x1080
and at 640x360 and laid out as the live ring holds it (one fragment per frame). Each is
fed to a real :class:`RingTap` one group of pictures at a time, as ffmpeg writes it, and
the stills it takes go through the model as :class:`LiveDetector` runs it (read the
JPEG, batched inference). CPU time is counted for this process and the ffmpeg
decoders it runs, as CPU-seconds per camera-minute, at 1 fps (the default: only each
group's keyframe is decoded) and 5 fps (whole groups decoded). The last column is the
sub-stream's cost as a fraction of the main stream's.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.live import RingTap
from detector.model import DetectorConfig, OnnxDetector
from detector.motion import MotionConfig
from events.catalogue import FrameSampled
from ingest.live.fmp4 import Fragment, InitSegment, StreamParser
from tests.detection_support import MODEL_PATH, scene_clip, walking

console = Console()
SIZES = {"sub 640x360": (640, 360), "main 1920x1080": (1920, 1080)}


def ring_layout(clip: Path, out: Path) -> tuple[bytes, list[bytes]]:
    """The clip as the live ring holds it: (init segment, each GOP's fragments)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-c", "copy", "-movflags",
         "+empty_moov+default_base_moof+frag_every_frame+skip_trailer", str(out)],
        check=True,
    )  # fmt: skip
    init, gops = b"", list[bytes]()
    for piece in StreamParser().feed(out.read_bytes()):
        if isinstance(piece, InitSegment):
            init = piece.data
        elif isinstance(piece, Fragment) and (piece.keyframe or not gops):
            gops.append(piece.data)
        elif isinstance(piece, Fragment):
            gops[-1] += piece.data
    return init, gops


def cpu_s() -> float:
    """CPU time of this process and of its finished children (the ffmpeg decoders)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_tap(
    init: bytes, gops: list[bytes], root: Path, fps: float, detector: OnnxDetector
) -> tuple[int, float, float]:
    """Feed the ring one GOP at a time: (stills, sampling CPU-s, inference CPU-s)."""
    import cv2

    ring = root / f"ring-{uuid4()}"
    ring.mkdir()
    tap = RingTap(uuid4(), ring, root, fps, MotionConfig(), watching=lambda camera: True)
    sampling = inference = 0.0
    stills = 0
    with (ring / "live0.mp4").open("wb") as f:
        f.write(init)
        for gop in gops:
            f.write(gop)
            f.flush()
            started = cpu_s()
            events = [e for e in tap.poll() if isinstance(e, FrameSampled)]
            sampling += cpu_s() - started
            started = cpu_s()
            images = [cv2.imread(str(root / e.source_path)) for e in events]
            if images:
                detector.detect([np.asarray(i, dtype=np.uint8) for i in images])
            inference += cpu_s() - started
            stills += len(images)
    tap.close()
    return stills, sampling, inference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if not args.model.is_file():
        sys.exit(f"no model at {args.model} (see ../shared/models/README.md)")
    detector = OnnxDetector(args.model, DetectorConfig(confidence_threshold=0.5))
    table = Table(title=f"live detection, {args.seconds:g} s of a person crossing, 15 fps, 1-s GOP")
    for column in ("stream", "fps", "stills", "sampling", "inference", "total", "of main"):
        table.add_column(column, justify="right")
    minutes = args.seconds / 60
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rings = {}
        for name, (width, height) in SIZES.items():
            clip = scene_clip(root / f"{width}.mp4", walking("astronaut", args.seconds),
                              args.seconds, width, height, fps=15)  # fmt: skip
            rings[name] = ring_layout(clip, root / f"{width}-ring.mp4")
        for fps in (1.0, 5.0):
            totals = {}
            for name, (init, gops) in rings.items():
                time.sleep(0.5)
                stills, sampling, inference = run_tap(init, gops, root, fps, detector)
                totals[name] = (sampling + inference) / minutes
                table.add_row(name, f"{fps:g}", str(stills), f"{sampling / minutes:.2f}",
                              f"{inference / minutes:.2f}", f"{totals[name]:.2f}", "")  # fmt: skip
            sub, main_total = totals["sub 640x360"], totals["main 1920x1080"]
            table.add_row("", "", "", "", "", "sub / main", f"{sub / main_total:.2f}x")
    console.print(table)
    console.print("CPU-seconds per camera-minute (this process + its ffmpeg decoders).")


if __name__ == "__main__":
    main()
