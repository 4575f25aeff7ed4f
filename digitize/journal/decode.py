"""Rows of the journal's tables as typed records (`digitize.journal.records`).

A row that cannot be read as its record (a state that is no word of ours, a page's outputs
without path and SHA-256) is damage: `JournalUnreadable`, exit 6, naming the row.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TypeVar

from digitize.errors import Damaged
from digitize.journal.records import DocumentRecord, DocumentState, Event, PageRecord, PageState, Run, RunStatus


class JournalUnreadable(Damaged):
    """The file is not a readable journal (not SQLite, damaged, or without the journal's tables)."""


_R = TypeVar("_R", DocumentRecord, PageRecord, Run)


def decode(record_type: type[_R], row: Any) -> _R:
    """A typed record from a row; the columns of dict and list fields hold JSON."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(record_type):
        if f.name.startswith("_") or f.name not in row.keys():
            continue
        value = row[f.name]
        if f.default_factory is not dataclasses.MISSING:  # a dict or list stored as JSON
            value = _json_value(value)
            if value is None:
                continue  # the field's default: {} or []
        values[f.name] = value
    try:
        if record_type is DocumentRecord:
            values["state"] = DocumentState(values["state"])
        elif record_type is PageRecord:
            values["state"] = PageState(values["state"])
            _check_outputs(values.get("outputs", {}))
        else:
            values["status"] = RunStatus(values["status"] or RunStatus.RUNNING)
        return record_type(**values)
    except (KeyError, TypeError, ValueError) as exc:
        key = ", ".join(str(row[k]) for k in ("doc_key", "page_no", "id") if k in row.keys())
        raise JournalUnreadable(f"journal row {key} cannot be read ({exc}): the journal is damaged") from None


def _check_outputs(outputs: Any) -> None:
    """A page's outputs: role -> {"path", "sha256", "bytes"}, as the pipeline records them."""
    if not isinstance(outputs, dict):
        raise ValueError("outputs are not a JSON object")
    for role, info in outputs.items():
        if not (isinstance(info, dict) and isinstance(info.get("path"), str) and isinstance(info.get("sha256"), str)):
            raise ValueError(f"output {role!r} has no path and SHA-256")


def _json_value(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def decode_event(row: Any) -> Event:
    detail = _json_value(row["detail"])
    return Event(
        seq=row["seq"],
        ts=row["ts"],
        type=row["type"],
        object=row["object"],
        outcome=row["outcome"],
        detail=detail if isinstance(detail, dict) else {"unreadable": row["detail"]},
        agent=row["agent"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
