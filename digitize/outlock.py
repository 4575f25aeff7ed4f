"""One writer at a time on an output folder: a lock on OUT (`digitize.layout.LOCK_FILE`).

    with out_lock(out, "digitize process …"):            # process, export, qc, handoff
        ...
    with out_lock(out, "digitize verify", shared=True):  # verify: no writer while it reads

The lock is the kernel's (`flock`) on a small file in OUT, so it is released whenever its
process ends, however it ends: a `kill -9` never leaves OUT locked. The file also names the
holder (host, pid, process start time, command, since when), so a second writer is told at
once who holds OUT (`OutBusy`, exit 7), and a lock left by a process that died is recognised:
the next writer takes it over, removes what the dead holder's interrupted writes left
(`digitize.leftovers`), and `took_over` names it. If the file names a process that still runs on
this host although the kernel's lock was free (the lock file was deleted and made again, or
the file system does not lock), the lock is refused as well. The file is never deleted: that
would let two writers lock two different files.

The lock is re-entrant within one process (the command line and the library both take it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitize.errors import Busy
from digitize.journal import now_iso
from digitize.layout import OutLayout
from digitize.leftovers import sweep_out, sweep_work
from digitize.procid import ProcessId

log = logging.getLogger("digitize")


class OutBusy(Busy):
    """Another digitize command holds the output folder."""


@dataclass
class Holder:
    """What the lock file says about the process that holds (or last held) the lock."""

    process: ProcessId
    command: str
    since: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.process.to_dict(), "command": self.command, "since": self.since}

    @classmethod
    def from_text(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
        except ValueError:
            return None
        process = ProcessId.from_dict(data) if isinstance(data, dict) else None
        if process is None:
            return None
        return cls(process, str(data.get("command") or "digitize"), str(data.get("since") or "?"))

    def __str__(self) -> str:
        return f"`{self.command}` ({self.process}, since {self.since})"


@dataclass
class _Held:
    fd: int
    shared: bool
    depth: int
    took_over: Holder | None


_held: dict[Path, _Held] = {}


@contextlib.contextmanager
def out_lock(out: str | os.PathLike[str], command: str, *, shared: bool = False) -> Iterator[Holder | None]:
    """Hold OUT for `command`; yields the dead holder whose lock was taken over (None normally).

    OutBusy (exit 7) when another process holds it. `shared`: several readers, no writer.
    """
    path = OutLayout(Path(out)).lock_file.resolve()
    held = _held.get(path)
    if held is not None:
        if held.shared and not shared:
            raise RuntimeError(f"{path}: a shared lock cannot become exclusive")
        held.depth += 1
        try:
            yield None
        finally:
            held.depth -= 1
        return
    try:
        fd, took_over = _acquire(path, command, shared)
    except OSError as exc:
        if not shared or exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        yield None  # read-only storage: no writer can change it either
        return
    _held[path] = _Held(fd, shared, 1, took_over)
    try:
        if took_over is not None and not shared:
            _clean_after(path.parent)
        yield took_over
    finally:
        del _held[path]
        _release(fd, shared)


def _acquire(path: Path, command: str, shared: bool) -> tuple[int, Holder | None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as exc:
            holder = Holder.from_text(_read(fd))
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise OutBusy(_busy_message(path.parent, holder)) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the file was replaced while we waited for it: lock the new one
    previous = Holder.from_text(_read(fd))
    if previous is not None and previous.process.alive() and previous.process != ProcessId.current():
        os.close(fd)
        raise OutBusy(_busy_message(path.parent, previous) + " (the lock file was replaced while it held it)")
    if shared:
        return fd, previous
    if previous is not None:
        log.warning("%s: took over the lock of %s, which ended without releasing it", path.parent, previous)
    me = Holder(ProcessId.current(), command, now_iso())
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me.to_dict(), ensure_ascii=False).encode("utf-8"), 0)
    os.fsync(fd)
    return fd, previous


def _clean_after(out: Path) -> None:
    """The dead holder may have been killed in the middle of a write: remove what it left."""
    sweep_out(out)
    sweep_work(out)


def _release(fd: int, shared: bool) -> None:
    try:
        if not shared:
            os.ftruncate(fd, 0)  # released in order: nothing for the next holder to take over
    finally:
        os.close(fd)  # closing releases the lock


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _busy_message(out: Path, holder: Holder | None) -> str:
    who = (
        f"{holder} holds it"
        if holder is not None
        else "another digitize command holds it (`digitize verify` reading it?)"
    )
    return f"{out} is in use: {who}; nothing was done. Run this command again when it has finished."


def took_over(out: str | os.PathLike[str]) -> Holder | None:
    """The dead holder whose lock this process took over on OUT (None: released in order, or not held)."""
    held = _held.get(OutLayout(Path(out)).lock_file.resolve())
    return held.took_over if held else None


def writer_gone(out: str | os.PathLike[str]) -> bool:
    """Whether no living process writes to OUT: a run still recorded as running has then ended
    without a word (killed, power cut). False when it cannot be told (a holder on another host,
    a folder without a lock file). Reads only: `status` asks it without taking the lock."""
    try:
        text = OutLayout(Path(out)).lock_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    holder = Holder.from_text(text)
    return holder is None or holder.process.alive() is False


__all__ = ["Holder", "OutBusy", "out_lock", "took_over", "writer_gone"]
