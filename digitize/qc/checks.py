"""Automated QC checks of a processed batch (OUT), each named by the clause it implements.

Every check gives one or more `CheckResult`s: a check id (a DA/T 70-2018 item with its stage
prefix, e.g. ``GD-1-14``, or a DA/T 31-2017 clause, e.g. ``DA/T 31 §9.4``), a title, a
status (pass | warn | fail | not checked), the evidence (what was measured) and the object it
is about (档号, 档号/page, or a file relative to OUT). A check that finds nothing wrong gives
one ``pass`` result for the batch saying what it looked at; otherwise one result per problem.

Sources of truth: the journal (what was processed, with checksums and measurements), the
catalogue (what should be there), the files under OUT and the masters in the batch folder.
The image checks measure the pixels again (`digitize.qc.measure`), rather than trusting the
processing step's own estimates.

Stage prefix: GD (归档, archiving) by default; YJ (移交与接收) for a transfer; BC is accepted
but the checks are those of GD/YJ (DA/T 70 Annex A marks which items apply at which stage).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
import pikepdf.pdfa

from digitize.errors import BadInput
from digitize.fsutil import sha256_file
from digitize.journal import DocumentRecord, Event, JournalSnapshot, PageRecord, Run, read_journal
from digitize.layout import (
    JOURNAL_FILES,
    LOGS_DIR,
    PAGE_FILES,
    QC_DIR,
    WORK_DIR,
    catalogue_file,
    dat46_file,
    document_dir,
    is_catalog_export,
    page_file,
    pdf_file,
    xml_schema,
)
from digitize.qc.measure import DocumentInput, DocumentMeasure, PageInput, PageMeasure, measure_documents
from digitize.settings import Settings
from digitize.xmlsafe import UnsafeXmlError, parse_file
from metadata.archival_code import archival_code_filename
from metadata.catalog import Catalog, CatalogError, read_catalog
from metadata.linking import ScannedDocument, link_documents
from metadata.validation import RULES, Finding, validate_catalog

STATUSES = ("pass", "warn", "fail", "not checked")
STAGES = ("GD", "YJ", "BC")
SEVERITY_STATUS = {"error": "fail", "warning": "warn"}
BATCH = "batch"

# DA/T 31 §9.5 names TIFF, JPEG and JPEG 2000 for masters ("等通用格式"); GB/T 18894-2016 adds
# PNG, and image-only PDFs are what some scanners deliver. Anything else is not an open format.
MASTER_FORMATS = ("TIFF", "JPEG", "JPEG 2000", "PNG", "PDF")
PDF_IMAGE_FILTERS = ("/DCTDecode", "/CCITTFaxDecode", "/FlateDecode", "/JPXDecode")
VIRUS_SCANNER = "clamscan"
# Skew estimates whose best angle scores less than this over the median angle are not judged
# Calibrated on two eval-kit holdouts (166 pages with 60+ characters): text pages scored 1.64 to
# 3.5; a speckled empty reverse side 1.54; signature-and-seal-only pages 1.2-1.3 (left unjudged).
MIN_SKEW_CONFIDENCE = 1.6
VIRUS_SCAN_TIMEOUT_S = 3600

# Defect codes grouped by the names `QcSettings.critical_checks` uses: a document with a
# failing result of one of these groups is inspected in full, on top of the random sample.
CRITICAL_GROUPS: dict[str, frozenset[str]] = {
    "archival_code": frozenset(code for code, rule in RULES.items() if rule.item_id in ("1-7", "1-8", "1-11")),
    "missing_page": frozenset({"missing_page", "page_count_mismatch", "duplicate_slot", "pdf_page_count"}),
    "duplicate_page": frozenset({"duplicate_page"}),
    "unreadable": frozenset({"corrupt_image", "zero_byte", "master_missing", "document_failed"}),
}


@dataclass(frozen=True)
class CheckSpec:
    key: str  # stable machine name of the check
    ref: str  # DA/T 70 item ("1-14") or a full reference ("DA/T 31 §9.4")
    title: str

    def check_id(self, stage: str) -> str:
        return f"{stage}-{self.ref}" if re.fullmatch(r"\d-\d+", self.ref) else self.ref


_SPECS = (
    CheckSpec("capture_fixity", "1-1", "固化信息有效性 — master digests and the journal's event chain"),
    CheckSpec("field_length", "1-2", "元数据项数据长度 — catalogue field lengths"),
    CheckSpec("field_format", "1-3", "元数据项数据类型、格式 — catalogue value formats"),
    CheckSpec("value_domain", "1-4", "元数据项值域符合度 — catalogue vocabularies"),
    CheckSpec("plausibility", "1-5", "元数据项数据值合理性 — catalogue values agree with each other"),
    CheckSpec("special_characters", "1-6", "元数据项特殊字符 — catalogue characters"),
    CheckSpec("archival_code", "1-7", "档号规范性 — 档号 follows the template"),
    CheckSpec("duplicates", "1-8", "元数据项数据重复性 — repeated 档号 / 文号 / 题名"),
    CheckSpec("electronic_attributes", "1-10", "内容数据的电子属性一致性 — file size, page count, format vs metadata"),
    CheckSpec("metadata_link", "1-11", "元数据是否关联内容数据 — catalogue ↔ scans ↔ files (数据挂接)"),
    CheckSpec("catalogue_file", "1-12", "说明文件和目录文件规范性 — 目录文件 present, valid, complete"),
    CheckSpec("package_structure", "1-13", "信息包目录结构规范性 — layout of OUT/documents"),
    CheckSpec("output_fixity", "1-14", "信息包一致性 — every output file against its journal checksum"),
    CheckSpec("item_count", "2-1", "总件数相符性 — catalogue items vs documents"),
    CheckSpec("byte_count", "2-2", "总字节数相符性 — bytes on disk vs the journal"),
    CheckSpec("required_fields", "2-4", "元数据必填著录项目 — required catalogue fields"),
    CheckSpec("item_continuity", "2-6", "连续性元数据项 — 件号 sequence"),
    CheckSpec("content_count", "2-11", "信息包内容数据完整性 — page images vs 页数"),
    CheckSpec("metadata_readable", "3-1", "元数据的可读性 — every XML parses safely and validates"),
    CheckSpec("format_allowed", "3-3", "内容数据格式 — masters and outputs in allowed formats"),
    CheckSpec("unreadable", "3-4", "内容数据的可读性 — every master and page opens"),
    CheckSpec("pdfa", "3-8", "内容数据格式合规性 — PDF/A valid, no encryption, no JavaScript, fonts embedded"),
    CheckSpec("antivirus", "4-1", "杀毒软件 — a virus scanner is installed"),
    CheckSpec("virus", "4-2", "病毒感染检测 — virus scan of OUT"),
    CheckSpec("extra_files", "4-3", "载体中多余文件 — files the journal and exports do not account for"),
    CheckSpec("colour_mode", "DA/T 31 §9.3", "扫描色彩模式 — colour content kept in colour"),
    CheckSpec("resolution", "DA/T 31 §9.4", "扫描分辨率 — resolution of each page"),
    CheckSpec("storage_format", "DA/T 31 §9.5", "存储格式 — one master format per batch"),
    CheckSpec("residual_skew", "DA/T 31 §10.2", "纠偏 — residual skew measured on the PDF page image"),
    CheckSpec("blur", "DA/T 31 §10.5", "图像质量 — blur (edge width of the master)"),
    CheckSpec("blank_page", "DA/T 31 §10.5", "空白页 — blank pages (reported for review, not a defect)"),
    CheckSpec("duplicate_page", "DA/T 31 §10.5", "重扫 — the same sheet scanned twice"),
    CheckSpec("page_order", "DA/T 31 §10.5", "图像顺序 — page images in the order of their numbers"),
)
SPECS: dict[str, CheckSpec] = {spec.key: spec for spec in _SPECS}
# Catalogue validation findings: DA/T 70 item -> check key.
_ITEM_TO_KEY = {
    "1-2": "field_length",
    "1-3": "field_format",
    "1-4": "value_domain",
    "1-5": "plausibility",
    "1-6": "special_characters",
    "1-7": "archival_code",
    "1-8": "duplicates",
    "1-11": "metadata_link",
    "2-4": "required_fields",
    "2-6": "item_continuity",
    "2-11": "content_count",
}


@dataclass
class CheckResult:
    check_id: str  # "GD-1-14", "DA/T 31 §9.4"
    check: str  # the check's key in SPECS
    title: str
    status: str  # pass | warn | fail | not checked
    evidence: str  # what was measured
    object: str = BATCH  # 档号, 档号/NNNN (page image number), a file relative to OUT, or "batch"
    document: str | None = None  # 档号 of the document concerned
    doc_key: str | None = None  # its folder or file name in the batch
    page_no: int | None = None  # position in the document (PDF page)
    page: str | None = None  # page image number as in the file name (0003), or frame + 1
    file: str | None = None  # master file relative to the batch folder, or output relative to OUT
    defect: str | None = None  # machine code (eval-kit names where they exist: low_dpi, ...)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Results:
    """Collects results; `finish` adds the pass line of a check that found nothing."""

    def __init__(self, stage: str):
        self.stage = stage
        self.items: list[CheckResult] = []

    def add(self, key: str, status: str, evidence: str, **where: Any) -> CheckResult:
        if status not in STATUSES:
            raise ValueError(f"status {status!r}")
        spec = SPECS[key]
        result = CheckResult(spec.check_id(self.stage), key, spec.title, status, evidence, **where)
        self.items.append(result)
        return result

    def has(self, key: str) -> bool:
        return any(r.check == key for r in self.items)

    def finish(self, key: str, evidence: str, status: str = "pass") -> None:
        if not self.has(key):
            self.add(key, status, evidence)


# ------------------------------------------------------------------------------------- inputs
@dataclass
class QcData:
    """Everything the checks read, loaded once."""

    out: Path
    settings: Settings
    stage: str
    journal: JournalSnapshot
    batch_dir: Path | None  # the batch folder, when it is still there
    catalog: Catalog | None = None
    catalog_path: str | None = None
    catalog_note: str = ""
    findings: list[Finding] = field(default_factory=list)  # catalogue validation + linking
    measures: dict[str, DocumentMeasure] = field(default_factory=dict)
    masters_read: bool = True
    timings: dict[str, float] = field(default_factory=dict)
    pages: dict[str, list[PageRecord]] = field(default_factory=dict)  # by doc_key, from the journal

    def __post_init__(self) -> None:
        for page in self.journal.pages:
            self.pages.setdefault(page.doc_key, []).append(page)

    @property
    def documents(self) -> tuple[DocumentRecord, ...]:
        return self.journal.documents

    @property
    def events(self) -> tuple[Event, ...]:
        return self.journal.events

    @property
    def runs(self) -> tuple[Run, ...]:
        return self.journal.runs

    @property
    def done(self) -> list[DocumentRecord]:
        return self.journal.done

    def code_of(self, doc_key: str) -> str:
        for doc in self.documents:
            if doc.doc_key == doc_key:
                return doc.archival_code
        return doc_key

    def master_path(self, page: PageRecord) -> Path | None:
        """Where a page's master is now: as recorded, else re-rooted at the batch folder."""
        recorded = Path(page.source_path or "")
        if recorded.is_absolute():
            return recorded if recorded.exists() else None
        if self.batch_dir is not None:
            for run in reversed(self.runs):
                given = run.batch
                if not given:
                    continue
                try:
                    candidate = self.batch_dir / recorded.relative_to(given)
                except ValueError:
                    continue
                if candidate.exists():
                    return candidate
        return recorded.resolve() if recorded.exists() else None

    def master_rel(self, page: PageRecord) -> str:
        """The master's path relative to the batch folder (as the eval-kit names files)."""
        path = self.master_path(page)
        if path is not None and self.batch_dir is not None:
            try:
                return path.resolve().relative_to(self.batch_dir.resolve()).as_posix()
            except ValueError:
                pass
        recorded = Path(page.source_path or "")
        return f"{recorded.parent.name}/{recorded.name}" if recorded.name else ""


