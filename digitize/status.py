"""A read-only view of a batch's journal, for `digitize status`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digitize.journal import Journal
from digitize.layout import OutLayout

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


def batch_status(out: Path) -> dict[str, Any]:
    with Journal(OutLayout(out).journal) as journal:
        documents = journal.documents()
        pages = journal.pages()
        runs = journal.runs()
        chain_ok = not journal.verify_chain()
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        by_doc.setdefault(page["doc_key"], []).append({k: page[k] for k in PAGE_FIELDS})
    docs = []
    for doc in documents:
        doc_pages = by_doc.get(doc["doc_key"], [])
        docs.append(
            {
                "document": doc["doc_key"],
                "archival_code": doc["archival_code"],
                "title": doc["title"],
                "state": doc["state"],
                "pages": doc["n_pages"],
                "blank_pages": sum(1 for p in doc_pages if p["is_blank"]),
                "pdf": doc["pdf_path"],
                "pdf_sha256": doc["pdf_sha256"],
                "pdfa": doc["pdfa"],
                "error": doc["error"],
                "seconds": doc["seconds"],
                "page_list": doc_pages,
            }
        )
    totals = {
        "documents": len(docs),
        "done": sum(1 for d in docs if d["state"] == "done"),
        "failed": sum(1 for d in docs if d["state"] == "failed"),
        "pending": sum(1 for d in docs if d["state"] not in ("done", "failed")),
        "pages": sum(d["pages"] or 0 for d in docs),
        "blank_pages": sum(d["blank_pages"] for d in docs),
    }
    run_list = [{k: r[k] for k in ("id", "started", "finished", "status", "command", "engine", "jobs")} for r in runs]
    return {"out": str(out), "totals": totals, "event_chain_intact": chain_ok, "runs": run_list, "documents": docs}
