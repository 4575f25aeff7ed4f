"""安全性 (DA/T 70 items 4-x): a virus scanner, a virus scan of OUT, no files nobody accounts for,
and operations that are recorded and under control."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from digitize.journal import DocumentState
from digitize.layout import (
    JOURNAL_FILES,
    LOCK_FILE,
    LOGS_DIR,
    PROTECTED_DIR,
    QC_DIR,
    WORK_DIR,
    dat46_file,
    is_catalog_export,
)
from digitize.qc.data import QcData, journal_outputs, where_doc
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
        if (
            rel in expected
            or rel in JOURNAL_FILES
            or rel == LOCK_FILE
            or rel.startswith((QC_DIR + "/", LOGS_DIR + "/"))
        ):
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


WITHHOLDING_STEP = "classified record policy"  # the pipeline's event when it withholds a classified record


def check_operation_security(data: QcData, r: Results) -> None:
    """4-7, the technical side of "确保…过程中安全、可控": every operation on the batch is an event
    of the journal's hash chain, which exists and is intact, each event naming its agent and each
    document having its events; classified records are withheld with a recorded decision or kept
    owner-only under protected/. The management side (who may operate, 保密 rules) is for people."""
    chain = data.journal.chain
    if data.documents and chain.events == 0:
        r.add(
            "operation_security",
            CheckStatus.FAIL,
            f"日志记录了 {len(data.documents)} 件文件，但没有任何事件：对它们的操作未被记录",
            defect="journal_chain_missing",
        )
    elif chain.problems:  # no event at all: the chain's recorded end calls it broken too; said once
        broken = "；".join(f"事件 {p.seq}：{p.reason}" for p in chain.problems[:5])
        more = f"（另有 {len(chain.problems) - 5} 处）" if len(chain.problems) > 5 else ""
        r.add(
            "operation_security",
            CheckStatus.FAIL,
            f"日志的哈希链在 {len(chain.problems)} 处断开：{broken}{more}",
            defect="journal_chain_broken",
        )
    anonymous = [e.seq for e in data.events if not e.agent.strip()]
    if anonymous:
        r.add(
            "operation_security",
            CheckStatus.FAIL,
            f"{len(anonymous)} 个事件未记录执行者（第一个：事件 {anonymous[0]}）",
            defect="event_without_agent",
        )
    for doc in data.documents:
        if chain.events and doc.doc_key not in data.events_of:
            r.add(
                "operation_security",
                CheckStatus.FAIL,
                "日志中没有关于该文件的事件：对它做过的操作未被记录",
                defect="document_without_events",
                **where_doc(data, doc),
            )
        elif doc.state == DocumentState.WITHHELD and not any(
            e.detail.get("step") == WITHHOLDING_STEP for e in data.events_of[doc.doc_key]
        ):
            r.add(
                "operation_security",
                CheckStatus.FAIL,
                "作为涉密文件未予处理，但日志中没有该决定的记录",
                defect="withholding_unrecorded",
                **where_doc(data, doc),
            )
    protected = data.out / PROTECTED_DIR
    mode = protected.stat().st_mode & 0o777 if protected.is_dir() else None
    if mode is not None and mode & 0o077:
        r.add(
            "operation_security",
            CheckStatus.FAIL,
            f"{PROTECTED_DIR}/ 存放涉密文件，但其他用户可以访问（权限 {mode:o}；仅属主可访问应为 700）",
            object=PROTECTED_DIR,
            file=PROTECTED_DIR,
            defect="protected_open",
        )
    withheld = sum(1 for d in data.documents if d.state == DocumentState.WITHHELD)
    kept = [f"{withheld} 件涉密文件未予处理，决定已记录"] if withheld else []
    kept += [f"{PROTECTED_DIR}/（涉密文件）仅属主可访问"] if mode is not None else []
    classified = "；".join(kept) or "无涉密文件"
    r.finish(
        "operation_security",
        f"每项操作都是日志哈希链中的事件（{chain.events} 个事件，链完整，链头 {chain.head[:16]}…），均记录执行者；"
        f"每件文件都有其事件；{classified}。管理措施（谁可以操作、保密规定）须人工确认",
    )
