"""The journal file: SQLite schema, read-only and writing connections, the hash chain, copies.

This is the only module that opens a journal (the archive index: `digitize.search.index`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from digitize import __version__
from digitize.journal.chain import (
    EVENTS_KEY,
    GENESIS,
    HEAD_KEY,
    check_chain,
    dumps,
    event_hash,
    now_iso,
    rows_digest,
)
from digitize.journal.decode import JournalUnreadable, decode, decode_event
from digitize.journal.failures import JournalNotWritable, failure
from digitize.journal.records import (
    Chain,
    DocumentRecord,
    Event,
    EventType,
    JournalSnapshot,
    Outcome,
    PageRecord,
    Run,
    RunStatus,
)
from digitize.layout import require_journal

SCHEMA_VERSION = 2  # 2: the chain's head and length kept in meta, updated with every event
AGENT = f"digitize {__version__}"  # the agent of every event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL, finished TEXT, command TEXT, batch TEXT, catalog TEXT,
    settings TEXT, software TEXT, engine TEXT, jobs INTEGER, status TEXT, summary TEXT
);
CREATE TABLE IF NOT EXISTS documents (
    doc_key TEXT PRIMARY KEY, archival_code TEXT NOT NULL, title TEXT, source TEXT,
    catalog TEXT, state TEXT NOT NULL, n_pages INTEGER, output_dir TEXT,
    pdf_path TEXT, pdf_sha256 TEXT, pdf_bytes INTEGER, pdfa TEXT,
    ofd_path TEXT, ofd_sha256 TEXT, ofd_bytes INTEGER, ofd TEXT,
    error TEXT, warnings TEXT, settings_key TEXT, seconds REAL, run_id INTEGER, updated TEXT
);
CREATE TABLE IF NOT EXISTS pages (
    doc_key TEXT NOT NULL, page_no INTEGER NOT NULL,
    source_path TEXT, frame INTEGER, slot INTEGER, container TEXT,
    master_sha256 TEXT, master_bytes INTEGER, state TEXT NOT NULL,
    file_format TEXT, compression TEXT, dpi REAL, dpi_source TEXT,
    source_mode TEXT, output_mode TEXT, width INTEGER, height INTEGER,
    skew_deg REAL, orientation_deg INTEGER, is_blank INTEGER, needs_colour INTEGER,
    ocr_confidence REAL, ocr_status TEXT, metrics TEXT, staged TEXT, outputs TEXT,
    timings TEXT, error TEXT, warnings TEXT, settings_key TEXT, run_id INTEGER, updated TEXT,
    PRIMARY KEY (doc_key, page_no)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, type TEXT NOT NULL, object TEXT NOT NULL,
    outcome TEXT NOT NULL, detail TEXT NOT NULL, agent TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
"""


_ADDED_DOCUMENT_COLUMNS = (("ofd_path", "TEXT"), ("ofd_sha256", "TEXT"), ("ofd_bytes", "INTEGER"), ("ofd", "TEXT"))


