"""完整性 (DA/T 70 items 2-x): item, byte and page counts against the catalogue and the journal."""

from __future__ import annotations

from digitize.qc.data import QcData, layout_rel, where_doc
from digitize.qc.results import CheckStatus, Results


def check_item_count(data: QcData, r: Results) -> None:
    documents = len(data.documents)
    with_layout = len(data.done)
    if data.catalog is None:
        r.finish(
            "item_count",
            f"日志中 {documents} 件，{with_layout} 件有版式文件；无目录可比对（{data.catalog_note}）",
            CheckStatus.NOT_CHECKED,
        )
        return
    codes = {rec.get("archival_code").strip() for rec in data.catalog.records if rec.get("archival_code").strip()}
    rows = len(data.catalog.records)
    by_code = {d.archival_code: d for d in data.documents}
    text = f"目录登记 {rows} 件，日志 {documents} 件，其中 {with_layout} 件有版式文件（PDF/A 或 OFD）"
    for code in sorted(codes - set(by_code)):
        r.add(
            "item_count",
            CheckStatus.FAIL,
            f"{text}：{code} 目录有登记但未扫描",
            object=code,
            document=code,
            defect="catalog_row_no_folder",
        )
    for code in sorted(set(by_code) - codes):
        r.add(
            "item_count",
            CheckStatus.FAIL,
            f"{text}：{code} 已扫描但目录未登记",
            defect="folder_no_catalog_row",
            **where_doc(data, by_code[code]),
        )
    for doc in data.documents:
        if not doc.done:
            r.add(
                "item_count",
                CheckStatus.FAIL,
                f"{text}：{doc.archival_code} 没有版式文件",
                defect="document_failed",
                **where_doc(data, doc),
            )
    if not r.has("item_count") and rows != with_layout:
        r.add("item_count", CheckStatus.FAIL, f"{text}：数量不符", defect="item_count")
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
        f"成果文件：日志 {journal_bytes:,} 字节，磁盘 {disk_bytes:,} 字节；原始扫描件：日志 "
        f"{masters_journal:,} 字节，磁盘 {masters_disk:,} 字节"
        + (f"（{masters_missing} 个未找到）" if masters_missing else "")
    )
    if journal_bytes != disk_bytes:
        r.add("byte_count", CheckStatus.FAIL, text, defect="byte_count")
    elif masters_missing == 0 and masters_journal != masters_disk:
        r.add("byte_count", CheckStatus.FAIL, text, defect="byte_count")
    r.finish("byte_count", text)


def check_content_count(data: QcData, r: Results) -> None:
    """2-11 beyond the linking findings: the layout file has one page per page image."""
    for doc in data.done:
        measure = data.measures.get(doc.doc_key)
        expected = len(data.pages.get(doc.doc_key, []))
        if measure is not None and measure.layout_pages is not None and measure.layout_pages != expected:
            r.add(
                "content_count",
                CheckStatus.FAIL,
                f"{layout_rel(doc)} 有 {measure.layout_pages} 页，日志记录 {expected} 幅页面图像",
                defect="pdf_page_count",
                **where_doc(data, doc),
            )
    if data.catalog is None:
        r.finish("content_count", f"版式文件页数与页面图像数相符；未与目录页数比对（{data.catalog_note}）")
    else:
        r.finish(
            "content_count",
            "每条已挂接目录的页数与页面图像数相等；图像编号无缺号；版式文件页数相符",
        )
