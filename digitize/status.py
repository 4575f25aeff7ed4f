"""What the journal says about a processed batch, for `digitize status` (read-only)."""

from __future__ import annotations

import os
from typing import Any

from digitize.journal import DocumentState, PageRecord, read_journal

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
    runs = [{name: getattr(run, name) for name in RUN_FIELDS} for run in journal.runs]
    return {
        "out": str(out),
        "totals": totals,
        "event_chain_intact": journal.chain.intact,
        "runs": runs,
        "documents": docs,
    }
