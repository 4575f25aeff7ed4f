"""PP-OCR on ONNX Runtime (CPU) behind the `OcrEngine` interface.

The models and their pre- and post-processing come from the rapidocr package: PP-OCRv6 small
text detection and recognition, shipped inside its wheel (nothing is downloaded; see
docs/design.md for why this package). ONNX Runtime runs one intra-op thread: the worker pool
gives the parallelism (docs/benchmarks.md). The models load once per worker process.

A page (the pipeline's OCR image: orientation, skew and crop already corrected) is read in
four steps:

1. **Detection** on a copy reduced to ``DETECTION_DPI``: text-line quadrilaterals, mapped back
   to the page. Finer than that costs time and reads no better (measured, docs/benchmarks.md).
2. **Recognition** of each line cut from the full-resolution page (a perspective cut of its
   quadrilateral; a line at least 1.5 times taller than wide is read turned, as PaddleOCR
   does). The recogniser's CTC decoder gives each character's column, from which
3. **character boxes** follow: each character spans from halfway to its left neighbour's column
   to halfway to its right neighbour's, the first and last half a character width out. Chinese
   characters become one hOCR word each (as Tesseract's `chi_sim` gives them), other runs are
   split at spaces; word confidence is the mean of its characters' probabilities (0..100).
4. **Reading order** of the lines: `digitize.ocr.order` (a column-aware rule that takes layout
   regions when a layout analysis provides them).

`recognise_boxes` reads parts of a page (ruled table cells, see `digitize.ocr.reading`): one
detection pass over the region holding the parts, each detected line clipped to every part it
overlaps, so a line the detector ran across two cells is read as two pieces, one per cell.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from html import escape
from typing import Any

import cv2
import numpy as np

from digitize.ocr.hocr import Box, OcrLine, OcrWord, is_cjk
from digitize.ocr.order import reading_order
from digitize.ocr.tesseract import OcrOutput, OcrTimeout

DETECTION_DPI = 150.0  # the detector's input resolution (pages at a lower dpi are read as they are)
USE_CLASSIFIER = False  # PP-OCR's 0/180 text-line classifier (the imaging step turns pages upright)
MIN_TEXT_SCORE = 0.5  # lines recognised with a lower mean probability are dropped (rapidocr's default)
REC_MIN_RATIO = 1.0  # narrowest recogniser input, in line heights (rapidocr pads short lines to 6.7)
MEMORY_ARENA = False  # ONNX Runtime's CPU memory arena (rapidocr's default: off)
THREADS = 1  # ONNX Runtime intra-op threads: one per worker, the process pool gives the parallelism
DETECTION_MIN_SIDE = 1280  # ... but not reduced below this many pixels on the long side
DETECTION_MAX_SIDE = 4000  # ... and never more than this
VERTICAL_RATIO = 1.5  # a line this much taller than wide is read turned by 90 degrees
MIN_LINE_PX = 4  # detected lines thinner or narrower than this are noise
BASELINE_SHARE = 0.2  # the baseline sits this share of the line height above its bottom (hOCR)
PACKAGE = "rapidocr"
MODELS = "PP-OCRv6 small"


@dataclass(frozen=True)
class Line:
    """A recognised text line in page pixels: its box, its text and its characters (each an
    OcrWord of one character with its box and probability 0..100; spaces not included)."""

    box: Box
    text: str
    characters: tuple[OcrWord, ...]


def engine_description() -> str:
    """ "rapidocr 3.10.0 (PP-OCRv6 small, onnxruntime 1.32.0)", without loading the models."""
    from importlib.metadata import version

    return f"{PACKAGE} {version(PACKAGE)} ({MODELS}, onnxruntime {version('onnxruntime')})"


class PpOcrEngine:
    name = "ppocr"
    reads_boxes = True

    def __init__(
        self,
        timeout_s: float,
        osd=None,
        *,
        detection_dpi: float = DETECTION_DPI,
        use_classifier: bool = USE_CLASSIFIER,
        min_text_score: float = MIN_TEXT_SCORE,
        rec_min_ratio: float = REC_MIN_RATIO,
        memory_arena: bool = MEMORY_ARENA,
        threads: int = THREADS,
    ):
        """`osd`: an object with Tesseract's `orientation(image, dpi)` (PP-OCR has no page
        orientation model; the imaging step asks OSD about pages it is unsure of). The other
        options are for the benches; their defaults are the measured choices."""
        from rapidocr import RapidOCR

        self.timeout_s = timeout_s
        self._osd = osd
        self.detection_dpi = detection_dpi
        self.use_classifier = use_classifier
        self.min_text_score = min_text_score
        self._models = RapidOCR(
            params={
                "Global.log_level": "warning",
                "Global.use_preprocess_img": False,
                "Global.use_cls": use_classifier,
                "Det.limit_type": "max",
                "Det.limit_side_len": DETECTION_MAX_SIDE,
                "Rec.rec_img_shape": [3, 48, int(round(48 * rec_min_ratio))],
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                "EngineConfig.onnxruntime.enable_cpu_mem_arena": memory_arena,
            }
        )

    # ------------------------------------------------------------------ OcrEngine
    def recognise(self, image: np.ndarray, dpi: float, psm: int | None = None) -> OcrOutput:
        """Read a whole page (`psm` has no meaning for PP-OCR and is ignored)."""
        start = time.perf_counter()
        deadline = start + self.timeout_s
        height, width = image.shape[:2]
        lines = self._read_lines(image, dpi, self._detect(image, dpi), deadline)
        order = reading_order([line.box for line in lines])
        ordered = [lines[i] for i in order]
        hocr = page_hocr(width, height, ordered)
        text = "".join(line.text + "\n" for line in ordered)
        return OcrOutput(hocr, text, time.perf_counter() - start)

    def recognise_boxes(self, image: np.ndarray, dpi: float, boxes: list[tuple[Box, int]]) -> list[str]:
        """hOCR of each box of the image, read on its own (page coordinates)."""
        if not boxes:
            return []
        deadline = time.perf_counter() + self.timeout_s
        height, width = image.shape[:2]
        x0 = min(b[0] for b, _ in boxes)
        y0 = min(b[1] for b, _ in boxes)
        x1 = max(b[2] for b, _ in boxes)
        y1 = max(b[3] for b, _ in boxes)
        quads = [q + np.array([x0, y0], np.float32) for q in self._detect(image[y0:y1, x0:x1], dpi)]
        out = []
        for box, _ in boxes:
            pieces = [piece for quad in quads if (piece := _clip(quad, box)) is not None]
            lines = self._read_lines(image, dpi, pieces, deadline)
            ordered = [lines[i] for i in reading_order([line.box for line in lines])]
            out.append(page_hocr(width, height, ordered))
        return out

    def orientation(self, image: np.ndarray, dpi: float) -> tuple[int, float]:
        if self._osd is None:
            return 0, 0.0
        return self._osd.orientation(image, dpi)

    # ------------------------------------------------------------------ steps
    def _detect(self, image: np.ndarray, dpi: float) -> list[np.ndarray]:
        """Text-line quadrilaterals (4 x 2 float32, clockwise from top left) in image pixels."""
        height, width = image.shape[:2]
        if height < 8 or width < 8:
            return []
        scale = self.detection_dpi / dpi if dpi > 0 else 1.0
        # a wrong or missing resolution tag must not shrink small text below what the detector sees
        scale = max(scale, DETECTION_MIN_SIDE / max(height, width))
        scale = min(1.0, scale, DETECTION_MAX_SIDE / max(height, width))
        small = image if scale >= 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if small.ndim == 2:
            small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
        found = self._models(small, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(found, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        quads = [np.asarray(q, np.float32) / min(scale, 1.0) for q in boxes]
        return [q for q in quads if _size(q)[0] >= MIN_LINE_PX and _size(q)[1] >= MIN_LINE_PX]

    def _read_lines(self, image: np.ndarray, dpi: float, quads: list[np.ndarray], deadline: float) -> list[Line]:
        lines = []
        for quad in quads:
            if time.perf_counter() > deadline:
                raise OcrTimeout(f"recognition stopped after {self.timeout_s:.0f} s")
            line = self._read_line(image, quad)
            if line is not None:
                lines.append(line)
        return lines

    def _read_line(self, image: np.ndarray, quad: np.ndarray) -> Line | None:
        width, height = _size(quad)
        if height >= VERTICAL_RATIO * width:
            quad = quad[[1, 2, 3, 0]]  # read top to bottom: the right edge is the line's top
            width, height = height, width
        crop_w, crop_h = max(1, int(round(width))), max(1, int(round(height)))
        target = np.array([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]], np.float32)
        matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
        crop = cv2.warpPerspective(
            image, matrix, (crop_w, crop_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )
        if crop.ndim == 2:
            crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        result: Any = self._models(crop, use_det=False, use_cls=self.use_classifier, use_rec=True, return_word_box=True)
        texts = getattr(result, "txts", None)
        if not texts or not texts[0].strip() or result.scores[0] < self.min_text_score:
            return None
        text = texts[0]
        info = result.word_results[0]
        characters = _characters(text, info, quad, crop_w, crop_h)
        if not characters:
            return None
        xs = [v for c in characters for v in (c.bbox[0], c.bbox[2])]
        ys = [v for c in characters for v in (c.bbox[1], c.bbox[3])]
        return Line((min(xs), min(ys), max(xs), max(ys)), text.strip(), characters)


def _size(quad: np.ndarray) -> tuple[float, float]:
    """(width along the top/bottom edges, height along the side edges) of a quadrilateral."""
    width = max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[3] - quad[2]))
    height = max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))
    return float(width), float(height)


def _clip(quad: np.ndarray, box: Box) -> np.ndarray | None:
    """The part of a detected line inside a box (an axis-aligned quadrilateral), if it has one.

    A line counts for a box when at least half its height lies inside it.
    """
    xs, ys = quad[:, 0], quad[:, 1]
    lx0, ly0, lx1, ly1 = float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())
    x0, y0 = max(lx0, box[0]), max(ly0, box[1])
    x1, y1 = min(lx1, box[2]), min(ly1, box[3])
    if x1 - x0 < MIN_LINE_PX or (y1 - y0) < 0.5 * (ly1 - ly0):
        return None
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def _characters(text: str, info, quad: np.ndarray, crop_w: int, crop_h: int) -> tuple[OcrWord, ...]:
    """Characters of a recognised line with their boxes in page pixels.

    `info` is the CTC decoder's word information: the characters (spaces left out), the output
    column of each, the number of columns and each character's probability. A column is
    `crop_w / columns` pixels of the line as cut out; a character's box runs from halfway to
    the previous character's column to halfway to the next, the outer ones half a typical
    character width beyond their column.
    """
    chars = [c for word in info.words for c in word]
    cols = [c for word in info.word_cols for c in word]
    confs = list(info.confs)
    columns = float(info.line_txt_len or 0)
    if not chars or len(chars) != len(cols) or columns <= 0:
        # no column positions: the characters share the line's width evenly
        chars = [c for c in text if not c.isspace()]
        if not chars:
            return ()
        cols = [(i + 0.5) * columns / len(chars) if columns else i + 0.5 for i in range(len(chars))]
        columns = columns or float(len(chars))
        confs = confs[:1] * len(chars)
    if len(confs) != len(chars):
        confs = [statistics.fmean(confs) if confs else 0.0] * len(chars)
    step = crop_w / columns
    centres = [(col + 0.5) * step for col in cols]
    if len(centres) > 1:
        half = statistics.median(b - a for a, b in zip(centres, centres[1:])) / 2
    else:
        half = min(crop_h, crop_w) / 2
    edges = [max(0.0, centres[0] - half)]
    edges += [(a + b) / 2 for a, b in zip(centres, centres[1:])]
    edges.append(min(float(crop_w), centres[-1] + half))
    to_page = cv2.getPerspectiveTransform(
        np.array([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]], np.float32), quad.astype(np.float32)
    )
    out = []
    for char, left, right, conf in zip(chars, edges, edges[1:], confs):
        corners = np.array([[[left, 0], [right, 0], [right, crop_h], [left, crop_h]]], np.float32)
        page = cv2.perspectiveTransform(corners, to_page)[0]
        box = (
            int(np.floor(page[:, 0].min())),
            int(np.floor(page[:, 1].min())),
            int(np.ceil(page[:, 0].max())),
            int(np.ceil(page[:, 1].max())),
        )
        out.append(OcrWord(char, box, 100.0 * float(conf)))
    return tuple(out)


def words_of(line: Line) -> tuple[OcrWord, ...]:
    """hOCR words of a line: each CJK character alone, other runs split where the text has spaces."""
    words: list[OcrWord] = []
    run: list[OcrWord] = []
    chars = iter(line.characters)
    pending_space = False

    def flush() -> None:
        if run:
            box = (
                min(c.bbox[0] for c in run),
                min(c.bbox[1] for c in run),
                max(c.bbox[2] for c in run),
                max(c.bbox[3] for c in run),
            )
            words.append(OcrWord("".join(c.text for c in run), box, statistics.fmean(c.confidence for c in run)))
            run.clear()

    for ch in line.text:
        if ch.isspace():
            pending_space = True
            continue
        character = next(chars, None)
        if character is None:
            break
        if pending_space or is_cjk(character.text) or (run and is_cjk(run[-1].text)):
            flush()
        pending_space = False
        run.append(character)
    flush()
    return tuple(words)


def ocr_line(line: Line) -> OcrLine:
    """The line in the page model: its box, words and a baseline a fifth of its height up."""
    x0, y0, x1, y1 = line.box
    return OcrLine(
        bbox=line.box,
        words=words_of(line),
        baseline=(0.0, -round(BASELINE_SHARE * (y1 - y0), 1)),
        x_size=float(y1 - y0),
    )


def page_hocr(width: int, height: int, lines: list[Line]) -> str:
    """One hOCR ocr_page div: a block, paragraph and line per text line, a word per Chinese
    character or other word (the structure `digitize.ocr.hocr.parse_hocr` and
    `digitize.ocr.reading.merge` read)."""
    parts = [f"<div class='ocr_page' id='page_1' title='bbox 0 0 {width} {height}'>"]
    word_no = 0
    for number, line in enumerate(lines, start=1):
        model = ocr_line(line)
        bbox = " ".join(str(v) for v in model.bbox)
        parts.append(f"<div class='ocr_carea' id='block_1_{number}' title='bbox {bbox}'>")
        lang = "chi_sim" if any(is_cjk(c) for c in line.text) else "eng"
        parts.append(f"<p class='ocr_par' id='par_1_{number}' lang='{lang}' title='bbox {bbox}'>")
        slope, offset = model.baseline
        parts.append(
            f"<span class='ocr_line' id='line_1_{number}' title='bbox {bbox}; baseline {slope:g} {offset:g}; "
            f"x_size {model.x_size:g}'>"
        )
        for word in model.words:
            word_no += 1
            wbox = " ".join(str(v) for v in word.bbox)
            parts.append(
                f"<span class='ocrx_word' id='word_1_{word_no}' title='bbox {wbox}; x_wconf {word.confidence:.0f}'>"
                f"{escape(word.text, quote=False)}</span>"
            )
        parts.append("</span></p></div>")
    parts.append("</div>")
    return "\n".join(parts)
