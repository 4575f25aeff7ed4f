"""What interrupted runs leave behind, found and removed by the next run at the latest.

Every write is atomic (a temporary file renamed into place, a staged folder renamed into
`documents/`), so a kill never leaves a partial output in place, only debris beside it:

- `.<name>.<8 hex>.tmp` files of atomic writes (exports, QC files, staged pages);
- `.<name>.old-<8 hex>` folders of a document being replaced;
- `.work/<doc>` staging folders of documents already committed (a kill right after the
  commit), or of documents no longer in the batch;
- a process's private temporary folder (`private_tempdir`), with the `pymp-*` folders of its
  worker pools and the temporary files of Tesseract, once that process has ended;
- `.<DEST>.partial-*` folders of hand-offs (`digitize.handoff.staging.Staging` sweeps them).

`sweep_out` runs when a writer takes over the lock of a process that died (it walks OUT, so
only then); `sweep_work` whenever `process` starts (it reads only `.work`). Both run under
OUT's lock (`digitize.outlock`), so nothing they remove is in use.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.util
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from digitize.fsutil import OLD_DIR, TEMP_FILE
from digitize.journal import DocumentRecord, DocumentState, JournalReader
from digitize.layout import PAGE_FILES, OutLayout
from digitize.procid import ProcessId

log = logging.getLogger("digitize")
TEMP_PREFIX = "digitize-"
# Folders inside a document folder that only ever arrive whole, by the commit's rename.
_COMMITTED_WHOLE = {folder for folder, _ in PAGE_FILES.values()}


def is_debris(name: str) -> bool:
    """Whether a file or folder name is what an interrupted atomic write or commit leaves."""
    return bool(TEMP_FILE.fullmatch(name) or OLD_DIR.fullmatch(name))


def find_debris(out: Path) -> list[Path]:
    """Temporary files and replaced folders anywhere in OUT (`.work` is `sweep_work`'s)."""
    layout = OutLayout(out)
    found = []
    for root, dirs, files in os.walk(out):
        here = Path(root)
        if here == out:
            dirs[:] = [d for d in dirs if Path(out, d) != layout.work]
        elif here.parent == layout.documents:
            dirs[:] = [d for d in dirs if d not in _COMMITTED_WHOLE]
        for name in [*dirs, *files]:
            if is_debris(name):
                found.append(here / name)
        dirs[:] = [d for d in dirs if not is_debris(d)]
    return sorted(found)


def sweep_out(out: Path) -> list[str]:
    """Remove the debris of writes that a killed process left in OUT; returns what was removed."""
    removed = []
    for path in find_debris(out):
        _remove(path)
        removed.append(path.relative_to(out).as_posix())
    for rel in removed:
        log.warning("%s: removed %s, left by an interrupted run", out, rel)
    return removed


def stale_work(
    out: Path, documents: Iterable[DocumentRecord] | None, batch_keys: Iterable[str] | None = None
) -> list[Path]:
    """Staging folders no run will use: of documents already committed, not in the journal
    (its `documents`), or (when the batch is known) not in the batch any more."""
    work = OutLayout(out).work
    if not work.is_dir():
        return []
    states = {d.doc_key: d.state for d in documents or ()}
    keys = set(batch_keys) if batch_keys is not None else None
    stale = []
    for entry in sorted(work.iterdir()):
        key = entry.name
        if states.get(key) in (None, DocumentState.DONE) or (keys is not None and key not in keys):
            stale.append(entry)
    return stale


def sweep_work(out: Path, batch_keys: Iterable[str] | None = None) -> list[str]:
    """Remove the staging folders no run will use (see `stale_work`); returns what was removed.
    The journal's documents are read only when there is a staging folder to judge."""
    layout = OutLayout(out)
    if not layout.work.is_dir():
        return []
    documents = None
    if layout.journal.is_file():
        with JournalReader(layout.journal) as reader:
            documents = reader.documents()
    removed = []
    for path in stale_work(out, documents, batch_keys):
        _remove(path)
        removed.append(path.relative_to(out).as_posix())
        log.info("%s: removed %s (staging no run will use)", out, removed[-1])
    if not any(layout.work.iterdir()):
        layout.work.rmdir()
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def private_tempdir() -> Iterator[Path]:
    """A temporary folder of this process for everything temporary it and its children make.

    TMPDIR points into it (worker pools' `pymp-*` folders, Tesseract's files, Dask's scratch
    space); it is removed when the process exits, and the folders of processes that were
    killed before they could remove theirs are removed by the next one.
    """
    base = Path(tempfile.gettempdir())
    for folder in base.glob(f"{TEMP_PREFIX}*"):
        owner = ProcessId.from_tag(folder.name[len(TEMP_PREFIX) :])
        if owner is not None and owner.alive() is False:
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed %s, left by a process that was killed", folder)
    mine = base / f"{TEMP_PREFIX}{ProcessId.current().tag}"
    mine.mkdir(exist_ok=True)
    # Removed at exit, after multiprocessing has removed its own folders inside it (priority -100).
    multiprocessing.util.Finalize(
        None, shutil.rmtree, args=(str(mine),), kwargs={"ignore_errors": True}, exitpriority=-200
    )
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(mine)
    tempfile.tempdir = None  # read TMPDIR again
    try:
        yield mine
    finally:
        if before is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before
        tempfile.tempdir = None


__all__ = ["find_debris", "is_debris", "private_tempdir", "stale_work", "sweep_out", "sweep_work"]
