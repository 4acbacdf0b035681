"""DuckDB analytics store for timeline and stats queries, and its published snapshot.

DuckDB lets one process write a database file. The ``analytics`` worker owns the live
file; every few seconds it publishes a consistent copy (``COPY FROM DATABASE`` into a
temporary file, fsync, atomic rename). The API opens only the published snapshot,
read-only, so it never waits on the writer's lock and never sees a half-applied batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from events.errors import ProjectionError, StoreUnavailable
from events.store import StreamId
from projector.projection import Projection, SinkBatch
from projector.rows import FoldedOps

T = TypeVar("T")


def _ident(*parts: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


class DuckDBBatch:
    """Writes inside one open DuckDB transaction (see :class:`SinkBatch`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, schema: str, position: StreamId | None):
        self._con, self._schema, self._position = con, schema, position

    @property
    def position(self) -> StreamId | None:
        return self._position

    def set_position(self, position: StreamId) -> None:
        self._con.execute(
            f"UPDATE {_ident(self._schema, '_position')} SET ms = ?, seq = ?",
            [position.ms, position.seq],
        )
        self._position = position

    def write(self, ops: FoldedOps) -> None:
        for name, table in ops.tables.items():
            target = _ident(self._schema, table.name)
            key_match = " AND ".join(f"{_ident(c)} = ?" for c in table.key)
            deletes = list(ops.deletes.get(name, {}))
            if deletes:
                self._con.executemany(f"DELETE FROM {target} WHERE {key_match}", deletes)
            for column, value in ops.sweeps.get(name, []):
                self._con.execute(f"DELETE FROM {target} WHERE {_ident(column)} = ?", [value])
            rows = list(ops.upserts.get(name, {}).values())
            if rows:
                columns = ", ".join(_ident(c) for c in table.columns)
                marks = ", ".join("?" for _ in table.columns)
                self._con.executemany(
                    f"INSERT OR REPLACE INTO {target} ({columns}) VALUES ({marks})",
                    [[row[c] for c in table.columns] for row in rows],
                )
            for key, values in ops.patches.get(name, {}).items():
                sets = ", ".join(f"{_ident(c)} = ?" for c in values)
                self._con.execute(
                    f"UPDATE {target} SET {sets} WHERE {key_match}", [*values.values(), *key]
                )


