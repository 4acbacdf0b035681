"""A byte stream sealed with a passphrase: scrypt derives the key, AES-GCM seals each
1 MiB chunk with its index and a last-chunk flag as associated data, so a chunk that is
changed, moved, dropped or cut off fails to open (a wrong passphrase fails at the first)."""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from events.errors import RoninError

MAGIC = b"RONIN-SEALED-1\n"
CHUNK = 1 << 20
_SALT, _NONCE = 16, 12


def _key(passphrase: str, salt: bytes) -> AESGCM:
    return AESGCM(Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode()))


def _aad(index: int, last: bool) -> bytes:
    return struct.pack(">Q?", index, last)


def is_sealed(head: bytes) -> bool:
    return head.startswith(MAGIC)


class SealedWriter:
    """A write-only file object: what is written goes to ``out`` sealed."""

    def __init__(self, out: BinaryIO, passphrase: str) -> None:
        salt = os.urandom(_SALT)
        self._out, self._aes = out, _key(passphrase, salt)
        self._buffer, self._index = bytearray(), 0
        out.write(MAGIC + salt)

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        self._emit(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _emit(self, chunk: bytes, last: bool) -> None:
        nonce = os.urandom(_NONCE)
        sealed = self._aes.encrypt(nonce, chunk, _aad(self._index, last))
        self._out.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        self._index += 1


class SealedReader:
    """A read-only file object over a sealed stream; raises :class:`RoninError` when the
    passphrase is wrong or the file was changed or cut short."""

    def __init__(self, source: BinaryIO, passphrase: str) -> None:
        head = source.read(len(MAGIC) + _SALT)
        if not is_sealed(head) or len(head) < len(MAGIC) + _SALT:
            raise RoninError("not a sealed Ronin backup")
        self._in, self._aes = source, _key(passphrase, head[len(MAGIC) :])
        self._plain, self._index, self._done = b"", 0, False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._plain) < size):
            self._plain += self._next_chunk()
        if size < 0:
            size = len(self._plain)
        out, self._plain = self._plain[:size], self._plain[size:]
        return out

    def _next_chunk(self) -> bytes:
        length = self._in.read(4)
        if len(length) < 4:
            raise RoninError("the backup is cut short (its last part is missing)")
        (size,) = struct.unpack(">I", length)
        nonce, sealed = self._in.read(_NONCE), self._in.read(size)
        for last in (False, True):
            try:
                plain = self._aes.decrypt(nonce, sealed, _aad(self._index, last))
            except InvalidTag:
                continue
            self._index += 1
            self._done = last
            return plain
        raise RoninError("wrong passphrase, or the backup was changed")
