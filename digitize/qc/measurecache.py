"""Page measurements kept between `qc` runs: OUT/qc/measurements.json.

Recording the inspectors' decisions, or a second look with another sampling plan, should not
measure every page again. A document's measurement is reused only while everything it was
measured from is unchanged: its key (`document_key`) is a digest of the layout file whose page
images are measured (the PDF/A, else the OFD: which of the two, the journal's SHA-256, its size
and modification time on disk), every page's master (the journal's SHA-256,
where it is found now, its size and modification time, frame), resolution, blank flag and OCR text digest, whether masters are
read, the input settings and `MEASURE_VERSION` (raised whenever a measurement changes). Any
other change -- a document processed again, a master moved, an edited PDF or OFD -- measures afresh.
The file is a cache: one that cannot be read is ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from digitize.journal import DocumentRecord, PageRecord
from digitize.qc.measure import DocumentInput, DocumentMeasure, DuplicatePair, PageMeasure

MEASURE_VERSION = 2
SCHEMA = "digitize-qc-measurements/1"


def document_key(doc: DocumentRecord, pages: list[PageRecord], measured: DocumentInput) -> str:
    """The digest of everything a document's measurement depends on."""
    layout = None
    if measured.layout is not None:
        stat = os.stat(measured.layout)
        kind, sha256 = ("pdf", doc.pdf_sha256) if doc.pdf_path else ("ofd", doc.ofd_sha256)  # as `layout_path` chose
        layout = [kind, sha256, stat.st_size, stat.st_mtime_ns]
    by_number = {p.page_no: p for p in pages}
    page_facts = []
    for page in measured.pages:
        record = by_number[page.page_no]
        text = (record.outputs.get("text") or {}).get("sha256")
        master = os.stat(page.master) if page.master and measured.measure_masters else None
        page_facts.append(
            [page.page_no, record.master_sha256, page.master, master and [master.st_size, master.st_mtime_ns]]
            + [page.frame, page.container, page.slot, page.dpi, page.is_blank, text]
        )
    facts = {
        "version": MEASURE_VERSION,
        "layout": layout,
        "pages": page_facts,
        "masters": measured.measure_masters,
        "input": dataclasses.asdict(measured.input_settings),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def load(path: Path, inputs: list[DocumentInput]) -> dict[str, DocumentMeasure]:
    """The kept measurements of the documents whose key is unchanged, by doc_key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA:
            return {}
        kept = data["documents"]
        return {
            doc.doc_key: _measure(kept[doc.doc_key]["measure"])
            for doc in inputs
            if doc.key and doc.doc_key in kept and kept[doc.doc_key].get("key") == doc.key
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def encode(inputs: list[DocumentInput], measures: dict[str, DocumentMeasure]) -> bytes:
    """The file's content; `digitize.qc.run` writes it with the other QC files and records its digest."""
    documents = {
        doc.doc_key: {"key": doc.key, "measure": dataclasses.asdict(measures[doc.doc_key])}
        for doc in inputs
        if doc.key and doc.doc_key in measures
    }
    data = json.dumps({"schema": SCHEMA, "documents": documents}, ensure_ascii=False, sort_keys=True, default=_plain)
    return data.encode("utf-8")


def _plain(value: Any) -> Any:
    """NumPy scalars (bool_, float64) among the measurements as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not a measurement value")


def _measure(data: dict[str, Any]) -> DocumentMeasure:
    return DocumentMeasure(
        doc_key=data["doc_key"],
        pages=[PageMeasure(**page) for page in data["pages"]],
        duplicates=[DuplicatePair(**pair) for pair in data["duplicates"]],
        layout_pages=data["layout_pages"],
        layout_error=data["layout_error"],
        seconds=data["seconds"],
    )
