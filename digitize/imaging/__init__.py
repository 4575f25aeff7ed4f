"""Page imaging: measure and correct one scanned page (resolution, orientation, skew, scanner bed)
and make the image handed to OCR.

The resolution comes first (``resolution``): the file's tag checked against the page's own
character and sheet sizes, else estimated from them, else unknown with a working resolution
assumed from the text size. Every later step measures in millimetres at that working resolution.
All measurements run on reduced copies (about 150 dpi, see ``analysis``); the full-resolution
master is resampled once, by a single affine warp, and only when the skew is large enough to be
worth it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from digitize.imaging.analysis import analyse, percentile_u8
from digitize.imaging.blank import detect_blank
from digitize.imaging.borders import BED_MARKS_LIMIT, crop_box, marks_on_bed
from digitize.imaging.colour import detect_colour
from digitize.imaging.enhance import SealArea, flatten, ink_share_for_ocr, ocr_image
from digitize.imaging.geometry import map_points, straighten_matrix, warp
from digitize.imaging.layout import PageLayout, analyse_layout, whole_page
from digitize.imaging.marks import text_ink
from digitize.imaging.metrics import ink_coverage, sharpness
from digitize.imaging.orientation import OrientationDecision, decide_orientation
from digitize.imaging.resolution import Resolution, decide_resolution, measure_page
from digitize.imaging.skew import estimate_skew
from digitize.settings import ImagingSettings

__all__ = ["PageGeometry", "PageLayout", "ProcessedPage", "Resolution", "process_page"]


@dataclass(frozen=True)
class PageGeometry:
    """Everything measured or decided about one page (JSON-serialisable with dataclasses.asdict)."""

    orientation_deg: int  # 0/90/180/270: how far the scan is turned counter-clockwise from upright
    orientation_confidence: float
    orientation_method: str  # image | osd | unsure | blank | disabled
    skew_deg: float  # detected skew, positive when text lines rise to the right
    skew_confidence: float  # 0..1
    crop_box: tuple[int, int, int, int] | None  # x0,y0,x1,y1 kept, in straightened pixels
    crop_withheld: bool  # a dark border was found but holds text-like marks: not cropped (a doubt for QC)
    is_blank: bool
    blank_score: float  # square millimetres of sharp ink larger than a speck
    needs_colour: bool  # red seal, red letterhead, coloured ink or photo
    colour_fraction: float  # coloured share of the usable page area
    blur: float  # edge sharpness at 150 dpi relative to ink contrast (higher = sharper; see metrics)
    ink_coverage: float  # share of the usable page area covered by ink


@dataclass
class ProcessedPage:
    image: np.ndarray  # corrected page in the source's mode (grey, BGR, or 0/255 bitonal)
    ocr_image: np.ndarray  # enhanced grey image for Tesseract, never stored as a master
    ocr_scale: float  # ocr_image pixels per image pixel
    geometry: PageGeometry
    resolution: Resolution  # the page's resolution and the working one everything above was measured at
    layout: PageLayout  # columns and spreads to read, in ocr_image pixels (one region: read whole)
    timings: dict[str, float] = field(default_factory=dict)


def _fill_value(image: np.ndarray, paper_level: float, bitonal: bool) -> int | tuple[int, int, int]:
    if bitonal:
        return 255
    if image.ndim == 3:
        h, w = image.shape[:2]
        corner = image[: max(1, h // 50), : max(1, w // 50)].reshape(-1, 3)
        return tuple(int(v) for v in np.median(corner, axis=0))  # type: ignore[return-value]
    return int(round(paper_level))


def _seal_areas(seals, analysis, shape: tuple[int, int], skew: float, orientation: int, box) -> list[SealArea]:
    """Seals found on the analysis copy, in the coordinates of the corrected page."""
    if not seals:
        return []
    matrix, _ = straighten_matrix(shape[1], shape[0], skew, orientation)
    centres = map_points(matrix, np.array([[s.cx / analysis.scale, s.cy / analysis.scale] for s in seals]))
    if box is not None:
        centres -= np.array(box[:2], dtype=np.float64)
    return [
        SealArea(
            float(cx),
            float(cy),
            s.radius / analysis.scale,
            None if s.ink_contrast is None else s.ink_contrast / analysis.paper_level,
        )
        for (cx, cy), s in zip(centres, seals)
    ]


def process_page(
    image: np.ndarray,
    dpi: float | None,
    settings: ImagingSettings,
    *,
    dpi_source: str = "tag",
    photo: bool = False,
    bitonal: bool = False,
    osd: Callable[[np.ndarray, float], tuple[int, float]] | None = None,
) -> ProcessedPage:
    """Measure and correct one page.

    `dpi` is what the file says (None: nothing), `dpi_source` "tag" (checked against the page) or
    "profile" (taken as it is); `photo`: the file comes from a camera. `osd(image, dpi)`, if
    given, is asked about unsure orientations only.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    profile = dpi if dpi_source == "profile" else None
    resolution = decide_resolution(measure_page(image), None if profile else dpi, photo=photo, profile_dpi=profile)
    dpi = resolution.working_dpi
    lap("resolution")

    analysis = analyse(image, dpi)
    lap("analysis")
    colour = detect_colour(analysis)
    blank = detect_blank(analysis, colour.mask)
    lap("blank_colour")

    text = text_ink(analysis, colour.mask)
    estimate = None
    if not blank.is_blank:
        estimate = estimate_skew(text, analysis.contrast, settings.max_skew_deg)
    skew = estimate.angle if estimate else 0.0
    lap("skew")

    blur = sharpness(analysis)  # a blurred page's punctuation cannot tell upright from upside down

    if not settings.fix_orientation:
        decision = OrientationDecision(0, 0.0, "disabled")
    elif estimate is None:
        decision = OrientationDecision(0, 0.0, "blank")
    else:
        osd_view = None
        if osd is not None:

            def osd_view(flattened: bool) -> tuple[int, float]:
                grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
                deskewed = warp(grey, skew, 0, int(round(analysis.paper_level)))
                return osd(flatten(deskewed, dpi) if flattened else deskewed, dpi)

        decision = decide_orientation(text.mask, text.glyph_height, skew, estimate.axis_margin, blur, osd_view)
    lap("orientation")

    applied_skew = skew if settings.deskew and abs(skew) >= settings.min_deskew_deg else 0.0
    crop_withheld = settings.crop_borders and marks_on_bed(analysis) >= BED_MARKS_LIMIT
    box = (
        crop_box(analysis, image.shape[:2], applied_skew, decision.degrees, settings.crop_margin_mm)
        if settings.crop_borders and not crop_withheld
        else None
    )
    lap("borders")

    corrected = warp(image, applied_skew, decision.degrees, _fill_value(image, analysis.paper_level, bitonal), bitonal)
    if box is not None:
        x0, y0, x1, y1 = box
        corrected = np.ascontiguousarray(corrected[y0:y1, x0:x1])
    lap("warp")

    paper = max(analysis.paper_level, 1.0)
    ink_share = ink_share_for_ocr(
        percentile_u8(analysis.contrast, 30, analysis.ink) / paper,
        percentile_u8(analysis.contrast, 95, analysis.ink) / paper,
    )
    seals = _seal_areas(text.seals, analysis, image.shape[:2], applied_skew, decision.degrees, box)
    enhanced, scale = ocr_image(corrected, dpi, ink_share, seals, resolution.glyph_px)
    lap("ocr_image")

    glyph = resolution.glyph_px
    layout = whole_page(enhanced.shape) if blank.is_blank else analyse_layout(enhanced, glyph and glyph * scale)
    lap("layout")

    geometry = PageGeometry(
        orientation_deg=decision.degrees,
        orientation_confidence=round(decision.confidence, 3),
        orientation_method=decision.method,
        skew_deg=round(skew, 3),
        skew_confidence=round(estimate.confidence, 3) if estimate else 0.0,
        crop_box=box,
        crop_withheld=crop_withheld,
        is_blank=blank.is_blank,
        blank_score=round(blank.ink_mm2, 2),
        needs_colour=colour.needs_colour,
        colour_fraction=round(colour.fraction, 6),
        blur=round(blur, 4),
        ink_coverage=round(ink_coverage(analysis), 5),
    )
    lap("metrics")
    return ProcessedPage(corrected, enhanced, scale, geometry, resolution, layout, timings)
