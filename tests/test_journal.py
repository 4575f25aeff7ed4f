"""The journal's event hash chain notices any edit, deletion or insertion."""

from __future__ import annotations

import sqlite3

from digitize.journal import Journal


def _journal_with_events(path) -> Journal:
    journal = Journal(path)
    for index in range(5):
        journal.add_event(
            "message digest calculation", f"DOC/{index:04d}", "success", {"sha256": f"{index:064x}"}, "test"
        )
    return journal


def test_intact_chain(tmp_path):
    with _journal_with_events(tmp_path / "j.sqlite") as journal:
        assert journal.verify_chain() == []
        events = journal.events()
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        assert events[1]["prev_hash"] == events[0]["hash"]


def test_edited_event_is_found(tmp_path):
    path = tmp_path / "j.sqlite"
    _journal_with_events(path).close()
    db = sqlite3.connect(path)
    db.execute("""UPDATE events SET detail='{"sha256":"forged"}' WHERE seq=3""")
    db.commit()
    db.close()
    with Journal(path) as journal:
        problems = journal.verify_chain()
    assert [(p.seq, p.object) for p in problems] == [(3, "DOC/0002")]
    assert "changed" in problems[0].reason


def test_deleted_event_is_found(tmp_path):
    path = tmp_path / "j.sqlite"
    _journal_with_events(path).close()
    db = sqlite3.connect(path)
    db.execute("DELETE FROM events WHERE seq=2")
    db.commit()
    db.close()
    with Journal(path) as journal:
        problems = journal.verify_chain()
    assert problems and problems[0].seq == 3 and "missing" in problems[0].reason


def test_rehashed_edit_still_breaks_the_next_link(tmp_path):
    from digitize.journal import event_hash

    path = tmp_path / "j.sqlite"
    _journal_with_events(path).close()
    db = sqlite3.connect(path)
    row = db.execute("SELECT seq, ts, type, object, outcome, agent, prev_hash FROM events WHERE seq=2").fetchone()
    detail = '{"sha256":"forged"}'
    forged = event_hash(row[6], row[0], row[1], row[2], row[3], row[4], detail, row[5])
    db.execute("UPDATE events SET detail=?, hash=? WHERE seq=2", (detail, forged))
    db.commit()
    db.close()
    with Journal(path) as journal:
        problems = journal.verify_chain()
    assert [p.seq for p in problems] == [3]
