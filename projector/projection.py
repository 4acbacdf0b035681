"""What a projection is: a topic, tables, and a pure handler ``event -> row operations``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from events.catalogue import Event, Topic
from events.store import StreamId
from projector.rows import FoldedOps, RowOp, TableSpec


@dataclass(frozen=True, slots=True)
class Projection:
    """A read model: the topic it follows, its tables, and one handler per event type.

    ``name`` is also the schema that holds its tables (PostgreSQL or DuckDB), so a
    rebuilt copy can live beside the live one and be swapped in by renaming schemas.
    Events of types with no handler are skipped (they still advance the position).

    A read model is derived data, so it is never migrated: its store records the
    :attr:`fingerprint` it was built with, and one built with another (a table changed,
    or ``version`` was raised because the handlers now write something else) is rebuilt
    by replay when its runner starts.
    """

    name: str
    topic: Topic
    tables: tuple[TableSpec, ...]
    handlers: Mapping[type[Event], Callable[[Event], Sequence[RowOp]]]
    version: int = 1
    """Raise it when the handlers change what they write for the same events."""

    @property
    def fingerprint(self) -> str:
        """Changes whenever the tables' definitions or ``version`` do."""
        parts = [str(self.version)]
        for table in self.tables:
            parts += [table.name, table.ddl, *table.indexes, *table.triggers]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def project(self, event: Event) -> Sequence[RowOp]:
        handler = self.handlers.get(type(event))
        return handler(event) if handler is not None else ()


class SinkBatch(Protocol):
    """One transaction on a read-model store, holding the projection's position row lock."""

    @property
    def position(self) -> StreamId | None: ...
    def write(self, ops: FoldedOps) -> None: ...
    def set_position(self, position: StreamId) -> None: ...


class ReadModelSink(Protocol):
    """A store that holds read models (contract-tested against PostgreSQL and DuckDB)."""

    def ensure(self, projection: Projection, schema: str | None = None) -> None:
        """Create the schema, its tables and position row if the schema is not there;
        an existing one is left as it is (rebuilt by replay when not current)."""

    def is_current(self, projection: Projection, schema: str | None = None) -> bool:
        """Whether the schema exists and was built with the projection's fingerprint."""

    def position(self, projection: Projection, schema: str | None = None) -> StreamId | None: ...
    def batch(
        self, projection: Projection, schema: str | None = None
    ) -> AbstractContextManager[SinkBatch]: ...
    def checksum(self, projection: Projection, schema: str | None = None) -> str: ...
    def drop(self, schema: str) -> None: ...
    def swap(
        self,
        projection: Projection,
        shadow: str,
        catch_up: Callable[[SinkBatch, StreamId | None], None],
    ) -> None: ...
