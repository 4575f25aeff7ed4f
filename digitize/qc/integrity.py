"""完整性 (DA/T 70 items 2-x): item, byte and page counts against the catalogue and the journal;
the elements and the process information of every DA/T 46 record."""

from __future__ import annotations

from digitize.journal import DocumentRecord, Event, EventType
from digitize.qc.data import QcData, layout_files, layout_rel, where_doc
from digitize.qc.results import CheckStatus, Results
from metadata.completeness import missing_elements, process_gaps
from metadata.packaged import record_fields
from metadata.retention import covering_rule


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


def check_element_completeness(data: QcData, r: Results) -> None:
    """2-3: every processed document's DA/T 46 record (the exported file, else the record export
    would write) has the elements DA/T 46 and the GB/T 18894 minimum ask for, and every element
    the database now gives (`metadata.completeness.missing_elements`)."""
    exported = 0
    for record in data.records:
        where = {**where_doc(data, record.document), "file": record.path}
        tree = record.tree
        if tree is None:
            r.add(
                "element_completeness",
                CheckStatus.FAIL,
                f"{record.path}: {record.error}",
                defect="record_missing",
                **where,
            )
            continue
        exported += record.packaged is not None
        missing = missing_elements(tree, record.expected if record.packaged is not None else None)
        if missing:
            r.add(
                "element_completeness",
                CheckStatus.FAIL,
                f"{record.where} 缺少：" + "；".join(str(m) for m in missing),
                defect="element_missing",
                **where,
            )
    r.finish(
        "element_completeness",
        f"{len(data.records)} 条 DA/T 46 记录（{exported} 条已导出，其余按导出时将写入的内容）具备 DA/T 46 和 "
        "GB/T 18894-2016 §6.2.2 最低要求的全部元数据项，以及数据库给出的全部元数据项",
    )


def check_process_information(data: QcData, r: Results) -> None:
    """2-5: the process information of every processed document is complete. In the journal: the
    digest and format identification of each master, image processing and OCR of each page, the
    creation and validation of each layout file. In its DA/T 46 record: a 业务实体 for each of those
    events with 业务行为, 行为时间 and a named 机构人员 (`metadata.completeness.process_gaps`)."""
    events = 0
    for record in data.records:
        doc = record.document
        processing = processing_events(data, doc)
        events += len(processing)
        gaps = [f"日志：{gap}" for gap in journal_gaps(data, doc, processing)]
        if record.tree is not None:
            ids = [f"event-{event.seq}" for event in processing]
            gaps += [f"{record.where}: {gap}" for gap in process_gaps(record.tree, ids)]
        if gaps:
            r.add(
                "process_information",
                CheckStatus.FAIL,
                "；".join(gaps),
                defect="process_incomplete",
                **{**where_doc(data, doc), "file": record.path},
            )
    r.finish(
        "process_information",
        f"{len(data.records)} 件文件：日志中 {events} 个处理事件（每个原始扫描件的摘要和格式识别、每页的图像处理和 "
        "OCR、每个版式文件的生成和校验），每个事件都是 DA/T 46 记录中的一个业务实体，具备业务行为、行为时间和署名的机构人员",
    )


def processing_events(data: QcData, doc: DocumentRecord) -> list[Event]:
    """The journal's events of a document up to the end of its processing (the validation of its
    last layout file); later ones (fixity checks of a hand-off) come after any export."""
    events = data.events_of.get(doc.doc_key, [])
    paths = {layout.path for layout in layout_files(doc)}
    ends = [e.seq for e in events if e.type == EventType.VALIDATION and e.detail.get("file") in paths]
    return [e for e in events if e.seq <= max(ends)] if ends else events


def journal_gaps(data: QcData, doc: DocumentRecord, events: list[Event]) -> list[str]:
    """The processing steps of a document the journal has no event for."""
    gaps = []
    pages = data.pages.get(doc.doc_key, [])
    digests = {e.detail.get("sha256") for e in events if e.type == EventType.MESSAGE_DIGEST}
    masters = {p.master_sha256 for p in pages if p.master_sha256}
    if masters - digests:
        gaps.append(f"{len(masters - digests)} 个原始扫描件没有摘要事件")
    identified = {e.detail.get("file") for e in events if e.type == EventType.FORMAT_IDENTIFICATION}
    files = {p.source_path for p in pages if p.source_path}
    if len(identified) < len(files):
        gaps.append(f"{len(files) - len(identified)} 个原始扫描件没有格式识别事件")
    for page in pages:
        steps = {
            (e.type, e.detail.get("step")) for e in events if e.object == page.object_id and e.outcome != "failure"
        }
        for step, word in (
            ((EventType.MODIFICATION, "image processing"), "图像处理"),
            ((EventType.CREATION, "OCR"), " OCR "),
        ):
            if step not in steps:
                gaps.append(f"第 {page.page_no} 页没有{word}事件")
    for layout in layout_files(doc):
        for kind, word in ((EventType.CREATION, "生成"), (EventType.VALIDATION, "校验")):
            if not any(e.type == kind and e.detail.get("file") == layout.path for e in events):
                gaps.append(f"{layout.path} 没有{word}事件")
    return gaps


def check_retention_schedule(data: QcData, r: Results) -> None:
    """2-9 (GD only): the 保管期限 of every processed document's record is one the profile's retention
    schedule allows for it; a record no item of the schedule covers may lie outside the 归档范围."""
    retention = data.settings.retention
    if not retention.rules:
        r.add(
            "retention_schedule",
            CheckStatus.NOT_CHECKED,
            "配置中没有保管期限表（[retention] rules）：保管期限和归档范围未与保管期限表比对",
        )
        return
    schedule = retention.schedule or "配置的保管期限表"
    for record in data.records:
        if record.tree is None:
            continue  # 2-3 reports it
        fields = record_fields(record.tree)
        period = fields.get("retention", "")
        where = {**where_doc(data, record.document), "file": record.path}
        rule = covering_rule(
            retention.rules, fields.get("category", ""), fields.get("org", ""), fields.get("title", "")
        )
        if rule is None:
            r.add(
                "retention_schedule",
                CheckStatus.WARN,
                f"{schedule}中没有条目涵盖该文件：请确认它属于归档范围",
                defect="outside_schedule",
                **where,
            )
        elif period and period not in rule.periods:
            r.add(
                "retention_schedule",
                CheckStatus.FAIL,
                f"保管期限 {period}，但{schedule}（{rule.label}）规定为 {'/'.join(rule.periods)}",
                defect="retention_not_allowed",
                **where,
            )
    r.finish("retention_schedule", f"{len(data.records)} 条记录的保管期限均符合{schedule}")