def page_label(page: PageRecord) -> str:
    """The page's number as an inspector sees it: the file's number (0003.tif), else frame + 1."""
    if page.slot is not None:
        return f"{int(page.slot):04d}"
    return f"{int(page.frame or 0) + 1:04d}"


def _where_page(data: QcData, page: PageRecord) -> dict[str, Any]:
    code = data.code_of(page.doc_key)
    label = page_label(page)
    return {
        "object": f"{code}/{label}",
        "document": code,
        "doc_key": page.doc_key,
        "page_no": page.page_no,
        "page": label,
        "file": data.master_rel(page),
    }


def _where_doc(data: QcData, doc: DocumentRecord) -> dict[str, Any]:
    return {"object": doc.archival_code, "document": doc.archival_code, "doc_key": doc.doc_key}


def load_data(out: Path, settings: Settings, stage: str = "GD", catalog_path: str | Path | None = None) -> QcData:
    journal = read_journal(out)
    batch_dir = journal.batch_dir if journal.batch_dir and journal.batch_dir.is_dir() else None
    data = QcData(out, settings, stage, journal, batch_dir)
    chosen = str(catalog_path) if catalog_path else next((r.catalog for r in reversed(journal.runs) if r.catalog), None)
    if chosen is None:
        data.catalog_note = "no catalogue given and none recorded by `digitize process`"
    elif not Path(chosen).is_file():
        data.catalog_note = f"catalogue {chosen} not found"
    else:
        try:
            data.catalog = read_catalog(chosen, settings)
            data.catalog_path = chosen
        except CatalogError as exc:
            data.catalog_note = f"catalogue cannot be read: {exc}"
    if data.catalog is not None:
        data.findings.extend(validate_catalog(data.catalog, settings))
        scanned = []
        for doc in data.documents:
            doc_pages = data.pages.get(doc.doc_key, [])
            slots = tuple(int(p.slot) for p in doc_pages if p.slot is not None)
            count = len(doc_pages) if doc_pages else int(doc.n_pages or 0)
            scanned.append(ScannedDocument(doc.doc_key, doc.doc_key, count, slots))
        data.findings.extend(link_documents(data.catalog, scanned, settings).findings)
    return data