class DuckDBReadModels:
    """:class:`~projector.projection.ReadModelSink` on a DuckDB file (single writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as e:
            raise StoreUnavailable(f"DuckDB file {path} is locked or unreadable: {e}") from e

    def close(self) -> None:
        self._con.close()

    def _fingerprint(self, schema: str) -> str | None:
        """As :meth:`PostgresReadModels._fingerprint`: None without the schema, "" when it
        predates fingerprints."""
        found = self._con.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", [schema]
        ).fetchone()
        if not found or not found[0]:
            return None
        column = self._con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = ?"
            " AND table_name = '_position' AND column_name = 'fingerprint'",
            [schema],
        ).fetchone()
        if not column or not column[0]:
            return ""
        row = self._con.execute(f"SELECT fingerprint FROM {_ident(schema, '_position')}").fetchone()
        return str(row[0]) if row and row[0] else ""

    def ensure(self, projection: Projection, schema: str | None = None) -> None:
        name = schema or projection.name
        if self._fingerprint(name) is not None:
            return
        con = self._con
        with self._transaction():
            con.execute(f"CREATE SCHEMA {_ident(name)}")
            con.execute(
                f"CREATE TABLE {_ident(name, '_position')}"
                " (ms BIGINT, seq BIGINT, fingerprint VARCHAR NOT NULL)"
            )
            con.execute(
                f"INSERT INTO {_ident(name, '_position')} VALUES (NULL, NULL, ?)",
                [projection.fingerprint],
            )
            for table in projection.tables:  # no indexes: DuckDB scans columns fast
                con.execute(table.ddl.format(table=_ident(name, table.name)))

    def is_current(self, projection: Projection, schema: str | None = None) -> bool:
        return self._fingerprint(schema or projection.name) == projection.fingerprint

    def position(self, projection: Projection, schema: str | None = None) -> StreamId | None:
        row = self._con.execute(
            f"SELECT ms, seq FROM {_ident(schema or projection.name, '_position')}"
        ).fetchone()
        return None if row is None or row[0] is None else StreamId(row[0], row[1])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Commit on success; roll back on any error (a DuckDB one becomes ProjectionError)."""
        self._con.begin()
        try:
            yield
        except duckdb.Error as e:
            self._con.rollback()
            raise ProjectionError(f"DuckDB rejected a write: {e}") from e
        except BaseException:
            self._con.rollback()
            raise
        self._con.commit()

    @contextmanager
    def batch(self, projection: Projection, schema: str | None = None) -> Iterator[SinkBatch]:
        name = schema or projection.name
        position = self.position(projection, name)
        with self._transaction():
            yield DuckDBBatch(self._con, name, position)

    def drop(self, schema: str) -> None:
        self._con.execute(f"DROP SCHEMA IF EXISTS {_ident(schema)} CASCADE")

    def swap(
        self,
        projection: Projection,
        shadow: str,
        catch_up: Callable[[SinkBatch, StreamId | None], None],
    ) -> None:
        """Replace the live tables' rows and position with the rebuilt ``shadow``'s.

        DuckDB cannot move tables between schemas, so the live tables are made again as
        the shadow's (their definition may have changed) and the rows copied, in one
        transaction; this process is the file's only writer, so nothing runs meanwhile.
        """
        live = projection.name
        con = self._con
        with self._transaction():
            live_position = self.position(projection)
            shadow_batch = DuckDBBatch(con, shadow, self.position(projection, shadow))
            catch_up(shadow_batch, live_position)
            for table in projection.tables:  # made from the DDL: INSERT OR REPLACE needs its key
                source, target = _ident(shadow, table.name), _ident(live, table.name)
                con.execute(f"DROP TABLE IF EXISTS {target}")
                con.execute(table.ddl.format(table=target))
                con.execute(f"INSERT INTO {target} SELECT * FROM {source}")
            source, target = _ident(shadow, "_position"), _ident(live, "_position")
            con.execute(f"DROP TABLE IF EXISTS {target}")
            con.execute(f"CREATE TABLE {target} AS SELECT * FROM {source}")
            con.execute(f"DROP SCHEMA {_ident(shadow)} CASCADE")

    def checksum(self, projection: Projection, schema: str | None = None) -> str:
        name = schema or projection.name
        parts = []
        for table in projection.tables:
            order = ", ".join(_ident(c) for c in table.key)
            row = self._con.execute(
                f"SELECT coalesce(md5(string_agg(r::VARCHAR, '|' ORDER BY {order})), '')"
                f" FROM {_ident(name, table.name)} r"
            ).fetchone()
            parts.append(f"{table.name}:{row[0] if row else ''}")
        return ";".join(parts)

    def publish_snapshot(self, target: Path) -> None:
        """Write a consistent read-only copy to ``target`` (atomic replace)."""
        tmp = target.with_name(target.name + ".tmp")
        tmp.unlink(missing_ok=True)
        self._con.execute(f"ATTACH '{tmp}' AS snapshot_out")
        try:
            self._con.execute(f"COPY FROM DATABASE {_ident(self._database())} TO snapshot_out")
        finally:
            self._con.execute("DETACH snapshot_out")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def _database(self) -> str:
        row = self._con.execute("SELECT current_database()").fetchone()
        return str(row[0]) if row else "memory"


def fetch(
    con: duckdb.DuckDBPyConnection, row: type[T], query: str, params: Sequence[object] = ()
) -> list[T]:
    """Analytics rows, each a ``row`` (a dataclass) filled by column name. Only a read
    model's own module calls it."""
    cursor = con.execute(query, list(params))
    names = [d[0] for d in cursor.description or ()]
    return [row(**dict(zip(names, values, strict=True))) for values in cursor.fetchall()]


@contextmanager
def open_snapshot(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the published analytics snapshot read-only (what the API uses)."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise StoreUnavailable(f"analytics snapshot {path} cannot be opened: {e}") from e
    try:
        yield con
    finally:
        con.close()
