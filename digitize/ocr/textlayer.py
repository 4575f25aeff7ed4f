"""The invisible text layer of a page: OCR words drawn in render mode 3 with a glyphless font.

How Chinese stays searchable and copyable:
- One embedded TrueType font whose one glyph is 1 em wide, its outline the em box. Render mode
  3 never paints it; the outline gives each character an extent, without which PDFium (the PDF
  engine of Chrome) leaves a character drawn on its own out of extraction and search. The PDF font is a
  Type0/CIDFontType2 with Identity-H encoding; each distinct character of the document gets
  its own CID (from 1; CID 0, .notdef, is never drawn) and the ToUnicode CMap maps every CID
  back to its character, so text extraction returns exactly what the OCR engine read, including
  characters outside the Basic Multilingual Plane.
- Each word is stretched (Tz) over its box on the hOCR baseline. Between two words of a line
  the first word's advance runs up to the start of the next, so no gap is left for a PDF
  reader to turn into a space; where running text has a space (between Latin words) an actual
  space character is drawn over the gap. Chinese therefore extracts without spurious spaces.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache

from digitize.ocr.hocr import OcrLine, OcrPage, needs_space_between

UNITS_PER_EM = 1000
ASCENT = 800
DESCENT = -200
FONT_NAME = "DigitizeGlyphless"


@lru_cache(maxsize=1)
def glyphless_font() -> bytes:
    """A TrueType font with two glyphs: an empty .notdef and the em box used for every character."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(UNITS_PER_EM, isTTF=True)
    glyph_order = [".notdef", "blank"]
    builder.setupGlyphOrder(glyph_order)
    builder.setupCharacterMap({0x20: "blank"})
    box = TTGlyphPen(None)  # the em box as an outline: never painted (render mode 3), but it gives
    box.moveTo((0, DESCENT))  # each character an extent, without which PDFium (Chrome's viewer)
    box.lineTo((0, ASCENT))  # drops a character drawn on its own from extraction and search
    box.lineTo((UNITS_PER_EM, ASCENT))
    box.lineTo((UNITS_PER_EM, DESCENT))
    box.closePath()
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "blank": box.glyph()})
    builder.setupHorizontalMetrics({".notdef": (UNITS_PER_EM, 0), "blank": (UNITS_PER_EM, 0)})
    builder.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    builder.setupNameTable({"familyName": FONT_NAME, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=ASCENT, sTypoDescender=DESCENT, usWinAscent=ASCENT, usWinDescent=-DESCENT)
    builder.setupPost()
    buffer = io.BytesIO()
    builder.save(buffer)
    return buffer.getvalue()


@dataclass
class CidAllocator:
    """Gives each distinct character of a document a CID, in order of first use."""

    cids: dict[str, int] = field(default_factory=dict)

    def cid(self, char: str) -> int:
        if char not in self.cids:
            if len(self.cids) >= 0xFFFE:
                raise ValueError("more than 65534 distinct characters in one document")
            self.cids[char] = len(self.cids) + 1
        return self.cids[char]

    def encode(self, text: str) -> str:
        return "".join(f"{self.cid(ch):04X}" for ch in text)

    def to_unicode_cmap(self) -> bytes:
        lines = [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            f"/CMapName /{FONT_NAME}-UCS def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            "<0000> <FFFF>",
            "endcodespacerange",
        ]
        items = sorted((cid, ch) for ch, cid in self.cids.items())
        for start in range(0, len(items), 100):
            chunk = items[start : start + 100]
            lines.append(f"{len(chunk)} beginbfchar")
            for cid, ch in chunk:
                utf16 = ch.encode("utf-16-be").hex().upper()
                lines.append(f"<{cid:04X}> <{utf16}>")
            lines.append("endbfchar")
        lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
        return ("\n".join(lines) + "\n").encode("ascii")

    def cid_to_gid_map(self) -> bytes:
        """Every allocated CID draws glyph 1; CID 0 stays on .notdef (never used)."""
        count = len(self.cids) + 1
        return b"\x00\x00" + b"\x00\x01" * (count - 1)


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _line_segments(line: OcrLine) -> list[tuple[str, float, float]]:
    """(text, x_start, x_end) in pixels: words, and real spaces where running text has them.

    Each segment ends where the next one starts, so the drawn text has no gaps.
    """
    words = [w for w in line.words if w.text]
    segments: list[tuple[str, float, float]] = []
    for index, word in enumerate(words):
        x0, x1 = float(word.bbox[0]), float(word.bbox[2])
        following = words[index + 1] if index + 1 < len(words) else None
        if following is None:
            segments.append((word.text, x0, max(x1, x0 + 1)))
            continue
        next_x0 = float(following.bbox[0])
        if needs_space_between(word.text, following.text):
            end = min(x1, next_x0 - 1) if next_x0 - 1 > x0 else x0 + 1
            segments.append((word.text, x0, max(end, x0 + 1)))
            segments.append((" ", max(end, x0 + 1), max(next_x0, end + 1.5)))
        else:
            segments.append((word.text, x0, max(next_x0, x0 + 1)))
    return segments


def page_text_operators(
    page: OcrPage, cids: CidAllocator, font_resource: str, px_to_pt: float, page_height_pt: float
) -> bytes:
    """Content-stream operators drawing the page's OCR text invisibly, in reading order.

    `page` is in pixels of the page image; `px_to_pt` converts those pixels to points.
    """
    if not page.lines:
        return b""
    scale = px_to_pt
    out = ["BT", "3 Tr"]
    for line in page.lines:
        x0, y0, x1, y1 = line.bbox
        height_px = max(y1 - y0, 1)
        font_size = max(height_px * scale, 1.0)
        slope, offset = line.baseline
        out.append(f"/{font_resource} {_fmt(font_size)} Tf")
        for text, start, end in _line_segments(line):
            baseline_px = y1 + offset + slope * (start - x0)
            x_pt = start * scale
            y_pt = page_height_pt - baseline_px * scale
            width_pt = (end - start) * scale
            natural = len(text) * font_size
            stretch = 100.0 * width_pt / natural if natural else 100.0
            out.append(f"{_fmt(stretch)} Tz 1 0 0 1 {_fmt(x_pt)} {_fmt(y_pt)} Tm <{cids.encode(text)}> Tj")
    out.append("ET")
    return ("\n".join(out) + "\n").encode("ascii")
