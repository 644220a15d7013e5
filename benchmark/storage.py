"""Content hashing, atomic writes and the cache location: the pieces every cached artefact shares."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(value: Any) -> str:
    """Hash of a JSON-able value in canonical form (sorted keys, no whitespace)."""
    return sha256_bytes(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def umask_mode(mode: int) -> int:
    """`mode` less the process umask: what open() and mkdir() would give, where mkstemp and
    mkdtemp give 0600 and 0700 (which would hide results and the site from other users)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mode & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, umask_mode(0o666))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=1, sort_keys=False, ensure_ascii=False) + "\n").encode())


def publish_dir(tmp_dir: Path, final_dir: Path) -> None:
    """Move a fully written temporary folder into place; if another process won, keep theirs."""
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp_dir, final_dir)
    except OSError:
        if not final_dir.exists():
            raise
        shutil.rmtree(tmp_dir, ignore_errors=True)


def cache_dir() -> Path:
    """The user's cache folder for iqbench (IQBENCH_CACHE overrides); never inside the package."""
    if env := os.environ.get("IQBENCH_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "iqbench"
