"""schemathesis hooks for the contract run (``SCHEMATHESIS_HOOKS=tests.schemathesis_hooks``):
what schemathesis sends stays on this machine, and the run's own users and camera stay.

- Every URL that Ronin would connect to (a camera's stream, a webhook, a push service)
  is pointed at a closed loopback port: nothing leaves the machine, and the simulated
  camera that records during the run is not buried under dozens of fuzzed cameras
  (its RTSP server stopped answering under them: the run then recorded nothing).
  Only URLs that parse are rewritten, so what schemathesis meant as invalid stays so.
- The signed-in users and the recording camera are not removed, demoted or given a new
  password (the run would end its own sessions): such a case is pointed at another
  name.
- Half of the reads that name a valid id name one that exists (``CONTRACT_IDS``: the
  recording camera, a closed segment, a track, an alert), so the media a user opens
  (a segment's video, a thumbnail cut on the fly, footage of any range) are exercised,
  not only their 404s. Invalid ids are left alone: schemathesis meant them so.
"""

from __future__ import annotations

import os
import re
from typing import Any
from uuid import UUID, uuid4

import schemathesis

from api.inputs import HTTP_URL, RTSP_URL

_HOST = re.compile(r"^(?P<scheme>[a-z]+)://(?P<host>[^/?#]*)(?P<rest>.*)$", re.DOTALL)
_URL_FIELDS = {"rtsp_url": RTSP_URL, "sub_rtsp_url": RTSP_URL, "url": HTTP_URL,
               "endpoint": HTTP_URL}  # fmt: skip


def _kept_users() -> set[str]:
    return set(os.environ.get("CONTRACT_USERS", "").split(","))


def _kept_camera() -> UUID | None:
    value = os.environ.get("CONTRACT_CAMERA")
    return UUID(value) if value else None


def _known_ids() -> dict[str, str]:
    pairs = [p.split("=", 1) for p in os.environ.get("CONTRACT_IDS", "").split(",") if "=" in p]
    return dict(pairs)


def _existing(values: dict[str, Any]) -> None:
    """Point half of the valid ids at ones that exist (by the id's own bits: the same
    case always goes the same way)."""
    for name, known in _known_ids().items():
        try:
            generated = UUID(str(values.get(name)))
        except ValueError:
            continue
        if generated.int % 2 == 0:
            values[name] = known


def _local(url: str, pattern: str) -> str:
    found = _HOST.match(url)
    if found is None or not re.match(pattern, url):
        return url
    return f"{found['scheme']}://127.0.0.1:9{found['rest']}"  # discard: nothing listens


@schemathesis.hook
def before_call(ctx: Any, case: schemathesis.Case, **kwargs: Any) -> None:
    if isinstance(case.body, dict):
        for name, pattern in _URL_FIELDS.items():
            if isinstance(case.body.get(name), str):
                case.body[name] = _local(case.body[name], pattern)
    path = case.path_parameters or {}
    if case.method.upper() == "GET":
        _existing(path)
        if isinstance(case.query, dict):
            _existing(case.query)
    if case.method.upper() in ("PUT", "DELETE"):
        if path.get("username") in _kept_users():
            path["username"] = "someone-else"
        kept = str(path.get("camera_id")) == str(_kept_camera())
        if kept and case.path == "/api/cameras/{camera_id}":
            path["camera_id"] = str(uuid4())
