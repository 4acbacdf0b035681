"""Folding row operations gives the same rows as applying them one by one; a table is
declared once, by the dataclass its rows are read back as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projector.rows import (
    BigInt,
    Delete,
    DeleteWhere,
    FoldedOps,
    Patch,
    RowOp,
    TableSpec,
    Upsert,
    column_type,
    fold,
    table_of,
)

TABLE = TableSpec("t", ("k", "a", "b", "c"), ("k",), ddl="")
OTHER = TableSpec("u", ("k", "a", "b", "c"), ("k",), ddl="")

keys = st.integers(0, 3)
values = st.integers(0, 9)
ops = st.one_of(
    st.builds(
        lambda t, k, a, b, c: Upsert(t, {"k": k, "a": a, "b": b, "c": c}),
        st.sampled_from([TABLE, OTHER]),
        keys,
        values,
        values,
        st.integers(0, 2),
    ),
    st.builds(
        lambda t, c: DeleteWhere(t, "c", c), st.sampled_from([TABLE, OTHER]), st.integers(0, 2)
    ),
    st.builds(
        lambda t, k, col, v: Patch(t, (k,), {col: v}),
        st.sampled_from([TABLE, OTHER]),
        keys,
        st.sampled_from(["a", "b"]),
        values,
    ),
    st.builds(lambda t, k: Delete(t, (k,)), st.sampled_from([TABLE, OTHER]), keys),
)
State = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


def apply_one(state: State, op: RowOp) -> None:
    rows = state.setdefault(op.table.name, {})
    if isinstance(op, Upsert):
        rows[op.table.key_of(op.row)] = dict(op.row)
    elif isinstance(op, Patch):
        if op.key in rows:
            rows[op.key] = {**rows[op.key], **op.values}
    elif isinstance(op, DeleteWhere):
        for key in [k for k, row in rows.items() if row[op.column] == op.value]:
            del rows[key]
    else:
        rows.pop(op.key, None)


def apply_folded(state: State, folded: FoldedOps) -> None:
    for name in folded.tables:
        rows = state.setdefault(name, {})
        for key in folded.deletes.get(name, {}):
            rows.pop(key, None)
        for column, value in folded.sweeps.get(name, []):
            for key in [k for k, row in rows.items() if row[column] == value]:
                del rows[key]
        for key, row in folded.upserts.get(name, {}).items():
            rows[key] = dict(row)
        for key, patch in folded.patches.get(name, {}).items():
            if key in rows:
                rows[key] = {**rows[key], **patch}


initial = st.dictionaries(
    keys, st.fixed_dictionaries({"a": values, "b": values, "c": st.integers(0, 2)}), max_size=4
)


@settings(max_examples=500)
@given(initial, st.lists(ops, max_size=30))
def test_fold_equals_sequential_application(
    start: dict[int, dict[str, int]], batch: list[RowOp]
) -> None:
    seed: State = {name: {(k,): {"k": k, **row} for k, row in start.items()} for name in ("t", "u")}
    one_by_one = {n: dict(r) for n, r in seed.items()}
    for op in batch:
        apply_one(one_by_one, op)
    folded_state = {n: dict(r) for n, r in seed.items()}
    apply_folded(folded_state, fold(batch))
    assert folded_state == one_by_one


@dataclass(frozen=True, slots=True)
class _Row:
    row_id: UUID
    name: str
    count: BigInt
    size: int | None
    seen_at: datetime


def test_a_table_is_declared_once_by_its_row_type() -> None:
    table = table_of(_Row, "things", key=("row_id",))
    assert table.columns == ("row_id", "name", "count", "size", "seen_at")
    assert table.ddl == (
        "CREATE TABLE IF NOT EXISTS {table} (row_id uuid NOT NULL, name text NOT NULL,"
        " count bigint NOT NULL, size integer, seen_at timestamptz NOT NULL,"
        " PRIMARY KEY (row_id))"
    )
    with pytest.raises(ValueError, match="not a column"):
        table_of(_Row, "things", key=("id",))
    assert column_type(float | None) == "double precision"
    with pytest.raises(TypeError):
        column_type(list[int])


def test_a_changed_table_changes_the_projections_fingerprint() -> None:
    from events.catalogue import Topic
    from projector.projection import Projection

    def projection(table: TableSpec, version: int = 1) -> Projection:
        return Projection("p", Topic.CAMERAS, (table,), {}, version)

    base = projection(table_of(_Row, "things", key=("row_id",)))
    assert base.fingerprint == projection(table_of(_Row, "things", key=("row_id",))).fingerprint
    assert base.fingerprint != projection(table_of(_Row, "things", key=("name",))).fingerprint
    indexed = table_of(
        _Row, "things", key=("row_id",), indexes=("CREATE INDEX i ON {table} (name)",)
    )
    assert base.fingerprint != projection(indexed).fingerprint
    assert base.fingerprint != projection(table_of(_Row, "things", key=("row_id",)), 2).fingerprint
