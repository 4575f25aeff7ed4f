"""利用登记 (usage register): every document view and download, as a journal event.

The event goes into the journal of the OUT folder the document comes from, in its hash chain:
type "dissemination" (PREMIS: making an object available to a user), object the document's
journal key, detail 利用方式 (查看 / 下载), the page, the user (account, name, role,
clearance) and the client address. If the event cannot be written the document is not
shown: an unrecorded use is not allowed (`UsageNotRecorded`).

The web application keeps one journal writer per request thread and OUT folder open between
requests (`UsageJournals`): opening a journal (schema check, WAL switch) costs more than the
event itself. Each event is still its own committed transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from digitize.errors import DigitizeError
from digitize.journal import EventType, Journal, JournalReader, Outcome, open_journal
from digitize.layout import OutLayout
from digitize.web.users import User

EVENT_TYPE = EventType.DISSEMINATION
VIEW, DOWNLOAD = "查看", "下载"
log = logging.getLogger(__name__)


class UsageNotRecorded(DigitizeError):
    """The journal could not take the event."""


class UsageJournals:
    """Journal writers of the OUT folders, one per thread and folder, kept open between requests."""

    def __init__(self) -> None:
        self.local = threading.local()

    def record(self, source: str, doc_key: str, action: str, user: User, page: int | None, remote: str) -> int:
        """Append the event to the source's journal; returns its sequence number."""
        detail: dict[str, Any] = {
            "利用方式": action,
            "利用者": user.name,
            "姓名": user.display,
            "角色": user.role,
            "密级权限": user.clearance,
            "地址": remote,
        }
        if page is not None:
            detail["页"] = page
        if not source:
            raise UsageNotRecorded(f"{doc_key} has no OUT folder in the index, so no journal to record its use in")
        journals: dict[str, Journal] = self.local.__dict__.setdefault("journals", {})
        try:
            if source not in journals:
                journals[source] = open_journal(source)
            return journals[source].record_event(EVENT_TYPE, doc_key, Outcome.SUCCESS, detail)
        except (OSError, sqlite3.Error, DigitizeError) as exc:
            stale = journals.pop(source, None)
            if stale is not None:
                stale.db.close()  # opened afresh by the next request
            log.error("usage of %s not recorded in %s: %s", doc_key, source, exc)
            raise UsageNotRecorded(str(exc)) from exc


def usage_register(sources: list[str], limit: int = 500) -> list[dict[str, Any]]:
    """The latest uses across all sources, newest first."""
    rows: list[dict[str, Any]] = []
    for source in sources:
        path = OutLayout(Path(source)).journal
        if not path.is_file():
            continue
        with JournalReader(path) as journal:
            for event in journal.events_of_type(EVENT_TYPE, limit):
                rows.append({"ts": event.ts, "object": event.object, "detail": event.detail, "source": source})
    rows.sort(key=lambda e: e["ts"], reverse=True)
    return rows[:limit]
