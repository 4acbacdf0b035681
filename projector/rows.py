"""Row operations: what a projection handler returns instead of writing SQL itself.

Handlers are pure: ``event -> list[RowOp]``. A batch of operations is folded per row key
(:func:`fold`) so the writer touches each row once per batch, with bulk statements.
Folding is exact: applying the folded operations gives the same rows as applying the
originals one by one (property-tested in tests/test_rows.py).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints
from uuid import UUID

Value = Any
"""A column value as psycopg/duckdb adapt it (str, int, float, bool, datetime, UUID, None)."""

BigInt = Annotated[int, "bigint"]
"""An integer column that may pass 2**31 (bytes, frame numbers)."""

_SQL_TYPES: dict[object, str] = {
    UUID: "uuid",
    str: "text",
    int: "integer",
    float: "double precision",
    bool: "boolean",
    datetime: "timestamptz",
    date: "date",
}


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A read-model table: its name, columns (in order), primary key and DDL."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    ddl: str
    indexes: tuple[str, ...] = ()
    """``CREATE INDEX`` statements run after the DDL when the table is created. A table
    is never altered in place: a changed table is rebuilt by replay (see Projection)."""
    announce: str | None = None
    """A PostgreSQL channel told (``NOTIFY``, when the transaction commits) whenever the
    table's rows change, so that a reader listens instead of reading it again and again
    (:class:`projector.postgres.TableChanges`). DuckDB tables announce nothing."""

    @property
    def triggers(self) -> tuple[str, ...]:
        """PostgreSQL statements run after the indexes: the ``announce`` trigger (one
        notification per changing statement, whatever the number of rows)."""
        if self.announce is None:
            return ()
        function = f"{{schema}}.{self.name}_announce"
        return (
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN PERFORM pg_notify('{self.announce}', ''); RETURN NULL; END $$",
            f"CREATE TRIGGER {self.name}_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {{table}} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        )

    def key_of(self, row: Mapping[str, Value]) -> tuple[Value, ...]:
        return tuple(row[c] for c in self.key)


def table_of(
    row: type,
    name: str,
    key: tuple[str, ...],
    indexes: tuple[str, ...] = (),
    announce: str | None = None,
) -> TableSpec:
    """The table whose rows are ``row`` (a dataclass): its columns are the fields, in
    order, typed from the annotations (``X | None`` is nullable, :data:`BigInt` is
    bigint), so a read model declares its columns once and reads rows back by name."""
    hints = get_type_hints(row, include_extras=True)
    columns = tuple(f.name for f in dataclasses.fields(row))
    unknown = [k for k in key if k not in columns]
    if unknown:
        raise ValueError(f"{name}: key {unknown} is not a column of {row.__name__}")
    definitions = [f"{c} {column_type(hints[c])}" for c in columns]
    ddl = (
        "CREATE TABLE IF NOT EXISTS {table} ("
        + ", ".join([*definitions, f"PRIMARY KEY ({', '.join(key)})"])
        + ")"
    )
    return TableSpec(name, columns, key, ddl, indexes, announce)


def column_type(hint: object) -> str:
    """The SQL type (PostgreSQL and DuckDB both read it) of a field's annotation."""
    nullable = False
    if get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint):
        nullable = True
        hint = next(a for a in get_args(hint) if a is not type(None))
    if get_origin(hint) is Annotated:
        sql = str(hint.__metadata__[0])  # type: ignore[attr-defined]
    elif hint in _SQL_TYPES:
        sql = _SQL_TYPES[hint]
    else:
        raise TypeError(f"no SQL type for {hint!r}")
    return sql if nullable else f"{sql} NOT NULL"


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
