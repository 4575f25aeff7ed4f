"""完整性 (DA/T 70 items 2-x): item, byte and page counts against the catalogue and the journal."""

from __future__ import annotations

from digitize.qc.data import QcData, where_doc
from digitize.qc.results import CheckStatus, Results


def check_item_count(data: QcData, r: Results) -> None:
    documents = len(data.documents)
    with_pdf = len(data.done)
    if data.catalog is None:
        r.finish(
            "item_count",
            f"{documents} documents in the journal, {with_pdf} with a PDF/A; no catalogue to "
            f"compare with ({data.catalog_note})",
            CheckStatus.NOT_CHECKED,
        )
        return
    codes = {rec.get("archival_code").strip() for rec in data.catalog.records if rec.get("archival_code").strip()}
    rows = len(data.catalog.records)
    by_code = {d.archival_code: d for d in data.documents}
    text = f"catalogue {rows} items (登记), journal {documents} documents, {with_pdf} with a PDF/A"
    for code in sorted(codes - set(by_code)):
        r.add(
            "item_count",
            CheckStatus.FAIL,
            f"{text}: {code} is counted in the catalogue but was not scanned",
            object=code,
            document=code,
            defect="catalog_row_no_folder",
        )
    for code in sorted(set(by_code) - codes):
        r.add(
            "item_count",
            CheckStatus.FAIL,
            f"{text}: {code} was scanned but is not counted in the catalogue",
            defect="folder_no_catalog_row",
            **where_doc(data, by_code[code]),
        )
    for doc in data.documents:
        if not doc.done:
            r.add(
                "item_count",
                CheckStatus.FAIL,
                f"{text}: {doc.archival_code} has no PDF/A",
                defect="document_failed",
                **where_doc(data, doc),
            )
    if not r.has("item_count") and rows != with_pdf:
        r.add("item_count", CheckStatus.FAIL, f"{text}: the counts differ", defect="item_count")
    r.finish("item_count", text)


def check_byte_count(data: QcData, r: Results, journal_bytes: int, disk_bytes: int) -> None:
    masters_journal = masters_disk = 0
    masters_missing = 0
    seen: set[str] = set()
    for doc_pages in data.pages.values():
        for page in doc_pages:
            path = data.master_path(page)
            key = page.source_path or ""
            if key in seen:
                continue
            seen.add(key)
            masters_journal += int(page.master_bytes or 0)
            if path is None:
                masters_missing += 1
            else:
                masters_disk += path.stat().st_size
    text = (
        f"outputs: journal {journal_bytes:,} bytes, on disk {disk_bytes:,}; masters: journal "
        f"{masters_journal:,} bytes, on disk {masters_disk:,}"
        + (f" ({masters_missing} not found)" if masters_missing else "")
    )
    if journal_bytes != disk_bytes:
        r.add("byte_count", CheckStatus.FAIL, text, defect="byte_count")
    elif masters_missing == 0 and masters_journal != masters_disk:
        r.add("byte_count", CheckStatus.FAIL, text, defect="byte_count")
    r.finish("byte_count", text)


def check_content_count(data: QcData, r: Results) -> None:
    """2-11 beyond the linking findings: the PDF has one page per page image."""
    for doc in data.done:
        measure = data.measures.get(doc.doc_key)
        expected = len(data.pages.get(doc.doc_key, []))
        if measure is not None and measure.pdf_pages is not None and measure.pdf_pages != expected:
            r.add(
                "content_count",
                CheckStatus.FAIL,
                f"{doc.pdf_path} has {measure.pdf_pages} pages, the journal {expected} page images",
                defect="pdf_page_count",
                **where_doc(data, doc),
            )
    if data.catalog is None:
        r.finish("content_count", f"PDF page counts match the page images; 页数 not compared ({data.catalog_note})")
    else:
        r.finish(
            "content_count",
            "页数 of every linked row equals its page images; no gaps in the image numbers; PDF page counts match",
        )
