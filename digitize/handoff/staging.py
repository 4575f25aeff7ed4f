"""A hand-off package's staging folder beside DEST: renamed into place whole, or removed.

Its name, `.DEST.partial-<host>~<pid>~<start>~<8 hex>`, says which process makes it, so that
the folders of hand-offs that were killed are removed by the next hand-off to DEST.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import uuid
from pathlib import Path

from digitize.fsutil import fsync_dir, fsync_tree
from digitize.handoff.collect import HandoffError
from digitize.procid import ProcessId

log = logging.getLogger("digitize")


class Staging:
    """A folder beside DEST that becomes DEST by one rename, or disappears.

    Its name, `.DEST.partial-<host>~<pid>~<start>~<8 hex>`, says which process makes it, so that
    the folders of hand-offs that were killed are removed by the next hand-off to DEST.
    """

    def __init__(self, dest: Path):
        self.dest = dest
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise HandoffError(f"{dest} already exists; choose a new destination")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.prefix = f".{dest.name}.partial-"
        self._sweep()
        self.path = dest.parent / f"{self.prefix}{ProcessId.current().tag}~{uuid.uuid4().hex[:8]}"
        self.path.mkdir()

    def _sweep(self) -> None:
        """Remove the staging folders of earlier hand-offs to DEST whose process has ended."""
        prefix = self.prefix
        for folder in self.dest.parent.glob(f"{glob.escape(prefix)}*"):
            tag = folder.name[len(prefix) :].rpartition("~")[0]
            owner = ProcessId.from_tag(tag)
            if owner is None or owner.alive() is False:  # no owner in the name: made before names said it
                shutil.rmtree(folder, ignore_errors=True)
                log.warning("removed %s, left by an interrupted hand-off", folder)

    def commit(self) -> None:
        fsync_tree(self.path)
        if self.dest.exists():
            self.dest.rmdir()  # an empty folder the user made; anything else was refused above
        os.rename(self.path, self.dest)
        fsync_dir(self.dest.parent)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
