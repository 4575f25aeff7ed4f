"""The journal: the event hash chain notices any edit, deletion or insertion; reading never writes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time

import pytest

from digitize.errors import ExitCode
from digitize.journal import (
    AGENT,
    DocumentState,
    EventType,
    Journal,
    JournalUnreadable,
    Outcome,
    PageState,
    RunStatus,
    read_journal,
)
from digitize.layout import JournalMissing


def _journal_with_events(path) -> Journal:
    journal = Journal(path)
    for index in range(5):
        journal.record_event(EventType.MESSAGE_DIGEST, f"DOC/{index:04d}", Outcome.SUCCESS, {"sha256": f"{index:064x}"})
    return journal


def test_intact_chain(tmp_path):
    _journal_with_events(tmp_path / "journal.sqlite").close()
    journal = read_journal(tmp_path)
    assert journal.chain.intact and journal.chain.events == 5
    assert [e.seq for e in journal.events] == [1, 2, 3, 4, 5]
    assert journal.events[1].prev_hash == journal.events[0].hash
    assert journal.chain.head == journal.events[-1].hash
    assert {e.agent for e in journal.events} == {AGENT}


def test_edited_event_is_found(tmp_path):
    _journal_with_events(tmp_path / "journal.sqlite").close()
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("""UPDATE events SET detail='{"sha256":"forged"}' WHERE seq=3""")
    db.commit()
    db.close()
    problems = read_journal(tmp_path).chain.problems
    assert [(p.seq, p.object) for p in problems] == [(3, "DOC/0002")]
    assert "changed" in problems[0].reason


def test_deleted_event_is_found(tmp_path):
    _journal_with_events(tmp_path / "journal.sqlite").close()
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("DELETE FROM events WHERE seq=2")
    db.commit()
    db.close()
    problems = read_journal(tmp_path).chain.problems
    assert problems and problems[0].seq == 3 and "missing" in problems[0].reason


def test_rehashed_edit_still_breaks_the_next_link(tmp_path):
    from digitize.journal import event_hash

    _journal_with_events(tmp_path / "journal.sqlite").close()
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    row = db.execute("SELECT seq, ts, type, object, outcome, agent, prev_hash FROM events WHERE seq=2").fetchone()
    detail = '{"sha256":"forged"}'
    forged = event_hash(row[6], row[0], row[1], row[2], row[3], row[4], detail, row[5])
    db.execute("UPDATE events SET detail=?, hash=? WHERE seq=2", (detail, forged))
    db.commit()
    db.close()
    assert [p.seq for p in read_journal(tmp_path).chain.problems] == [3]


def _old_hash(prev: str, seq: int, ts: str, type_: str, obj: str, outcome: str, detail: str, agent: str) -> str:
    """The chain's hash as the first journals computed it, written out independently of digitize."""
    payload = json.dumps([prev, seq, ts, type_, obj, outcome, detail, agent], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def test_a_journal_written_by_an_earlier_version_reads_and_verifies(tmp_path):
    """Tables, stored strings and the hash format of the first journals (WAL mode, agent with the OCR engine)."""
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL, finished TEXT, command TEXT,
            batch TEXT, catalog TEXT, settings TEXT, software TEXT, engine TEXT, jobs INTEGER, status TEXT, summary TEXT);
        CREATE TABLE documents (doc_key TEXT PRIMARY KEY, archival_code TEXT NOT NULL, title TEXT, source TEXT,
            catalog TEXT, state TEXT NOT NULL, n_pages INTEGER, output_dir TEXT, pdf_path TEXT, pdf_sha256 TEXT,
            pdf_bytes INTEGER, pdfa TEXT, error TEXT, warnings TEXT, settings_key TEXT, seconds REAL, run_id INTEGER,
            updated TEXT);
        CREATE TABLE pages (doc_key TEXT NOT NULL, page_no INTEGER NOT NULL, source_path TEXT, frame INTEGER,
            slot INTEGER, container TEXT, master_sha256 TEXT, master_bytes INTEGER, state TEXT NOT NULL,
            file_format TEXT, compression TEXT, dpi REAL, dpi_source TEXT, source_mode TEXT, output_mode TEXT,
            width INTEGER, height INTEGER, skew_deg REAL, orientation_deg INTEGER, is_blank INTEGER,
            needs_colour INTEGER, ocr_confidence REAL, ocr_status TEXT, metrics TEXT, staged TEXT, outputs TEXT,
            timings TEXT, error TEXT, warnings TEXT, settings_key TEXT, run_id INTEGER, updated TEXT,
            PRIMARY KEY (doc_key, page_no));
        CREATE TABLE events (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, type TEXT NOT NULL, object TEXT NOT NULL,
            outcome TEXT NOT NULL, detail TEXT NOT NULL, agent TEXT NOT NULL, prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL);
        """
    )
    db.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('batch', '/scans/2019')")
    db.execute(
        "INSERT INTO runs(started, finished, command, batch, catalog, settings, status, summary) "
        "VALUES ('2024-03-01T10:00:00+08:00', '2024-03-01T10:05:00+08:00', 'process', '/scans/2019', "
        "'/scans/2019/catalog.csv', '{}', 'ok', '{\"documents\":1}')"
    )
    db.execute(
        "INSERT INTO documents(doc_key, archival_code, title, catalog, state, pdfa, warnings) "
        """VALUES ('D1', 'J022-SB·2019-D30-ZJ-0001', '登记表', '{"题名":"登记表"}', 'done', '{"flavour":"2b"}', '[]')"""
    )
    db.execute("INSERT INTO pages(doc_key, page_no, state, is_blank, outputs) VALUES ('D1', 1, 'done', 0, '{}')")
    prev = "0" * 64
    agent = "digitize 0.1.0; tesseract 5.3.0 (tesserocr 2.7.0)"
    for seq, (type_, obj, detail) in enumerate(
        [("message digest calculation", "D1", '{"file":"D1/0001.tif","sha256":"ab"}'), ("creation", "D1/0001", "{}")],
        start=1,
    ):
        ts = f"2024-03-01T10:0{seq}:00+08:00"
        digest = _old_hash(prev, seq, ts, type_, obj, "success", detail, agent)
        db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, 'success', ?, ?, ?, ?)",
            (seq, ts, type_, obj, detail, agent, prev, digest),
        )
        prev = digest
    db.commit()
    db.close()

    journal = read_journal(tmp_path)
    assert journal.chain.intact and journal.chain.head == prev and journal.chain.events == 2
    assert journal.documents[0].state is DocumentState.DONE and journal.documents[0].catalog == {"题名": "登记表"}
    assert journal.pages[0].state is PageState.DONE and journal.last_run.catalog == "/scans/2019/catalog.csv"
    assert journal.events[0].detail["file"] == "D1/0001.tif" and journal.batch_dir.as_posix() == "/scans/2019"
    with Journal(tmp_path / "journal.sqlite") as writer:  # new events continue the old chain
        writer.record_event(EventType.FIXITY_CHECK, "D1", Outcome.SUCCESS, {})
    assert read_journal(tmp_path).chain.intact


def test_reading_creates_nothing_and_takes_no_write_lock(tmp_path):
    _journal_with_events(tmp_path / "journal.sqlite").close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.sqlite"]  # one self-contained file when idle
    writer = sqlite3.connect(tmp_path / "journal.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is in the middle of a write
    started = time.perf_counter()
    journal = read_journal(tmp_path)
    assert time.perf_counter() - started < 5 and journal.chain.events == 5
    writer.execute("ROLLBACK")
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.sqlite"]

    empty = tmp_path / "empty"
    empty.mkdir()
    sqlite3.connect(empty / "journal.sqlite").close()  # an SQLite file without the journal's tables
    with pytest.raises(JournalUnreadable, match="not a digitize journal"):
        read_journal(empty)
    db = sqlite3.connect(empty / "journal.sqlite")
    assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)  # nothing was created
    db.close()


def test_missing_journal_is_bad_input_damaged_journal_has_its_own_code(tmp_path):
    with pytest.raises(JournalMissing) as missing:
        read_journal(tmp_path)
    (tmp_path / "journal.sqlite").write_bytes(b"not a database " * 100)
    with pytest.raises(JournalUnreadable) as damaged:
        read_journal(tmp_path)
    assert missing.value.exit_code == ExitCode.USAGE
    assert damaged.value.exit_code == ExitCode.DAMAGED
    assert "journal.sqlite" in str(damaged.value)


def test_events_removed_from_the_end_are_found(tmp_path):
    journal = _journal_with_events(tmp_path / "journal.sqlite")
    run = journal.start_run(command="c", batch="b", catalog=None, settings={}, software="s", engine="e", jobs=1)
    journal.finish_run(run, RunStatus.OK, {})
    journal.record_event(EventType.FIXITY_CHECK, "DOC", Outcome.SUCCESS, {})
    journal.close()
    assert read_journal(tmp_path).chain.intact and read_journal(tmp_path).chain.recorded
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("DELETE FROM events WHERE seq >= 5")  # an intact, shorter chain
    db.commit()
    db.close()
    problems = read_journal(tmp_path).chain.problems
    assert [p.reason for p in problems] == [
        "the journal recorded 6 events, the chain ends at event 4: events were removed from its end",
        "run 1 ended at event 5, which is no longer the event it recorded",
    ]


def test_an_event_vouches_for_a_documents_rows(tmp_path):
    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.upsert_document("D", archival_code="A-1", state=DocumentState.DONE, title="题名")
        journal.upsert_page("D", 1, state=PageState.DONE, outputs={"text": {"path": "x", "sha256": "0" * 64}})
        journal.record_event(EventType.CREATION, "D", Outcome.SUCCESS, {"step": "PDF/A packaging"}, rows_of="D")
    snapshot = read_journal(tmp_path)
    assert snapshot.events[-1].detail["rows_sha256"] == snapshot.row_digests["D"]
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("UPDATE documents SET title='改过' WHERE doc_key='D'")
    db.commit()
    db.close()
    snapshot = read_journal(tmp_path)
    assert snapshot.events[-1].detail["rows_sha256"] != snapshot.row_digests["D"]


def test_a_run_left_running_is_marked_interrupted_by_the_next_one(tmp_path):
    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.start_run(command="c", batch="b", catalog=None, settings={}, software="s", engine="e", jobs=1)
    with Journal(tmp_path / "journal.sqlite") as journal:  # the first run's process died without a word
        journal.start_run(command="c", batch="b", catalog=None, settings={}, software="s", engine="e", jobs=1)
    assert [r.status for r in read_journal(tmp_path).runs] == [RunStatus.INTERRUPTED, RunStatus.RUNNING]


def test_a_full_disk_while_writing_the_journal_is_an_interruption(tmp_path):
    from digitize.errors import Interrupted

    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.db.execute("PRAGMA max_page_count = 3")  # SQLite's own limit: it says "database or disk is full"
        with pytest.raises(Interrupted, match="disk is full"):
            for n in range(200):
                journal.record_event(EventType.CREATION, f"D{n}", Outcome.SUCCESS, {"pad": "x" * 2000})


def test_a_journal_whose_writer_was_killed_mid_transaction_reads(tmp_path):
    """A writer killed in a transaction leaves a hot rollback journal, which a read-only connection may
    not roll back ("attempt to write a readonly database"): reading rolls it back first."""
    _journal_with_events(tmp_path / "journal.sqlite").close()
    script = (
        "import os, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('PRAGMA cache_size=1')\n"  # the change spills into the file before its commit
        "db.execute('BEGIN IMMEDIATE')\n"
        "db.executemany('INSERT INTO meta VALUES (?, ?)', [(str(i), 'x' * 3000) for i in range(300)])\n"
        "os._exit(0)\n"  # as kill -9 would: neither commit nor rollback
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "journal.sqlite")], check=True)
    assert (tmp_path / "journal.sqlite-journal").exists()
    journal = read_journal(tmp_path)
    assert journal.chain.events == 5 and journal.chain.intact and "299" not in journal.meta


def test_the_events_of_each_document_are_found_without_going_through_every_event_again(tmp_path):
    """verify, the hand-off and the exports ask for every document's events: one pass, not one per document."""
    from digitize.journal import Chain, Event, JournalSnapshot

    events = tuple(
        Event(i + 1, "", "modification", f"D{i // 10:05d}/{i % 10:04d}", "success", {}, "", "", "")
        for i in range(200_000)  # 20,000 documents of 10 pages
    )
    journal = JournalSnapshot(tmp_path, {}, (), (), (), events, Chain("", len(events)))
    started = time.perf_counter()
    found = [journal.events_about(f"D{d:05d}") for d in range(0, 20_000, 100)]
    assert time.perf_counter() - started < 1.0  # going through every event for each: 200 x 200,000 checks
    assert [len(events_of) for events_of in found] == [10] * 200
    assert journal.events_about("D00001")[0].object == "D00001/0000" and journal.events_about("D0000") == []


