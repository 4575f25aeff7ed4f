"""Real pages from ../shared/real-dev, read where they lie at test time (never copied here).

`real_page("0001/0001")` returns the decoded page of batch folder D001-WS·2024-Y-BGS-0001, slot
0001, as the loader reads it, with the set's truth record; the test is skipped, with the reason,
when the set is not beside the repository (or its worktree).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from digitize.batch import PageRef
from digitize.loader import LoadedPage, load_page
from digitize.settings import InputSettings

ROOT = Path(__file__).resolve().parent.parent
FOLDER_PREFIX = "D001-WS·2024-Y-BGS-"


def real_dev() -> Path:
    for parent in ROOT.parents:
        candidate = parent / "shared" / "real-dev"
        if (candidate / "truth" / "pages.json").is_file():
            return candidate
    pytest.skip("../shared/real-dev (real scans with their truth) is not beside the repository")


@lru_cache(maxsize=1)
def _truth(folder: str) -> dict[str, dict]:
    pages = json.loads((Path(folder) / "truth" / "pages.json").read_text(encoding="utf-8"))["pages"]
    return {page["page_id"]: page for page in pages}


def real_page(short_id: str) -> tuple[LoadedPage, dict]:
    """The page "FFFF/NNNN" (folder number, slot) as loaded, and its truth record."""
    folder = real_dev()
    number, slot = short_id.split("/")
    record = _truth(str(folder))[f"{FOLDER_PREFIX}{number}/{slot}"]
    path = folder / "batch" / record["file"]
    return load_page(PageRef(record["folder"], int(slot), str(path)), InputSettings()), record
