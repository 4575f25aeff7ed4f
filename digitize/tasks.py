"""The page task: one page loaded, straightened, analysed, OCRed and staged (in a worker process).

It is pure with respect to the journal: it reads the master, writes its outputs into a
staging folder under OUT/.work, and returns a small result. The document job
(`digitize.jobs`) runs it for every page of a document, or the local pool runs it as a task
of its own to spread the pages of a small batch over all workers.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.batch import InputError, PageRef
from digitize.errors import as_interrupted
from digitize.fsutil import atomic_write_bytes, sha256_bytes
from digitize.imaging import ProcessedPage, process_page
from digitize.imaging.layout import PageLayout
from digitize.layout import staged_file
from digitize.loader import LoadedPage, load_page
from digitize.ocr import engines
from digitize.ocr.hocr import OcrPage, parse_hocr
from digitize.ocr.reading import read_page
from digitize.ocr.tesseract import OcrEngine, OcrError, OcrTimeout
from digitize.pageimage import encode_page, output_mode
from digitize.settings import ImagingSettings, OcrSettings, settings_from_dict

_ENGINES: dict[tuple, OcrEngine] = {}
SPARSE_TEXT_PSM = 11


def engine_for(ocr: OcrSettings) -> OcrEngine:
    """The OCR engine of this worker process, created once (models load once per process)."""
    key = (ocr.engine, ocr.tesseract_api, ocr.languages, ocr.psm, ocr.page_timeout_s, ocr.tessdata_dir)
    if key not in _ENGINES:
        _ENGINES[key] = engines.make(ocr)
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
    reused: bool = False  # staged by an earlier try of its document, not processed now
    interrupted: str | None = None  # a failure of the machine (disk full, no memory): the run stops


def layout_record(layout: PageLayout, ocr_scale: float) -> dict[str, Any]:
    """The page's layout as recorded (page JSON, journal), boxes in the page image's pixels."""

    def page_px(value: int) -> int:
        return int(round(value / ocr_scale))

    return {
        "columns": layout.columns,
        "spread": layout.spread,
        "split_x": None if layout.split_x is None else page_px(layout.split_x),
        "regions": [[page_px(v) for v in region.box] for region in layout.regions] if not layout.single else [],
    }


def image_page(loaded: LoadedPage, imaging: ImagingSettings, engine: OcrEngine) -> ProcessedPage:
    """The imaging step of a loaded page, the engine's orientation detection asked about unsure turns."""
    return process_page(
        loaded.image,
        loaded.dpi,
        imaging,
        dpi_source=loaded.dpi_source,
        photo=loaded.photo,
        bitonal=loaded.mode == "bitonal",
        osd=engine.orientation,
    )


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
        interrupted = as_interrupted(exc, task.stage_dir)
        if interrupted is not None:
            result.interrupted = f"{ref.path} (page {ref.page_no}): {interrupted}"
            return result
        where = f"{ref.path}" + (f" (page {ref.frame + 1})" if ref.container != "image" else "")
        result.error = f"{where}: {exc.__class__.__name__}: {exc}"
        result.warnings.append(traceback.format_exc(limit=3))
    return result


def _run_page(task: PageTask, result: PageResult) -> None:
    """Decode → imaging → encode the page image → OCR → stage.

    Large arrays are dropped (`del`) as soon as the next step no longer needs them (the master's
    pixels after imaging, the processed image after encoding), so that a worker holds at most
    about two full-size copies of a page at any time.
    """
    settings = settings_from_dict(task.settings)
    ref = task.ref
    timings = result.timings
    cpu_started = time.process_time()
    started = time.perf_counter()
    loaded = load_page(ref, settings.input)
    timings["load"] = time.perf_counter() - started
    result.warnings.extend(loaded.warnings)
    engine = engine_for(settings.ocr)
    height, width = loaded.image.shape[:2]
    processed = image_page(loaded, settings.imaging, engine)
    del loaded.image  # the master's pixels are no longer needed
    timings.update({f"imaging.{k}": v for k, v in processed.timings.items()})
    geometry = processed.geometry
    result.geometry = dataclasses.asdict(geometry)
    result.geometry["layout"] = layout_record(processed.layout, processed.ocr_scale)
    resolution = processed.resolution
    dpi = resolution.working_dpi  # the page's resolution, or the one assumed from its text size
    result.facts = {
        "file_format": loaded.file_format,
        "compression": loaded.compression,
        "dpi": resolution.dpi,  # None: unknown (never an assumed value)
        "dpi_source": resolution.source,
        "dpi_basis": resolution.basis,
        "dpi_in_file": loaded.dpi if loaded.dpi_source == "tag" else None,
        "page_size_assumed": resolution.dpi is None,  # the PDF page size comes from the working dpi
        "working_dpi": dpi,
        "source_mode": loaded.mode,
        "width": width,
        "height": height,
    }

    started = time.perf_counter()
    mode = output_mode(loaded.mode, geometry.needs_colour, settings.imaging.output_colour)
    encoded = encode_page(processed.image, mode, dpi, settings.imaging.jpeg_quality, settings.imaging.bitonal_encoding)
    del processed.image  # nor the processed page's, once encoded
    timings["encode"] = time.perf_counter() - started
    result.facts.update(
        output_mode=mode,
        output_compression=encoded.compression,
        output_width=encoded.width,
        output_height=encoded.height,
    )

    hocr_text, plain_text = "", ""
    ocr_page = OcrPage(0, 0)
    if geometry.is_blank:
        result.ocr_status = "skipped: blank page"
    else:
        try:
            ocr_dpi = dpi * processed.ocr_scale
            output = read_page(
                engine, processed.ocr_image, ocr_dpi, read_tables=settings.ocr.read_tables, layout=processed.layout
            )
            timings["ocr"] = output.seconds
            result.ocr_status = "ok"
            ocr_page = parse_hocr(output.hocr)
            if not ocr_page.words and engine.name != "ppocr":
                # Tesseract's automatic layout analysis finds nothing on some sparse pages (a
                # signature block under a seal): a second pass looks for sparse text instead.
                output = engine.recognise(processed.ocr_image, ocr_dpi, psm=SPARSE_TEXT_PSM)
                timings["ocr_sparse"] = output.seconds
                result.ocr_status = "ok (sparse text pass)"
                ocr_page = parse_hocr(output.hocr) if output.hocr else OcrPage(0, 0)
            hocr_text, plain_text = output.hocr, output.text
        except OcrTimeout as exc:
            ocr_page = OcrPage(0, 0)
            result.ocr_status = f"timeout: {exc}"
            result.warnings.append(f"{ref.path}: OCR {exc}; the page is kept without text")
        except OcrError as exc:
            raise OcrError(f"{ref.path}: {exc}") from None
    del processed.ocr_image
    result.ocr_confidence = ocr_page.mean_confidence

    started = time.perf_counter()
    stage = Path(task.stage_dir)
    image_meta = {k: v for k, v in dataclasses.asdict(encoded).items() if k != "data"}
    files = {"image": encoded.data, "hocr": hocr_text.encode("utf-8"), "text": plain_text.encode("utf-8")}
    staged: dict[str, Any] = {"image_meta": image_meta, "ocr_scale": processed.ocr_scale}
    for role, data in files.items():
        name = staged_file(ref.page_no, role)
        atomic_write_bytes(stage / name, data)
        staged[role] = {"name": name, "sha256": sha256_bytes(data), "bytes": len(data)}
    result.staged = staged
    timings["stage"] = time.perf_counter() - started
    timings["cpu"] = time.process_time() - cpu_started  # the worker's CPU seconds for the whole page