def measurement_inputs(data: QcData, measure_masters: bool = True) -> list[DocumentInput]:
    inputs = []
    for doc in data.documents:
        doc_pages = data.pages.get(doc.doc_key, [])
        if not doc_pages:
            continue
        pdf = data.out / doc.pdf_path if doc.state == "done" and doc.pdf_path else None
        page_inputs = []
        for page in doc_pages:
            master = data.master_path(page)
            text = (page.outputs.get("text") or {}).get("path")
            page_inputs.append(
                PageInput(
                    page_no=page.page_no,
                    master=str(master) if master else None,
                    frame=int(page.frame or 0),
                    container=page.container or "image",
                    slot=page.slot,
                    dpi=page.dpi,
                    is_blank=bool(page.is_blank),
                    text_path=str(data.out / text) if text else None,
                )
            )
        inputs.append(
            DocumentInput(
                doc.doc_key,
                str(pdf) if pdf and pdf.is_file() else None,
                tuple(page_inputs),
                data.settings.input,
                measure_masters,
            )
        )
    return inputs


# ------------------------------------------------------------------------------------- checks
def _catalogue_findings(data: QcData, r: Results) -> None:
    codes_by_key = {doc.doc_key: doc.archival_code for doc in data.documents}
    for finding in data.findings:
        key = _ITEM_TO_KEY.get(finding.item_id)
        if key is None:
            continue
        where = finding.archival_code or finding.document or "catalogue"
        place = (
            f"catalogue row {finding.row}" + (f", column {finding.column}" if finding.column else "")
            if finding.row
            else ""
        )
        doc_key = finding.document or None
        if doc_key is None and finding.archival_code:
            doc_key = next((k for k, c in codes_by_key.items() if c == finding.archival_code), None)
        document = codes_by_key.get(doc_key) if doc_key else None
        defect = finding.code
        if finding.code == "row_without_scan":
            defect = "catalog_row_no_folder"
        elif finding.code == "scan_without_row":
            defect = "folder_no_catalog_row"
        r.add(
            key,
            SEVERITY_STATUS[finding.severity],
            f"{finding.message}" + (f" ({place})" if place else ""),
            object=where,
            document=document or finding.archival_code or None,
            doc_key=doc_key,
            defect=defect,
        )
    if data.catalog is None:
        for key in (
            "field_length",
            "field_format",
            "value_domain",
            "plausibility",
            "special_characters",
            "archival_code",
            "duplicates",
            "required_fields",
            "item_continuity",
        ):
            r.finish(key, data.catalog_note, "not checked")
        return
    rows = len(data.catalog.records)
    checked = f"{rows} catalogue rows of {data.catalog_path} checked"
    for key in (
        "field_length",
        "field_format",
        "value_domain",
        "plausibility",
        "special_characters",
        "archival_code",
        "duplicates",
        "required_fields",
        "item_continuity",
    ):
        r.finish(key, checked)


def check_capture_fixity(data: QcData, r: Results, verify_masters: bool = True) -> None:
    """1-1: the hash chain of the journal's events is intact, the PDF digests recorded in the
    chain match the documents table, and every master still has the digest taken at capture."""
    for problem in data.journal.chain.problems:
        r.add(
            "capture_fixity",
            "fail",
            f"journal event {problem.seq}: {problem.reason}",
            object=f"event {problem.seq}",
            defect="journal_chain",
        )
    packaged: dict[str, str] = {}
    for event in data.events:
        if event.type == "creation" and event.detail.get("step") == "PDF/A packaging":
            packaged[event.object] = event.detail.get("sha256")
    for doc in data.done:
        recorded = packaged.get(doc.doc_key)
        if recorded is None:
            r.add(
                "capture_fixity",
                "fail",
                "no PDF/A packaging event in the journal for this document",
                defect="journal_event_missing",
                **_where_doc(data, doc),
            )
        elif recorded != doc.pdf_sha256:
            r.add(
                "capture_fixity",
                "fail",
                f"the journal's document row says sha256 {doc.pdf_sha256[:16]}…, the "
                f"event chain recorded {recorded[:16]}…",
                defect="journal_mismatch",
                **_where_doc(data, doc),
            )
    checked = missing = 0
    seen: set[str] = set()
    if verify_masters:
        for doc_pages in data.pages.values():
            for page in doc_pages:
                path = data.master_path(page)
                if path is None:
                    missing += 1
                    continue
                if str(path) in seen or not page.master_sha256:
                    continue
                seen.add(str(path))
                checked += 1
                digest = sha256_file(path)
                if digest != page.master_sha256:
                    r.add(
                        "capture_fixity",
                        "fail",
                        f"master {data.master_rel(page)} has sha256 {digest[:16]}…, "
                        f"captured as {page.master_sha256[:16]}…: the scan changed after capture",
                        defect="master_changed",
                        **_where_page(data, page),
                    )
    if not verify_masters:
        r.add(
            "capture_fixity",
            "not checked",
            "masters were not read (--no-masters): their capture digests are not "
            f"verified; event chain of {len(data.events)} events intact, {len(packaged)} PDF digests match it"
            if not r.has("capture_fixity")
            else "masters were not read (--no-masters)",
        )
        masters = ""
    elif data.batch_dir is None and checked == 0:
        masters = "the batch folder is not reachable: master digests not verified"
    else:
        masters = f"{checked} master files match their capture digests" + (
            f"; {missing} masters not found" if missing else ""
        )
    r.finish(
        "capture_fixity",
        f"event chain of {len(data.events)} events intact; {len(packaged)} PDF digests match the chain; {masters}",
    )


def _journal_outputs(data: QcData) -> list[tuple[DocumentRecord, PageRecord | None, str, str, int]]:
    """(document, page or None, path relative to OUT, sha256, bytes) of every output the journal lists."""
    files = []
    for doc in data.done:
        files.append((doc, None, doc.pdf_path, doc.pdf_sha256, int(doc.pdf_bytes or 0)))
        for page in data.pages.get(doc.doc_key, []):
            for role in PAGE_FILES:
                info = page.outputs.get(role)
                if info:
                    files.append((doc, page, info["path"], info["sha256"], int(info["bytes"])))
    return files


def check_output_fixity(data: QcData, r: Results) -> tuple[int, int, int]:
    """1-14 and 2-2: recompute every output's sha256; total the bytes."""
    ok = 0
    journal_bytes = disk_bytes = 0
    for doc, page, rel, digest, size in _journal_outputs(data):
        journal_bytes += size
        path = data.out / rel
        where = _where_page(data, page) if page else _where_doc(data, doc)
        where["file"] = rel
        if not path.is_file():
            r.add(
                "output_fixity",
                "fail",
                f"{rel} is missing (the journal lists it with sha256 {digest[:16]}…)",
                defect="file_missing",
                **where,
            )
            continue
        disk_bytes += path.stat().st_size
        actual = sha256_file(path)
        if actual != digest:
            r.add(
                "output_fixity",
                "fail",
                f"{rel}: sha256 {actual[:16]}… but the journal recorded {digest[:16]}… "
                f"({path.stat().st_size} bytes now, {size} recorded)",
                defect="fixity_mismatch",
                **where,
            )
        else:
            ok += 1
    r.finish("output_fixity", f"{ok} output files (PDF/A, hOCR, text, ALTO, page records) match their journal sha256")
    return ok, journal_bytes, disk_bytes


