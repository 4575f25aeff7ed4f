"""The batch journal: one SQLite file in OUT, written only by the coordinating process.

It holds the state of every document and page (with checksums of masters and outputs,
metrics, timings and errors) and an append-only event log. Each event carries the SHA-256
of the previous event, so editing or deleting any event breaks the chain (`verify_chain`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
GENESIS = "0" * 64

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


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_hash(prev_hash: str, seq: int, ts: str, type_: str, obj: str, outcome: str, detail: str, agent: str) -> str:
    payload = _dumps([prev_hash, seq, ts, type_, obj, outcome, detail, agent])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    object: str
    reason: str


class Journal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---------------------------------------------------------------- meta and runs
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def start_run(self, **fields: Any) -> int:
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO runs(started, command, batch, catalog, settings, software, engine, jobs, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running')",
                (
                    now_iso(),
                    fields.get("command"),
                    fields.get("batch"),
                    fields.get("catalog"),
                    _dumps(fields.get("settings", {})),
                    fields.get("software"),
                    fields.get("engine"),
                    fields.get("jobs"),
                ),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET finished=?, status=?, summary=? WHERE id=?",
                (now_iso(), status, _dumps(summary), run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        return [_decode(dict(r)) for r in self.db.execute("SELECT * FROM runs ORDER BY id")]

    # ---------------------------------------------------------------- documents and pages
    def _upsert(self, table: str, keys: dict[str, Any], fields: dict[str, Any]) -> None:
        """Insert a row or update the given columns of the existing one (column names are ours)."""
        values = {k: (_dumps(v) if isinstance(v, (dict, list)) else v) for k, v in fields.items()}
        values["updated"] = now_iso()
        columns = [*keys, *values]
        updates = ", ".join(f"{k}=excluded.{k}" for k in values)
        with self.transaction():
            self.db.execute(
                f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
                f"ON CONFLICT({', '.join(keys)}) DO UPDATE SET {updates}",
                (*keys.values(), *values.values()),
            )

    def upsert_document(self, doc_key: str, **fields: Any) -> None:
        self._upsert("documents", {"doc_key": doc_key}, fields)

    def upsert_page(self, doc_key: str, page_no: int, **fields: Any) -> None:
        self._upsert("pages", {"doc_key": doc_key, "page_no": page_no}, fields)

    def delete_pages_after(self, doc_key: str, last_page_no: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM pages WHERE doc_key=? AND page_no>?", (doc_key, last_page_no))

    def document(self, doc_key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM documents WHERE doc_key=?", (doc_key,)).fetchone()
        return _decode(dict(row)) if row else None

    def documents(self) -> list[dict[str, Any]]:
        return [_decode(dict(r)) for r in self.db.execute("SELECT * FROM documents ORDER BY doc_key")]

    def page(self, doc_key: str, page_no: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM pages WHERE doc_key=? AND page_no=?", (doc_key, page_no)).fetchone()
        return _decode(dict(row)) if row else None

    def pages(self, doc_key: str | None = None) -> list[dict[str, Any]]:
        if doc_key is None:
            rows = self.db.execute("SELECT * FROM pages ORDER BY doc_key, page_no")
        else:
            rows = self.db.execute("SELECT * FROM pages WHERE doc_key=? ORDER BY page_no", (doc_key,))
        return [_decode(dict(r)) for r in rows]

    # ---------------------------------------------------------------- events
    def add_event(self, type_: str, obj: str, outcome: str, detail: dict[str, Any], agent: str) -> int:
        """Append an event to the hash chain and return its sequence number."""
        with self.transaction():
            last = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq = (last["seq"] + 1) if last else 1
            prev = last["hash"] if last else GENESIS
            ts = now_iso()
            detail_text = _dumps(detail)
            digest = event_hash(prev, seq, ts, type_, obj, outcome, detail_text, agent)
            self.db.execute(
                "INSERT INTO events(seq, ts, type, object, outcome, detail, agent, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, ts, type_, obj, outcome, detail_text, agent, prev, digest),
            )
            return seq

    def events(self, obj: str | None = None) -> list[dict[str, Any]]:
        if obj is None:
            rows = self.db.execute("SELECT * FROM events ORDER BY seq")
        else:
            rows = self.db.execute(
                "SELECT * FROM events WHERE object=? OR object LIKE ? ORDER BY seq", (obj, obj + "/%")
            )
        result = []
        for row in rows:
            item = dict(row)
            item["detail"] = json.loads(item["detail"])
            result.append(item)
        return result

    def verify_chain(self) -> list[ChainProblem]:
        """Recompute every event hash; report the first broken link and anything after it."""
        problems: list[ChainProblem] = []
        prev = GENESIS
        expected_seq = 1
        for row in self.db.execute("SELECT * FROM events ORDER BY seq"):
            if row["seq"] != expected_seq:
                problems.append(ChainProblem(row["seq"], row["object"], f"event {expected_seq} is missing"))
            if row["prev_hash"] != prev:
                problems.append(ChainProblem(row["seq"], row["object"], "does not follow the previous event's hash"))
            digest = event_hash(
                row["prev_hash"],
                row["seq"],
                row["ts"],
                row["type"],
                row["object"],
                row["outcome"],
                row["detail"],
                row["agent"],
            )
            if digest != row["hash"]:
                problems.append(
                    ChainProblem(row["seq"], row["object"], "event content was changed after it was recorded")
                )
            prev = row["hash"]
            expected_seq = row["seq"] + 1
        return problems

    def head_hash(self) -> str:
        row = self.db.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return row["hash"] if row else GENESIS


_JSON_COLUMNS = {"catalog", "warnings", "metrics", "staged", "outputs", "timings", "pdfa", "settings", "summary"}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_COLUMNS & row.keys():
        if isinstance(row[key], str):
            try:
                row[key] = json.loads(row[key])
            except json.JSONDecodeError:
                pass
    return row
