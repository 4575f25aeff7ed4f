#!/usr/bin/env python3
"""Tesseract's own options on our OCR image, side by side on the same degraded pages.

    python bench/ocr_options.py --corpus holdout128 --pages 40 --jobs 2

Every page is run through ``digitize.imaging.process_page`` once; its OCR image is then read by
Tesseract 5 (whole page, through tesserocr, one thread) under each variant below, and scored
against the page's reference text:

* CER (NFKC, whitespace removed, Levenshtein distance over reference length, as score.py);
* fields read exactly: the reference's 18-character ID numbers, dates (2021-03-01 and
  2021年3月7日 forms), mobile numbers and amounts (611.95), each counted as read when it
  appears verbatim in the recognised text (whitespace removed);
* Tesseract CPU seconds per page.

Variants: Tesseract's defaults (psm 3, Otsu thresholding) with the pipeline's languages
(chi_sim+eng for Chinese pages); psm 4 and psm 6; Leptonica Otsu and Sauvola thresholding;
Chinese pages read with chi_sim only;
the LSTM language model matrix on (``lstm_use_matrix=1``, which Tesseract 5 needs before user
words or patterns have any effect on the LSTM engine) without and with a user-patterns file for
the ID numbers, dates, mobile numbers and amounts of these records. Last, the OCR image as the
pipeline reads it (``digitize.ocr.reading.read_page``: ruled tables cell by cell, the rest of
the page whole) with psm 3 and with psm 4, the pipeline's setting. A table of CER by page type
follows.

The pages taken are the degraded text pages (as bench/imaging.py defines them), evenly spread
over the corpus's page order, at most --pages of them. Results go to
bench/results/ocr-options-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import cv2  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# bench/imaging.py
from imaging import TESSDATA, cer_counts, is_degraded, load_image, load_truth, normalize  # noqa: E402

from digitize.imaging import process_page  # noqa: E402
from digitize.ocr.reading import read_page  # noqa: E402
from digitize.ocr.tesseract import make_engine  # noqa: E402
from digitize.settings import ImagingSettings  # noqa: E402

USER_PATTERNS = "\n".join(
    [
        r"\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d",
        r"\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d\d\dX",
        r"\d\d\d\d-\d\d-\d\d",
        r"\d\d\d\d年\d月\d日",
        r"\d\d\d\d年\d月\d\d日",
        r"\d\d\d\d年\d\d月\d日",
        r"\d\d\d\d年\d\d月\d\d日",
        r"1\d\d\d\d\d\d\d\d\d\d",
        r"\d\*.\d\d",
    ]
)
FIELDS = {
    "id_number": re.compile(r"\d{17}[\dX]"),
    "date": re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}年\d{1,2}月\d{1,2}日"),
    "mobile": re.compile(r"(?<!\d)1\d{10}(?!\d)"),
    "amount": re.compile(r"(?<![\d.])\d+\.\d{2}(?![\d.])"),
}
# name: (psm, Tesseract variables, Chinese pages' languages)
VARIANTS: dict[str, tuple[int, dict[str, str], str]] = {
    "defaults (psm 3, Otsu)": (3, {}, "chi_sim+eng"),
    "psm 4": (4, {}, "chi_sim+eng"),
    "psm 6": (6, {}, "chi_sim+eng"),
    "Leptonica Otsu": (3, {"thresholding_method": "1"}, "chi_sim+eng"),
    "Sauvola": (3, {"thresholding_method": "2"}, "chi_sim+eng"),
    "chi_sim only": (3, {}, "chi_sim"),
    "lstm_use_matrix": (3, {"lstm_use_matrix": "1"}, "chi_sim+eng"),
    "lstm_use_matrix + user patterns": (3, {"lstm_use_matrix": "1", "user_patterns_file": "<patterns>"}, "chi_sim+eng"),
}

# name: psm of the whole-page read in digitize.ocr.reading.read_page
PIPELINE_VARIANTS = {"pipeline reading, psm 3": 3, "pipeline reading, psm 4": 4}

_APIS: dict = {}
_ENGINES: dict = {}


def _api(variant: str, languages: str, patterns_file: str):
    """One tesserocr instance per variant and language set, in this worker process."""
    import tesserocr

    key = (variant, languages)
    if key not in _APIS:
        psm, variables, _ = VARIANTS[variant]
        variables = {k: patterns_file if v == "<patterns>" else v for k, v in variables.items()}
        variables["preserve_interword_spaces"] = "1"
        api = tesserocr.PyTessBaseAPI(init=False)
        api.InitFull(path=TESSDATA, lang=languages, variables=variables)
        api.SetPageSegMode(psm)
        _APIS[key] = api
    return _APIS[key]


def fields_read(reference: str, hypothesis: str) -> dict[str, tuple[int, int]]:
    """Per field kind: (found verbatim in the hypothesis, in the reference)."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    counts = {}
    for kind, pattern in FIELDS.items():
        wanted = pattern.findall(ref)
        counts[kind] = (sum(1 for value in wanted if value in hyp), len(wanted))
    return counts


