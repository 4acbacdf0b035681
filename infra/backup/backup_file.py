"""Writing and restoring a backup file (see the package's docstring for what it holds)."""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import orjson
import psycopg
from cryptography.fernet import Fernet

from api.auth import StoredUser, Users
from events.archive import EventArchive, EventLog
from events.catalogue import Topic
from events.errors import RoninError
from events.store import ZERO, Message, RedisEventStore, StreamId
from infra.backup.contents import (
    EventLine,
    GroupPosition,
    Manifest,
    Secrets,
    check_restorable,
    group_position,
    reencrypted,
)
from infra.backup.sealing import MAGIC, SealedReader, SealedWriter, is_sealed
from projector.migrations import applied_migrations, migrate, migration_files


@dataclass(frozen=True, slots=True)
class Stores:
    redis_url: str
    database_url: str


@dataclass(frozen=True, slots=True)
class Restored:
    events: dict[str, int]
    users: int


def write_backup(
    stores: Stores, secrets: Secrets, target: Path, passphrase: str | None
) -> Manifest:
    """Everything but footage and read models into ``target`` (written beside it, then
    renamed: a backup cut short never replaces a good one)."""
    store = RedisEventStore.from_url(stores.redis_url)
    partial = target.with_name(target.name + ".partial")
    with psycopg.connect(stores.database_url) as conn, tempfile.TemporaryDirectory() as tmp:
        # positions first: each group is then at or before the events read after it
        groups = [
            GroupPosition(topic=t.value, group=g.name,
                          position=str(group_position(g.last_delivered, g.oldest_pending)))
            for t in Topic for g in store.groups(t)
        ]  # fmt: skip
        log = EventLog(store, EventArchive(conn))
        counts = {t.value: _write_events(log, t, Path(tmp) / f"{t.value}.jsonl") for t in Topic}
        users = Users(conn).export_all()
        manifest = Manifest(made_at=datetime.now(UTC), migrations=applied_migrations(conn),
                            events=counts, users=len(users))  # fmt: skip
        with partial.open("wb") as out:
            sink: BinaryIO = out if passphrase is None else SealedWriter(out, passphrase)  # type: ignore[assignment]
            with tarfile.open(fileobj=sink, mode="w|gz") as tar:
                _add(tar, "manifest.json", manifest.model_dump_json().encode())
                _add(tar, "secrets.json", secrets.model_dump_json().encode())
                _add(tar, "groups.json", orjson.dumps([g.model_dump() for g in groups]))
                _add(tar, "users.jsonl", b"".join(u.model_dump_json().encode() + b"\n"
                                                  for u in users))  # fmt: skip
                for topic in Topic:
                    tar.add(Path(tmp) / f"{topic.value}.jsonl", f"events/{topic.value}.jsonl")
            if passphrase is not None:
                sink.close()
    partial.chmod(0o600)
    partial.replace(target)
    return manifest


def _write_events(log: EventLog, topic: Topic, path: Path) -> int:
    count = 0
    with path.open("wb") as out:
        for batch in log.read_after(topic, ZERO):
            for m in batch:
                fields = m.fields
                line = EventLine(id=str(m.stream_id), type=fields[b"type"].decode(),
                                 v=int(fields[b"v"]), data=fields[b"data"].decode())  # fmt: skip
                out.write(line.model_dump_json().encode() + b"\n")
                count += 1
    return count


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def restore_backup(
    stores: Stores, source: Path, passphrase: str | None, encryption_key: str
) -> tuple[Restored, Secrets]:
    """Onto a new install (no events yet): the events into the archive (secrets sealed
    again with ``encryption_key``), the unfinished tail and the groups into Redis, the
    accounts. Returns what came back, and the backup's secrets."""
    store = RedisEventStore.from_url(stores.redis_url)
    with source.open("rb") as raw, psycopg.connect(stores.database_url) as conn:
        migrate(conn)
        archive = EventArchive(conn)
        if any(archive.count(t) or store.length(t) for t in Topic):
            raise RoninError("this install already has events: restore onto a new install")
        opened: BinaryIO = _opened(raw, passphrase)
        with tarfile.open(fileobj=opened, mode="r|gz") as tar:
            members = _members(tar)
            manifest = Manifest.model_validate_json(next(members)[1].read())
            check_restorable(manifest, [name for name, _ in migration_files()])
            secrets = Secrets.model_validate_json(next(members)[1].read())
            groups = [
                GroupPosition.model_validate(g) for g in orjson.loads(next(members)[1].read())
            ]
            users = [
                StoredUser.model_validate_json(line) for line in next(members)[1] if line.strip()
            ]
            recrypt = _recrypt(secrets.encryption_key, encryption_key)
            counts: dict[str, int] = {}
            for name, content in members:
                topic = Topic(name.removeprefix("events/").removesuffix(".jsonl"))
                counts[topic.value] = _restore_topic(
                    store, archive, topic, content, groups, recrypt
                )
        Users(conn).replace_all(users)
    return Restored(counts, len(users)), secrets


def _opened(raw: BinaryIO, passphrase: str | None) -> BinaryIO:
    head = raw.read(len(MAGIC))
    raw.seek(0)
    if not is_sealed(head):
        return raw
    if passphrase is None:
        raise RoninError("the backup is sealed: give its passphrase")
    return SealedReader(raw, passphrase)  # type: ignore[return-value]


def _members(tar: tarfile.TarFile) -> Iterator[tuple[str, BinaryIO]]:
    for member in tar:
        content = tar.extractfile(member)
        if content is not None:
            yield member.name, content  # type: ignore[misc]


Recrypt = Callable[[str], str]


def _recrypt(old_key: str, new_key: str) -> Recrypt | None:
    if old_key == new_key:
        return None
    old, new = Fernet(old_key), Fernet(new_key)
    return lambda token: new.encrypt(old.decrypt(token.encode())).decode()


def _restore_topic(
    store: RedisEventStore,
    archive: EventArchive,
    topic: Topic,
    content: BinaryIO,
    groups: list[GroupPosition],
    recrypt: Recrypt | None,
) -> int:
    mine = [(g.group, StreamId.parse(g.position)) for g in groups if g.topic == topic.value]
    resume = min((p for _, p in mine), default=None)
    batch: list[Message] = []
    tail: list[Message] = []
    count, last = 0, ZERO
    for line in content:
        event = EventLine.model_validate_json(line)
        data = event.data if recrypt is None else reencrypted(event.data, recrypt)
        message = Message(topic, event.stream_id,
                          {b"type": event.type.encode(), b"v": str(event.v).encode(),
                           b"data": data.encode()})  # fmt: skip
        batch.append(message)
        if resume is not None and message.stream_id > resume:
            tail.append(message)
        count, last = count + 1, message.stream_id
        if len(batch) >= 5000:
            archive.append(batch)
            batch = []
    archive.append(batch)
    store.restore(topic, tail, mine, last)
    return count
