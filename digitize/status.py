"""What the journal says about a processed batch, for `digitize status` (read-only).

Besides documents and pages: the findings still open (those the last finished `process` run
reported: a run reports every finding of the batch, skipped documents included), the runs that
did not end (interrupted, or "running" with no end recorded), and the latest QC verdict. The
exit code of `status` follows from them (`exit_code`), by the rule of every command.
"""

from __future__ import annotations

import os
from typing import Any

from digitize.errors import ExitCode, outcome_code
from digitize.journal import DocumentState, EventType, JournalSnapshot, PageRecord, Run, RunStatus, read_journal
from digitize.journal.store import ENDED_UNSEEN
from digitize.outlock import writer_gone
from metadata.workbook import Sheet

PAGE_FIELDS = (
    "page_no",
    "state",
    "source_path",
    "frame",
    "dpi",
    "dpi_source",
    "source_mode",
    "output_mode",
    "skew_deg",
    "orientation_deg",
    "is_blank",
    "needs_colour",
    "ocr_confidence",
    "ocr_status",
    "error",
)
RUN_FIELDS = ("id", "started", "finished", "status", "command", "engine", "jobs")


def _page(page: PageRecord) -> dict[str, Any]:
    return {name: getattr(page, name) for name in PAGE_FIELDS}


def batch_status(out: str | os.PathLike[str]) -> dict[str, Any]:
    journal = read_journal(out)
    docs: list[dict[str, Any]] = []
    for doc in journal.documents:
        doc_pages = journal.pages_of(doc.doc_key)
        docs.append(
            {
                "document": doc.doc_key,
                "archival_code": doc.archival_code,
                "title": doc.title,
                "state": doc.state,
                "pages": doc.n_pages,
                "blank_pages": sum(1 for p in doc_pages if p.is_blank),
                "pdf": doc.pdf_path,
                "pdf_sha256": doc.pdf_sha256,
                "pdfa": doc.pdfa or None,
                "error": doc.error,
                "seconds": doc.seconds,
                "page_list": [_page(p) for p in doc_pages],
            }
        )
    states = [doc.state for doc in journal.documents]
    totals = {
        "documents": len(docs),
        "done": states.count(DocumentState.DONE),
        "failed": states.count(DocumentState.FAILED),
        "withheld": states.count(DocumentState.WITHHELD),
        "pending": sum(
            1 for s in states if s not in (DocumentState.DONE, DocumentState.FAILED, DocumentState.WITHHELD)
        ),
        "pages": sum(d["pages"] or 0 for d in docs),
        "blank_pages": sum(d["blank_pages"] for d in docs),
    }
    # Left running by a process that is gone (killed, out of memory): interrupted, as the next
    # writer records it when it takes OUT's lock (`Journal.start_run`).
    running = [run.id for run in journal.runs if run.status == RunStatus.RUNNING]
    gone = set(running) if running and writer_gone(out) else set()
    runs = [
        {name: getattr(run, name) for name in RUN_FIELDS}
        | ({"status": RunStatus.INTERRUPTED} if run.id in gone else {})
        for run in journal.runs
    ]
    return {
        "out": str(out),
        "totals": totals,
        "event_chain_intact": journal.chain.intact,
        "runs": runs,
        "unfinished_runs": [
            _unfinished(run, run is journal.last_run, run.id in gone)
            for run in journal.runs
            if run.status in (RunStatus.RUNNING, RunStatus.INTERRUPTED)
        ],
        "findings": open_findings(journal),
        "qc": last_qc(journal),
        "documents": docs,
    }


def _unfinished(run: Run, last: bool, gone: bool) -> dict[str, Any]:
    """A run without a recorded end, and what that means for the user."""
    status = RunStatus.INTERRUPTED if gone else run.status
    if gone:
        note = "its process is gone (killed?): interrupted; run the same command again to resume"
    elif run.status == RunStatus.INTERRUPTED and run.summary.get("interrupted") == ENDED_UNSEEN and not last:
        note = "stopped without a word (killed, power cut; a later run found it); its committed documents are kept"
    elif run.status == RunStatus.INTERRUPTED:
        note = "interrupted; run the same command again to resume (committed documents are kept)"
    elif last:
        note = (
            "no end recorded: still running, or stopped without a word (killed, power cut); "
            "if no `digitize process` is running on this folder, run the same command again to resume"
        )
    else:
        note = "stopped without a word (a later run started); its committed documents are kept"
    return {"id": run.id, "started": run.started, "status": status, "command": run.command, "note": note}


def open_findings(journal: JournalSnapshot) -> list[dict[str, Any]]:
    """The findings of the last `process` run that reported any (errors and warnings)."""
    for run in reversed(journal.runs):
        findings = run.summary.get("findings")
        if findings is not None:
            return [{**finding, "run": run.id} for finding in findings]
    return []


def last_qc(journal: JournalSnapshot) -> dict[str, Any] | None:
    """The latest QC verdict the journal records, and whether the batch was processed again since."""
    event = next(
        (
            e
            for e in reversed(journal.events)
            if e.type == EventType.VALIDATION and e.object == "batch" and "verdict" in e.detail
        ),
        None,
    )
    if event is None:
        return None
    last = journal.last_run
    return {
        "verdict": event.detail["verdict"],
        "when": event.ts,
        "fail": event.detail.get("fail"),
        "warn": event.detail.get("warn"),
        "lot": event.detail.get("lot"),
        "report": event.detail.get("report"),
        "stale": bool(last and last.started > event.ts),
    }


def exit_code(data: dict[str, Any]) -> ExitCode:
    """5 when the last run was interrupted; else 1 with failed documents, 4 with open ERROR findings,
    a QC verdict other than pass or a broken event chain, else 0."""
    last = data["runs"][-1] if data["runs"] else None
    if last is not None and last["status"] == RunStatus.INTERRUPTED:
        return ExitCode.INTERRUPTED
    errors = any(f["severity"] == "error" for f in data["findings"])
    qc_open = data["qc"] is not None and data["qc"]["verdict"] != "pass"
    broken = not data["event_chain_intact"]
    return outcome_code(failed=data["totals"]["failed"] > 0, attention=errors or qc_open or broken)


def status_workbook(data: dict[str, Any]) -> list[Sheet]:
    """The documents and the open findings as spreadsheet sheets (`digitize status --xlsx`)."""
    documents = Sheet(
        "文件 documents",
        ("档号", "题名", "状态 state", "页数 pages", "空白页 blank", "错误 error"),
        (
            [d["archival_code"], d["title"], d["state"], d["pages"], d["blank_pages"], d["error"]]
            for d in data["documents"]
        ),
    )
    findings = Sheet(
        "问题 findings",
        ("级别 severity", "检测项 item", "对象 object", "说明 message", "文件 file", "行 row", "列 column"),
        (
            [f["severity"], f["item"], f["object"], f["message"], f.get("file"), f.get("row"), f.get("column")]
            for f in data["findings"]
        ),
    )
    return [documents, findings]
