"""The document task: assemble a document's PDF/A and/or OFD, ALTO and page records from its staged pages.

It runs in the coordinating process while the workers go on with OCR of the next pages (PDF
writing and validation take a few hundredths of a second per page). It reads only the staging
folder and writes only into the document's commit folder; the coordinator moves that folder
into place and records it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize import __version__
from digitize.errors import as_interrupted
from digitize.fsutil import sha256_bytes, sha256_file
from digitize.layout import PAGE_FILES, ofd_file, page_file, pdf_file
from digitize.ocr.alto import alto_bytes
from digitize.ocr.hocr import OcrPage, parse_hocr
from digitize.ofd import OFD_VERSION, build_ofd
from digitize.pageimage import EncodedImage
from digitize.pdfa import DocumentMeta, PdfPage, build_pdf
from digitize.settings import Settings
from metadata.language import language_tag, languages_from_tesseract, languages_in_text


@dataclass(frozen=True)
class StagedPage:
    page_no: int
    stage_dir: str
    staged: dict[str, Any]
    metrics: dict[str, Any]  # written as the page's JSON record


@dataclass(frozen=True)
class DocumentTask:
    doc_key: str
    name: str  # file-name form of the 档号
    meta: DocumentMeta
    pages: tuple[StagedPage, ...]
    commit_dir: str
    settings: Settings
    ocr_software: str  # "tesseract 5.5.4": recorded in the ALTO files


@dataclass
class DocumentResult:
    doc_key: str
    ok: bool
    error: str | None = None
    pdf: dict[str, Any] = field(default_factory=dict)  # empty when the profile asks for no PDF/A
    ofd: dict[str, Any] = field(default_factory=dict)  # empty when the profile asks for no OFD
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path -> sha256, bytes
    seconds: float = 0.0


def run_document(task: DocumentTask) -> DocumentResult:
    started = time.perf_counter()
    result = DocumentResult(task.doc_key, ok=False)
    try:
        _run_document(task, result)
        result.ok = True
    except Exception as exc:  # noqa: BLE001 - the document fails with its reason; others go on
        shutil.rmtree(task.commit_dir, ignore_errors=True)
        interrupted = as_interrupted(exc, Path(task.commit_dir).parent)
        if interrupted is not None:  # not the document's fault: the run stops, a rerun does it
            raise type(interrupted)(f"{task.doc_key}: {interrupted}") from exc
        result.error = f"{task.doc_key}: building the document failed: {exc.__class__.__name__}: {exc}"
    result.seconds = time.perf_counter() - started
    return result


def _read_staged(page: StagedPage, role: str) -> bytes:
    info = page.staged[role]
    data = Path(page.stage_dir, info["name"]).read_bytes()
    if sha256_bytes(data) != info["sha256"]:
        raise ValueError(f"staged {role} of page {page.page_no} changed on disk")
    return data


def _run_document(task: DocumentTask, result: DocumentResult) -> None:
    settings: Settings = task.settings
    commit = Path(task.commit_dir)
    if commit.exists():
        shutil.rmtree(commit)
    for folder in sorted({folder for folder, _ in PAGE_FILES.values()}):
        (commit / folder).mkdir(parents=True)
    pdf_pages = []
    formats = settings.output.formats
    pdf_name = pdf_file(task.name)
    ofd_name = ofd_file(task.name)
    primary = pdf_name if formats[0] == "pdfa" else ofd_name  # the ALTO files describe its page images
    engine_name, _, engine_version = task.ocr_software.partition(" ")
    software = (engine_name, engine_version)
    for page in task.pages:
        image = EncodedImage(data=_read_staged(page, "image"), **page.staged["image_meta"])
        hocr = _read_staged(page, "hocr")
        ocr = parse_hocr(hocr).scaled(1.0 / page.staged["ocr_scale"]) if hocr else None
        pdf_pages.append(PdfPage(image, ocr))
        files = {role: page_file(task.name, page.page_no, role) for role in PAGE_FILES}
        outputs = {
            files["hocr"]: hocr,
            files["text"]: _read_staged(page, "text"),
            files["json"]: json.dumps(page.metrics, ensure_ascii=False, indent=1).encode("utf-8"),
        }
        outputs[files["alto"]] = alto_bytes(
            ocr or OcrPage(0, 0),
            f"{primary}#page={page.page_no}",
            page.page_no,
            width=image.width,
            height=image.height,
            software=software,
        )
        for rel, data in outputs.items():
            (commit / rel).write_bytes(data)
            result.files[rel] = {"sha256": sha256_bytes(data), "bytes": len(data)}
    meta = task.meta
    if meta.language is None:  # the catalogue gave no 语种: the document's own text tells
        text = "\n".join(page.ocr.text for page in pdf_pages if page.ocr is not None)
        found = languages_in_text(text, languages_from_tesseract(settings.ocr.languages))
        meta = dataclasses.replace(meta, language=language_tag(found))
    if "pdfa" in formats:
        report = build_pdf(pdf_pages, meta, commit / pdf_name, settings.pdf.pdfa_flavour, settings.pdf.validate)
        result.pdf = {
            **_fixity(commit / pdf_name),
            "flavour": report.flavour,
            "validated": report.validated,
            "findings": list(report.findings),
            "producer": f"digitize {__version__}",
        }
        result.files[pdf_name] = {"sha256": result.pdf["sha256"], "bytes": result.pdf["bytes"]}
    if "ofd" in formats:
        ofd = build_ofd(pdf_pages, meta, commit / ofd_name, settings.pdf.validate)
        result.ofd = {
            **_fixity(commit / ofd_name),
            "version": OFD_VERSION,
            "validated": ofd.validated,
            "parts": ofd.parts,
            "producer": f"digitize {__version__}",
        }
        result.files[ofd_name] = {"sha256": result.ofd["sha256"], "bytes": result.ofd["bytes"]}


def _fixity(path: Path) -> dict[str, Any]:
    return {"name": path.name, "sha256": sha256_file(path), "bytes": os.path.getsize(path)}