# ------------------------------------------------------------------------------ reading
class JournalReader:
    """Read-only access to a journal file: never creates a table or takes a write lock.

    `immutable` is for copies nothing writes to any more (inside a package): no locks, no
    files beside it.
    """

    def __init__(self, path: str | os.PathLike[str], *, immutable: bool = False):
        self.path = Path(path)
        uri = self.path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
        self.db = self._connect(uri, uri=True)
        try:
            self._check_tables()
        except JournalNotWritable:
            if immutable or not self._recover():
                raise
            self.db = self._connect(uri, uri=True)
            self._check_tables()

    def _recover(self) -> bool:
        """A writer killed in a transaction leaves a hot rollback journal (or write-ahead log) that a
        read-only connection may not undo ("attempt to write a readonly database"): a normal open
        undoes it, which changes nothing that was committed. False where that cannot be done either."""
        try:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            return False
        return True

    def _connect(self, target: str, uri: bool = False) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise failure(exc, self.path) from None
        db.row_factory = sqlite3.Row
        return db

    def _check_tables(self) -> None:
        try:
            names = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise failure(exc, self.path) from None
            raise JournalUnreadable(f"{self.path}: not a journal ({exc})") from None
        missing = {"meta", "runs", "documents", "pages", "events"} - names
        if missing:
            self.db.close()
            raise JournalUnreadable(f"{self.path}: not a digitize journal (no {', '.join(sorted(missing))} table)")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise failure(exc, self.path) from None

    def integrity_problems(self) -> list[str]:
        """What SQLite's own check (PRAGMA integrity_check) finds wrong with the file; [] when sound."""
        try:
            found = [str(row[0]) for row in self.db.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if found == ["ok"] else found

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0]["value"] if rows else None

    def runs(self) -> list[Run]:
        return [decode(Run, r) for r in self._rows("SELECT * FROM runs ORDER BY id")]

    def documents(self) -> list[DocumentRecord]:
        return [decode(DocumentRecord, r) for r in self._rows("SELECT * FROM documents ORDER BY doc_key")]

    def document(self, doc_key: str) -> DocumentRecord | None:
        rows = self._rows("SELECT * FROM documents WHERE doc_key=?", (doc_key,))
        return decode(DocumentRecord, rows[0]) if rows else None

    def pages(self, doc_key: str | None = None) -> list[PageRecord]:
        if doc_key is None:
            rows = self._rows("SELECT * FROM pages ORDER BY doc_key, page_no")
        else:
            rows = self._rows("SELECT * FROM pages WHERE doc_key=? ORDER BY page_no", (doc_key,))
        return [decode(PageRecord, r) for r in rows]

    def page(self, doc_key: str, page_no: int) -> PageRecord | None:
        rows = self._rows("SELECT * FROM pages WHERE doc_key=? AND page_no=?", (doc_key, page_no))
        return decode(PageRecord, rows[0]) if rows else None

    def events(self, obj: str | None = None) -> list[Event]:
        """Every event, or those of one object and everything below it (a document and its pages)."""
        if obj is None:
            return [decode_event(r) for r in self._rows("SELECT * FROM events ORDER BY seq")]
        rows = self._rows("SELECT * FROM events WHERE object=? OR object LIKE ? ORDER BY seq", (obj, obj + "/%"))
        return [decode_event(r) for r in rows]

    def events_of_type(self, type_: EventType, limit: int) -> list[Event]:
        """The latest `limit` events of one type, newest first."""
        rows = self._rows("SELECT * FROM events WHERE type=? ORDER BY seq DESC LIMIT ?", (type_, limit))
        return [decode_event(r) for r in rows]

    def mean_ocr_confidence(self) -> float | None:
        """The mean OCR confidence over every page that has one (computed by SQLite, not in memory)."""
        rows = self._rows("SELECT AVG(ocr_confidence) AS mean FROM pages WHERE ocr_confidence IS NOT NULL")
        return rows[0]["mean"] if rows else None

    def chain(self) -> Chain:
        with self._read_transaction():
            meta = {r["key"]: r["value"] for r in self._rows("SELECT key, value FROM meta")}
            return check_chain(self._rows("SELECT * FROM events ORDER BY seq"), meta, self.runs())

    def snapshot(self) -> JournalSnapshot:
        """Everything, read in one transaction (consistent even while `process` is writing)."""
        with self._read_transaction():
            meta = {r["key"]: r["value"] for r in self._rows("SELECT key, value FROM meta")}
            runs = self.runs()
            document_rows = self._rows("SELECT * FROM documents ORDER BY doc_key")
            page_rows = self._rows("SELECT * FROM pages ORDER BY doc_key, page_no")
            event_rows = self._rows("SELECT * FROM events ORDER BY seq")
        pages_by_doc: dict[str, list[dict[str, Any]]] = {}
        for row in page_rows:
            pages_by_doc.setdefault(row["doc_key"], []).append(dict(row))
        return JournalSnapshot(
            path=self.path,
            meta=meta,
            runs=tuple(runs),
            documents=tuple(decode(DocumentRecord, r) for r in document_rows),
            pages=tuple(decode(PageRecord, r) for r in page_rows),
            events=tuple(decode_event(r) for r in event_rows),
            chain=check_chain(event_rows, meta, runs),
            row_digests={r["doc_key"]: rows_digest(dict(r), pages_by_doc.get(r["doc_key"], [])) for r in document_rows},
        )

    @contextmanager
    def _read_transaction(self) -> Iterator[None]:
        if self.db.in_transaction:
            yield
            return
        try:
            self.db.execute("BEGIN")
        except sqlite3.Error as exc:
            raise failure(exc, self.path) from None
        try:
            yield
        finally:
            with suppress(sqlite3.Error):
                self.db.execute("COMMIT")


