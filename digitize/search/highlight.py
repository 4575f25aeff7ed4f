"""Where a hit is on the page image: boxes from the page's hOCR word boxes.

The words of the hOCR are folded one character at a time (`digitize.search.text.fold`) and
joined in reading order, so a query matches here exactly as it matches in the index. A word
box is split evenly across the word's characters (Tesseract gives one box per word, and a
long number is one word), and the characters of one match that share a word make one box.
Boxes are in the hOCR page's pixels; `PageBoxes.relative` gives them as fractions of the
page, ready for an overlay that scales with the image.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from digitize.ocr.hocr import Box, OcrPage, OcrWord, parse_hocr
from digitize.search.text import fold_with_origins


@dataclass(frozen=True)
class PageBoxes:
    width: int
    height: int
    boxes: tuple[Box, ...]

    def relative(self) -> list[tuple[float, float, float, float]]:
        """(left, top, width, height) of each box as percentages of the page."""
        if not self.width or not self.height:
            return []
        return [
            (
                100 * x0 / self.width,
                100 * y0 / self.height,
                100 * (x1 - x0) / self.width,
                100 * (y1 - y0) / self.height,
            )
            for x0, y0, x1, y1 in self.boxes
        ]


def hit_boxes(hocr: bytes, folded_query: str) -> PageBoxes:
    """The boxes of every occurrence of a folded query on an hOCR page."""
    return boxes_on(parse_hocr(hocr), folded_query)


def boxes_on(page: OcrPage, folded_query: str) -> PageBoxes:
    """The boxes of every occurrence of a folded query on a parsed hOCR page."""
    if not folded_query:
        return PageBoxes(page.width, page.height, ())
    # The words joined by spaces (which fold to nothing) are folded in one go; `starts` maps a
    # character of the joined text back to its word.
    words = page.words
    starts = list(itertools.accumulate((len(word.text) + 1 for word in words[:-1]), initial=0))
    text, origins = fold_with_origins(" ".join(word.text for word in words))
    boxes: list[Box] = []
    position = text.find(folded_query)
    while position >= 0:
        end = position + len(folded_query)
        by_word: dict[int, list[Box]] = {}
        for origin in origins[position:end]:
            number = bisect.bisect_right(starts, origin) - 1
            by_word.setdefault(number, []).append(_share(words[number], origin - starts[number]))
        for parts in by_word.values():
            boxes.append(
                (
                    min(b[0] for b in parts),
                    min(b[1] for b in parts),
                    max(b[2] for b in parts),
                    max(b[3] for b in parts),
                )
            )
        position = text.find(folded_query, end)
    return PageBoxes(page.width, page.height, tuple(boxes))


def _share(word: OcrWord, offset: int) -> Box:
    """The part of a word's box that its character at `offset` takes (the box split evenly)."""
    x0, y0, x1, y1 = word.bbox
    step = (x1 - x0) / max(len(word.text), 1)
    return (round(x0 + offset * step), y0, round(x0 + (offset + 1) * step), y1)
