"""Failed sign-ins, shared by every server process (ARCHIVE/signin.sqlite).

After `MAX_FAILURES` failed attempts for one name from one address within `LOCKOUT_SECONDS`,
that pair is locked out until the oldest of them is older than that. The attempts are kept in
SQLite beside the index, not in memory, so that `digitize serve --workers N` locks a name out
after the same number of attempts as one process would, whichever process each attempt
reaches. Times are wall-clock seconds (the processes share no monotonic start).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

LOCKOUT_FILE = "signin.sqlite"
MAX_FAILURES = 5
LOCKOUT_SECONDS = 600


class SignInFailures:
    """Failed sign-in attempts per (name, address); one connection per thread."""

    def __init__(self, archive: Path):
        self.path = archive / LOCKOUT_FILE
        self.local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self.local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS failures (name TEXT NOT NULL, remote TEXT NOT NULL, at REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS failures_of ON failures(name, remote, at)")
            self.local.db = db
        return db

    def locked_out(self, name: str, remote: str) -> bool:
        db = self._db()
        since = time.time() - LOCKOUT_SECONDS
        db.execute("DELETE FROM failures WHERE at < ?", (since,))
        (count,) = db.execute(
            "SELECT count(*) FROM failures WHERE name=? AND remote=? AND at >= ?", (name, remote, since)
        ).fetchone()
        return int(count) >= MAX_FAILURES

    def failed(self, name: str, remote: str) -> None:
        self._db().execute("INSERT INTO failures(name, remote, at) VALUES (?, ?, ?)", (name, remote, time.time()))