def check_byte_count(data: QcData, r: Results, journal_bytes: int, disk_bytes: int) -> None:
    masters_journal = masters_disk = 0
    masters_missing = 0
    seen: set[str] = set()
    for doc_pages in data.pages.values():
        for page in doc_pages:
            path = data.master_path(page)
            key = page.source_path
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
        r.add("byte_count", "fail", text, defect="byte_count")
    elif masters_missing == 0 and masters_journal != masters_disk:
        r.add("byte_count", "fail", text, defect="byte_count")
    r.finish("byte_count", text)


def check_item_count(data: QcData, r: Results) -> None:
    documents = len(data.documents)
    with_pdf = len(data.done)
    if data.catalog is None:
        r.finish(
            "item_count",
            f"{documents} documents in the journal, {with_pdf} with a PDF/A; no catalogue to "
            f"compare with ({data.catalog_note})",
            "not checked",
        )
        return
    codes = {rec.get("archival_code").strip() for rec in data.catalog.records if rec.get("archival_code").strip()}
    rows = len(data.catalog.records)
    by_code = {d.archival_code: d for d in data.documents}
    text = f"catalogue {rows} items (登记), journal {documents} documents, {with_pdf} with a PDF/A"
    for code in sorted(codes - set(by_code)):
        r.add(
            "item_count",
            "fail",
            f"{text}: {code} is counted in the catalogue but was not scanned",
            object=code,
            document=code,
            defect="catalog_row_no_folder",
        )
    for code in sorted(set(by_code) - codes):
        r.add(
            "item_count",
            "fail",
            f"{text}: {code} was scanned but is not counted in the catalogue",
            defect="folder_no_catalog_row",
            **_where_doc(data, by_code[code]),
        )
    for doc in data.documents:
        if doc.state != "done":
            r.add(
                "item_count",
                "fail",
                f"{text}: {doc.archival_code} has no PDF/A",
                defect="document_failed",
                **_where_doc(data, doc),
            )
    if not r.has("item_count") and rows != with_pdf:
        r.add("item_count", "fail", f"{text}: the counts differ", defect="item_count")
    r.finish("item_count", text)


def check_metadata_link(data: QcData, r: Results) -> None:
    """1-11 beyond the catalogue link: every path the journal stores names an existing file."""
    for doc in data.done:
        pdf = data.out / doc.pdf_path
        if not pdf.is_file():
            r.add(
                "metadata_link",
                "fail",
                f"the journal points at {doc.pdf_path}, which does not exist",
                defect="file_missing",
                file=doc.pdf_path,
                **_where_doc(data, doc),
            )
    if data.catalog is None:
        r.finish(
            "metadata_link",
            f"{len(data.done)} journal entries point at existing PDFs; catalogue link not "
            f"checked ({data.catalog_note})",
            "not checked" if not data.done else "pass",
        )
    else:
        r.finish(
            "metadata_link",
            f"every catalogue row links to one scanned document and back ({len(data.catalog.records)} "
            f"rows, {len(data.documents)} documents); every journal path exists",
        )


def check_content_count(data: QcData, r: Results) -> None:
    """2-11 beyond the linking findings: the PDF has one page per page image."""
    for doc in data.done:
        measure = data.measures.get(doc.doc_key)
        expected = len(data.pages.get(doc.doc_key, []))
        if measure is not None and measure.pdf_pages is not None and measure.pdf_pages != expected:
            r.add(
                "content_count",
                "fail",
                f"{doc.pdf_path} has {measure.pdf_pages} pages, the journal {expected} page images",
                defect="pdf_page_count",
                **_where_doc(data, doc),
            )
    if data.catalog is None:
        r.finish("content_count", f"PDF page counts match the page images; 页数 not compared ({data.catalog_note})")
    else:
        r.finish(
            "content_count",
            "页数 of every linked row equals its page images; no gaps in the image numbers; PDF page counts match",
        )


def check_unreadable(data: QcData, r: Results) -> None:
    """3-4 / DA/T 31 §11: masters that could not be opened (from the journal) and documents that failed."""
    for doc in data.documents:
        doc_pages = data.pages.get(doc.doc_key, [])
        failed_pages = [p for p in doc_pages if p.state == "failed"]
        for page in failed_pages:
            size = page.master_bytes
            defect = "zero_byte" if size == 0 else "corrupt_image"
            r.add(
                "unreadable",
                "fail",
                f"{data.master_rel(page)} ({size} bytes) cannot be read: {page.error}",
                defect=defect,
                **_where_page(data, page),
            )
        if doc.state == "failed" and not failed_pages:
            r.add(
                "unreadable",
                "fail",
                f"processing failed: {doc.error}",
                defect="document_failed",
                **_where_doc(data, doc),
            )
        elif doc.state not in ("done", "failed"):
            r.add(
                "unreadable",
                "fail",
                f"the document is {doc.state}: processing has not finished",
                defect="document_unfinished",
                **_where_doc(data, doc),
            )
    for doc_key, measure in data.measures.items():
        for pm in measure.pages:
            page = next(p for p in data.pages[doc_key] if p.page_no == pm.page_no)
            if page.state == "failed":
                continue
            if pm.master_error == "master file not found":
                continue  # capture fixity says the masters are out of reach
            if pm.master_error:
                r.add(
                    "unreadable",
                    "fail",
                    f"master cannot be decoded now: {pm.master_error}",
                    defect="corrupt_image",
                    **_where_page(data, page),
                )
            if pm.pdf_error:
                r.add(
                    "unreadable",
                    "fail",
                    f"PDF page {pm.page_no} image cannot be decoded: {pm.pdf_error}",
                    defect="pdf_page_unreadable",
                    **_where_page(data, page),
                )
        if measure.pdf_error:
            doc = next(d for d in data.documents if d.doc_key == doc_key)
            r.add(
                "unreadable",
                "fail",
                f"{doc.pdf_path} cannot be opened: {measure.pdf_error}",
                defect="pdf_unreadable",
                **_where_doc(data, doc),
            )
    pages = sum(len(v) for v in data.pages.values())
    r.finish(
        "unreadable",
        f"all {pages} page images of {len(data.documents)} documents were read and every PDF page image decodes",
    )


