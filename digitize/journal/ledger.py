"""Which files of OUT the journal's events vouch for: the file ledger.

Every command that writes a file into OUT says so in the event that records the step, with
three keys of the event's detail:

- ``"written"``: {OUT-relative path: {"sha256": …, "bytes": …}}, the files as written;
- ``"removed"``: [OUT-relative path, …], files it deleted;
- ``"replaced"``: an OUT-relative folder it replaced whole (a document processed again): what
  earlier events recorded inside it is gone.

`recorded_files` replays the events in order and returns what OUT should hold now; `digitize
verify` compares it with the disk. Because the events are hash-chained, an edit of the ledger is
an edit of the chain. Any writer (a new output format included) is covered by recording its
files this way; nothing in verify lists file kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from digitize.journal.records import Event

WRITTEN = "written"
REMOVED = "removed"
REPLACED = "replaced"


@dataclass(frozen=True)
class RecordedFile:
    sha256: str
    bytes: int | None
    seq: int  # the event that recorded it


def written(files: dict[str, tuple[str, int]]) -> dict[str, Any]:
    """The ledger part of an event's detail for files written: path -> (sha256, bytes)."""
    return {WRITTEN: {path: {"sha256": digest, "bytes": size} for path, (digest, size) in sorted(files.items())}}


def folder_written(folder: str, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ledger part of an event that replaced a folder whole: files are relative to it, {sha256, bytes}."""
    entries = {f"{folder}/{path}": (info["sha256"], info["bytes"]) for path, info in files.items()}
    return {REPLACED: folder, **written(entries)}


def recorded_files(events: Iterable[Event]) -> dict[str, RecordedFile]:
    """OUT-relative path -> the file as the last event that wrote it recorded it (events in order)."""
    files: dict[str, RecordedFile] = {}
    below: dict[str, set[str]] = {}  # folder -> paths written below it (some removed since: harmless)
    for event in events:
        detail = event.detail
        folder = detail.get(REPLACED)
        if isinstance(folder, str) and folder:
            for path in below.pop(folder.rstrip("/"), set()):
                files.pop(path, None)
        for path in detail.get(REMOVED) or []:
            files.pop(path, None)
        entries = detail.get(WRITTEN)
        if isinstance(entries, dict):
            for path, info in entries.items():
                if isinstance(info, dict) and isinstance(info.get("sha256"), str):
                    files[path] = RecordedFile(info["sha256"], info.get("bytes"), event.seq)
                    for parent in _folders_above(path):
                        below.setdefault(parent, set()).add(path)
    return files


def _folders_above(path: str) -> Iterator[str]:
    """ "a/b/c.pdf": "a/b", "a"."""
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        yield path


__all__ = ["REMOVED", "REPLACED", "WRITTEN", "RecordedFile", "folder_written", "recorded_files", "written"]
