#!/usr/bin/env python3
"""How precisely one line of text gives the skew: the limit on near-empty pages.

    python bench/line_skew.py --corpus holdout65 --lines 300 --jobs 2

For a sample of ground-truth lines (6 to 30 characters, at least six times as long as they are
high: a table cell's number is not a line of text) of a corpus made by the eval-kit
generator, it builds a page that holds only that line (its dark ink, taken from the clean
upright render, so no seal or noise), turns it by a seeded angle in ±15° and measures it with
``digitize.imaging.process_page``. It does the same with the line mirrored left to right. A bias
that comes from the glyphs themselves changes sign in the mirror; one from the measurement
would not. Prints the signed mean error (bias), the mean absolute error and the share within
0.1° by script and font.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imaging import extra_rotation, load_truth, wrap90  # noqa: E402  (bench/imaging.py)

from digitize.imaging import process_page  # noqa: E402
from digitize.settings import ImagingSettings  # noqa: E402

INK_BELOW = 90  # clean-render grey levels darker than this are text (grey seals are lighter)
MARGIN_PX = 6


def is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def is_long(bbox: list[int]) -> bool:
    x0, y0, x1, y1 = bbox
    return x1 - x0 >= 6 * (y1 - y0)


def line_page(clean: np.ndarray, bbox: list[int], mirrored: bool) -> np.ndarray:
    """A white page with only the line's dark ink on it (mirrored left to right if asked)."""
    x0, y0, x1, y1 = bbox
    y0, x0 = max(0, y0 - MARGIN_PX), max(0, x0 - MARGIN_PX)
    y1, x1 = y1 + MARGIN_PX, x1 + MARGIN_PX
    page = np.full_like(clean, 255)
    region = clean[y0:y1, x0:x1]
    page[y0:y1, x0:x1] = np.where(region < INK_BELOW, region, 255)
    return page[:, ::-1].copy() if mirrored else page


def measure(job: tuple[str, str, list[int], float]) -> tuple[float, float] | None:
    """Errors (degrees) of the line as rendered and mirrored, turned by the same angle; None
    when the page is taken for blank (too little ink to be text, such as a short number)."""
    cv2.setNumThreads(1)
    corpus, page_id, bbox, angle = job
    clean = cv2.imread(str(Path(corpus) / "truth" / "clean" / f"{page_id}.png"), cv2.IMREAD_GRAYSCALE)
    errors = []
    for mirrored in (False, True):
        turned, _ = extra_rotation(line_page(clean, bbox, mirrored), angle, False)
        geometry = process_page(turned, 300.0, ImagingSettings()).geometry
        if geometry.is_blank:
            return None
        errors.append(wrap90(geometry.skew_deg - angle))
    return errors[0], errors[1]


def summary(label: str, errors: list[float], mirrored: list[float]) -> str:
    absolute = [abs(e) for e in errors]
    within = sum(a <= 0.1 for a in absolute) / len(absolute)
    return (
        f"  {label:28s} {len(errors):5d} {statistics.fmean(errors):+9.4f} {statistics.fmean(mirrored):+10.4f}"
        f" {statistics.fmean(absolute):10.4f} {100 * within:9.1f}%"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--lines", type=int, default=300, help="how many lines to sample")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()

    pages = [r for r in load_truth(args.corpus) if r["present"] and not r["is_blank"]]
    lines = [
        (r["page_id"], line["bbox"], line["text"], r["fonts"][0])
        for r in pages
        for line in r["lines"]
        if 6 <= len(line["text"].replace(" ", "")) <= 30 and is_long(line["bbox"])
    ]
    rnd = random.Random(0)
    rnd.shuffle(lines)
    lines = lines[: args.lines]
    jobs = [(str(args.corpus), page_id, bbox, rnd.uniform(-15.0, 15.0)) for page_id, bbox, _, _ in lines]

    groups: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    blank = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for (_, _, text, font), errors in zip(lines, pool.map(measure, jobs, chunksize=4)):
            if errors is None:
                blank += 1
                continue
            error, mirrored = errors
            for key in ("all", "CJK" if is_cjk(text) else "Latin", f"{'CJK' if is_cjk(text) else 'Latin'} {font}"):
                groups[key][0].append(error)
                groups[key][1].append(mirrored)

    print(
        f"  {'lines (page font)':28s} {'n':>5s} {'bias°':>9s} {'mirrored°':>10s} {'mean|err|°':>10s} {'within 0.1°':>10s}"
    )
    for key in sorted(groups, key=lambda k: (k != "all", k.count(" "), k)):
        print(summary(key, *groups[key]))
    print(f"  ({blank} of {len(lines)} one-line pages were taken for blank and are left out)")


if __name__ == "__main__":
    main()