def check_electronic_attributes(data: QcData, r: Results) -> None:
    """1-10: size on disk, page count, format and file name of each PDF; size and format of masters."""
    checked = 0
    for doc in data.done:
        pdf = data.out / doc.pdf_path
        if not pdf.is_file():
            continue  # 1-11 and 1-14 report it
        checked += 1
        where = _where_doc(data, doc)
        problems = []
        size = pdf.stat().st_size
        if size != doc.pdf_bytes:
            problems.append(f"size {size:,} bytes, metadata says {doc.pdf_bytes:,}")
        try:
            expected_name = f"{archival_code_filename(doc.archival_code)}.pdf"
        except ValueError:
            expected_name = None
        if expected_name and pdf.name != expected_name:
            problems.append(f"file name {pdf.name}, expected {expected_name} from the 档号")
        with open(pdf, "rb") as fh:
            head = fh.read(8)
        if not head.startswith(b"%PDF-"):
            problems.append(f"not a PDF (starts with {head!r})")
        measure = data.measures.get(doc.doc_key)
        doc_pages = data.pages.get(doc.doc_key, [])
        if measure is not None and measure.pdf_pages is not None and measure.pdf_pages != len(doc_pages):
            problems.append(f"{measure.pdf_pages} PDF pages, metadata has {len(doc_pages)} pages")
        if measure is not None:
            for pm, page in zip(measure.pages, doc_pages):
                facts = pm.pdf_image or {}
                metrics = page.metrics or {}
                want = (metrics.get("output_width"), metrics.get("output_height"))
                if facts and None not in want and (facts["width"], facts["height"]) != tuple(want):
                    problems.append(
                        f"page {page.page_no}: image {facts['width']}×{facts['height']} px, metadata "
                        f"{want[0]}×{want[1]}"
                    )
        for text in problems:
            r.add(
                "electronic_attributes",
                "fail",
                f"{doc.pdf_path}: {text}",
                defect="attributes_mismatch",
                file=doc.pdf_path,
                **{k: v for k, v in where.items()},
            )
    masters = 0
    for doc_key, doc_pages in data.pages.items():
        for page in doc_pages:
            path = data.master_path(page)
            if path is None or page.state == "failed":
                continue
            masters += 1
            size = path.stat().st_size
            if page.master_bytes is not None and size != page.master_bytes:
                r.add(
                    "electronic_attributes",
                    "fail",
                    f"master {data.master_rel(page)}: {size:,} bytes, metadata says {page.master_bytes:,}",
                    defect="attributes_mismatch",
                    **_where_page(data, page),
                )
            measure = data.measures.get(doc_key)
            pm = next((m for m in measure.pages if m.page_no == page.page_no), None) if measure else None
            if pm is not None and pm.master_format and page.file_format and pm.master_format != page.file_format:
                r.add(
                    "electronic_attributes",
                    "fail",
                    f"master {data.master_rel(page)} is {pm.master_format}, metadata says {page.file_format}",
                    defect="attributes_mismatch",
                    **_where_page(data, page),
                )
    r.finish(
        "electronic_attributes",
        f"{checked} PDFs: size, page count, page image sizes, format and name agree with the "
        f"journal; {masters} master pages: size and format agree",
    )


def check_package_structure(data: QcData, r: Results) -> None:
    """1-13: OUT/documents/<档号>/ holds <档号>.pdf, ocr/<档号>-NNNN.{hocr,txt,alto.xml}, pages/<档号>-NNNN.json."""
    checked = 0
    for doc in data.done:
        try:
            name = archival_code_filename(doc.archival_code)
        except ValueError as exc:
            r.add("package_structure", "fail", str(exc), defect="bad_name", **_where_doc(data, doc))
            continue
        folder = document_dir(name)
        expected = [f"{folder}/{pdf_file(name)}"]
        for page in data.pages.get(doc.doc_key, []):
            expected += [f"{folder}/{page_file(name, page.page_no, role)}" for role in PAGE_FILES]
        if doc.output_dir != folder:
            r.add(
                "package_structure",
                "fail",
                f"the journal puts the document in {doc.output_dir}, expected {folder}",
                defect="bad_layout",
                **_where_doc(data, doc),
            )
        absent = [rel for rel in expected if not (data.out / rel).is_file()]
        if absent:
            r.add(
                "package_structure",
                "fail",
                f"{len(absent)} expected file(s) missing: " + ", ".join(absent[:5]) + (" …" if len(absent) > 5 else ""),
                defect="file_missing",
                **_where_doc(data, doc),
            )
        checked += 1
    r.finish(
        "package_structure",
        f"{checked} document folders have the PDF/A, the per-page OCR files (hOCR, text, ALTO) "
        "and page records under the names the 档号 gives",
    )


def check_catalogue_file(data: QcData, r: Results) -> None:
    """1-12: the DA/T 93 目录文件 exists, is valid and lists every document."""
    from metadata.export.validate import validate

    rel = catalogue_file()
    path = data.out / rel
    if not path.is_file():
        r.add(
            "catalogue_file",
            "warn",
            f"no {rel} in OUT yet: run `digitize export OUT` before the hand-off",
            object=rel,
            file=rel,
            defect="catalogue_file_missing",
        )
        return
    try:
        tree = parse_file(path)
        errors = validate("dat93", tree)
    except (UnsafeXmlError, Exception) as exc:  # noqa: BLE001 - any parse problem is the finding
        r.add(
            "catalogue_file",
            "fail",
            f"cannot be read: {exc}",
            object=rel,
            file=rel,
            defect="catalogue_file_invalid",
        )
        return
    if errors:
        r.add(
            "catalogue_file",
            "fail",
            f"not valid DA/T 93: {errors[0]}",
            object=rel,
            file=rel,
            defect="catalogue_file_invalid",
        )
        return
    listed = {(el.text or "").strip() for el in tree.getroot().iter("档号")}
    missing = sorted(d.archival_code for d in data.done if d.archival_code not in listed)
    if missing:
        r.add(
            "catalogue_file",
            "fail",
            "目录文件 does not list " + ", ".join(missing) + " (run `digitize export` again)",
            object=rel,
            file=rel,
            defect="catalogue_file_incomplete",
        )
    r.finish(
        "catalogue_file",
        f"{rel} is valid DA/T 93 and lists {len(listed)} items, every processed document",
    )


def check_metadata_readable(data: QcData, r: Results) -> None:
    """3-1: every XML file under OUT (ALTO, exports) parses with the safe parser and validates."""
    from metadata.export.validate import validate

    counts: Counter[str] = Counter()
    for path in sorted(data.out.rglob("*.xml")):
        rel = path.relative_to(data.out).as_posix()
        if rel.startswith((QC_DIR + "/", WORK_DIR + "/")):
            continue
        kind = xml_schema(rel)
        try:
            tree = parse_file(path)
            errors = validate(kind, tree) if kind else []
        except Exception as exc:  # noqa: BLE001 - unreadable XML is the finding
            r.add(
                "metadata_readable",
                "fail",
                f"{rel} cannot be parsed: {exc}",
                object=rel,
                file=rel,
                defect="xml_unreadable",
            )
            continue
        if errors:
            r.add(
                "metadata_readable",
                "fail",
                f"{rel} is not valid {kind}: {errors[0]}",
                object=rel,
                file=rel,
                defect="xml_invalid",
            )
        counts[kind or "xml (no schema)"] += 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no XML files"
    r.finish("metadata_readable", f"parsed without entities and validated: {summary}")


