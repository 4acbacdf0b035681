"""The ffmpeg command for one camera (pure): one RTSP connection, two outputs.

The ``tee`` muxer writes both outputs from one read of the camera and one audio encode:

1. recording segments: MP4 *fragmented* (``frag_keyframe+empty_moov``, and a fragment
   at least every ``fragment_seconds`` even inside a long GOP), each fragment flushed to
   the file at once, so a killed ffmpeg leaves a playable file missing at most its last
   fragment; cut at the first keyframe after ``segment_seconds``,
   numbered ``%08d.mp4`` in a per-run staging folder, each listed in ``segments.csv``
   (``name,start,end`` in media seconds) when it is complete;
2. the live ring: fragmented MP4 with one fragment per frame, flushed at once, in a ring
   of a few files (``ingest.live.ring``), which the API follows to feed browsers (over
   a WebSocket, and the HLS fallback) and live detection reads; if it fails (disk,
   permissions) recording goes on (``onfail=ignore``).

A camera's sub-stream (its low-resolution second stream, when it has one) gets an ffmpeg
of its own writing only a live ring (:func:`sub_stream_command`): a second RTSP
connection, for the grid and live detection; it is never recorded.

Video is copied, never re-encoded (H.264 and H.265 alike; H.265 is tagged ``hvc1`` for
browsers); audio, when present, becomes AAC. Progress goes to stdout every second for
the watchdog.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.live.ring import RING_FILES, RING_PATTERN, RING_SECONDS
from ingest.source_input import Options, input_arguments, probe_input, script_text


def camera_options(socket_timeout_s: float) -> Options:
    """RTSP over TCP, giving up on a silent camera after ``socket_timeout_s``."""
    return [("rtsp_transport", "tcp"), ("timeout", str(int(socket_timeout_s * 1e6)))]


def demuxer_options(quick_start: bool) -> Options:
    """The quick start's short probe (``RecorderPlan.quick_start``). The packets probing
    reads stay buffered and are recorded (ffmpeg's ``-fflags nobuffer`` would drop them,
    and with them the camera's first keyframe: every start would then wait one more
    GOP for the next, footage lost at each restart)."""
    return [("fpsprobesize", "0"), ("probesize", "4096")] if quick_start else []


RING_MOVFLAGS = "+empty_moov+default_base_moof+frag_every_frame+skip_trailer"


def ring_muxer_options() -> dict[str, str]:
    """The segment muxer's options for a live ring: ``RING_FILES`` files of about
    ``RING_SECONDS``, the oldest overwritten (its MP4 options: ``RING_MOVFLAGS``)."""
    return {
        "f": "segment",
        "segment_time": str(RING_SECONDS),
        "segment_wrap": str(RING_FILES),
        "segment_format": "mp4",
    }


@dataclass(frozen=True, slots=True)
class RecorderPlan:
    input_url: str
    staging_dir: Path
    live_dir: Path
    segment_seconds: float = 900.0
    video_codec: str | None = None  # "hevc" adds the hvc1 tag
    socket_timeout_s: float = 5.0
    fragment_seconds: float = 0.5
    quick_start: bool = True
    """Take the streams' parameters from the camera's session description and the first
    few kilobytes, without counting frames to estimate the frame rate: ffmpeg's default
    probe delays every reconnect by about 1.8 s (0.25 s this way). Should a camera need
    the full probe, that start fails and the next ones use ffmpeg's defaults
    (``ffmpeg_log.needs_probing``)."""
    source_script: Path | None = None
    """Where the camera's URL goes when it carries credentials (``source_input``)."""

    @property
    def camera_options(self) -> Options:
        return camera_options(self.socket_timeout_s)

    @property
    def demuxer_options(self) -> Options:
        return demuxer_options(self.quick_start)

    @property
    def source_script_text(self) -> str | None:
        """What to write to ``source_script`` before ffmpeg starts (None: nothing)."""
        return script_text(self.input_url, self.camera_options, self.demuxer_options)

    @property
    def segment_list(self) -> Path:
        return self.staging_dir / "segments.csv"


def _escape(value: str) -> str:
    """Escape a value for the tee muxer's ``[key=value:...]`` syntax."""
    return (
        value.replace("\\", "\\\\")
        .replace(":", "\\:")
        .replace("|", "\\|")
        .replace("[", "\\[")
        .replace("]", "\\]")
    )


