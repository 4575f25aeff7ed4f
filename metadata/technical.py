"""Build the metadata records of a processed batch from its journal and catalogue.

Records = catalogue row + technical metadata (DA/T 46 M43–M56) + provenance events. The
journal is the only source of technical facts (files, sizes, checksums, resolutions, colour
modes, compression, page metrics, events); the catalogue adds rows that have no scan yet.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize import __version__
from digitize.journal import AGENT, DocumentRecord, DocumentState, Event, JournalSnapshot, PageRecord, Run, read_journal
from digitize.settings import Settings
from metadata.archival_code import ArchivalCodeError, CodeTemplate, code_parts
from metadata.catalog import Catalog, read_catalog
from metadata.language import catalogue_languages, languages_from_tesseract, languages_in_text
from metadata.linking import ScannedDocument, link_documents
from metadata.records import (
    DPI_SOURCES,
    PREMIS_EVENT_TYPES,
    Agent,
    ArchiveRecord,
    BatchInfo,
    FileInfo,
    PageInfo,
    pronom_puid,
)
from metadata.records import (
    Event as PremisEvent,
)

COLOUR_MODES = {"bitonal": "黑白二值", "grey": "灰度", "colour": "彩色"}
MASTER_FORMATS = {  # file format from the loader -> (format name, version, MIME type)
    "TIFF": ("TIFF", "6.0", "image/tiff"),
    "JPEG": ("JPEG", "1.01", "image/jpeg"),
    "PNG": ("PNG", "1.2", "image/png"),
    "JPEG 2000": ("JPEG 2000", "JP2", "image/jp2"),
    "PDF": ("PDF", None, "application/pdf"),
}
OFD_VERSION = "1.0"  # GB/T 33190-2016
SOFTWARE_AGENT = "agent-software-digitize"
OCR_AGENT = "agent-software-ocr"


def creating_application(run: Run | None) -> str:
    """DA/T 46 M50 文档创建程序 of a document: the software of the `process` run that made its layout
    files, with its OCR engine, e.g. "digitize 0.1.0; OCR tesseract 5.3.0 (tesserocr 2.7.1)"."""
    software = (run.software if run else None) or AGENT
    return f"{software}; OCR {run.engine}" if run and run.engine else software


def information_system(run: Run | None) -> str:
    """DA/T 46 M51 信息系统描述: the system the document's electronic form was made in."""
    software = (run.software if run else None) or AGENT
    return f"{software} 纸质档案数字化系统（扫描图像处理、OCR、PDF/A 与 OFD 版式文件生成）"


@dataclass
class BatchRecords:
    batch: BatchInfo
    records: list[ArchiveRecord]
    failed_documents: list[str]
    # 档号 of processed documents described from a catalogue given now, not as `process` recorded them
    described_anew: list[str] = field(default_factory=list)


def _master_info(page: PageRecord, batch_dir: Path, created: str | None) -> FileInfo:
    """The master file of a page; a multi-page TIFF or PDF is one file for all its pages (page_no None)."""
    name, version, mime = MASTER_FORMATS.get(
        page.file_format or "", (page.file_format or "unknown", None, "application/octet-stream")
    )
    source = Path(page.source_path or "")
    try:
        rel = source.relative_to(batch_dir).as_posix()
    except ValueError:
        rel = source.as_posix()
    return FileInfo(
        role="master",
        path=rel,
        size=int(page.master_bytes or 0),
        sha256=page.master_sha256 or "",
        mime_type=mime,
        format_name=name,
        format_version=version,
        puid=pronom_puid(name, version),
        created=created,
        page_no=page.page_no if page.container == "image" else None,
    )


def _layout_info(doc: DocumentRecord, kind: str, created: str | None, settings: Settings) -> FileInfo:
    """The document's PDF/A ("pdf") or OFD ("ofd") as the journal recorded it."""
    if kind == "pdf":
        version = doc.pdfa.get("flavour", settings.pdf.pdfa_flavour)
        mime, name = "application/pdf", "PDF/A"
        path, size, digest = doc.pdf_path, doc.pdf_bytes, doc.pdf_sha256
    else:
        version = doc.ofd.get("version", OFD_VERSION)
        mime, name = "application/ofd", "OFD"
        path, size, digest = doc.ofd_path, doc.ofd_bytes, doc.ofd_sha256
    return FileInfo(
        role=kind,
        path=path or "",
        size=int(size or 0),
        sha256=digest or "",
        mime_type=mime,
        format_name=name,
        format_version=version,
        puid=pronom_puid(name, version),
        created=created,
    )


def _output_info(role: str, info: dict[str, Any], page_no: int | None, created: str | None) -> FileInfo:
    formats = {
        "alto": ("application/xml", "ALTO", "4.4"),
        "hocr": ("text/html", "hOCR", "1.2"),
        "text": ("text/plain", "Text", None),
    }
    mime, name, version = formats[role]
    return FileInfo(role, info["path"], int(info["bytes"]), info["sha256"], mime, name, version, None, created, page_no)


