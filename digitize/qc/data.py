"""What the checks read, loaded once: the journal, the catalogue and its findings, the metadata
exported into OUT, the page measurements.

Sources of truth: the journal (what was processed, with checksums and measurements), the
catalogue (what should be there), the files under OUT (with the DA/T 46 records and 目录文件
that `export` wrote) and the masters in the batch folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from digitize.errors import BadInput
from digitize.journal import DocumentRecord, Event, JournalSnapshot, PageRecord, Run, read_journal
from digitize.layout import PAGE_FILES, catalogue_file, dat46_file
from digitize.qc.measure import DocumentInput, DocumentMeasure, PageInput, PageMeasure
from digitize.qc.measurecache import document_key
from digitize.qc.results import STAGES
from digitize.settings import Settings
from metadata.archival_code import archival_code_filename
from metadata.catalog import Catalog, CatalogError, read_catalog
from metadata.export.dat46 import build_record
from metadata.export.dat93 import build_catalogue
from metadata.linking import ScannedDocument, link_documents
from metadata.packaged import PackagedMetadata, read_packaged
from metadata.records import ArchiveRecord
from metadata.technical import BatchRecords, batch_records
from metadata.validation import Finding, validate_catalog


@dataclass(frozen=True)
class RecordMetadata:
    """A processed document's DA/T 46 record: the file `export` wrote into OUT, and the record
    built from the database now (journal, catalogue, profile), which stands in before export."""

    document: DocumentRecord
    source: ArchiveRecord | None  # the metadata record of the database; None: the document has none
    expected: etree._ElementTree | None  # built from it; None when it cannot be built (`error`)
    packaged: etree._ElementTree | None  # the file in OUT; None before export
    path: str  # OUT-relative path of that file
    error: str = ""

    @property
    def tree(self) -> etree._ElementTree | None:
        """The record that counts: the package's, else the one export would write."""
        return self.packaged if self.packaged is not None else self.expected

    @property
    def where(self) -> str:
        """How a finding names the record it looked at."""
        return self.path if self.packaged is not None else f"{self.path}（尚未导出：按导出时将写入的内容）"


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
    packaged: PackagedMetadata = field(default_factory=PackagedMetadata)  # the metadata export wrote into OUT
    to_export: PackagedMetadata = field(default_factory=PackagedMetadata)  # what export would write now
    records: list[RecordMetadata] = field(default_factory=list)  # one per processed document
    measures: dict[str, DocumentMeasure] = field(default_factory=dict)
    measure_inputs: list[DocumentInput] = field(default_factory=list)  # what was measured, with its keys
    measures_reused: int = 0  # documents whose measurement was kept from an earlier qc run
    masters_read: bool = True
    timings: dict[str, float] = field(default_factory=dict)
    pages: dict[str, list[PageRecord]] = field(default_factory=dict)  # by doc_key, from the journal
    events_of: dict[str, list[Event]] = field(default_factory=dict)  # by doc_key: its events and its pages'

    def __post_init__(self) -> None:
        for page in self.journal.pages:
            self.pages.setdefault(page.doc_key, []).append(page)
        for event in self.journal.events:
            self.events_of.setdefault(event.object.split("/")[0], []).append(event)  # doc_key or doc_key/0001

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


def where_page(data: QcData, page: PageRecord) -> dict[str, Any]:
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


def where_doc(data: QcData, doc: DocumentRecord) -> dict[str, Any]:
    return {"object": doc.archival_code, "document": doc.archival_code, "doc_key": doc.doc_key}


@dataclass(frozen=True)
class SamplingChoice:
    """The sampling options chosen on the command line (None: not given); remembered in report.json."""

    ratio: float | None = None  # DA/T 31 ratio sampling
    aql: float | None = None  # ISO 2859-1 at this AQL ...
    level: str | None = None  # ... and inspection level
    seed: int | None = None  # of the sample draw

    @property
    def given(self) -> bool:
        return any(value is not None for value in dataclasses.astuple(self))


@dataclass(frozen=True)
class QcRequest:
    """What `digitize qc` is asked to do."""

    out: Path
    settings: Settings = field(default_factory=Settings)
    stage: str = "GD"  # DA/T 70 stage prefix of the check ids: GD, YJ or BC
    catalog: Path | None = None  # default: the catalogue of the last `process` run
    seed: int | None = None  # of the sample draw; default from the settings
    jobs: int | None = None  # worker processes for page measurements; default all cores
    verify_masters: bool = True  # read the masters (capture fixity, colour, blur)
    virus_scanner: str | None = None  # default clamscan
    decisions: Path | None = None  # inspectors' decisions (a filled qc/sample.csv): judge the lot
    reuse_measurements: bool = True  # keep the measurements of unchanged documents (qc/measurements.json)
    sampling: SamplingChoice = SamplingChoice()  # the sampling options chosen (already in `settings`, `seed`)

    @property
    def stage_prefix(self) -> str:
        stage = self.stage.upper()
        if stage not in STAGES:
            raise BadInput(f"stage must be one of {', '.join(STAGES)}, not {self.stage!r}")
        return stage


