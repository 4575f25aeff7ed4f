"""安全性 (DA/T 70 items 4-x): a virus scanner, a virus scan of OUT, and no files nobody accounts for."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from digitize.layout import (
    JOURNAL_FILES,
    LOGS_DIR,
    QC_DIR,
    WORK_DIR,
    dat46_file,
    is_catalog_export,
)
from digitize.qc.data import QcData, journal_outputs
from digitize.qc.results import CheckStatus, Results
from metadata.archival_code import archival_code_filename

VIRUS_SCANNER = "clamscan"
VIRUS_SCAN_TIMEOUT_S = 3600


def check_virus(data: QcData, r: Results, scanner: str | None = None) -> None:
    """4-1 / 4-2: a virus scanner is installed; OUT scanned with it (clamscan)."""
    program = shutil.which(scanner or VIRUS_SCANNER)
    if program is None:
        r.add(
            "antivirus",
            CheckStatus.WARN,
            f"no virus scanner found ({VIRUS_SCANNER} is not installed)",
            defect="no_antivirus",
        )
        r.add("virus", CheckStatus.NOT_CHECKED, f"{VIRUS_SCANNER} is not installed; OUT was not scanned for viruses")
        return
    try:
        version = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        version = program
    r.add("antivirus", CheckStatus.PASS, f"virus scanner installed: {version or program}")
    targets = [str(data.out)]
    try:
        proc = subprocess.run(
            [program, "-r", "--infected", "--no-summary", *targets],
            capture_output=True,
            text=True,
            timeout=VIRUS_SCAN_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        r.add("virus", CheckStatus.NOT_CHECKED, f"{VIRUS_SCANNER} did not run: {exc}")
        return
    infected = [line for line in proc.stdout.splitlines() if line.rstrip().endswith("FOUND")]
    for line in infected:
        path, _, what = line.rpartition(":")
        rel = path.strip()
        try:
            rel = Path(rel).resolve().relative_to(data.out.resolve()).as_posix()
        except ValueError:
            pass
        r.add("virus", CheckStatus.FAIL, f"{VIRUS_SCANNER}: {what.strip()}", object=rel, file=rel, defect="virus")
    if proc.returncode not in (0, 1) and not infected:
        r.add(
            "virus",
            CheckStatus.NOT_CHECKED,
            f"{VIRUS_SCANNER} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:300]}",
        )
        return
    r.finish("virus", f"{VIRUS_SCANNER} found nothing in {data.out}")


def expected_files(data: QcData) -> set[str]:
    expected = {rel for _, _, rel, _, _ in journal_outputs(data)}
    for doc in data.documents:
        try:
            name = archival_code_filename(doc.archival_code)
        except ValueError:
            continue
        expected.add(dat46_file(name))  # DA/T 46 export
    return expected


def check_extra_files(data: QcData, r: Results) -> None:
    """4-3: files under OUT that neither the journal nor the exports account for."""
    expected = expected_files(data)
    staged = 0
    counted = 0
    for path in sorted(p for p in data.out.rglob("*") if p.is_file()):
        rel = path.relative_to(data.out).as_posix()
        counted += 1
        if rel in expected or rel in JOURNAL_FILES or rel.startswith((QC_DIR + "/", LOGS_DIR + "/")):
            continue
        if is_catalog_export(rel):
            continue
        if rel.startswith(WORK_DIR + "/"):
            staged += 1
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            r.add(
                "extra_files",
                CheckStatus.WARN,
                f"{rel}: left over from an interrupted write",
                object=rel,
                file=rel,
                defect="extra_file",
            )
            continue
        r.add(
            "extra_files",
            CheckStatus.FAIL,
            f"{rel} is not produced by processing or export (not in the journal)",
            object=rel,
            file=rel,
            defect="extra_file",
        )
    if staged:
        r.add(
            "extra_files",
            CheckStatus.WARN,
            f"{staged} staging files of unfinished documents under {WORK_DIR}/ (removed when "
            "they are processed again; not part of a hand-off)",
            object=WORK_DIR,
            file=WORK_DIR,
            defect="staging_files",
        )
    r.finish("extra_files", f"all {counted} files under OUT are outputs, exports, the journal, logs or QC reports")