def read_journal(out: str | os.PathLike[str]) -> JournalSnapshot:
    """The journal of an OUT folder, read-only (JournalMissing when OUT has none)."""
    with JournalReader(require_journal(out).journal) as reader:
        return reader.snapshot()


def read_journal_copy(path: str | os.PathLike[str]) -> JournalSnapshot:
    """A journal copy inside a package, read without touching it."""
    with JournalReader(path, immutable=True) as reader:
        return reader.snapshot()


# ------------------------------------------------------------------------------ writing
class Journal(JournalReader):
    """The writer: creates the folder and schema if needed.

    Every write is its own short transaction, unless it happens inside `batch()`, which groups
    many writes into one (the coordinator records the manifests of finished documents so).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._in_batch = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = self._connect(str(self.path))
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
            self._add_missing_columns()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise failure(exc, self.path) from None
            raise JournalUnreadable(f"{self.path}: not a journal ({exc})") from None
        try:
            self._upgrade()
        except BaseException:
            self.db.close()
            raise

    def _add_missing_columns(self) -> None:
        """Columns added after a journal was created (the OFD columns of `documents`)."""
        present = {row["name"] for row in self.db.execute("PRAGMA table_info(documents)")}
        for column, kind in _ADDED_DOCUMENT_COLUMNS:
            if column not in present:
                self.db.execute(f"ALTER TABLE documents ADD COLUMN {column} {kind}")

    def _upgrade(self) -> None:
        """A new journal starts at the current schema; one of schema 1 gets its head recorded from now on."""
        with self._transaction():
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is not None and int(row["value"]) >= SCHEMA_VERSION:
                return
            last = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            self._set_head(last["hash"] if last else GENESIS, last["seq"] if last else 0)
            self.db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def _set_head(self, head: str, events: int) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", ((HEAD_KEY, head), (EVENTS_KEY, str(events)))
        )

    def close(self) -> None:
        try:  # back to one self-contained file, unless another connection still has it open
            self.db.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.OperationalError:
            pass
        self.db.close()

    def __enter__(self) -> Journal:
        return self

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; an SQLite error becomes the error of the tree that says what it means.

        Inside `batch()` a write is part of the batch's transaction (its errors end the batch)."""
        if self._in_batch:
            yield self.db
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise failure(exc, self.path) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            with suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise failure(exc, self.path) from None
            raise

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for every write inside: all of them are recorded, or none."""
        if self._in_batch:
            yield
            return
        with self._transaction():
            self._in_batch = True
            try:
                yield
            finally:
                self._in_batch = False

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def start_run(
        self,
        *,
        command: str,
        batch: str,
        catalog: str | None,
        settings: dict[str, Any],
        software: str,
        engine: str,
        jobs: int,
    ) -> int:
        """A new run. Its caller holds OUT's lock (`digitize.outlock`), so a run still marked running
        has ended without a word (its process was killed or lost): it is marked interrupted."""
        with self._transaction():
            self.db.execute(
                "UPDATE runs SET status=?, summary=? WHERE status=? OR status IS NULL",
                (
                    RunStatus.INTERRUPTED,
                    dumps({"interrupted": ENDED_UNSEEN}),
                    RunStatus.RUNNING,
                ),
            )
            cur = self.db.execute(
                "INSERT INTO runs(started, command, batch, catalog, settings, software, engine, jobs, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now_iso(), command, batch, catalog, dumps(settings), software, engine, jobs, RunStatus.RUNNING),
            )
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: RunStatus, summary: dict[str, Any]) -> None:
        """The run's end; its summary also records the chain's head at that moment (checked by `check_chain`)."""
        with self._transaction():
            last = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            ended = {"events": last["seq"], "head": last["hash"]} if last else {"events": 0, "head": GENESIS}
            self.db.execute(
                "UPDATE runs SET finished=?, status=?, summary=? WHERE id=?",
                (now_iso(), status, dumps({**summary, "journal": ended}), run_id),
            )

    def _upsert(self, table: str, keys: dict[str, Any], fields: dict[str, Any]) -> None:
        """Insert a row or update the given columns of the existing one (column names are ours)."""
        values = {k: (dumps(v) if isinstance(v, (dict, list)) else v) for k, v in fields.items()}
        values["updated"] = now_iso()
        columns = [*keys, *values]
        updates = ", ".join(f"{k}=excluded.{k}" for k in values)
        with self._transaction():
            self.db.execute(
                f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
                f"ON CONFLICT({', '.join(keys)}) DO UPDATE SET {updates}",
                (*keys.values(), *values.values()),
            )

    def upsert_document(self, doc_key: str, **fields: Any) -> None:
        """Columns of `DocumentRecord`; dicts and lists are stored as JSON."""
        self._upsert("documents", {"doc_key": doc_key}, fields)

    def upsert_page(self, doc_key: str, page_no: int, **fields: Any) -> None:
        """Columns of `PageRecord`; dicts and lists are stored as JSON."""
        self._upsert("pages", {"doc_key": doc_key, "page_no": page_no}, fields)

    def delete_pages_after(self, doc_key: str, last_page_no: int) -> None:
        with self._transaction():
            self.db.execute("DELETE FROM pages WHERE doc_key=? AND page_no>?", (doc_key, last_page_no))

    def record_event(
        self, type_: EventType, obj: str, outcome: Outcome, detail: dict[str, Any], *, rows_of: str | None = None
    ) -> int:
        """Append an event to the hash chain (agent: `AGENT`) and return its sequence number.

        The journal's record of its head (meta) moves in the same transaction. `rows_of` names a
        document whose row and page rows, as they are now, the event vouches for: their SHA-256
        goes into the detail as "rows_sha256" (`digitize verify` compares the tables with it).
        """
        with self._transaction():
            last = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq = (last["seq"] + 1) if last else 1
            prev = last["hash"] if last else GENESIS
            ts = now_iso()
            if rows_of is not None:
                document = self.db.execute("SELECT * FROM documents WHERE doc_key=?", (rows_of,)).fetchone()
                pages = self.db.execute("SELECT * FROM pages WHERE doc_key=? ORDER BY page_no", (rows_of,)).fetchall()
                detail = {**detail, "rows_sha256": rows_digest(dict(document) if document else None, pages)}
            detail_text = dumps(detail)
            digest = event_hash(prev, seq, ts, type_, obj, outcome, detail_text, AGENT)
            self.db.execute(
                "INSERT INTO events(seq, ts, type, object, outcome, detail, agent, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, ts, type_, obj, outcome, detail_text, AGENT, prev, digest),
            )
            self._set_head(digest, seq)
            return seq


# The summary of a run a later run found still marked running.
ENDED_UNSEEN = "the run ended without finishing (its process was killed or lost)"


def open_journal(out: str | os.PathLike[str]) -> Journal:
    """The writer of an OUT folder that has a journal already (JournalMissing otherwise)."""
    return Journal(require_journal(out).journal)


def copy_journal(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """A consistent copy of a live journal in one self-contained file (SQLite's backup API)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise FileExistsError(target)
    src = sqlite3.connect(Path(source).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # no -wal / -shm files beside the copy
        finally:
            dst.close()
    finally:
        src.close()
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