def check_formats(data: QcData, r: Results) -> None:
    """3-3 (allowed formats) and DA/T 31 §9.5 (one master format per batch)."""
    formats: Counter[str] = Counter()
    for doc_pages in data.pages.values():
        for page in doc_pages:
            if page.file_format:
                formats[page.file_format] += 1
                if page.file_format not in MASTER_FORMATS:
                    r.add(
                        "format_allowed",
                        "fail",
                        f"master format {page.file_format} is not one of {', '.join(MASTER_FORMATS)}",
                        defect="format_not_allowed",
                        **_where_page(data, page),
                    )
    for doc in data.done:
        pdfa = doc.pdfa
        if not doc.pdf_path.endswith(".pdf") or not pdfa.get("flavour"):
            r.add(
                "format_allowed",
                "fail",
                f"{doc.pdf_path} is not recorded as PDF/A",
                defect="format_not_allowed",
                **_where_doc(data, doc),
            )
    listed = ", ".join(f"{n} {name}" for name, n in formats.most_common())
    r.finish("format_allowed", f"masters: {listed or 'none'}; outputs: {len(data.done)} PDF/A files")
    if len(formats) > 1:
        r.add(
            "storage_format",
            "warn",
            f"DA/T 31 §9.5 asks for one storage format per batch; the masters use {listed}",
            defect="mixed_formats",
        )
    r.finish("storage_format", f"all masters are {listed}" if listed else "no masters recorded")


def _pdf_problems(path: Path, flavour: str) -> list[tuple[str, str]]:
    """(defect, text) for everything that keeps a PDF from being an archival PDF/A."""
    problems: list[tuple[str, str]] = []
    try:
        report = pikepdf.pdfa.validate_written(path, flavour)
        if not report.passed:
            shown = "; ".join(f"{f.rule}: {f.message}" for f in list(report.findings)[:3])
            problems.append(("pdfa_invalid", f"not valid PDF/A-{flavour}: {shown}"))
    except Exception as exc:  # noqa: BLE001
        problems.append(("pdfa_invalid", f"PDF/A validation could not run: {exc}"))
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return problems + [("encrypted", "the PDF is encrypted")]
    except Exception as exc:  # noqa: BLE001
        return problems + [("pdf_unreadable", f"cannot be opened: {exc}")]
    with pdf:
        if pdf.is_encrypted:
            problems.append(("encrypted", "the PDF is encrypted"))
        javascript = False
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) or isinstance(obj, pikepdf.Stream):
                try:
                    if "/JS" in obj or obj.get("/S") == pikepdf.Name.JavaScript:
                        javascript = True
                        break
                except Exception:  # noqa: BLE001 - odd objects are not JavaScript
                    continue
        names = pdf.Root.get("/Names")
        if names is not None and "/JavaScript" in names:
            javascript = True
        if javascript:
            problems.append(("javascript", "the PDF contains JavaScript"))
        for number, page in enumerate(pdf.pages, start=1):
            fonts = (page.get("/Resources") or {}).get("/Font") or {}
            for name, font in fonts.items():
                descendants = font.get("/DescendantFonts")
                target = descendants[0] if descendants is not None and len(descendants) else font
                descriptor = target.get("/FontDescriptor")
                embedded = descriptor is not None and any(
                    k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
                )
                if not embedded:
                    problems.append(("font_not_embedded", f"page {number}: font {name} is not embedded"))
            images = page.get_images() if hasattr(page, "get_images") else page.images
            for name, image in images.items():
                filters = image.get("/Filter")
                filters = (
                    [str(f) for f in (filters if isinstance(filters, pikepdf.Array) else [filters])]
                    if filters is not None
                    else []
                )
                for f in filters:
                    if f not in PDF_IMAGE_FILTERS:
                        problems.append(("compression_not_allowed", f"page {number}: image {name} uses {f}"))
        meta = pdf.open_metadata()
        part, conformance = meta.get("pdfaid:part"), meta.get("pdfaid:conformance")
        if part is None or conformance is None:
            problems.append(("pdfa_invalid", "XMP has no pdfaid:part / pdfaid:conformance"))
        elif f"{part}{conformance}".lower() != flavour.lower():
            problems.append(("pdfa_invalid", f"XMP says PDF/A-{part}{conformance}, the journal PDF/A-{flavour}"))
    return problems


def check_pdfa(data: QcData, r: Results) -> None:
    checked = 0
    for doc in data.done:
        path = data.out / doc.pdf_path
        if not path.is_file():
            continue
        checked += 1
        flavour = (doc.pdfa).get("flavour") or data.settings.pdf.pdfa_flavour
        for defect, text in _pdf_problems(path, flavour):
            r.add(
                "pdfa",
                "fail",
                f"{doc.pdf_path}: {text}",
                defect=defect,
                file=doc.pdf_path,
                **_where_doc(data, doc),
            )
    r.finish(
        "pdfa",
        f"{checked} PDFs pass pikepdf's PDF/A validator, are not encrypted, carry no JavaScript, embed "
        "their fonts, use open image compression and declare pdfaid in XMP",
    )


def check_virus(data: QcData, r: Results, scanner: str | None = None) -> None:
    """4-1 / 4-2: a virus scanner is installed; OUT scanned with it (clamscan)."""
    program = shutil.which(scanner or VIRUS_SCANNER)
    if program is None:
        r.add("antivirus", "warn", f"no virus scanner found ({VIRUS_SCANNER} is not installed)", defect="no_antivirus")
        r.add("virus", "not checked", f"{VIRUS_SCANNER} is not installed; OUT was not scanned for viruses")
        return
    try:
        version = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        version = program
    r.add("antivirus", "pass", f"virus scanner installed: {version or program}")
    targets = [str(data.out)]
    try:
        proc = subprocess.run(
            [program, "-r", "--infected", "--no-summary", *targets],
            capture_output=True,
            text=True,
            timeout=VIRUS_SCAN_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        r.add("virus", "not checked", f"{VIRUS_SCANNER} did not run: {exc}")
        return
    infected = [line for line in proc.stdout.splitlines() if line.rstrip().endswith("FOUND")]
    for line in infected:
        path, _, what = line.rpartition(":")
        rel = path.strip()
        try:
            rel = Path(rel).resolve().relative_to(data.out.resolve()).as_posix()
        except ValueError:
            pass
        r.add("virus", "fail", f"{VIRUS_SCANNER}: {what.strip()}", object=rel, file=rel, defect="virus")
    if proc.returncode not in (0, 1) and not infected:
        r.add(
            "virus",
            "not checked",
            f"{VIRUS_SCANNER} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:300]}",
        )
        return
    r.finish("virus", f"{VIRUS_SCANNER} found nothing in {data.out}")


def expected_files(data: QcData) -> set[str]:
    expected = {rel for _, _, rel, _, _ in _journal_outputs(data)}
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
                "warn",
                f"{rel}: left over from an interrupted write",
                object=rel,
                file=rel,
                defect="extra_file",
            )
            continue
        r.add(
            "extra_files",
            "fail",
            f"{rel} is not produced by processing or export (not in the journal)",
            object=rel,
            file=rel,
            defect="extra_file",
        )
    if staged:
        r.add(
            "extra_files",
            "warn",
            f"{staged} staging files of unfinished documents under {WORK_DIR}/ (removed when "
            "they are processed again; not part of a hand-off)",
            object=WORK_DIR,
            file=WORK_DIR,
            defect="staging_files",
        )
    r.finish("extra_files", f"all {counted} files under OUT are outputs, exports, the journal, logs or QC reports")