def _nested(options: dict[str, str]) -> str:
    """Options inside a tee option (``segment_format_options``). ffmpeg unescapes such a
    value twice, so the separators are escaped here once, and :func:`_slave` escapes the
    whole again (checked: otherwise only the first option reaches the mp4 muxer)."""
    return _escape(":".join(f"{k}={v}" for k, v in options.items()))


def _slave(options: dict[str, str], target: Path) -> str:
    inner = ":".join(f"{k}={_escape(v)}" for k, v in options.items())
    return f"[{inner}]{_escape(str(target))}"


def recorder_command(plan: RecorderPlan, ffmpeg: str = "ffmpeg") -> list[str]:
    recording = _slave(
        {
            "f": "segment",
            "segment_time": f"{plan.segment_seconds:g}",
            "segment_format": "mp4",
            "segment_format_options": _nested(
                {
                    "movflags": "+frag_keyframe+empty_moov+default_base_moof",
                    "frag_duration": str(int(plan.fragment_seconds * 1_000_000)),
                    "flush_packets": "1",  # each fragment reaches the file at once
                }
            ),
            "reset_timestamps": "1",
            "segment_list": str(plan.segment_list),
            "segment_list_type": "csv",
        },
        plan.staging_dir / "%08d.mp4",
    )
    ring = _slave(
        {
            **ring_muxer_options(),
            "onfail": "ignore",
            "segment_format_options": _nested({"movflags": RING_MOVFLAGS, "flush_packets": "1"}),
        },
        plan.live_dir / RING_PATTERN,
    )
    tag = ["-tag:v", "hvc1"] if plan.video_codec == "hevc" else []
    source = input_arguments(
        plan.input_url, plan.camera_options, plan.demuxer_options, plan.source_script
    )
    return [
        ffmpeg,
        "-nostdin",
        "-nostats",  # progress comes on stdout; stderr keeps only what needs reading
        "-hide_banner",
        "-loglevel", "info",
        *source,
        "-map", "0:v:0",
        "-map", "0:a:0?",
        "-c:v", "copy",
        *tag,
        "-c:a", "aac",
        "-b:a", "64k",
        "-f", "tee",
        f"{recording}|{ring}",
        "-progress", "pipe:1",
        "-stats_period", "1",
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class SubStreamPlan:
    """A camera's sub-stream, relayed into its own live ring (never recorded)."""

    input_url: str
    live_dir: Path
    socket_timeout_s: float = 5.0
    source_script: Path | None = None

    @property
    def source_script_text(self) -> str | None:
        return script_text(
            self.input_url, camera_options(self.socket_timeout_s), demuxer_options(True)
        )


def sub_stream_command(plan: SubStreamPlan, ffmpeg: str = "ffmpeg") -> list[str]:
    """ffmpeg copying a sub-stream's video into a live ring: no audio (the grid is
    muted; the enlarged view plays the main stream), no recording, no progress."""
    source = input_arguments(
        plan.input_url, camera_options(plan.socket_timeout_s), demuxer_options(True),
        plan.source_script,
    )  # fmt: skip
    muxer = [part for key, value in ring_muxer_options().items() for part in (f"-{key}", value)]
    return [
        ffmpeg, "-nostdin", "-nostats", "-hide_banner", "-loglevel", "warning",
        *source,
        "-map", "0:v:0", "-c:v", "copy", "-an",
        *muxer,
        "-segment_format_options", f"movflags={RING_MOVFLAGS}:flush_packets=1",
        str(plan.live_dir / RING_PATTERN),
    ]  # fmt: skip


def probe_options(timeout_s: float) -> tuple[Options, Options]:
    """(camera, demuxer) options of the codec probe."""
    camera = [("rtsp_transport", "tcp"), ("timeout", str(int(timeout_s * 1_000_000)))]
    return camera, [("analyzeduration", "0"), ("probesize", "32768")]


def codec_probe_command(
    url: str, timeout_s: float = 5.0, ffprobe: str = "ffprobe", script: Path | None = None
) -> list[str]:
    """ffprobe printing the camera's video codec name (from the RTSP session description,
    so it answers without waiting for frames): the recorder needs it before the first
    segment, since H.265 must be tagged ``hvc1`` from the start. With credentials in the
    URL it reads ``script`` (``probe_options`` make its text)."""
    camera, demuxer = probe_options(timeout_s)
    options, source = probe_input(url, camera, demuxer, script)
    return [
        ffprobe, "-v", "error", *options,
        "-select_streams", "v:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
        source,
    ]  # fmt: skip
