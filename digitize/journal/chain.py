"""The hash chain of the journal's events: hashing, checking, and the journal's record of its end.

Each event's hash covers the previous event's hash, so an edited, removed or inserted event
breaks the chain from there on. Removing events from the end leaves an intact but shorter
chain: that is found because the journal records its last event's hash and the number of
events (meta ``chain_head`` / ``chain_events``) in the same transaction as the event, and
each finished run records where the chain stood. `rows_digest` is how an event vouches for a
document's table rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from digitize.journal.records import Chain, ChainProblem, Run

GENESIS = "0" * 64
HEAD_KEY = "chain_head"  # meta: hash of the last event, written in the event's own transaction
EVENTS_KEY = "chain_events"  # meta: number of events, likewise


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_hash(prev_hash: str, seq: int, ts: str, type_: str, obj: str, outcome: str, detail: str, agent: str) -> str:
    payload = dumps([prev_hash, seq, ts, type_, obj, outcome, detail, agent])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_chain(rows: Iterable[Any], meta: dict[str, str] | None = None, runs: Iterable[Run] = ()) -> Chain:
    """Recompute every event hash (rows in seq order, detail as stored); report each broken link.

    With the journal's `meta`, the chain must also end where the journal recorded its head
    (deleting events from the end is found); every finished run's recorded head must be in it.
    """
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    hashes: dict[int, str] = {}
    for row in rows:
        count += 1
        if row["seq"] != expected_seq:
            problems.append(ChainProblem(row["seq"], row["object"], f"event {expected_seq} is missing"))
        if row["prev_hash"] != prev:
            problems.append(ChainProblem(row["seq"], row["object"], "does not follow the previous event's hash"))
        stored = (row["ts"], row["type"], row["object"], row["outcome"], row["detail"], row["agent"])
        if event_hash(row["prev_hash"], row["seq"], *stored) != row["hash"]:
            problems.append(ChainProblem(row["seq"], row["object"], "event content was changed after it was recorded"))
        prev = row["hash"]
        hashes[row["seq"]] = row["hash"]
        expected_seq = row["seq"] + 1
    if meta is not None:
        problems += _head_problems(meta, prev, count, hashes, runs)
    return Chain(prev, count, tuple(problems), recorded=meta is not None and HEAD_KEY in meta)


def _head_problems(
    meta: dict[str, str], head: str, count: int, hashes: dict[int, str], runs: Iterable[Run]
) -> list[ChainProblem]:
    """The chain against the head the journal recorded with its last event, and against each run's summary."""
    problems = []
    version = int(meta.get("schema_version") or 1)
    recorded_head, recorded_count = meta.get(HEAD_KEY), meta.get(EVENTS_KEY)
    if recorded_head is None or recorded_count is None or not recorded_count.isdigit():
        if version >= 2:
            problems.append(ChainProblem(count, "journal", "the journal's record of its last event is missing"))
    elif int(recorded_count) != count or recorded_head != head:
        n = int(recorded_count)
        if n > count:
            reason = (
                f"the journal recorded {n} events, the chain ends at event {count}: events were removed from its end"
            )
        elif n < count:
            reason = f"the journal recorded {n} events, the chain has {count}: events were added outside digitize"
        else:
            reason = "the last event is not the one the journal recorded"
        problems.append(ChainProblem(n, "journal", reason))
    for run in runs:
        ended = run.summary.get("journal") if isinstance(run.summary, dict) else None
        if not isinstance(ended, dict) or not isinstance(ended.get("events"), int):
            continue
        n = ended["events"]
        if n and hashes.get(n) != ended.get("head"):
            problems.append(
                ChainProblem(n, "journal", f"run {run.id} ended at event {n}, which is no longer the event it recorded")
            )
    return problems


def rows_digest(document: dict[str, Any] | None, pages: Iterable[dict[str, Any]]) -> str:
    """SHA-256 of a document's row and its page rows as stored (column -> value), for its events."""

    def present(row: Mapping[str, Any]) -> dict[str, Any]:  # a column added later (NULL) changes nothing
        return {k: v for k, v in dict(row).items() if v is not None}

    payload = {"document": present(document) if document else None, "pages": [present(p) for p in pages]}
    return hashlib.sha256(dumps(payload).encode("utf-8")).hexdigest()
