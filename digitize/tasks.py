"""The two kinds of work that run in worker processes: a page task and a document task.

Both are pure with respect to the journal: they read inputs, write their outputs into a
staging folder under OUT/.work, and return a small result for the coordinator to record.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize import __version__
from digitize.batch import InputError, PageRef
from digitize.fsutil import atomic_write_bytes, sha256_bytes, sha256_file
from digitize.loader import load_page
from digitize.ocr.hocr import OcrPage, parse_hocr
from digitize.ocr.tesseract import OcrEngine, OcrError, OcrTimeout, make_engine
from digitize.pageimage import EncodedImage, encode_page, output_mode
from digitize.pdfa import DocumentMeta, PdfPage, build_pdf
from digitize.settings import OcrSettings, Settings, settings_from_dict

_ENGINES: dict[tuple, OcrEngine] = {}
SPARSE_TEXT_PSM = 11


def engine_for(ocr: OcrSettings) -> OcrEngine:
    """The OCR engine of this worker process, created once (models load once per process)."""
    key = (ocr.engine, ocr.languages, ocr.psm, ocr.page_timeout_s, ocr.tessdata_dir)
    if key not in _ENGINES:
        _ENGINES[key] = make_engine(ocr.engine, ocr.languages, ocr.psm, ocr.page_timeout_s, ocr.tessdata_dir)
    return _ENGINES[key]


# ---------------------------------------------------------------------------- page task
@dataclass(frozen=True)
class PageTask:
    ref: PageRef
    stage_dir: str
    settings: dict[str, Any]


@dataclass
class PageResult:
    doc_key: str
    page_no: int
    ok: bool
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    geometry: dict[str, Any] = field(default_factory=dict)
    ocr_confidence: float | None = None
    ocr_status: str = "not run"
    staged: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def run_page(task: PageTask) -> PageResult:
    """Load, straighten, analyse and OCR one page; stage the encoded image, hOCR and text."""
    ref = task.ref
    result = PageResult(ref.doc_key, ref.page_no, ok=False)
    try:
        _run_page(task, result)
        result.ok = True
    except InputError as exc:
        result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - any failure fails this page only, with its reason
        where = f"{ref.path}" + (f" (page {ref.frame + 1})" if ref.container != "image" else "")
        result.error = f"{where}: {exc.__class__.__name__}: {exc}"
        result.warnings.append(traceback.format_exc(limit=3))
    return result


def _run_page(task: PageTask, result: PageResult) -> None:
    from digitize.imaging import process_page

    settings = settings_from_dict(task.settings)
    ref = task.ref
    timings = result.timings
    started = time.perf_counter()
    loaded = load_page(ref, settings.input)
    timings["load"] = time.perf_counter() - started
    result.warnings.extend(loaded.warnings)
    engine = engine_for(settings.ocr)

    processed = process_page(
        loaded.image,
        loaded.dpi,
        settings.imaging,
        bitonal=loaded.mode == "bitonal",
        osd=lambda image: engine.orientation(image, loaded.dpi),
    )
    timings.update({f"imaging.{k}": v for k, v in processed.timings.items()})
    geometry = processed.geometry
    result.geometry = dataclasses.asdict(geometry)

    stage = Path(task.stage_dir)
    stem = f"{ref.page_no:04d}"
    hocr_text, plain_text = "", ""
    if geometry.is_blank:
        result.ocr_status = "skipped: blank page"
    else:
        try:
            ocr_dpi = loaded.dpi * processed.ocr_scale
            output = engine.recognise(processed.ocr_image, ocr_dpi)
            timings["ocr"] = output.seconds
            result.ocr_status = "ok"
            if not parse_hocr(output.hocr).words:
                # Automatic layout analysis finds nothing on some sparse pages (a signature
                # block under a seal): a second pass looks for sparse text instead.
                output = engine.recognise(processed.ocr_image, ocr_dpi, psm=SPARSE_TEXT_PSM)
                timings["ocr_sparse"] = output.seconds
                result.ocr_status = "ok (sparse text pass)"
            hocr_text, plain_text = output.hocr, output.text
        except OcrTimeout as exc:
            result.ocr_status = f"timeout: {exc}"
            result.warnings.append(f"{ref.path}: OCR {exc}; the page is kept without text")
        except OcrError as exc:
            raise OcrError(f"{ref.path}: {exc}") from None
    ocr_page = parse_hocr(hocr_text) if hocr_text else OcrPage(0, 0)
    result.ocr_confidence = ocr_page.mean_confidence

    started = time.perf_counter()
    mode = output_mode(loaded.mode, geometry.needs_colour, settings.imaging.output_colour)
    encoded = encode_page(
        processed.image, mode, loaded.dpi, settings.imaging.jpeg_quality, settings.imaging.bitonal_encoding
    )
    timings["encode"] = time.perf_counter() - started

    started = time.perf_counter()
    image_meta = {k: v for k, v in dataclasses.asdict(encoded).items() if k != "data"}
    files = {
        "image": (f"{stem}.img", encoded.data),
        "hocr": (f"{stem}.hocr", hocr_text.encode("utf-8")),
        "text": (f"{stem}.txt", plain_text.encode("utf-8")),
    }
    staged: dict[str, Any] = {"image_meta": image_meta, "ocr_scale": processed.ocr_scale}
    for role, (name, data) in files.items():
        atomic_write_bytes(stage / name, data)
        staged[role] = {"name": name, "sha256": sha256_bytes(data), "bytes": len(data)}
    result.staged = staged
    timings["stage"] = time.perf_counter() - started

    height, width = loaded.image.shape[:2]
    result.facts = {
        "file_format": loaded.file_format,
        "compression": loaded.compression,
        "dpi": loaded.dpi,
        "dpi_source": loaded.dpi_source,
        "source_mode": loaded.mode,
        "output_mode": mode,
        "output_compression": encoded.compression,
        "width": width,
        "height": height,
        "output_width": encoded.width,
        "output_height": encoded.height,
    }


# ---------------------------------------------------------------------------- document task
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
    settings: dict[str, Any]
    ocr_software: str  # "tesseract 5.5.4": recorded in the ALTO files


@dataclass
class DocumentResult:
    doc_key: str
    ok: bool
    error: str | None = None
    pdf: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path -> sha256, bytes
    seconds: float = 0.0


def run_document(task: DocumentTask) -> DocumentResult:
    started = time.perf_counter()
    result = DocumentResult(task.doc_key, ok=False)
    try:
        _run_document(task, result)
        result.ok = True
    except Exception as exc:  # noqa: BLE001 - the document fails with its reason; others go on
        result.error = f"{task.doc_key}: building the PDF/A failed: {exc.__class__.__name__}: {exc}"
        shutil.rmtree(task.commit_dir, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result


def _read_staged(page: StagedPage, role: str) -> bytes:
    info = page.staged[role]
    data = Path(page.stage_dir, info["name"]).read_bytes()
    if sha256_bytes(data) != info["sha256"]:
        raise ValueError(f"staged {role} of page {page.page_no} changed on disk")
    return data


def _run_document(task: DocumentTask, result: DocumentResult) -> None:
    from digitize.ocr.alto import alto_bytes

    settings: Settings = settings_from_dict(task.settings)
    commit = Path(task.commit_dir)
    if commit.exists():
        shutil.rmtree(commit)
    (commit / "ocr").mkdir(parents=True)
    (commit / "pages").mkdir()
    pdf_pages = []
    pdf_name = f"{task.name}.pdf"
    software = tuple(task.ocr_software.split(" ", 1)) if " " in task.ocr_software else (task.ocr_software, "")
    for page in task.pages:
        image = EncodedImage(data=_read_staged(page, "image"), **page.staged["image_meta"])
        hocr = _read_staged(page, "hocr")
        ocr = parse_hocr(hocr).scaled(1.0 / page.staged["ocr_scale"]) if hocr else None
        pdf_pages.append(PdfPage(image, ocr))
        base = f"{task.name}-{page.page_no:04d}"
        outputs = {
            f"ocr/{base}.hocr": hocr,
            f"ocr/{base}.txt": _read_staged(page, "text"),
            f"pages/{base}.json": json.dumps(page.metrics, ensure_ascii=False, indent=1).encode("utf-8"),
        }
        outputs[f"ocr/{base}.alto.xml"] = alto_bytes(
            ocr or OcrPage(0, 0),
            f"{pdf_name}#page={page.page_no}",
            page.page_no,
            width=image.width,
            height=image.height,
            software=software,
        )
        for rel, data in outputs.items():
            (commit / rel).write_bytes(data)
            result.files[rel] = {"sha256": sha256_bytes(data), "bytes": len(data)}
    report = build_pdf(pdf_pages, task.meta, commit / pdf_name, settings.pdf.pdfa_flavour, settings.pdf.validate)
    pdf_path = commit / pdf_name
    result.pdf = {
        "name": pdf_name,
        "sha256": sha256_file(pdf_path),
        "bytes": os.path.getsize(pdf_path),
        "flavour": report.flavour,
        "validated": report.validated,
        "findings": list(report.findings),
        "producer": f"digitize {__version__}",
    }
    result.files[pdf_name] = {"sha256": result.pdf["sha256"], "bytes": result.pdf["bytes"]}