# ------------------------------------------------------------------------------------- image checks
def _measure_of(data: QcData, page: PageRecord) -> PageMeasure | None:
    measure = data.measures.get(page.doc_key)
    if measure is None:
        return None
    return next((m for m in measure.pages if m.page_no == page.page_no), None)


def check_resolution(data: QcData, r: Results) -> None:
    qc = data.settings.qc
    dpis: Counter[int] = Counter()
    for doc_pages in data.pages.values():
        for page in doc_pages:
            dpi = page.dpi
            if dpi is None:
                continue
            dpis[int(round(dpi))] += 1
            source = f" ({page.dpi_source})" if page.dpi_source and page.dpi_source != "file" else ""
            if dpi < qc.fail_dpi:
                r.add(
                    "resolution",
                    "fail",
                    f"scanned at {dpi:g} dpi{source}; DA/T 31 §9.4 requires at least {qc.fail_dpi}",
                    defect="low_dpi",
                    **_where_page(data, page),
                )
            elif dpi < qc.min_dpi:
                r.add(
                    "resolution",
                    "warn",
                    f"scanned at {dpi:g} dpi{source}; the profile asks for {qc.min_dpi}",
                    defect="low_dpi",
                    **_where_page(data, page),
                )
    listed = ", ".join(f"{n} pages at {d} dpi" for d, n in sorted(dpis.items()))
    r.finish("resolution", f"{listed or 'no pages'}; minimum {qc.min_dpi} dpi (below {qc.fail_dpi} fails)")


def check_colour_mode(data: QcData, r: Results) -> None:
    """DA/T 31 §9.3: red headers and seals must be kept in colour (fail); other colour content
    (coloured writing, pictures) stored grey is a warning. Grey masters cannot be judged."""
    colour_pages = red_pages = other_pages = not_colour = 0
    for doc_pages in data.pages.values():
        for page in doc_pages:
            pm = _measure_of(data, page)
            if pm is None or pm.master_mode is None:
                continue
            if pm.master_mode != "colour":
                not_colour += 1
                continue
            colour_pages += 1
            content = pm.colour or {}
            stored = (pm.pdf_image or {}).get("colour_space")
            kept = stored in ("/DeviceRGB", "/ICCBased", "/CalRGB", "/Lab")
            kind = "bitonal" if (pm.pdf_image or {}).get("bits") == 1 else "grey"
            if content.get("needs_colour"):
                red_pages += 1
                if stored is not None and not kept:
                    r.add(
                        "colour_mode",
                        "fail",
                        f"the master has red content (red region {content['largest_red_mm']} mm, "
                        f"{content['red_fraction'] * 100:.2f}% red pixels: a seal or red header) but the PDF stores "
                        f"the page {kind} ({stored})",
                        defect="colour_lost",
                        **_where_page(data, page),
                    )
            elif content.get("other_colour"):
                other_pages += 1
                if stored is not None and not kept:
                    r.add(
                        "colour_mode",
                        "warn",
                        f"the master has coloured content (region {content['largest_region_mm']} mm, "
                        f"not red: coloured ink or a picture) and the PDF stores it {kind}; DA/T 31 §9.3 asks for "
                        "colour where writing is multi-coloured or pictures are coloured",
                        defect="colour_reduced",
                        **_where_page(data, page),
                    )
    if not data.masters_read:
        r.finish("colour_mode", "masters were not read (--no-masters)", "not checked")
    r.finish(
        "colour_mode",
        f"{colour_pages} colour masters: {red_pages} with red seals or headers, all kept in colour, "
        f"{other_pages} with other colour content; {not_colour} grey or bitonal masters cannot show whether the "
        "paper had colour",
    )


def check_residual_skew(data: QcData, r: Results) -> None:
    """DA/T 31 §10.2: re-measure the skew of each PDF page image. A page whose ink shows no clear
    line structure (confidence below MIN_SKEW_CONFIDENCE: a signature-only page, speckle on an
    empty reverse side) cannot be judged and is only counted."""
    qc = data.settings.qc
    measured = unclear = 0
    worst = 0.0
    for doc_pages in data.pages.values():
        for page in doc_pages:
            pm = _measure_of(data, page)
            if pm is None or pm.residual_skew_deg is None:
                continue
            if (pm.residual_skew_confidence or 0) < MIN_SKEW_CONFIDENCE:
                unclear += 1
                continue
            measured += 1
            angle = abs(pm.residual_skew_deg)
            worst = max(worst, angle)
            recorded = page.skew_deg
            corrected = f"; processing corrected {recorded:+.2f}°" if recorded else ""
            text = (
                f"residual skew {pm.residual_skew_deg:+.2f}° on the PDF page image (confidence "
                f"{pm.residual_skew_confidence}){corrected}"
            )
            if angle > qc.max_raw_skew_deg:
                r.add(
                    "residual_skew",
                    "fail",
                    text + f"; more than {qc.max_raw_skew_deg}°",
                    defect="residual_skew",
                    **_where_page(data, page),
                )
            elif angle > qc.max_residual_skew_deg:
                r.add(
                    "residual_skew",
                    "warn",
                    text + f"; more than {qc.max_residual_skew_deg}°",
                    defect="residual_skew",
                    **_where_page(data, page),
                )
    r.finish(
        "residual_skew",
        f"{measured} PDF page images re-measured; largest residual skew {worst:.2f}° "
        f"(warn above {qc.max_residual_skew_deg}°, fail above {qc.max_raw_skew_deg}°); {unclear} pages with too "
        "little text to measure",
    )