def load_data(request: QcRequest) -> QcData:
    journal = read_journal(request.out)
    batch_dir = journal.batch_dir if journal.batch_dir and journal.batch_dir.is_dir() else None
    settings = request.settings
    data = QcData(Path(request.out), settings, request.stage_prefix, journal, batch_dir)
    data.packaged = read_packaged(data.out)
    chosen = (
        str(request.catalog)
        if request.catalog
        else next((r.catalog for r in reversed(journal.runs) if r.catalog), None)
    )
    if chosen is None:
        data.catalog_note = "未提供目录，`digitize process` 也未记录目录"
    elif not Path(chosen).is_file():
        data.catalog_note = f"目录 {chosen} 不存在"
    else:
        try:
            data.catalog = read_catalog(chosen, settings)
            data.catalog_path = chosen
        except CatalogError as exc:
            data.catalog_note = f"目录无法读取：{exc}"
    if data.catalog is not None:
        data.findings.extend(validate_catalog(data.catalog, settings))
        scanned = []
        for doc in data.documents:
            doc_pages = data.pages.get(doc.doc_key, [])
            slots = tuple(int(p.slot) for p in doc_pages if p.slot is not None)
            count = len(doc_pages) if doc_pages else int(doc.n_pages or 0)
            scanned.append(ScannedDocument(doc.doc_key, doc.doc_key, count, slots))
        data.findings.extend(link_documents(data.catalog, scanned, settings).findings)
    built = batch_records(data.journal, settings, chosen)
    data.records = record_metadata(data, built)
    data.to_export = package_to_export(built)
    return data


def record_metadata(data: QcData, built: BatchRecords) -> list[RecordMetadata]:
    """The DA/T 46 record of every processed document, as exported and as the database gives it."""
    sources = {record.archival_code: record for record in built.records if record.scanned}
    found = []
    for doc in data.done:
        try:
            path = dat46_file(archival_code_filename(doc.archival_code))
        except ValueError:
            continue  # 1-13 reports a 档号 that gives no file name
        source = sources.get(doc.archival_code)
        expected, error = None, "" if source else "日志和目录未给出元数据记录"
        if source is not None:
            try:
                expected = build_record(source, built.batch)
            except ValueError as exc:
                error = f"无法生成该记录：{exc}"
        found.append(RecordMetadata(doc, source, expected, data.packaged.records.get(path), path, error))
    return found


def package_to_export(built: BatchRecords) -> PackagedMetadata:
    """The DA/T 46 records and the 目录文件 `export` (or a hand-off) would write from the database now."""
    package = PackagedMetadata()
    for record in built.records:
        try:
            package.records[dat46_file(archival_code_filename(record.archival_code))] = build_record(
                record, built.batch
            )
        except ValueError:
            continue  # a record export cannot write; 2-3 and the export itself say why
    try:
        package.catalogues[catalogue_file()] = build_catalogue(built.records)
    except ValueError:
        pass
    return package


@dataclass(frozen=True)
class LayoutFile:
    """A layout file of a document as the journal records it: the PDF/A or the OFD."""

    kind: str  # "pdf" | "ofd"
    path: str  # OUT-relative
    sha256: str
    bytes: int


def layout_files(doc: DocumentRecord) -> list[LayoutFile]:
    """The document's PDF/A and/or OFD, in that order."""
    files = []
    if doc.pdf_path:
        files.append(LayoutFile("pdf", doc.pdf_path, doc.pdf_sha256 or "", int(doc.pdf_bytes or 0)))
    if doc.ofd_path:
        files.append(LayoutFile("ofd", doc.ofd_path, doc.ofd_sha256 or "", int(doc.ofd_bytes or 0)))
    return files


def layout_path(data: QcData, doc: DocumentRecord) -> Path | None:
    """The layout file whose page images QC measures: the PDF/A, else the OFD (None before processing)."""
    rel = doc.pdf_path or doc.ofd_path
    return data.out / rel if doc.done and rel else None


def layout_rel(doc: DocumentRecord) -> str:
    """The OUT-relative path of that layout file ("" when there is none)."""
    return doc.pdf_path or doc.ofd_path or ""


def measurement_inputs(data: QcData, measure_masters: bool = True) -> list[DocumentInput]:
    inputs = []
    for doc in data.documents:
        doc_pages = data.pages.get(doc.doc_key, [])
        if not doc_pages:
            continue
        layout = layout_path(data, doc)
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
                    dpi=page.dpi or page.metrics.get("working_dpi"),  # the scale measurements are made at
                    is_blank=bool(page.is_blank),
                    text_path=str(data.out / text) if text else None,
                )
            )
        measured = DocumentInput(
            doc.doc_key,
            str(layout) if layout and layout.is_file() else None,
            tuple(page_inputs),
            data.settings.input,
            measure_masters,
        )
        inputs.append(dataclasses.replace(measured, key=document_key(doc, doc_pages, measured)))
    return inputs


def journal_outputs(data: QcData) -> list[tuple[DocumentRecord, PageRecord | None, str, str, int]]:
    """(document, page or None, path relative to OUT, sha256, bytes) of every output the journal lists."""
    files: list[tuple[DocumentRecord, PageRecord | None, str, str, int]] = []
    for doc in data.done:
        for layout in layout_files(doc):  # PDF/A and/or OFD (GB/T 33190)
            files.append((doc, None, layout.path, layout.sha256, layout.bytes))
        for page in data.pages.get(doc.doc_key, []):
            for role in PAGE_FILES:
                info = page.outputs.get(role)
                if info:
                    files.append((doc, page, info["path"], info["sha256"], int(info["bytes"])))
    return files


def measure_of(data: QcData, page: PageRecord) -> PageMeasure | None:
    measure = data.measures.get(page.doc_key)
    if measure is None:
        return None
    return next((m for m in measure.pages if m.page_no == page.page_no), None)
