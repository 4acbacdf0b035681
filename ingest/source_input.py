"""How ffmpeg and ffprobe open a camera without its password on their command line.

Any local user can read every process's arguments (``ps``, ``/proc/*/cmdline``), and
ffmpeg takes RTSP credentials only inside the URL. So a URL with credentials is not
passed as ``-i URL``: it goes into a one-line ffconcat script (mode 0600, in a folder
only Ronin's user can enter), and ffmpeg reads that (``-f concat -i SCRIPT``). The
concat demuxer opens the URL with the RTSP options given as ``option`` lines, and then
passes the stream through as it is. A URL without credentials is passed as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

Options = Sequence[tuple[str, str]]

# what the concat demuxer may open: the script, and the camera's protocols
PROTOCOLS = "file,rtsp,rtsps,rtp,srtp,tcp,udp,tls,crypto"


def carries_credentials(url: str) -> bool:
    return "@" in urlsplit(url).netloc


def _flat(options: Options) -> list[str]:
    return [part for key, value in options for part in (f"-{key}", value)]


def _quoted(text: str) -> str:
    """A token for an ffconcat line (single quotes; a quote inside is ``'\\''``)."""
    return "'" + text.replace("'", "'\\''") + "'"


def concat_script(url: str, options: Options) -> str:
    lines = ["ffconcat version 1.0", f"file {_quoted(url)}"]
    lines += [f"option {key} {_quoted(value)}" for key, value in options]
    return "\n".join(lines) + "\n"


def input_arguments(url: str, camera: Options, demuxer: Options, script: Path | None) -> list[str]:
    """ffmpeg's input arguments: ``camera`` options (RTSP's) go to the camera's demuxer,
    ``demuxer`` options (probing, buffering) to whichever demuxer ffmpeg reads from. With
    credentials in the URL, ``script`` is where :func:`write_script` puts it."""
    if not carries_credentials(url):
        return [*_flat(demuxer), *_flat(camera), "-i", url]
    if script is None:
        raise ValueError("a URL with credentials needs a script path (never on argv)")
    return [*_flat(demuxer), "-f", "concat", "-safe", "0", "-protocol_whitelist", PROTOCOLS,
            "-i", str(script)]  # fmt: skip


def probe_input(
    url: str, camera: Options, demuxer: Options, script: Path | None
) -> tuple[list[str], str]:
    """The same for ffprobe, which takes its input last and without ``-i``: (options,
    input)."""
    arguments = input_arguments(url, camera, demuxer, script)
    return arguments[:-2], arguments[-1]


def script_text(url: str, camera: Options, demuxer: Options) -> str | None:
    """The script :func:`input_arguments` names, or None when the URL needs none."""
    if not carries_credentials(url):
        return None
    return concat_script(url, [*camera, *demuxer])


def write_script(path: Path, text: str) -> None:
    """Write it readable by this user only (folder 0700, file 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)
