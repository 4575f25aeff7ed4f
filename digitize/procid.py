"""Who a process is, so that what it leaves behind can be told apart from what is still in use.

A pid alone is not enough: pids are reused, and a folder may be shared by several machines.
`ProcessId` is host + boot + pid + the process's start time (clock ticks after boot, from
/proc), which names one process for good; `alive()` says whether it is still running (None
when it runs on another host, where this machine cannot look).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_TAG = re.compile(r"^(?P<host>[^~]+)~(?P<pid>\d+)~(?P<started>\d+)$")


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> int:
    """When the process started, in clock ticks after boot (0 where /proc cannot say)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (command name)"
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else 0


@dataclass(frozen=True)
class ProcessId:
    host: str
    pid: int
    started: int  # clock ticks after boot
    boot: str = ""

    @classmethod
    def current(cls) -> ProcessId:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _start_ticks(pid), _boot_id())

    def alive(self) -> bool | None:
        """Whether this process still runs: None when it ran on another host."""
        if self.host != socket.gethostname():
            return None
        if self.boot and self.boot != _boot_id():
            return False  # the machine has restarted since
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, under another user
        return not self.started or _start_ticks(self.pid) == self.started

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessId | None:
        try:
            return cls(str(data["host"]), int(data["pid"]), int(data.get("started") or 0), str(data.get("boot") or ""))
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def tag(self) -> str:
        """host~pid~started: for names of folders a process owns (`from_tag` reads it back)."""
        return f"{self.host.replace('~', '-')}~{self.pid}~{self.started}"

    @classmethod
    def from_tag(cls, tag: str) -> ProcessId | None:
        match = _TAG.match(tag)
        if not match:
            return None
        return cls(match["host"], int(match["pid"]), int(match["started"]))

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"
