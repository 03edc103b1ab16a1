"""The content-addressed file store: every version's bytes under DATA_DIR, named by their SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class FileStoreError(Exception):
    """A digest that is not SHA-256, or bytes missing or damaged on disk."""


class FileStore:
    """Bytes in, SHA-256 out; never a user-supplied name on disk. Writes are atomic and idempotent."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root) / "files"

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise FileStoreError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise FileStoreError(f"file {sha256} is missing from the store") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise FileStoreError(f"file {sha256} is damaged on disk (hash mismatch)")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()
