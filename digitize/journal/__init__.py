"""The batch journal: one SQLite file in OUT (`digitize.layout.JOURNAL`), the only place state is kept.

It holds the state of every document and page (checksums of masters and outputs, metrics,
timings, errors), the runs of `digitize process`, and an append-only event log. Each event
carries the SHA-256 of the previous one, so editing or deleting any event breaks the chain.

Reading never writes: `read_journal(OUT)` (or `JournalReader`) opens the file read-only
(SQLite ``mode=ro``; ``immutable=1`` for copies inside packages), creates no table and takes
no write lock, and returns typed records. Writing goes through `Journal`, which creates the
schema: `process` writes documents, pages and runs; every command that records something
(`process`, `qc`, `handoff`, `verify`) appends events through `Journal.record_event`, whose
agent is always `AGENT`. This is the only module that opens a journal; the other SQLite file
of the project is the archive index, opened only by `digitize.search.index`.

The chain's end is recorded with every event, so removing events from its end is found
(`digitize.journal.chain`); events that write files into OUT list them with their SHA-256
(`digitize.journal.ledger`), so `digitize verify` knows every file OUT should hold.

While a writer is open the journal is in WAL mode (readers and the writer do not block each
other); the last writer to close turns it back into a single self-contained file.
"""

from digitize.journal.chain import GENESIS, event_hash, now_iso
from digitize.journal.records import (
    Chain,
    ChainProblem,
    DocumentRecord,
    DocumentState,
    Event,
    EventType,
    JournalSnapshot,
    Outcome,
    PageRecord,
    PageState,
    Run,
    RunStatus,
)
from digitize.journal.store import (
    AGENT,
    Journal,
    JournalNotWritable,
    JournalReader,
    JournalUnreadable,
    copy_journal,
    open_journal,
    read_journal,
    read_journal_copy,
)

__all__ = [
    "AGENT",
    "Chain",
    "ChainProblem",
    "DocumentRecord",
    "DocumentState",
    "Event",
    "EventType",
    "GENESIS",
    "Journal",
    "JournalNotWritable",
    "JournalReader",
    "JournalSnapshot",
    "JournalUnreadable",
    "Outcome",
    "PageRecord",
    "PageState",
    "Run",
    "RunStatus",
    "copy_journal",
    "event_hash",
    "now_iso",
    "open_journal",
    "read_journal",
    "read_journal_copy",
]
