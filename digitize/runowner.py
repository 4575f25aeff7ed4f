"""Who runs a `digitize process`: its owner (host, boot, process), and runs whose owner is gone.

A run is recorded as running when it starts. If its coordinator is killed (SIGKILL, the OOM
killer, a power cut) it cannot say it stopped; the next `process` on the same OUT reads the
owner recorded with the run and, when that process no longer exists (another boot, no such
pid, or a pid reused by a process that started later), records the run as interrupted.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def owner_key(run_id: int) -> str:
    """The journal meta key under which a run's owner is recorded."""
    return f"run.{run_id}.owner"


def _boot_id() -> str | None:
    try:
        return BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """When a process started (clock ticks since boot, /proc/<pid>/stat field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def current_owner() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "boot_id": _boot_id(), "pid": pid, "start": _start_ticks(pid)}


def owner_text(owner: dict[str, Any]) -> str:
    return json.dumps(owner, sort_keys=True)


def run_abandoned(owner_json: str | None) -> bool:
    """Whether a run recorded as running was left so by a process that is gone (its recorded owner)."""
    if not owner_json:
        return False  # recorded before owners were: cannot tell
    try:
        owner = json.loads(owner_json)
    except json.JSONDecodeError:
        return False
    return isinstance(owner, dict) and owner_gone(owner)


def owner_gone(owner: dict[str, Any]) -> bool:
    """Whether the process that owned a run is certainly gone (False when it cannot be told: another host)."""
    if owner.get("host") != socket.gethostname():
        return False
    boot = _boot_id()
    if boot is not None and owner.get("boot_id") not in (None, boot):
        return True
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    start = _start_ticks(pid)
    return start is None or (owner.get("start") is not None and start != owner.get("start"))
