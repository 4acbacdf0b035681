"""What the API accepts at the door, declared once and named in the OpenAPI document.

- Text never holds control characters (NUL, line breaks, escapes): PostgreSQL refuses
  NUL in a text column, and a name or label is one line. Every text field and
  parameter carries :data:`CONTROL_FREE` as its pattern, so a client learns it from the
  document.
- A day is ``YYYY-MM-DD`` and an instant ISO 8601 (``2026-12-07T14:32:00Z``): pydantic
  alone would read ``0`` as 1 January 1970.
- A URL that Ronin will call (a webhook, a push service) is parsed here by httpx, the
  library that will call it, so what is saved is what can be called:
  :func:`url_refusal`.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Annotated
from zoneinfo import available_timezones

import httpx
from pydantic import AfterValidator, BeforeValidator, Field, GetJsonSchemaHandler, Strict
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from events.catalogue import ONE_LINE

CONTROL_FREE = ONE_LINE
"""Text without C0 control characters or DEL (the schema's pattern for every text)."""

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_day(value: object) -> object:
    if not isinstance(value, date | str) or (isinstance(value, str) and not _DAY.fullmatch(value)):
        raise ValueError("a day is YYYY-MM-DD")
    return value


def _iso_instant(value: object) -> object:
    if not isinstance(value, datetime | str) or (
        isinstance(value, str) and not _INSTANT.match(value)
    ):
        raise ValueError("an instant is ISO 8601, e.g. 2026-12-07T14:32:00Z")
    return value


Flag = Annotated[bool, Strict()]
"""A JSON true or false (not 0, 1 or "yes")."""
Whole = Annotated[int, Strict()]
"""A JSON integer (not "5" or 5.0)."""
Number = Annotated[float, Strict()]
"""A JSON number (not "1.5" or true)."""

Day = Annotated[date, BeforeValidator(_iso_day)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("an instant needs its time zone, e.g. 2026-12-07T14:32:00Z")
    return value


Instant = Annotated[datetime, BeforeValidator(_iso_instant), AfterValidator(_aware)]
"""An ISO 8601 instant with its offset (RFC 3339's date-time)."""


def url_refusal(url: str, schemes: frozenset[str]) -> str:
    """Why httpx could not call ``url`` ("" when it could): a host that is no valid
    name (``🏠.home``, ``xn--``), no host, another scheme. Camera URLs are held to the
    same host rules (ffmpeg would only fail later, at the camera's first connection)."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoded (IDNA) when first asked for
        httpx.Request("POST", parsed)
    except (httpx.InvalidURL, ValueError) as e:  # an IDNA error is a ValueError
        return f"not a valid URL: {e}"
    if parsed.scheme not in schemes:
        return f"the URL must start with {' or '.join(sorted(schemes))}://"
    if not host:
        return "the URL names no host"
    return ""


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_zone(value: str) -> str:
    if value not in _zone_names():
        raise ValueError("an IANA time zone such as Europe/Berlin or UTC")
    return value


class _ZoneNames:
    """The document lists the zones (an enum), read when it is made, not at import."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": sorted(_zone_names())}


TimeZoneName = Annotated[str, AfterValidator(_known_zone), _ZoneNames()]
"""An IANA time zone known to this machine."""


_HOST = r"([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])"  # a name, IPv4, [IPv6]
_PORT = r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
_PATH = r"([/?#][^\x00-\x20\x7f]*)?"
HTTP_URL = rf"^https?://{_HOST}{_PORT}{_PATH}$"
RTSP_URL = rf"^rtsps?://{_HOST}{_PORT}{_PATH}$"


def _parsed_as(*schemes: str) -> AfterValidator:
    """A validator that refuses what :func:`url_refusal` refuses for these schemes."""

    def check(url: str) -> str:
        refused = url_refusal(url, frozenset(schemes))
        if refused:
            raise ValueError(refused)
        return url

    return AfterValidator(check)


HttpUrl = Annotated[
    str,
    Field(pattern=HTTP_URL, max_length=2000,
          description="http(s)://host[:port]/path; a host name in ASCII (an IDN in its xn-- form)"),
    _parsed_as("http", "https"),
]  # fmt: skip
"""A URL Ronin will call (a webhook, a push service), as httpx will call it."""

RtspUrl = Annotated[
    str,
    Field(pattern=RTSP_URL, max_length=2000,
          description="rtsp(s)://host[:port]/path, without credentials (they have fields)"),
    _parsed_as("rtsp", "rtsps"),
]  # fmt: skip
"""A camera's stream."""


PATTERN_MEANINGS = {
    CONTROL_FREE: "must not contain control characters (such as NUL or a line break)",
    HTTP_URL: "not an http(s) URL with an ASCII host name or an IP address",
    RTSP_URL: "not an rtsp(s) URL with an ASCII host name or an IP address (credentials go "
    "in their fields)",
}
"""What a refused pattern means, said to the user instead of the pattern."""
