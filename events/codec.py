"""The one codec between events and Redis stream fields (orjson inside).

A stream entry has three fields: ``type`` (the event class name), ``v`` (its schema
version) and ``data`` (the model as JSON). ``decode(encode(e)) == e`` for every event.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from pydantic import ValidationError

from events.catalogue import EVENT_TYPES, Event
from events.errors import MalformedEvent, UnknownEventType, UnsupportedSchemaVersion

Fields = Mapping[bytes, bytes] | Mapping[str, bytes] | Mapping[str, str]
"""Stream entry fields as redis-py returns them (bytes keys) or as built by hand."""


def encode(event: Event) -> dict[str, bytes]:
    """Serialise an event into stream fields."""
    return {
        "type": type(event).__name__.encode(),
        "v": str(type(event).schema_version).encode(),
        "data": encode_data(event),
    }


def encode_data(event: Event) -> bytes:
    """The event's body alone, as JSON bytes (also what the archive stores)."""
    return orjson.dumps(event.model_dump())


def decode(fields: Fields) -> Event:
    """Parse stream fields into an event, or raise a :class:`~events.errors.CodecError`."""
    type_name = _text(_field(fields, "type"))
    version_text = _text(_field(fields, "v"))
    return decode_data(type_name, _version(version_text), _field(fields, "data"))


def decode_data(type_name: str, version: int, data: bytes | str) -> Event:
    """Parse an event body of a known type and version (stream or archive)."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise UnknownEventType(f"unknown event type {type_name!r}")
    if version != cls.schema_version:
        raise UnsupportedSchemaVersion(
            f"{type_name} schema version {version} is not supported "
            f"(this Ronin reads version {cls.schema_version})"
        )
    try:
        return cls.model_validate_json(data)  # pydantic parses the JSON itself (faster)
    except ValidationError as e:
        if any(error["type"] == "json_invalid" for error in e.errors()):
            raise MalformedEvent(f"{type_name}: data is not valid JSON: {e}") from e
        raise MalformedEvent(f"{type_name}: {e.error_count()} invalid field(s): {e}") from e


_KEYS = {name: name.encode() for name in ("type", "v", "data")}


def _field(fields: Fields, name: str) -> bytes | str:
    value = fields.get(_KEYS[name])  # type: ignore[call-overload]  # redis-py's bytes keys
    if value is None:
        value = fields.get(name)  # type: ignore[call-overload]  # built by hand
    if value is None:
        raise MalformedEvent(f"stream entry has no {name!r} field")
    if not isinstance(value, bytes | str):
        raise MalformedEvent(f"stream entry field {name!r} is not text")
    return value


def _text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError as e:
        raise MalformedEvent("stream entry field is not UTF-8") from e


def _version(text: str) -> int:
    try:
        return int(text)
    except ValueError as e:
        raise MalformedEvent(f"schema version {text!r} is not an integer") from e
