"""PostgreSQL read-model store: one schema per projection, a position row, bulk writes.

A batch is one transaction: it locks the projection's ``_position`` row, so the
projection's position and its rows always change together, and a rebuild (replay) can
take the same lock to swap its fresh schema in without losing a concurrent write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, LiteralString, TypeVar, cast

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from events.errors import ProjectionError, StoreUnavailable
from events.store import StreamId
from projector.projection import Projection, SinkBatch
from projector.rows import FoldedOps, TableSpec

T = TypeVar("T")
_RETRY_DIRECT_AFTER = 50


def translate_errors(fn: Callable[[], T]) -> T:
    """Run ``fn``; a lost connection is StoreUnavailable, bad data is ProjectionError."""
    try:
        return fn()
    except psycopg.OperationalError as e:
        raise StoreUnavailable(f"PostgreSQL is unreachable: {e}") from e
    except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as e:
        raise ProjectionError(f"PostgreSQL rejected a write: {e}") from e


class _Reconnecting:
    """Stands for a psycopg connection and opens a new one on first use after the old one
    was lost (the server restarted): a worker's adapter keeps its connection object and
    resumes by itself once PostgreSQL is back. A failed connect is StoreUnavailable."""

    def __init__(self, url: str, connect_timeout_s: int = 5) -> None:
        self._url, self._timeout = url, connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None

    def _current(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self._url, connect_timeout=self._timeout)
            except psycopg.OperationalError as e:
                raise StoreUnavailable(f"PostgreSQL is unreachable: {e}") from e
        return self._conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)


def reconnecting_connection(url: str) -> psycopg.Connection[Any]:
    """A connection for a long-running worker: reconnects after a server restart."""
    proxy = _Reconnecting(url)
    proxy._current()  # fail early (StoreUnavailable) when the server is down at start
    return cast("psycopg.Connection[Any]", proxy)


class TableChanges:
    """Whether a read-model table changed since the last call: the table announces its
    changes on a channel (``TableSpec.announce``) and this listens on a connection of its
    own, so a reader asks the server nothing until something changed.

    :meth:`changed` never waits. It is True on the first call and after any reconnect
    (what was announced meanwhile is lost), so a reader that reads the table whenever it
    is True misses no change; a lost connection is StoreUnavailable, and the next call
    connects again.
    """

    def __init__(self, url: str, channel: str, connect_timeout_s: int = 5) -> None:
        self._url, self._channel, self._timeout = url, channel, connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None

    def changed(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._listen()
                return True
            return len(list(self._conn.notifies(timeout=0))) > 0
        except psycopg.OperationalError as e:
            self.close()
            raise StoreUnavailable(f"PostgreSQL is unreachable: {e}") from e

    def _listen(self) -> None:
        self._conn = psycopg.connect(self._url, connect_timeout=self._timeout, autocommit=True)
        self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


def fetch(
    conn: psycopg.Connection,
    row: type[T],
    query: LiteralString,
    params: Sequence[object] | Mapping[str, object] = (),
) -> list[T]:
    """A read model's rows, each a ``row`` (a dataclass) filled by column name: none while
    the projector has not created the table yet; a lost connection is StoreUnavailable.
    Ends its transaction. Only a read model's own module calls it."""
    try:
        with conn.cursor(row_factory=class_row(row)) as cur:
            # planned for these values each time: read-model queries take optional
            # filters (``x = %s OR %s IS NULL``), which a generic prepared plan scans for
            rows = cur.execute(query, params, prepare=False).fetchall()
        conn.commit()
        return rows
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return []
    except psycopg.OperationalError as e:
        raise StoreUnavailable(f"PostgreSQL is unreachable: {e}") from e


