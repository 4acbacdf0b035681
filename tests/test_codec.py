"""The codec: exact round trips, and clear errors for what it cannot read."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.catalogue import EVENT_TYPES, CameraRemoved, Event
from events.codec import decode, encode
from events.errors import CodecError, MalformedEvent, UnknownEventType, UnsupportedSchemaVersion
from tests.strategies import events


@given(st.lists(events, max_size=20))
def test_any_sequence_of_events_round_trips_unchanged(sequence: list[Event]) -> None:
    decoded = [decode(encode(e)) for e in sequence]
    assert decoded == sequence
    assert [type(d) for d in decoded] == [type(e) for e in sequence]
    assert [encode(d) for d in decoded] == [encode(e) for e in sequence]


def test_every_event_type_is_frozen_and_strict() -> None:
    for cls in EVENT_TYPES.values():
        assert cls.model_config.get("frozen") is True
        assert cls.model_config.get("extra") == "forbid"
        assert cls.schema_version >= 1


def test_unknown_event_type_is_a_clear_error() -> None:
    fields = encode(CameraRemoved(camera_id="00000000-0000-0000-0000-000000000001"))  # type: ignore[arg-type]
    fields["type"] = b"CameraExploded"
    with pytest.raises(UnknownEventType, match="CameraExploded"):
        decode(fields)


def test_newer_schema_version_is_a_clear_error() -> None:
    fields = encode(CameraRemoved(camera_id="00000000-0000-0000-0000-000000000001"))  # type: ignore[arg-type]
    fields["v"] = b"99"
    with pytest.raises(UnsupportedSchemaVersion, match="version 99"):
        decode(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {b"type": b"CameraRemoved", b"v": b"1"},
        {b"type": b"CameraRemoved", b"v": b"one", b"data": b"{}"},
        {b"type": b"CameraRemoved", b"v": b"1", b"data": b"{not json"},
        {b"type": b"CameraRemoved", b"v": b"1", b"data": b"{}"},
        {b"type": b"CameraRemoved", b"v": b"1", b"data": orjson.dumps({"camera_id": 5})},
        {b"type": b"\xff\xfe", b"v": b"1", b"data": b"{}"},
    ],
)
def test_malformed_messages_raise_codec_errors(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(CodecError):
        decode(fields)


def test_extra_fields_are_refused() -> None:
    fields = encode(CameraRemoved(camera_id="00000000-0000-0000-0000-000000000001"))  # type: ignore[arg-type]
    body = orjson.loads(fields["data"])
    body["surprise"] = 1
    fields["data"] = orjson.dumps(body)
    with pytest.raises(MalformedEvent):
        decode(fields)
