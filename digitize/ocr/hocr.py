"""hOCR from Tesseract → a small page model (lines of words with boxes and confidences)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from digitize.xmlsafe import parse_bytes

LINE_CLASSES = {"ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat"}
_BBOX = re.compile(r"bbox\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)")
_CONF = re.compile(r"x_wconf\s+(-?\d+(?:\.\d+)?)")
_BASELINE = re.compile(r"baseline\s+(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)")
_XSIZE = re.compile(r"x_size\s+(-?\d+(?:\.\d+)?)")

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels, origin top-left


@dataclass(frozen=True)
class OcrWord:
    text: str
    bbox: Box
    confidence: float  # 0..100


@dataclass(frozen=True)
class OcrLine:
    bbox: Box
    words: tuple[OcrWord, ...]
    baseline: tuple[float, float] = (0.0, 0.0)  # slope, offset from the bottom of bbox (hOCR)
    x_size: float | None = None  # text height in pixels when Tesseract reports it

    @property
    def text(self) -> str:
        return join_words([w.text for w in self.words])


@dataclass
class OcrPage:
    width: int
    height: int
    lines: list[OcrLine] = field(default_factory=list)

    @property
    def words(self) -> list[OcrWord]:
        return [w for line in self.lines for w in line.words]

    @property
    def mean_confidence(self) -> float | None:
        words = self.words
        if not words:
            return None
        return sum(w.confidence for w in words) / len(words)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def scaled(self, factor: float) -> OcrPage:
        """The same page with every coordinate multiplied by `factor` (OCR image → page image)."""
        if factor == 1.0:
            return self

        def box(b: Box) -> Box:
            return (round(b[0] * factor), round(b[1] * factor), round(b[2] * factor), round(b[3] * factor))

        lines = [
            OcrLine(
                bbox=box(line.bbox),
                words=tuple(OcrWord(w.text, box(w.bbox), w.confidence) for w in line.words),
                baseline=(line.baseline[0], line.baseline[1] * factor),
                x_size=line.x_size * factor if line.x_size is not None else None,
            )
            for line in self.lines
        ]
        return OcrPage(round(self.width * factor), round(self.height * factor), lines)


def is_cjk(ch: str) -> bool:
    """True for characters written without spaces between them (Han, kana, CJK punctuation).

    Hangul is not included: Korean separates words with spaces.
    """
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, CJK symbols and punctuation, kana, CJK unified
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
        or 0xFE30 <= code <= 0xFE4F  # CJK compatibility forms
        or 0xFF00 <= code <= 0xFFEF  # half- and full-width forms
        or 0x20000 <= code <= 0x3FFFF  # CJK extensions B and later
    )


def needs_space_between(left: str, right: str) -> bool:
    """Whether a space separates two adjacent words in running text.

    No space when either side of the join is a CJK character: Tesseract splits Chinese into
    one "word" per character or run, and a space there breaks copy, paste and search.
    """
    if not left or not right:
        return False
    return not (is_cjk(left[-1]) or is_cjk(right[0]))


def join_words(words: list[str]) -> str:
    out: list[str] = []
    for word in words:
        if out and needs_space_between(out[-1], word):
            out.append(" ")
        out.append(word)
    return "".join(out)


def _title(el: etree._Element) -> str:
    return el.get("title") or ""


def _bbox(title: str) -> Box | None:
    m = _BBOX.search(title)
    return (int(m[1]), int(m[2]), int(m[3]), int(m[4])) if m else None


def _classes(el: etree._Element) -> set[str]:
    return set((el.get("class") or "").split())


def parse_hocr(data: bytes | str) -> OcrPage:
    """Parse Tesseract hOCR (a whole document or a single page div) into an OcrPage."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = parse_bytes(data, "hOCR").getroot()
    page_el = next((el for el in root.iter() if isinstance(el.tag, str) and "ocr_page" in _classes(el)), None)
    if page_el is None:
        return OcrPage(0, 0)
    page_box = _bbox(_title(page_el)) or (0, 0, 0, 0)
    page = OcrPage(width=page_box[2], height=page_box[3])
    for el in page_el.iter():
        if not isinstance(el.tag, str) or not (_classes(el) & LINE_CLASSES):
            continue
        words = []
        for wel in el.iter():
            if not isinstance(wel.tag, str) or "ocrx_word" not in _classes(wel):
                continue
            text = "".join(wel.itertext()).strip()
            box = _bbox(_title(wel))
            if not text or box is None:
                continue
            conf = _CONF.search(_title(wel))
            words.append(OcrWord(text, box, float(conf[1]) if conf else 0.0))
        line_box = _bbox(_title(el))
        if not words or line_box is None:
            continue
        base = _BASELINE.search(_title(el))
        xsize = _XSIZE.search(_title(el))
        page.lines.append(
            OcrLine(
                bbox=line_box,
                words=tuple(words),
                baseline=(float(base[1]), float(base[2])) if base else (0.0, 0.0),
                x_size=float(xsize[1]) if xsize else None,
            )
        )
    return page
