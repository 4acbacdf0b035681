"""Backup and restore: the sealing (pure, with hypothesis), the re-sealing of secrets
(pure), and a whole backup of one install restored onto a new one, against the real
Redis and PostgreSQL."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from api.auth import Users
from events.archive import EventArchive, EventLog
from events.catalogue import CameraAdded, Topic
from events.codec import decode
from events.errors import RoninError
from events.store import ZERO, RedisEventStore, StreamId
from infra.backup import sealing
from infra.backup.backup_file import Stores, restore_backup, write_backup
from infra.backup.contents import Secrets, group_position, reencrypted
from ingest.camera_config.credentials import CredentialCipher, Credentials
from tests.conftest import Servers
from tests.factories import segment_closed

PASSPHRASE = "correct horse battery"


def _sealed(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
    out = io.BytesIO()
    writer = sealing.SealedWriter(out, passphrase)
    writer.write(data)
    writer.close()
    return out.getvalue()


def _opened(blob: bytes, passphrase: str = PASSPHRASE) -> bytes:
    return sealing.SealedReader(io.BytesIO(blob), passphrase).read()


@settings(max_examples=5, deadline=None)
@given(st.binary(max_size=3000), st.integers(0, 3))
def test_sealing_gives_back_what_was_sealed(data: bytes, whole_chunks: int) -> None:
    data = b"\x00" * (whole_chunks * sealing.CHUNK) + data
    blob = _sealed(data)
    assert sealing.is_sealed(blob) and (len(data) < 16 or data[-16:] not in blob)
    assert _opened(blob) == data


def test_a_wrong_passphrase_a_changed_byte_or_a_cut_fails_clearly() -> None:
    blob = _sealed(b"x" * (sealing.CHUNK + 10))
    with pytest.raises(RoninError, match="wrong passphrase"):
        _opened(blob, "another passphrase")
    changed = bytearray(blob)
    changed[len(sealing.MAGIC) + 40] ^= 1
    with pytest.raises(RoninError, match="wrong passphrase, or the backup was changed"):
        _opened(bytes(changed))
    first_chunk_end = len(sealing.MAGIC) + 16 + 4 + 12 + sealing.CHUNK + 16
    with pytest.raises(RoninError, match="cut short"):
        _opened(blob[:first_chunk_end])  # the last chunk is gone: not a shorter backup


def test_secrets_are_sealed_again_with_the_new_key_and_nothing_else_changes() -> None:
    old, new = Fernet(Fernet.generate_key()), Fernet(Fernet.generate_key())
    token = old.encrypt(b"admin:pw").decode()
    data = f'{{"name": "Door", "credentials_ciphertext": "{token}", "n": [{{"secret_ciphertext": "{token}"}}]}}'  # noqa: E501
    out = reencrypted(data, lambda t: new.encrypt(old.decrypt(t.encode())).decode())
    assert token not in out and '"name":"Door"' in out
    assert out.count("ciphertext") == 2
    assert reencrypted('{"name": "Door"}', lambda t: "x") == '{"name": "Door"}'


def test_a_group_resumes_before_what_it_had_not_acknowledged() -> None:
    assert group_position(StreamId(5, 3), None) == StreamId(5, 3)
    assert group_position(StreamId(9, 0), StreamId(7, 2)) == StreamId(7, 1)
    assert group_position(StreamId(9, 0), StreamId(7, 0)) == StreamId(6, 2**63 - 1)


@pytest.fixture
def new_install(servers: Servers) -> Iterator[Stores]:
    """A second, empty install: its own database and Redis database."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(servers.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE ronin_template')
    redis_url = f"{servers.redis_url}?db=3"
    redis.Redis.from_url(redis_url).flushdb()
    yield Stores(redis_url, servers.database_url(name))
    with psycopg.connect(servers.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restored_onto_a_new_install_gives_the_same_log_users_and_cameras(
    servers: Servers,
    store: RedisEventStore,
    archive: EventArchive,
    database_url: str,
    new_install: Stores,
    tmp_path: Path,
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_credentials = CredentialCipher(old_key).encrypt(Credentials("admin", "cam pw"))
    camera = CameraAdded(camera_id=uuid.uuid4(), name="Door", directory="Door",
                         rtsp_url="rtsp://10.0.0.9/s",
                         credentials_ciphertext=sealed_credentials)  # fmt: skip
    store.append(camera)
    ids = [store.append(segment_closed(camera.camera_id, i)) for i in range(6)]
    archive.append(store.read_range(Topic.RECORDINGS, ZERO, 4))  # the archiver's share
    store.ensure_group(Topic.RECORDINGS, "detector", ZERO)
    store.read_group(Topic.RECORDINGS, "detector", "d1", 3, None)  # 3 handed out
    store.ack(Topic.RECORDINGS, "detector", ids[:2])  # 2 finished
    with psycopg.connect(database_url) as conn:
        Users(conn).add("alice", "alice password", "viewer", frozenset({camera.camera_id}))
        Users(conn).add("admin", "admin password")
        before_users = Users(conn).export_all()
    path = tmp_path / "ronin.backup"
    secrets = Secrets(encryption_key=old_key, vapid_private_pem="PEM")
    manifest = write_backup(Stores(servers.redis_url, database_url), secrets, path, PASSPHRASE)
    assert manifest.events == {**{t.value: 0 for t in Topic}, "cameras": 1, "recordings": 6}
    assert path.stat().st_mode & 0o777 == 0o600 and b"cam pw" not in path.read_bytes()

    restored, got = restore_backup(new_install, path, PASSPHRASE, new_key)
    assert restored.events["recordings"] == 6 and restored.users == 2 and got == secrets
    new_store = RedisEventStore.from_url(new_install.redis_url)
    with psycopg.connect(new_install.database_url) as conn:
        log = EventLog(new_store, EventArchive(conn))
        [recordings] = list(log.read_after(Topic.RECORDINGS, ZERO))
        assert [m.stream_id for m in recordings] == ids
        [[added]] = list(log.read_after(Topic.CAMERAS, ZERO))
        camera_back = decode(added.fields)
        assert isinstance(camera_back, CameraAdded)
        assert camera_back.credentials_ciphertext
        assert CredentialCipher(new_key).decrypt(camera_back.credentials_ciphertext) == (
            Credentials("admin", "cam pw")
        )
        after_users = Users(conn).export_all()
        assert [u.model_copy(update={"generation": 0}) for u in after_users] == [
            u.model_copy(update={"generation": 0}) for u in before_users
        ]
        assert all(
            a.generation == b.generation + 1 for a, b in zip(after_users, before_users, strict=True)
        )
        Users(conn).verify("alice", "alice password")
    # the detector resumes after what it finished: the third, handed out, comes again
    [group] = new_store.groups(Topic.RECORDINGS)
    assert group.name == "detector" and group.last_delivered == ids[1]
    again = new_store.read_group(Topic.RECORDINGS, "detector", "d2", 10, None)
    assert [m.stream_id for m in again] == ids[2:]
    assert new_store.append(segment_closed(camera.camera_id, 9)) > ids[-1]

    with pytest.raises(RoninError, match="already has events"):
        restore_backup(new_install, path, PASSPHRASE, new_key)


def test_an_unsealed_backup_restores_and_a_sealed_one_needs_its_passphrase(
    servers: Servers, store: RedisEventStore, database_url: str, new_install: Stores,
    tmp_path: Path,
) -> None:  # fmt: skip
    store.append(segment_closed(uuid.uuid4(), 1))
    key = Fernet.generate_key().decode()
    plain, sealed = tmp_path / "plain", tmp_path / "sealed"
    old = Stores(servers.redis_url, database_url)
    write_backup(old, Secrets(encryption_key=key), plain, None)
    write_backup(old, Secrets(encryption_key=key), sealed, PASSPHRASE)
    with pytest.raises(RoninError, match="give its passphrase"):
        restore_backup(new_install, sealed, None, key)
    with pytest.raises(RoninError, match="wrong passphrase"):
        restore_backup(new_install, sealed, "not it at all", key)
    restored, _ = restore_backup(new_install, plain, None, key)
    assert restored.events["recordings"] == 1
