"""Shared test fixtures: the sample batch, its ground truth, and one run of `digitize process` over it.

Processing is the slow part of the suite, so each configuration of a batch is processed once
per session by a session-scoped fixture; a test that changes an output folder works on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from digitize.fsutil import sha256_file

ROOT = Path(__file__).resolve().parent.parent
# The archive the sample batches belong to ([archive]: the 来源 of their DA/T 46 records, which QC's 2-3 asks for).
QC_PROFILE = ROOT / "tests" / "data" / "qc" / "profile.toml"
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
    # exit 4: the sample batch has ERROR findings by design (a 150-dpi page, a missing page, a row without scans)
    assert result.returncode == 4, result.stdout + result.stderr
    after = {str(p): sha256_file(p) for p in batch.rglob("*") if p.is_file()}
    return {
        "out": out,
        "summary": json.loads(result.stdout),
        "seconds": seconds,
        "before": before,
        "after": after,
        "batch": batch,
    }


CLEAN_LOT = ("J022-SB·2019-D30-BGS-0002", "J022-SB·2019-D30-ZJ-0001")


@pytest.fixture(scope="session")
def clean_lot(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sample documents processed as a lot of their own (read at 300 dpi): their automated QC
    checks pass, so the inspectors' decisions decide the verdict. Copy it before changing it."""
    base = tmp_path_factory.mktemp("clean-lot")
    batch = base / "batch"
    for name in CLEAN_LOT:
        shutil.copytree(samples_dir / "batch" / name, batch / name)
    lines = (samples_dir / "batch" / "catalog.csv").read_text(encoding="utf-8-sig").splitlines()
    rows = [row for row in lines[1:] if row.split(",")[0] in CLEAN_LOT]
    (batch / "catalog.csv").write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    out = base / "out"
    command = ["process", str(batch), "--catalog", str(batch / "catalog.csv"), "--out", str(out), "--dpi", "300"]
    result = subprocess.run(
        [sys.executable, "-m", "cli", *command, "--jobs", "2", "--json"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def checked_archive(sample_out: Path, clean_out: Path, base: Path) -> dict[str, Path]:
    """Copies of the processed sample batch ("rest") and of the clean lot, the clean lot after a
    `qc` run without decisions, both indexed into base/archive: the clean lot is source 2 and
    holds its two documents (indexed from it last)."""
    from digitize.qc.data import QcRequest
    from digitize.qc.run import judge_recorded, prepare, write_outputs
    from digitize.search.build import update_archive
    from digitize.settings import Settings, load_settings

    clean, rest = base / "clean", base / "rest"
    shutil.copytree(clean_out, clean)
    shutil.copytree(sample_out, rest)
    outcome = prepare(QcRequest(clean, load_settings(QC_PROFILE), jobs=2, verify_masters=False))
    judge_recorded(outcome)
    write_outputs(outcome, thumbnails=False)
    archive = base / "archive"
    update_archive(archive, [rest, clean], Settings())
    return {"clean": clean, "rest": rest, "archive": archive}


def find_shared() -> Path | None:
    """The project's shared material (../shared beside the repository, as checked out here)."""
    for candidate in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if (candidate / "real-dev" / "truth" / "pages.json").is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def real_dev() -> Path:
    """The real development pages (../shared/real-dev), read in place; skipped when absent."""
    shared = find_shared()
    if shared is None:
        pytest.skip("../shared/real-dev (real pages with reference text) is not beside the repository")
    return shared / "real-dev"
