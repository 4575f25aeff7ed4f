"""The error tree: every error digitize raises on purpose is a `DigitizeError` carrying its exit code.

    DigitizeError            exit 1  the work could not be done (a package, a PDF/A, an export)
      BadInput               exit 2  an option, file or folder that cannot be used (the message names it)
      MissingSoftware        exit 3  the environment lacks something (Tesseract, a language pack, a library)
      ChecksFailed           exit 4  the work is done, but checks failed or refused it
      Interrupted            exit 5  the run stopped before its end (signal, lost workers, disk full, no memory);
                                     what was committed is kept: run the same command again to resume
      Damaged                exit 6  the journal is damaged or is not a digitize journal
      Busy                   exit 7  another digitize command is writing to the output folder; nothing was done

`as_interrupted` says which failures of the machine (disk full, no permission to write our own
files, no memory, an I/O error) stop a run as `Interrupted` rather than failing the input.

Each module derives its own errors from one of these (`digitize.batch.InputError` is a
`BadInput`, `digitize.ocr.tesseract.OcrError` a `MissingSoftware`, ...); the command line maps
them to exit codes in one place (`cli.main`). Exit codes are the README's table.

One rule for every command (`EXIT_RULE`): the first code that applies. Work that ran to its
end gets `outcome_code`: 1 when some of it failed, 4 when something needs attention (an ERROR
finding, a failed check, a lot not passed, a refusal, documents an export had to leave out),
else 0 -- so a command that printed an ERROR never exits 0. Warnings alone leave it at 0.
"""

from __future__ import annotations

import errno
import os
import re
from enum import IntEnum
from pathlib import Path
from typing import ClassVar


class ExitCode(IntEnum):
    OK = 0  # done; nothing needs attention
    FAILED = 1  # some documents failed (each named with its reason); all others were completed
    USAGE = 2  # usage error: bad option, missing file or folder, unreadable input
    ENVIRONMENT = 3  # the environment lacks something
    ATTENTION = 4  # work done, but checks failed (qc rejected the lot, verify found changes, handoff refused)
    INTERRUPTED = 5  # the run stopped before its end; committed work is kept, a rerun resumes
    DAMAGED = 6  # the journal is damaged or is not a digitize journal
    BUSY = 7  # another digitize command is writing to the output folder; nothing was done


EXIT_RULE = """\
Exit codes (the same rule for every command; the first that applies):
  2  usage error: bad option, missing file or folder, unreadable input
  3  the environment lacks something (Tesseract, a language pack, a library)
  7  another digitize command is writing to the output folder; nothing was done
  6  the journal is damaged or is not a digitize journal
  5  interrupted (signal, lost workers, disk full, no memory, OUT not writable): run the
     same command again to resume
  1  some documents failed (each named with its reason); all others were completed
  4  done, but something needs attention: an ERROR finding, a failed check, a QC lot
     not passed, a refusal, documents an export had to leave out (each named)
  0  done; nothing needs attention (warnings may have been printed)"""


def outcome_code(*, failed: bool = False, attention: bool = False) -> ExitCode:
    """The exit code of work that ran to its end: FAILED when some of it failed, ATTENTION when
    something needs attention, else OK."""
    if failed:
        return ExitCode.FAILED
    return ExitCode.ATTENTION if attention else ExitCode.OK


class DigitizeError(Exception):
    """An error digitize raises on purpose; its text says what and where."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILED


class BadInput(DigitizeError):
    """An option value, file or folder that cannot be used."""

    exit_code = ExitCode.USAGE


class MissingSoftware(DigitizeError):
    """The environment lacks a program, a language pack or a library."""

    exit_code = ExitCode.ENVIRONMENT


class ChecksFailed(DigitizeError):
    """The work was done, but checks failed or refused it."""

    exit_code = ExitCode.ATTENTION


class Interrupted(DigitizeError):
    """The run stopped before its end (signal, lost workers or scheduler, disk full, out of memory)."""

    exit_code = ExitCode.INTERRUPTED


class Damaged(DigitizeError):
    """The journal is damaged (SQLite integrity fails, rows unreadable) or is not a digitize journal."""

    exit_code = ExitCode.DAMAGED


class Busy(DigitizeError):
    """Another digitize command is writing to the output folder (or reading it to verify); nothing was done."""

    exit_code = ExitCode.BUSY


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_FILE_OBJECT = re.compile(r"<\S+ name='([^']*)'>")
_NOT_PERMITTED = {errno.EACCES, errno.EPERM, errno.EROFS}
_RESUME = "what was committed is kept; run the same command again to resume"


def as_interrupted(exc: BaseException, *ours: str | os.PathLike[str] | None) -> Interrupted | None:
    """An `Interrupted` for a failure of the machine, else None (the input's own failure, or a bug).

    Disk full, out of memory and I/O errors always count; "permission denied" or a read-only
    file system only for files below one of `ours` (the output folder, the temporary folder),
    since an unreadable master is a fault of that master, not of the run.
    """
    if isinstance(exc, Interrupted):
        return exc
    if isinstance(exc, MemoryError):
        return Interrupted(f"out of memory; run again with fewer --jobs ({_RESUME})")
    if not isinstance(exc, OSError) or exc.errno is None:
        return None
    name = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes, os.PathLike)) else ""
    name = _FILE_OBJECT.sub(r"\1", name)  # "<_io.BufferedWriter name='x.pdf'>": x.pdf
    where = f" ({name})" if name else ""  # reading or writing it
    if exc.errno in _DISK_FULL:
        return Interrupted(f"the disk is full{where}; free space, then run the same command again ({_RESUME})")
    if exc.errno == errno.ENOMEM:
        return Interrupted(f"out of memory{where}; run again with fewer --jobs ({_RESUME})")
    if exc.errno == errno.EIO:
        return Interrupted(f"the disk reported an I/O error{where}; check it, then run again ({_RESUME})")
    if exc.errno in _NOT_PERMITTED and exc.filename and any(r and _below(exc.filename, r) for r in ours):
        return Interrupted(f"{exc.strerror}{where}; check the folder's permissions, then run again ({_RESUME})")
    return None


def _below(path: str | bytes | os.PathLike, root: str | os.PathLike[str]) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(Path(root).resolve())
    except (OSError, ValueError):
        return False


__all__ = [
    "EXIT_RULE",
    "BadInput",
    "Busy",
    "ChecksFailed",
    "Damaged",
    "DigitizeError",
    "ExitCode",
    "Interrupted",
    "MissingSoftware",
    "as_interrupted",
    "outcome_code",
]
