"""Hypothesis strategies for every event type, derived from the models' field constraints."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin
from uuid import UUID

import annotated_types
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel

from events.catalogue import EVENT_TYPES, ONE_LINE, BoundingBox, Event

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware_datetimes = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    offsets | st.just(UTC),
)


def _for_annotation(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return st.one_of(*(_for_annotation(a, metadata) for a in get_args(annotation)))
    if annotation is type(None):
        return st.none()
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin is not None and hasattr(annotation, "__metadata__"):
        return _for_annotation(get_args(annotation)[0], [*annotation.__metadata__, *metadata])
    if origin is tuple:
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            bounds = _bounds(metadata)
            low = bounds.get("min_length", 0)
            items = st.lists(_for_annotation(args[0], []), min_size=low, max_size=max(low, 4))
            return items.map(tuple)
        return st.tuples(*(_for_annotation(a, []) for a in args))
    if annotation is AwareDatetime or annotation is datetime:
        return aware_datetimes
    if annotation is UUID:
        return st.uuids()
    if annotation is bool:
        return st.booleans()
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_strategy(annotation)
    bounds = _bounds(metadata)
    if annotation is int:
        low = bounds["gt"] + 1 if "gt" in bounds else bounds.get("ge", -(2**63))
        return st.integers(low, bounds.get("le", 2**63 - 1))
    if annotation is float:
        return st.floats(
            min_value=bounds.get("gt", bounds.get("ge")),
            max_value=bounds.get("le"),
            exclude_min="gt" in bounds,
            allow_nan=False,
            allow_infinity=False,
        )
    sizes = {"min_size": bounds.get("min_length", 0), "max_size": bounds.get("max_length", 50)}
    if annotation is str and bounds.get("pattern") == ONE_LINE:  # one line: no control chars
        return st.text(st.characters(exclude_categories=["Cc", "Cs"]), **sizes)
    if annotation is str and "pattern" in bounds:
        return st.from_regex(bounds["pattern"], fullmatch=True)
    if annotation is str:
        return st.text(**sizes)
    raise NotImplementedError(f"no strategy for {annotation!r}")


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in metadata:
        for constraint in getattr(item, "metadata", [item]):
            if isinstance(constraint, annotated_types.Ge):
                out["ge"] = constraint.ge
            elif isinstance(constraint, annotated_types.Gt):
                out["gt"] = constraint.gt
            elif isinstance(constraint, annotated_types.Le):
                out["le"] = constraint.le
            elif isinstance(constraint, annotated_types.MaxLen):
                out["max_length"] = min(constraint.max_length, 50)
            elif isinstance(constraint, annotated_types.MinLen):
                out["min_length"] = constraint.min_length
            elif getattr(constraint, "pattern", None) is not None:
                out["pattern"] = constraint.pattern
    return out


boxes = st.lists(st.floats(0, 1), min_size=4, max_size=4).map(
    lambda v: BoundingBox(
        x1=min(v[0], v[1]), x2=max(v[0], v[1]), y1=min(v[2], v[3]), y2=max(v[2], v[3])
    )
)


def model_strategy(cls: type[BaseModel]) -> st.SearchStrategy[Any]:
    if cls is BoundingBox:
        return boxes
    fields = {
        name: _for_annotation(info.annotation, list(info.metadata))
        for name, info in cls.model_fields.items()
    }
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


events: st.SearchStrategy[Event] = st.one_of(*(model_strategy(c) for c in EVENT_TYPES.values()))
