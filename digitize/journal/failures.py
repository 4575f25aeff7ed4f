"""What an SQLite error means for a journal: the error of the tree that says so (and its exit code)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from digitize.errors import Busy, DigitizeError, Interrupted
from digitize.journal.decode import JournalUnreadable


class JournalNotWritable(Interrupted):
    """The journal cannot be written now (disk full, no permission, I/O error); nothing half-written is kept."""


class JournalLocked(Busy):
    """Another program holds SQLite's write lock on the journal."""


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < 1 << 20
    except OSError:
        return False


def failure(exc: sqlite3.Error, path: Path) -> DigitizeError:
    """The error of the tree that says what an SQLite error means for the journal at `path`."""
    text = str(exc)
    lowered = text.lower()
    if "disk is full" in lowered:
        return JournalNotWritable(f"{path}: the disk is full ({text}); free space and run the same command again")
    if "readonly" in lowered or "unable to open" in lowered:
        return JournalNotWritable(
            f"{path}: cannot be written ({text}); check the permissions of the file and its folder, then run the same command again"
        )
    if "disk i/o error" in lowered and _nearly_full(path):  # SQLite says so when its WAL cannot grow
        return JournalNotWritable(f"{path}: the disk is full ({text}); free space and run the same command again")
    if "disk i/o error" in lowered:
        return JournalNotWritable(f"{path}: the disk reported an I/O error ({text}); check the disk, then run again")
    if "locked" in lowered or "busy" in lowered:
        return JournalLocked(
            f"{path}: another program is writing to the journal ({text}); try again when it has finished"
        )
    return JournalUnreadable(
        f"{path}: the journal is damaged ({text}); restore it from a copy (a hand-off package holds one)"
    )


__all__ = ["JournalLocked", "JournalNotWritable", "failure"]
