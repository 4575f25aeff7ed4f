"""Where the journal lives: on a disk local to the coordinator, never on a network file system.

SQLite's file locking, and its WAL mode in particular, is unreliable on network file systems
(sqlite.org/wal.html, "WAL does not work over a network filesystem"), so `process` refuses a
journal on NFS, CIFS/SMB, Lustre, CephFS, GlusterFS and the like, as /proc/self/mountinfo
names them. The safe cluster layout (docs/design.md): OUT on a disk of the coordinator's own
machine, exported to the workers (NFS); the workers write document folders into it, only the
coordinator opens the journal.
"""

from __future__ import annotations

import os
from pathlib import Path

from digitize.errors import BadInput

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "lustre",
        "ceph",
        "glusterfs",
        "gpfs",
        "beegfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.ceph-fuse",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.juicefs",
        "davfs",
        "fuse.davfs2",
    }
)
MOUNTINFO = Path("/proc/self/mountinfo")


class JournalOnNetwork(BadInput):
    """The journal's folder is on a network file system."""


def filesystem_type(path: str | os.PathLike[str]) -> str | None:
    """The type of the file system `path` is on (the longest mount point containing it), or None if unknown."""
    try:
        lines = MOUNTINFO.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # not Linux
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ")
        fs_type = line.split(" - ", 1)[1].split()[0]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fs_type
    return best_type


def require_local_journal(folder: str | os.PathLike[str]) -> None:
    """JournalOnNetwork (exit 2) when `folder` (where the journal is written) is on a network file system."""
    fs_type = filesystem_type(folder)
    if fs_type in NETWORK_FILESYSTEMS:
        raise JournalOnNetwork(
            f"{folder} is on a network file system ({fs_type}); the journal must be on a disk local to "
            "the machine that runs `digitize process`. Keep OUT on this machine's disk and share it with "
            "the workers from here (see docs/design.md, Cluster layout)."
        )