def check_blur(data: QcData, r: Results) -> None:
    qc = data.settings.qc
    measured = 0
    widths = []
    for doc_pages in data.pages.values():
        for page in doc_pages:
            pm = _measure_of(data, page)
            if pm is None or pm.edge_width_px is None:
                continue  # bitonal, unreadable, or too little ink to judge (an empty page)
            measured += 1
            widths.append(pm.edge_width_px)
            text = (
                f"edges {pm.edge_width_px:.1f} px wide at 300 dpi (median of {pm.edge_tiles} text tiles of the master; "
                f"sharp scans measure 2–4 px)"
            )
            if page.is_blank:
                text += "; processing took the page for blank, so it has no OCR text"
            if pm.edge_width_px > qc.blur_fail_edge_px:
                r.add(
                    "blur",
                    "fail",
                    text + f"; above {qc.blur_fail_edge_px} px: out of focus, re-scan",
                    defect="strong_blur",
                    **_where_page(data, page),
                )
            elif pm.edge_width_px > qc.blur_warn_edge_px:
                r.add(
                    "blur",
                    "warn",
                    text + f"; above {qc.blur_warn_edge_px} px: look at it",
                    defect="blur",
                    **_where_page(data, page),
                )
    if not data.masters_read:
        r.finish("blur", "masters were not read (--no-masters)", "not checked")
    median = sorted(widths)[len(widths) // 2] if widths else None
    r.finish(
        "blur",
        f"{measured} masters with text measured; median edge width {median} px, largest "
        f"{max(widths) if widths else None} px (warn above {qc.blur_warn_edge_px}, fail above {qc.blur_fail_edge_px})",
    )


def check_blank_pages(data: QcData, r: Results) -> None:
    blank = 0
    for doc_pages in data.pages.values():
        for page in doc_pages:
            if page.is_blank:
                blank += 1
                score = page.metrics.get("blank_score")
                r.add(
                    "blank_page",
                    "warn",
                    "blank page kept in the PDF (counted in 页数); confirm it is an empty reverse "
                    "side" + (f" (blank score {score:.3f})" if isinstance(score, (int, float)) else ""),
                    defect="blank_page",
                    **_where_page(data, page),
                )
    r.finish("blank_page", "no blank pages")


def check_duplicates(data: QcData, r: Results) -> None:
    compared = 0
    for doc_key, measure in data.measures.items():
        compared += len([p for p in measure.pages if p.pdf_image])
        for pair in measure.duplicates:
            pages = {p.page_no: p for p in data.pages[doc_key]}
            page, original = pages[pair.page_no], pages[pair.duplicate_of]
            text = "" if pair.text_similarity is None else f", OCR text similarity {pair.text_similarity:.2f}"
            r.add(
                "duplicate_page",
                "fail",
                f"same sheet as page image {page_label(original)} (picture correlation "
                f"{pair.global_score:.3f}, worst regions {pair.cell_score:.3f}{text})",
                defect="duplicate_page",
                **_where_page(data, page),
            )
    r.finish(
        "duplicate_page", f"{compared} non-blank page images compared within their documents; no sheet scanned twice"
    )


def check_page_order(data: QcData, r: Results) -> None:
    for doc in data.documents:
        doc_pages = data.pages.get(doc.doc_key, [])
        slots = [p.slot for p in doc_pages if p.slot is not None]
        if slots != sorted(slots):
            r.add(
                "page_order",
                "fail",
                f"page image numbers in PDF order: {', '.join(f'{s:04d}' for s in slots)}",
                defect="page_order",
                **_where_doc(data, doc),
            )
        numbers = [p.page_no for p in doc_pages]
        if numbers != list(range(1, len(numbers) + 1)):
            r.add(
                "page_order",
                "fail",
                f"journal page numbers {numbers} are not 1..{len(numbers)}",
                defect="page_order",
                **_where_doc(data, doc),
            )
    r.finish(
        "page_order",
        "every document's pages follow the numbers of their image files (or frames), without gaps in the PDF",
    )


# ------------------------------------------------------------------------------------- run
@dataclass
class CheckRun:
    results: list[CheckResult]
    data: QcData

    @property
    def status(self) -> str:
        return "fail" if any(r.status == "fail" for r in self.results) else "pass"

    def by_check(self) -> list[dict[str, Any]]:
        """One summary per check: worst status and counts, in the order of SPECS."""
        order = {"fail": 3, "warn": 2, "not checked": 1, "pass": 0}
        summary = []
        for spec in SPECS.values():
            items = [r for r in self.results if r.check == spec.key]
            if not items:
                continue
            worst = max(items, key=lambda r: order[r.status]).status
            counts = Counter(r.status for r in items)
            summary.append(
                {
                    "item": spec.check_id(self.data.stage),
                    "check": spec.key,
                    "title": spec.title,
                    "status": worst,
                    "result": worst,
                    "fail": counts.get("fail", 0),
                    "warn": counts.get("warn", 0),
                    "evidence": items[0].evidence if len(items) == 1 else f"{len(items)} findings",
                }
            )
        return summary


def run_checks(
    out: str | os.PathLike[str],
    settings: Settings,
    stage: str = "GD",
    catalog_path: str | Path | None = None,
    jobs: int | None = None,
    verify_masters: bool = True,
    virus_scanner: str | None = None,
) -> CheckRun:
    stage = stage.upper()
    if stage not in STAGES:
        raise BadInput(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    out = Path(out)
    started = time.perf_counter()
    data = load_data(out, settings, stage, catalog_path)
    data.timings["load"] = time.perf_counter() - started
    started = time.perf_counter()
    data.masters_read = verify_masters
    data.measures = measure_documents(measurement_inputs(data, verify_masters), jobs)
    data.timings["measure"] = time.perf_counter() - started
    started = time.perf_counter()
    r = Results(stage)
    check_capture_fixity(data, r, verify_masters)
    _catalogue_findings(data, r)
    check_electronic_attributes(data, r)
    check_metadata_link(data, r)
    check_catalogue_file(data, r)
    check_package_structure(data, r)
    _, journal_bytes, disk_bytes = check_output_fixity(data, r)
    check_item_count(data, r)
    check_byte_count(data, r, journal_bytes, disk_bytes)
    check_content_count(data, r)
    check_metadata_readable(data, r)
    check_formats(data, r)
    check_unreadable(data, r)
    check_pdfa(data, r)
    check_virus(data, r, virus_scanner)
    check_extra_files(data, r)
    check_colour_mode(data, r)
    check_resolution(data, r)
    check_residual_skew(data, r)
    check_blur(data, r)
    check_blank_pages(data, r)
    check_duplicates(data, r)
    check_page_order(data, r)
    data.timings["checks"] = time.perf_counter() - started
    order = {spec.key: n for n, spec in enumerate(SPECS.values())}
    results = sorted(r.items, key=lambda x: order[x.check])
    return CheckRun(results, data)


def critical_documents(results: Iterable[CheckResult], groups: Iterable[str]) -> dict[str, list[str]]:
    """档号 -> reasons, for documents with a failing result in one of the critical groups."""
    codes: set[str] = set()
    for group in groups:
        if group not in CRITICAL_GROUPS:
            raise BadInput(f"unknown critical check group {group!r}; known: {', '.join(CRITICAL_GROUPS)}")
        codes |= CRITICAL_GROUPS[group]
    found: dict[str, list[str]] = defaultdict(list)
    for result in results:
        if result.status == "fail" and result.defect in codes and result.document:
            found[result.document].append(f"{result.check_id} {result.defect}")
    return dict(found)


def found_defects(results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    """Failing results in the eval-kit's `found.json` form: type, doc_id, page_id or file."""
    types = {
        "missing_page",
        "duplicate_page",
        "low_dpi",
        "corrupt_image",
        "zero_byte",
        "strong_blur",
        "catalog_row_no_folder",
        "folder_no_catalog_row",
    }
    found: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for result in results:
        if result.status != "fail" or result.defect not in types:
            continue
        doc_id = result.doc_key or result.document
        if result.defect == "catalog_row_no_folder":
            doc_id = result.document or result.object
        if not doc_id:
            continue
        item: dict[str, Any] = {"type": result.defect, "doc_id": doc_id}
        if result.page:
            item["page_id"] = f"{doc_id}/{result.page}"
        if result.file and result.page:
            item["file"] = result.file
        key = (item["type"], item["doc_id"], item.get("page_id"))
        if key in seen:
            continue
        seen.add(key)
        found.append(item)
    return found


def results_json(results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in results]


__all__ = [
    "CheckResult",
    "CheckRun",
    "CheckSpec",
    "QcData",
    "Results",
    "SPECS",
    "STATUSES",
    "critical_documents",
    "found_defects",
    "load_data",
    "page_label",
    "results_json",
    "run_checks",
]
