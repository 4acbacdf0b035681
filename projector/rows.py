"""Row operations: what a projection handler returns instead of writing SQL itself.

Handlers are pure: ``event -> list[RowOp]``. A batch of operations is folded per row key
(:func:`fold`) so the writer touches each row once per batch, with bulk statements.
Folding is exact: applying the folded operations gives the same rows as applying the
originals one by one (property-tested in tests/test_rows.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Value = Any
"""A column value as psycopg/duckdb adapt it (str, int, float, bool, datetime, UUID, None)."""


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A read-model table: its name, columns (in order), primary key and DDL."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    ddl: str
    indexes: tuple[str, ...] = ()
    """Statements run after the DDL, every start: indexes, and ``ADD COLUMN IF NOT EXISTS``
    for columns added after a table first shipped."""

    def key_of(self, row: Mapping[str, Value]) -> tuple[Value, ...]:
        return tuple(row[c] for c in self.key)


@dataclass(frozen=True, slots=True)
class Upsert:
    """Insert the row, or replace the row with the same key."""

    table: TableSpec
    row: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class Patch:
    """Set some columns of the row with this key, if it exists."""

    table: TableSpec
    key: tuple[Value, ...]
    values: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove the row with this key, if it exists."""

    table: TableSpec
    key: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class DeleteWhere:
    """Remove every row whose ``column`` equals ``value`` (e.g. a purged segment's
    detections). The column must be one no Patch ever changes."""

    table: TableSpec
    column: str
    value: Value


RowOp = Upsert | Patch | Delete | DeleteWhere


@dataclass(slots=True)
class FoldedOps:
    """One batch's net effect per table: rows to write, rows to patch, keys to delete.

    Deletes and sweeps (DeleteWhere) run first, then upserts, then patches; a key appears
    in at most one group, except that a key may be both deleted and then upserted (the
    row is replaced).
    """

    deletes: dict[str, dict[tuple[Value, ...], TableSpec]] = field(default_factory=dict)
    sweeps: dict[str, list[tuple[str, Value]]] = field(default_factory=dict)
    upserts: dict[str, dict[tuple[Value, ...], Mapping[str, Value]]] = field(default_factory=dict)
    patches: dict[str, dict[tuple[Value, ...], dict[str, Value]]] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)


def fold(ops: Iterable[RowOp]) -> FoldedOps:
    """Fold a sequence of operations into their net effect per row key."""
    out = FoldedOps()
    for op in ops:
        table = op.table
        out.tables.setdefault(table.name, table)
        upserts = out.upserts.setdefault(table.name, {})
        patches = out.patches.setdefault(table.name, {})
        deletes = out.deletes.setdefault(table.name, {})
        if isinstance(op, Upsert):
            key = table.key_of(op.row)
            patches.pop(key, None)
            upserts[key] = dict(op.row)
        elif isinstance(op, Patch):
            if op.key in upserts:
                upserts[op.key] = {**upserts[op.key], **op.values}
            elif op.key in deletes:
                continue  # patching a deleted row does nothing
            else:
                patches[op.key] = {**patches.get(op.key, {}), **op.values}
        elif isinstance(op, DeleteWhere):
            for key in [k for k, row in upserts.items() if row.get(op.column) == op.value]:
                del upserts[key]
                deletes[key] = table  # it may have replaced a stored row: that goes too
            out.sweeps.setdefault(table.name, []).append((op.column, op.value))
        else:
            upserts.pop(op.key, None)
            patches.pop(op.key, None)
            deletes[op.key] = table
    return out
