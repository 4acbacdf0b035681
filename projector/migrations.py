"""PostgreSQL schema migrations: numbered SQL files in ``projector/migrations/``.

Pending files run once, in order, in one transaction, under an advisory lock so that
several processes starting together apply it once. Read-model schemas are not migrated
here: a projection creates its own tables, and a changed projection is rebuilt by replay.
"""

from __future__ import annotations

from importlib import resources

import psycopg

from events.errors import SchemaTooNew, StoreUnavailable

_LOCK_ID = 0x524F4E494E  # "RONIN"


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) for every migration, in order."""
    folder = resources.files("projector") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text()) for f in files]


def applied_migrations(conn: psycopg.Connection) -> list[str]:
    with conn.transaction():
        rows = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    return [r[0] for r in rows]


def refuse_newer_schema(applied: set[str], known: list[str]) -> None:
    """A database migrated by a newer Ronin would be misread (or damaged) by this one."""
    unknown = sorted(applied - set(known))
    if unknown:
        raise SchemaTooNew(
            f"the database was migrated by a newer Ronin ({', '.join(unknown)}); this"
            " version knows up to "
            f"{known[-1] if known else 'none'}. Run the newer version, or restore a backup"
            " made by this one."
        )


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    applied_now = []
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            files = migration_files()
            refuse_newer_schema(done, [name for name, _ in files])
            for name, statements in files:
                if name in done:
                    continue
                conn.execute(statements.encode())
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied_now.append(name)
    except psycopg.OperationalError as e:
        raise StoreUnavailable(f"PostgreSQL is unreachable: {e}") from e
    return applied_now