class PostgresBatch:
    """Writes inside one open transaction on ``schema`` (see :class:`SinkBatch`)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        schema: str,
        position: StreamId | None,
        hints: dict[str, int] | None = None,
    ) -> None:
        self._conn, self._schema, self._position = conn, schema, position
        self._hints = {} if hints is None else hints  # table -> batches before direct COPY again

    @property
    def position(self) -> StreamId | None:
        return self._position

    def set_position(self, position: StreamId) -> None:
        self._conn.execute(
            sql.SQL("UPDATE {}._position SET ms = %s, seq = %s").format(
                sql.Identifier(self._schema)
            ),
            (position.ms, position.seq),
        )
        self._position = position

    def write(self, ops: FoldedOps) -> None:
        for name, table in ops.tables.items():
            target = sql.Identifier(self._schema, table.name)
            self._delete(table, target, list(ops.deletes.get(name, {})))
            for column, value in ops.sweeps.get(name, []):
                self._conn.execute(
                    sql.SQL("DELETE FROM {} WHERE {} = %s").format(target, sql.Identifier(column)),
                    (value,),
                )
            self._upsert(table, target, list(ops.upserts.get(name, {}).values()))
            for key, values in ops.patches.get(name, {}).items():
                self._patch(table, target, key, values)

    def _delete(
        self, table: TableSpec, target: sql.Identifier, keys: list[tuple[object, ...]]
    ) -> None:
        if not keys:
            return
        where = sql.SQL(" AND ").join(
            sql.SQL("{} = %s").format(sql.Identifier(c)) for c in table.key
        )
        with self._conn.cursor() as cur:
            cur.executemany(sql.SQL("DELETE FROM {} WHERE {}").format(target, where), keys)

    def _upsert(self, table: TableSpec, target: sql.Identifier, rows: list[object]) -> None:
        """COPY straight into the table when no key exists yet (the common case: new
        segments, new detections); on a duplicate key, stage and INSERT ... ON CONFLICT."""
        if not rows:
            return
        values = [[row[c] for c in table.columns] for row in rows]  # type: ignore[index]
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
        if self._hints.get(table.name, 0) <= 0:
            try:
                with self._conn.transaction():  # a savepoint: a duplicate undoes only this
                    self._copy(target, columns, values)
                return
            except psycopg.errors.UniqueViolation:
                self._hints[table.name] = _RETRY_DIRECT_AFTER
        self._hints[table.name] = self._hints.get(table.name, 0) - 1
        stage = sql.Identifier(f"_stage_{self._schema}_{table.name}")
        updates = [c for c in table.columns if c not in table.key]
        on_conflict = (
            sql.SQL("DO UPDATE SET ")
            + sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in updates
            )
            if updates
            else sql.SQL("DO NOTHING")
        )
        with self._conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS)"
                    " ON COMMIT DELETE ROWS"
                ).format(stage, target)
            )
            self._copy(stage, columns, values)
            cur.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) ").format(
                    target,
                    columns,
                    columns,
                    stage,
                    sql.SQL(", ").join(sql.Identifier(c) for c in table.key),
                )
                + on_conflict
            )
            cur.execute(sql.SQL("TRUNCATE {}").format(stage))

    def _copy(
        self, target: sql.Identifier, columns: sql.Composable, values: list[list[object]]
    ) -> None:
        with (
            self._conn.cursor() as cur,
            cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, columns)) as copy,
        ):
            for row in values:
                copy.write_row(row)

    def _patch(
        self,
        table: TableSpec,
        target: sql.Identifier,
        key: tuple[object, ...],
        values: dict[str, object],
    ) -> None:
        sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values)
        where = sql.SQL(" AND ").join(
            sql.SQL("{} = %s").format(sql.Identifier(c)) for c in table.key
        )
        self._conn.execute(
            sql.SQL("UPDATE {} SET {} WHERE {}").format(target, sets, where),
            [*values.values(), *key],
        )


class PostgresReadModels:
    """:class:`~projector.projection.ReadModelSink` on PostgreSQL."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._upsert_hints: dict[str, int] = {}

    @property
    def connection(self) -> psycopg.Connection:
        return self._conn

    def _fingerprint(self, schema: str) -> str | None:
        """The fingerprint ``schema`` was built with: None when there is no such schema,
        "" when it predates fingerprints."""
        exists = self._conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
        if exists is None:
            return None
        column = self._conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s"
            " AND table_name = '_position' AND column_name = 'fingerprint'",
            (schema,),
        ).fetchone()
        if column is None:
            return ""
        row = self._conn.execute(
            sql.SQL("SELECT fingerprint FROM {}._position").format(sql.Identifier(schema))
        ).fetchone()
        return str(row[0]) if row and row[0] else ""

    def ensure(self, projection: Projection, schema: str | None = None) -> None:
        name = schema or projection.name

        def run() -> None:
            with self._conn.transaction():
                # processes starting together: one creates, the others find it made
                self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
                if self._fingerprint(name) is not None:
                    return
                self._conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
                self._conn.execute(
                    sql.SQL(
                        "CREATE TABLE {}._position ("
                        " one boolean PRIMARY KEY DEFAULT true CHECK (one),"
                        " ms bigint, seq bigint, fingerprint text NOT NULL)"
                    ).format(sql.Identifier(name))
                )
                self._conn.execute(
                    sql.SQL("INSERT INTO {}._position (fingerprint) VALUES (%s)").format(
                        sql.Identifier(name)
                    ),
                    (projection.fingerprint,),
                )
                for table in projection.tables:
                    for statement in (table.ddl, *table.indexes, *table.triggers):
                        self._conn.execute(
                            sql.SQL(statement).format(
                                table=sql.Identifier(name, table.name),
                                schema=sql.Identifier(name),
                            )
                        )

        translate_errors(run)

    def is_current(self, projection: Projection, schema: str | None = None) -> bool:
        def run() -> bool:
            with self._conn.transaction():
                return self._fingerprint(schema or projection.name) == projection.fingerprint

        return translate_errors(run)

    def drop(self, schema: str) -> None:
        def run() -> None:
            with self._conn.transaction():
                self._conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )

        translate_errors(run)

    def position(self, projection: Projection, schema: str | None = None) -> StreamId | None:
        def run() -> StreamId | None:
            with self._conn.transaction():
                return self._read_position(schema or projection.name, lock=False)

        return translate_errors(run)

    def _read_position(self, schema: str, lock: bool) -> StreamId | None:
        query = sql.SQL("SELECT ms, seq FROM {}._position" + (" FOR UPDATE" if lock else ""))
        row = self._conn.execute(query.format(sql.Identifier(schema))).fetchone()
        if row is None or row[0] is None:
            return None
        return StreamId(row[0], row[1])

    @contextmanager
    def batch(self, projection: Projection, schema: str | None = None) -> Iterator[SinkBatch]:
        name = schema or projection.name
        try:
            with self._conn.transaction():
                position = self._read_position(name, lock=True)
                yield PostgresBatch(self._conn, name, position, self._upsert_hints)
        except psycopg.OperationalError as e:
            raise StoreUnavailable(f"PostgreSQL is unreachable: {e}") from e
        except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as e:
            raise ProjectionError(f"PostgreSQL rejected a write: {e}") from e

    def swap(
        self,
        projection: Projection,
        shadow: str,
        catch_up: Callable[[SinkBatch, StreamId | None], None],
    ) -> None:
        """Swap the rebuilt ``shadow`` schema in for the live one, atomically.

        Locks the live position row (so the live projector pauses), lets ``catch_up``
        apply to the shadow whatever the live model has seen beyond it, then renames.
        """
        live = projection.name
        old = f"{live}__old"

        def run() -> None:
            with self._conn.transaction():
                live_position = self._read_position(live, lock=True)
                shadow_batch = PostgresBatch(
                    self._conn, shadow, self._read_position(shadow, lock=True)
                )
                catch_up(shadow_batch, live_position)
                self._conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(old))
                )
                self._conn.execute(
                    sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                        sql.Identifier(live), sql.Identifier(old)
                    )
                )
                self._conn.execute(
                    sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                        sql.Identifier(shadow), sql.Identifier(live)
                    )
                )
                self._conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(old)))

        translate_errors(run)

    def checksum(self, projection: Projection, schema: str | None = None) -> str:
        """md5 over every row of every table, in key order (equal models, equal sums)."""
        name = schema or projection.name
        parts = []
        for table in projection.tables:
            order = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
            query = sql.SQL(
                "SELECT coalesce(md5(string_agg(r::text, '|' ORDER BY {})), '') FROM"
                " (SELECT {} FROM {}) r"
            ).format(order, columns, sql.Identifier(name, table.name))
            row = translate_errors(lambda q=query: self._conn.execute(q).fetchone())  # type: ignore[misc]
            self._conn.commit()
            parts.append(f"{table.name}:{row[0] if row else ''}")
        return ";".join(parts)
