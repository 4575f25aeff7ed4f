#!/usr/bin/env python3
"""Real pages: how tall the characters of the OCR image should be, CER against CPU seconds.

    python bench/ocr_scale.py --glyph 26 --glyph 22 --glyph 20 --one-pass --out /tmp/ocr-scale

Every page of ../shared/real-dev is imaged (``digitize.tasks.image_page``, as the pipeline
does, Tesseract's orientation detection included) once per variant with the OCR image's
characters resampled to the given height (``digitize.imaging.enhance.TARGET_GLYPH_PX``), and read
as the pipeline reads it (``digitize.ocr.reading.read_page``: the layout's regions, ruled tables
cell by cell) with Tesseract through tesserocr, one thread. ``--one-pass`` adds the 26-px image
read in one pass of the whole page, without the layout's regions: what reading the columns one
by one costs beyond it is the OCR of extra columns. Per variant: CPU seconds of imaging and of
OCR (all pages, and the pages read region by region), and CER per group scored by real-dev's
own score.py. The texts are kept under --out/<variant>/ in the layout score.py reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from realdev import load_scorer, page_files, page_key, real_dev, score  # noqa: E402

import digitize.imaging.enhance as enhance  # noqa: E402
from digitize.batch import PageRef  # noqa: E402
from digitize.loader import load_page  # noqa: E402
from digitize.ocr.reading import read_page  # noqa: E402
from digitize.ocr.tesseract import OcrEngine, make_engine  # noqa: E402
from digitize.settings import load_settings  # noqa: E402
from digitize.tasks import image_page  # noqa: E402

ONE_PASS = "one-pass-26"
_engine: OcrEngine | None = None


def read_one(args: tuple[Path, Path, list[str]]) -> tuple[str, dict]:
    """One page under every variant: its texts written, its CPU seconds returned."""
    global _engine
    path, out, variants = args
    settings = load_settings(None)
    if _engine is None:
        _engine = make_engine("tesserocr", settings.ocr.languages, settings.ocr.psm, 900)
    loaded = load_page(PageRef(path.parent.name, 1, str(path)), settings.input)
    measured = {}
    for variant in variants:
        enhance.TARGET_GLYPH_PX = 26.0 if variant == ONE_PASS else float(variant)
        started = time.process_time()
        processed = image_page(loaded, settings.imaging, _engine)
        imaged = time.process_time()
        text = ""
        if not processed.geometry.is_blank:
            dpi = processed.resolution.working_dpi * processed.ocr_scale
            layout = None if variant == ONE_PASS else processed.layout
            text = read_page(
                _engine, processed.ocr_image, dpi, read_tables=settings.ocr.read_tables, layout=layout
            ).text
        done = time.process_time()
        target = out / variant / path.parent.name / f"{path.stem}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        measured[variant] = {
            "imaging_cpu": imaged - started,
            "ocr_cpu": done - imaged,
            "regions": len(processed.layout.regions),
        }
    return page_key(path), measured


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-dev", help="the real-dev folder (default: ../shared/real-dev beside the repository)")
    ap.add_argument("--glyph", action="append", type=float, help="character height of the OCR image, px (repeatable)")
    ap.add_argument("--one-pass", action="store_true", help="also read the 26-px image in one whole-page pass")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()

    folder = real_dev(a.real_dev)
    scorer = load_scorer(folder)
    truth = scorer.load_truth()
    variants = [f"{g:g}" for g in (a.glyph or [enhance.TARGET_GLYPH_PX])] + ([ONE_PASS] if a.one_pass else [])
    pages = page_files(folder / "batch")
    with ProcessPoolExecutor(a.jobs) as pool:
        cpu = dict(pool.map(read_one, [(p, a.out, variants) for p in pages]))
    multi = [k for k, v in cpu.items() if v[variants[0]]["regions"] > 1]
    by_variant: dict[str, dict] = {}
    report = {"pages": len(pages), "pages_read_by_region": multi, "variants": by_variant}
    print(f"real-dev, {len(pages)} pages ({len(multi)} read region by region); CPU seconds summed over the pages")
    print(f"{'variant':<14}{'imaging':>9}{'OCR':>8}{'OCR, regions':>14}  CER by group")
    for variant in variants:
        summary, _ = score(scorer, truth, scorer.load_text_dir(a.out / variant, truth))
        imaging = sum(v[variant]["imaging_cpu"] for v in cpu.values())
        ocr = sum(v[variant]["ocr_cpu"] for v in cpu.values())
        ocr_multi = sum(cpu[k][variant]["ocr_cpu"] for k in multi)
        cers = {g: s.get("cer") for g, s in summary.items() if s.get("cer") is not None}
        by_variant[variant] = {
            "imaging_cpu": imaging,
            "ocr_cpu": ocr,
            "ocr_cpu_regions": ocr_multi,
            "cer": cers,
        }
        groups = "  ".join(f"{g} {100 * c:.1f}%" for g, c in cers.items())
        print(f"{variant:<14}{imaging:>9.1f}{ocr:>8.1f}{ocr_multi:>14.1f}  {groups}")
    report["per_page"] = cpu
    (a.out / "ocr-scale.json").write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
