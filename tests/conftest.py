"""Shared test fixtures: the sample batch, its ground truth, and one run of `digitize process` over it.

Processing is the slow part of the suite, so each configuration of a batch is processed once
per session by a session-scoped fixture; a test that changes an output folder works on a copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from digitize.fsutil import sha256_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SCHEMAS = ROOT / "metadata" / "schemas"

BOTH_FORMATS = ("--format", "pdfa", "--format", "ofd")  # layout files: PDF/A and OFD (GB/T 33190)

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def sample_run(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample batch processed with its catalogue into PDF/A and OFD (masters hashed before and after)."""
    batch = samples_dir / "batch"
    before = {str(p): sha256_file(p) for p in batch.rglob("*") if p.is_file()}
    out = tmp_path_factory.mktemp("run") / "out"
    command = [
        "process",
        str(batch),
        "--catalog",
        str(batch / "catalog.csv"),
        "--out",
        str(out),
        "--json",
        *BOTH_FORMATS,
    ]
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "cli", *command, "--jobs", "2"], capture_output=True, text=True, env=os.environ.copy()
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout + result.stderr
    after = {str(p): sha256_file(p) for p in batch.rglob("*") if p.is_file()}
    return {
        "out": out,
        "summary": json.loads(result.stdout),
        "seconds": seconds,
        "before": before,
        "after": after,
        "batch": batch,
    }