def run_page(job: dict) -> dict:
    cv2.setNumThreads(1)
    corpus, rec = Path(job["corpus"]), job["rec"]
    image, bitonal = load_image(corpus, rec)
    page = process_page(image, float(rec["dpi"]), ImagingSettings(), bitonal=bitonal)
    grey = page.ocr_image if page.ocr_image.ndim == 2 else cv2.cvtColor(page.ocr_image, cv2.COLOR_BGR2GRAY)
    grey = grey.copy(order="C")
    dpi = int(round(float(rec["dpi"]) * page.ocr_scale))
    chinese = rec["lang"].startswith("chi")
    row: dict = {"page_id": rec["page_id"], "page_type": rec["page_type"], "variants": {}}
    for name, (_, _, chinese_languages) in VARIANTS.items():
        api = _api(name, chinese_languages if chinese else "eng", job["patterns_file"])
        c0 = time.process_time()
        api.SetImageBytes(grey.tobytes(), grey.shape[1], grey.shape[0], 1, grey.shape[1])
        api.SetSourceResolution(dpi)
        text = api.GetUTF8Text()
        api.Clear()
        seconds = time.process_time() - c0
        dist, length = cer_counts(rec["text"], text)
        row["variants"][name] = {"dist": dist, "len": length, "s": seconds, "fields": fields_read(rec["text"], text)}
    for name, psm in PIPELINE_VARIANTS.items():
        languages = "chi_sim+eng" if chinese else "eng"
        if (psm, languages) not in _ENGINES:
            _ENGINES[psm, languages] = make_engine("tesserocr", languages, psm, 600.0, TESSDATA)
        c0 = time.process_time()
        text = read_page(_ENGINES[psm, languages], grey, dpi).text
        seconds = time.process_time() - c0
        dist, length = cer_counts(rec["text"], text)
        row["variants"][name] = {"dist": dist, "len": length, "s": seconds, "fields": fields_read(rec["text"], text)}
    return row


def pick_pages(corpus: Path, limit: int) -> list[dict]:
    """The degraded text pages, evenly spread over the corpus's page order, at most `limit`."""
    pages = [
        rec
        for rec in load_truth(corpus)
        if rec.get("present", True)
        and rec.get("readable", True)
        and not rec["is_blank"]
        and rec["n_chars"] > 0
        and is_degraded({}, rec)
    ]
    if len(pages) <= limit:
        return pages
    step = len(pages) / limit
    return [pages[int(k * step)] for k in range(limit)]


def summarise(rows: list[dict]) -> list[dict]:
    table = []
    for name in [*VARIANTS, *PIPELINE_VARIANTS]:
        cells = [row["variants"][name] for row in rows]
        found = {kind: sum(c["fields"][kind][0] for c in cells) for kind in FIELDS}
        wanted = {kind: sum(c["fields"][kind][1] for c in cells) for kind in FIELDS}
        table.append(
            {
                "variant": name,
                "cer": sum(c["dist"] for c in cells) / max(1, sum(c["len"] for c in cells)),
                "fields": {kind: (found[kind], wanted[kind]) for kind in FIELDS},
                "s_per_page": statistics.median(c["s"] for c in cells),
            }
        )
    return table


def print_table(table: list[dict], pages: int) -> None:
    kinds = list(FIELDS)
    print(f"\n{pages} degraded text pages; fields read exactly (found/in the reference text)\n")
    header = f"{'variant':34s} {'CER':>7s} " + " ".join(f"{k:>12s}" for k in kinds) + f" {'s/page':>7s}"
    print(header)
    for line in table:
        cells = " ".join(f"{line['fields'][k][0]:>5d}/{line['fields'][k][1]:<6d}" for k in kinds)
        print(f"{line['variant']:34s} {line['cer']:7.4f} {cells} {line['s_per_page']:7.2f}")


def print_page_types(rows: list[dict]) -> None:
    names = [*VARIANTS, *PIPELINE_VARIANTS]
    types = sorted({row["page_type"] for row in rows})
    print(f"\nCER by page type\n{'variant':34s} " + " ".join(f"{t[:16]:>16s}" for t in types))
    for name in names:
        cells = []
        for page_type in types:
            picked = [row["variants"][name] for row in rows if row["page_type"] == page_type]
            cer = sum(c["dist"] for c in picked) / max(1, sum(c["len"] for c in picked))
            cells.append(f"{cer:>9.4f} ({len(picked):>3d})")
        print(f"{name:34s} " + " ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="a corpus made by the eval-kit generator")
    ap.add_argument("--pages", type=int, default=40, help="at most this many degraded text pages")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--only", action="append", default=[], help="run only the variants whose name contains this")
    args = ap.parse_args()
    if args.only:
        for table in (VARIANTS, PIPELINE_VARIANTS):
            for name in [name for name in table if not any(part in name for part in args.only)]:
                del table[name]

    pages = pick_pages(args.corpus, args.pages)
    if not pages:
        raise SystemExit(f"no degraded text pages in {args.corpus}")
    with tempfile.TemporaryDirectory() as folder:
        patterns_file = str(Path(folder) / "records.user-patterns")
        Path(patterns_file).write_text(USER_PATTERNS + "\n", encoding="utf-8")
        jobs = [{"corpus": str(args.corpus), "rec": rec, "patterns_file": patterns_file} for rec in pages]
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(run_page, jobs))
    table = summarise(rows)
    print_table(table, len(rows))
    print_page_types(rows)
    out = Path(__file__).resolve().parent / "results" / f"ocr-options-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    results = {"corpus": str(args.corpus), "summary": table, "pages": rows}
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
