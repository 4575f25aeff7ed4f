"""Fixity helpers shared by hand-off and verification.

- `Problem`: one changed, missing or extra file, or one broken journal event, named.
- `copy_verified`: copy a file while hashing it, and compare with what the journal recorded.
- `write_checksum_list` / `read_checksum_list`: "<sha256>  <path>" lines (GNU sha256sum format).
- `journal_digests`: the checksums the hash-chained journal events record, per file.
- `row_problems`: a document's table rows against the digest its commit event recorded.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from digitize.journal import Event, EventType, JournalSnapshot

CHUNK = 1 << 20


@dataclass(frozen=True)
class Problem:
    """Something that is not as recorded.

    kind: changed (content differs), missing, extra (present but not recorded), journal (the
    journal's tables disagree with its own event chain), chain (an event was edited, removed or
    re-ordered), structure (a required file or folder is absent or unreadable), count (件数 or
    字节数 do not add up).
    """

    kind: str
    path: str  # the file, or for chain problems the event's object
    detail: str = ""
    seq: int | None = None  # the journal event, for chain problems

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    def __str__(self) -> str:
        if self.seq is not None:
            return f"{self.kind}: event {self.seq} ({self.path}): {self.detail}"
        return f"{self.kind}: {self.path}" + (f": {self.detail}" if self.detail else "")


def copy_verified(source: Path, target: Path) -> tuple[str, int]:
    """Copy `source` to `target` (a new file) in one pass; return the SHA-256 and size of the bytes copied."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "xb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def write_bytes_new(target: Path, data: bytes) -> tuple[str, int]:
    """Write a new file and return its SHA-256 and size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return hashlib.sha256(data).hexdigest(), len(data)


def checksum_list_bytes(entries: Iterable[tuple[str, str]]) -> bytes:
    """ "<sha256>  <path>" lines, sorted by path, LF endings, UTF-8 without BOM (sha256sum -c reads it)."""
    items = sorted(entries)
    lines = [f"{digest}  {path}\n" for path, digest in items]
    for path, _ in items:
        if "\n" in path or "\\" in path:
            raise ValueError(f"file name {path!r} cannot be written to a checksum list")
    return "".join(lines).encode("utf-8")


def read_checksum_list(path: Path) -> tuple[dict[str, str], list[str]]:
    """Parse a "<hash>  <path>" list: ({path: hash}, [malformed lines])."""
    entries: dict[str, str] = {}
    bad: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep:
            digest, sep, name = line.partition(" *")  # binary-mode marker
        digest = digest.strip().lower()
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name:
            bad.append(f"line {number}: {line[:120]}")
            continue
        entries[name] = digest
    return entries, bad


def files_below(root: Path) -> list[str]:
    """Every regular file below `root`, as POSIX paths relative to it."""
    found = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            found.append(Path(dirpath, name).relative_to(root).as_posix())
    return sorted(found)


# --------------------------------------------------------------------------- the journal
def journal_digests(events: Iterable[Event]) -> dict[str, dict[str, str]]:
    """SHA-256 values recorded in the event chain, latest first wins, by kind of path.

    Returns {"batch": {batch-relative master path: sha256}, "out": {OUT-relative path: sha256}}.
    "message digest calculation" events name masters relative to the batch folder; "creation"
    events of PDF/A packaging name the PDF relative to OUT.
    """
    found: dict[str, dict[str, str]] = {"batch": {}, "out": {}}
    for event in events:
        file, digest = event.detail.get("file"), event.detail.get("sha256")
        if not file or not digest:
            continue
        if event.type == EventType.MESSAGE_DIGEST:
            found["batch"][file] = digest
        elif event.type == EventType.CREATION:
            found["out"][file] = digest
    return found


def row_problems(journal: JournalSnapshot, doc_key: str) -> list[Problem]:
    """A document's rows against the SHA-256 its last commit event recorded of them (an older
    journal records none: nothing to compare)."""
    vouching = next((e for e in reversed(journal.events_about(doc_key)) if "rows_sha256" in e.detail), None)
    if vouching is None or journal.row_digests.get(doc_key) == vouching.detail["rows_sha256"]:
        return []
    return [
        Problem(
            "journal",
            doc_key,
            f"its rows in the documents and pages tables are not the ones event {vouching.seq} recorded (edited afterwards)",
        )
    ]
