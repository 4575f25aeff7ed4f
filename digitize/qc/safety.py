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
            f"未找到杀毒软件（未安装 {VIRUS_SCANNER}）",
            defect="no_antivirus",
        )
        r.add("virus", CheckStatus.NOT_CHECKED, f"未安装 {VIRUS_SCANNER}；OUT 未做病毒检测")
        return
    try:
        version = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        version = program
    r.add("antivirus", CheckStatus.PASS, f"已安装杀毒软件：{version or program}")
    targets = [str(data.out)]
    try:
        proc = subprocess.run(
            [program, "-r", "--infected", "--no-summary", *targets],
            capture_output=True,
            text=True,
            timeout=VIRUS_SCAN_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        r.add("virus", CheckStatus.NOT_CHECKED, f"{VIRUS_SCANNER} 未能运行：{exc}")
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
            f"{VIRUS_SCANNER} 退出码 {proc.returncode}：{(proc.stderr or proc.stdout).strip()[:300]}",
        )
        return
    r.finish("virus", f"{VIRUS_SCANNER} 在 {data.out} 中未发现病毒")


def expected_files(data: QcData) -> set[str]:
    """Every file the journal records, and the DA/T 46 record `export` writes for each document
    and for each catalogue row without scans."""
    expected = {rel for _, _, rel, _, _ in journal_outputs(data)}
    codes = {doc.archival_code for doc in data.documents}
    if data.catalog is not None:
        codes |= {row.get("archival_code").strip() for row in data.catalog.records}
    for code in codes:
        try:
            name = archival_code_filename(code)
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
                f"{rel}：中断写入后遗留的临时文件",
                object=rel,
                file=rel,
                defect="extra_file",
            )
            continue
        r.add(
            "extra_files",
            CheckStatus.FAIL,
            f"{rel} 不是处理或导出的成果（日志中没有）",
            object=rel,
            file=rel,
            defect="extra_file",
        )
    if staged:
        r.add(
            "extra_files",
            CheckStatus.WARN,
            f"{WORK_DIR}/ 下有 {staged} 个未完成文件的暂存文件（重新处理时删除，不进入移交包）",
            object=WORK_DIR,
            file=WORK_DIR,
            defect="staging_files",
        )
    r.finish("extra_files", f"OUT 下全部 {counted} 个文件均为成果、导出、日志、运行记录或质检报告")