def test_the_file_ledger_of_many_documents_is_replayed_in_one_pass(tmp_path):
    """Each document's commit replaces its folder: that must not go through every file recorded so far."""
    from digitize.journal import Event
    from digitize.journal.ledger import folder_written, recorded_files

    def commit(seq: int, folder: str, files: int) -> Event:
        written = {f"ocr/{f:03d}.hocr": {"sha256": f"{seq:064x}", "bytes": f} for f in range(files)}
        return Event(seq, "", "creation", folder, "success", folder_written(folder, written), "", "", "")

    events = [commit(d + 1, f"documents/D{d:04d}", 60) for d in range(3000)]
    events.append(commit(3001, "documents/D0007", 2))  # processed again: its folder replaced whole
    events.append(
        Event(3002, "", "creation", "batch", "success", {"removed": ["documents/D0008/ocr/000.hocr"]}, "", "", "")
    )
    started = time.perf_counter()
    files = recorded_files(events)
    assert time.perf_counter() - started < 5  # a pass over every file so far for each commit: 3000 x 180,000 checks
    assert len(files) == 3000 * 60 - 58 - 1
    assert [p for p in files if p.startswith("documents/D0007/")] == [
        "documents/D0007/ocr/000.hocr",
        "documents/D0007/ocr/001.hocr",
    ]
    assert files["documents/D0007/ocr/001.hocr"].seq == 3001 and "documents/D0008/ocr/000.hocr" not in files
