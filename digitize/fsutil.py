"""File-system helpers: checksums, durable atomic writes and directory commits."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

CHUNK = 1 << 20
# Names of what a write interrupted by a kill leaves behind (`digitize.leftovers` removes them).
TEMP_FILE = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")  # atomic_write_bytes: .<name>.<8 hex>.tmp
OLD_DIR = re.compile(r"\..+\.old-[0-9a-f]{8}")  # commit_directory: .<name>.old-<8 hex>


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_tree(path: str | os.PathLike[str]) -> None:
    """fsync every file and directory below `path` (before it is renamed into place)."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def commit_directory(staged: Path, final: Path) -> None:
    """Move a fully written directory into its final place in one rename.

    An existing `final` (from an earlier run being redone) is first renamed aside and removed
    only after the new directory is in place, so a crash leaves either the old or the new one.
    """
    fsync_tree(staged)
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
    os.rename(staged, final)
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