def _event_links(
    item: Event, doc_key: str, layout: list[FileInfo], pages: list[PageInfo]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(source paths, outcome paths) of one journal event: the files it examined or acted on, and
    the files it made. Masters are only ever sources: nothing modifies them."""
    named = item.detail.get("file")
    layout_paths = tuple(f.path for f in layout)
    masters = tuple(dict.fromkeys(p.master.path for p in pages))
    altos = tuple(p.alto.path for p in pages if p.alto)
    if item.object != doc_key:  # a page event: doc/0001
        page = next((p for p in pages if item.object == f"{doc_key}/{p.page_no:04d}"), None)
        if page is None:
            return (), ()
        if item.detail.get("step") == "OCR":
            return (page.master.path,), ((page.alto.path,) if page.alto else ())
        if item.type == "modification":  # the working copy's geometry, drawn into the layout files
            return (page.master.path,), layout_paths
        return (page.master.path,), ()
    if item.type == "creation" and named in layout_paths:
        return masters, (named,)
    if named:
        return ((named,) if named in {*layout_paths, *masters, *altos} else ()), ()
    return tuple(dict.fromkeys([*layout_paths, *masters, *altos])), ()


def _events(
    journal_events: list[Event], doc_key: str, layout: list[FileInfo], pages: list[PageInfo]
) -> list[PremisEvent]:
    events = []
    for item in journal_events:
        if item.type not in PREMIS_EVENT_TYPES:
            continue
        detail = item.detail
        text = "; ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, "", [], {}))
        agents = (SOFTWARE_AGENT, OCR_AGENT) if detail.get("step") == "OCR" else (SOFTWARE_AGENT,)
        sources, outcomes = _event_links(item, doc_key, layout, pages)
        events.append(
            PremisEvent(
                identifier=f"event-{item.seq}",
                type=item.type,
                datetime=item.ts,
                detail=text,
                outcome=item.outcome if item.outcome in ("success", "failure", "warning") else "warning",
                agent_ids=agents,
                object_ids=sources,
                outcome_ids=outcomes,
            )
        )
    return events


def load_records(
    out: str | os.PathLike[str], settings: Settings, catalog_path: str | Path | None = None
) -> BatchRecords:
    """Records of every processed document of OUT, plus catalogue rows that have no scan."""
    return batch_records(read_journal(out), settings, catalog_path)


def batch_records(journal: JournalSnapshot, settings: Settings, catalog_path: str | Path | None = None) -> BatchRecords:
    """Records of every processed document in a journal, plus catalogue rows that have no scan.

    A processed document is described as `process` recorded it (its catalogue row then); a
    catalogue given here (`catalog_path`) describes every document it links to instead, so a
    batch processed without its catalogue can be exported with it. Without one, the catalogue
    of the last run (when it is still there) adds the rows that have no scan. A catalogue that
    cannot be read is an error (CatalogError, exit 2), never a silent batch without its rows."""
    out = journal.path.parent
    batch_id = journal.batch_id or str(uuid.uuid5(uuid.NAMESPACE_URL, str(out.resolve())))
    batch_dir = journal.batch_dir or Path(".")
    last_run = journal.last_run
    catalog_file = str(catalog_path) if catalog_path else (last_run.catalog if last_run else None)
    catalog = _catalogue(catalog_file, settings, given=catalog_path is not None)
    rows = _linked_rows(journal, catalog, settings) if catalog is not None and catalog_path is not None else {}
    described_anew: list[str] = []
    engine = ((last_run.engine if last_run else None) or "tesseract").split(" (")[0]
    languages = languages_from_tesseract(settings.ocr.languages)
    agents = [
        Agent(SOFTWARE_AGENT, "digitize", "software", __version__),
        Agent(OCR_AGENT, engine.split(" ")[0], "software", engine.split(" ", 1)[1] if " " in engine else None),
    ]
    template = CodeTemplate(settings.archival_code)
    records: list[ArchiveRecord] = []
    failed: list[str] = []
    known_codes = set()
    runs = {run.id: run for run in journal.runs}
    for doc in journal.documents:
        if doc.state == DocumentState.WITHHELD:  # classified and not processed: its catalogue row describes it
            continue
        if not doc.done:
            failed.append(doc.doc_key)
            continue
        created = doc.updated
        pdf = _layout_info(doc, "pdf", created, settings) if doc.pdf_path else None
        ofd = _layout_info(doc, "ofd", created, settings) if doc.ofd_path else None
        page_infos: list[PageInfo] = []
        for page in journal.pages_of(doc.doc_key):
            master = _master_info(page, batch_dir, None)
            outputs = page.outputs
            alto = _output_info("alto", outputs["alto"], page.page_no, created) if "alto" in outputs else None
            page_infos.append(
                PageInfo(
                    page_no=page.page_no,
                    master=master,
                    alto=alto,
                    dpi=round(page.dpi) if page.dpi is not None else None,
                    dpi_source=page.dpi_source if page.dpi_source in DPI_SOURCES else "unknown",
                    colour_mode=COLOUR_MODES[page.source_mode or ""],
                    compression=page.compression or "unknown",
                    width_px=int(page.width or 0),
                    height_px=int(page.height or 0),
                    is_blank=bool(page.is_blank),
                    skew_deg=float(page.skew_deg or 0.0),
                    orientation_deg=int(page.orientation_deg or 0),
                    ocr_confidence=page.ocr_confidence,
                    pdf_page=page.page_no,
                )
            )
        catalogue = dict(doc.catalog)
        if doc.doc_key in rows and rows[doc.doc_key] != catalogue:
            catalogue = rows[doc.doc_key]
            described_anew.append(doc.archival_code)
        catalogue.setdefault("档号", doc.archival_code)
        if doc.title and doc.doc_key not in rows:
            catalogue.setdefault("题名", doc.title)
        text = "\n".join(_page_text(out, page) for page in journal.pages_of(doc.doc_key))
        made_by = runs.get(doc.run_id or 0, last_run)  # the run that made its layout files
        records.append(
            ArchiveRecord(
                archival_code=doc.archival_code,
                catalogue=catalogue,
                pdf=pdf,
                ofd=ofd,
                pages=page_infos,
                language=catalogue_languages(catalogue.get("语种", ""))[0] or languages_in_text(text, languages),
                code_parts=code_parts(catalogue, doc.archival_code, template, settings.catalog.retention_values),
                events=_events(
                    journal.events_about(doc.doc_key), doc.doc_key, [f for f in (pdf, ofd) if f], page_infos
                ),
                agents=agents,
                creating_application=creating_application(made_by),
                information_system=information_system(made_by),
                physical_form=settings.archive.physical_form,
            )
        )
        known_codes.add(doc.archival_code)
    if catalog is not None:
        for row in catalog.records:
            code = row.get("archival_code").strip()
            if code and code not in known_codes:
                catalogue = {k: v for k, v in row.labelled().items() if v}
                records.append(
                    ArchiveRecord(
                        archival_code=code,
                        catalogue=catalogue,
                        language=catalogue_languages(catalogue.get("语种", ""))[0],
                        code_parts=code_parts(catalogue, code, template, settings.catalog.retention_values),
                    )
                )
                known_codes.add(code)
    batch = BatchInfo(
        batch_id=batch_id,
        fonds_id=_fonds_of(records, settings),
        fonds_name=settings.archive.fonds_name,
        archives_name=settings.archive.archives_name,
        archives_code=settings.archive.archives_code,
        creating_unit=settings.archive.creating_unit,
        created=dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
        software_version=__version__,
    )
    return BatchRecords(batch, records, failed, described_anew)


def _catalogue(file: str | None, settings: Settings, given: bool) -> Catalog | None:
    """The catalogue to describe by: the one given, else the last run's while it is there; one
    that cannot be read raises CatalogError (exit 2), naming the file and the reason."""
    if not file or (not given and not Path(file).is_file()):
        return None
    return read_catalog(file, settings)


def _linked_rows(journal: JournalSnapshot, catalog: Catalog, settings: Settings) -> dict[str, dict[str, str]]:
    """doc_key -> the catalogue fields (DA/T names) of the row linked to each processed document."""
    scanned = []
    for doc in journal.documents:
        pages = journal.pages_of(doc.doc_key)
        slots = tuple(int(p.slot) for p in pages if p.slot is not None)
        scanned.append(ScannedDocument(doc.doc_key, doc.archival_code, len(pages), slots))
    described = {}
    for link in link_documents(catalog, scanned, settings).links:
        fields = {k: v for k, v in link.record.labelled().items() if v}
        fields["档号"] = link.document.archival_code  # the 档号 it was processed under
        described[link.document.key] = fields
    return described


def _page_text(out: Path, page: PageRecord) -> str:
    """The OCR text of a page as committed ("" when it has none or it cannot be read)."""
    info = page.outputs.get("text")
    if not info:
        return ""
    try:
        return (out / info["path"]).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _fonds_of(records: list[ArchiveRecord], settings: Settings) -> str:
    """全宗号: the catalogue's column, else the first component of the 档号."""
    template = CodeTemplate(settings.archival_code)
    for record in records:
        if record.get("全宗号"):
            return record.get("全宗号")
        try:
            fonds = template.parse(record.archival_code).get("fonds")
        except ArchivalCodeError:
            continue
        if fonds:
            return fonds
    return ""
