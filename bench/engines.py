#!/usr/bin/env python3
"""OCR engines side by side on the pipeline's own OCR image: Tesseract and PP-OCR, in one run.

    python bench/engines.py --corpus holdout124 --corpus holdout132 --corpus ../shared/real-dev --jobs 2
    python bench/engines.py --corpus holdout128 --pages 40 --variant ppocr --variant "ppocr det_dpi=100" ...
    python bench/engines.py --summarise bench/results/engines-A.json bench/results/engines-B.json

Every text page goes once through the pipeline's loader and imaging (`process_page`, Tesseract
OSD as the orientation fallback, as in `digitize.tasks`); its OCR image is then read as the
pipeline reads it (`digitize.ocr.reading.read_page`: ruled tables cell by cell) by each
variant, and bare Tesseract reads the raw page as loaded (psm 3, chi_sim+eng or eng, the
README of real-dev's baseline). Variants (``--variant``, default ``tesseract`` and ``ppocr``):

* ``tesseract``: the tesserocr engine with the pipeline's settings (psm 4);
* ``ppocr``: the PP-OCR engine with its defaults; options after the name override them:
  ``det_dpi=N`` (detection resolution), ``cls`` (the 0/180 line classifier), ``score=X``
  (lowest line probability kept), ``ratio=X`` (narrowest recogniser input in line heights),
  ``arena`` (ONNX Runtime's memory arena), ``threads=N`` (ONNX Runtime intra-op threads).

Reported per variant: CER and BoC (order-free) per page type and per group (generated
Chinese / English, real Chinese / English), the names (after 姓名), ID numbers and dates of
the generated form pages read verbatim, and CPU seconds per page (one thread). Pages are
scored as eval-kit's score.py (generated) and real-dev's score.py (real) score them. The real
set's Chinese reference was drafted with RapidOCR 1.4.4 (PP-OCRv4) and corrected by hand: a
possible bias in PP-OCR's favour. Results: bench/results/engines-<time>.json (or ``--out``),
rewritten after every page, so a stopped run still leaves its pages for ``--summarise``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from pagesets import groups, load_pages, our_page, score_text, spread, summarise  # noqa: E402

BARE = "bare Tesseract (raw page, psm 3)"
_ENGINES: dict = {}


def engine(variant: str, lang: str):
    """The engine of a variant in this worker process, made once."""
    from digitize.ocr.ppocr import PpOcrEngine
    from digitize.ocr.tesseract import make_engine
    from digitize.settings import OcrSettings

    languages = "chi_sim+eng" if lang == "zh" else "eng"
    key = (variant, languages if variant.startswith("tesseract") else "")
    if key not in _ENGINES:
        name, *options = variant.split()
        if name == "tesseract":
            _ENGINES[key] = make_engine("tesserocr", languages, OcrSettings().psm, 900.0)
        elif name == "ppocr":
            kwargs: dict = {}
            for option in options:
                field, _, value = option.partition("=")
                if field == "det_dpi":
                    kwargs["detection_dpi"] = float(value)
                elif field == "cls":
                    kwargs["use_classifier"] = True
                elif field == "score":
                    kwargs["min_text_score"] = float(value)
                elif field == "ratio":
                    kwargs["rec_min_ratio"] = float(value)
                elif field == "arena":
                    kwargs["memory_arena"] = True
                elif field == "threads":
                    kwargs["threads"] = int(value)
                else:
                    raise SystemExit(f"unknown PP-OCR option {option!r}")
            _ENGINES[key] = PpOcrEngine(900.0, **kwargs)
        else:
            raise SystemExit(f"unknown variant {variant!r}")
    return _ENGINES[key]


def bare_tesseract(image, dpi: float, lang: str) -> str:
    """Tesseract on the raw page as loaded, psm 3, as a user of the tesseract program would."""
    import tesserocr

    from digitize.ocr.tesseract import _set_image, find_tessdata

    key = ("bare", lang)
    if key not in _ENGINES:
        _ENGINES[key] = tesserocr.PyTessBaseAPI(
            path=find_tessdata(), lang="chi_sim+eng" if lang == "zh" else "eng", psm=tesserocr.PSM.AUTO
        )

    api = _ENGINES[key]
    _set_image(api, image, dpi)
    text = api.GetUTF8Text()
    api.Clear()
    return text


def run_page(job: tuple[dict, list[str], bool]) -> dict:
    import cv2

    from digitize.ocr.reading import read_page
    from digitize.ocr.tesseract import TesseractOsd

    cv2.setNumThreads(1)
    page, variants, bare = job
    if "osd" not in _ENGINES:
        _ENGINES["osd"] = TesseractOsd()
    loaded, processed = our_page(page, _ENGINES["osd"].orientation)
    row = {k: page[k] for k in ("set", "page_id", "page_type", "lang", "real", "degraded")}
    row["orientation"] = processed.geometry.orientation_deg
    row["results"] = {}
    image, dpi = processed.ocr_image, loaded.dpi * processed.ocr_scale
    for variant in variants:
        reader = engine(variant, page["lang"])
        c0, w0 = time.process_time(), time.perf_counter()
        text = read_page(reader, image, dpi).text
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        row["results"][variant] = {**score_text(page, text), "cpu_s": cpu, "wall_s": wall}
    if bare:
        c0 = time.process_time()
        text = bare_tesseract(loaded.image, loaded.dpi, page["lang"])
        row["results"][BARE] = {**score_text(page, text), "cpu_s": time.process_time() - c0}
    return row


def report(rows: list[dict], variants: list[str]) -> dict:
    table = {}
    for variant in variants:
        per_group = {
            group: summarise(members, lambda r, v=variant: r["results"].get(v))
            for group, members in groups(rows).items()
        }
        cpu = [r["results"][variant]["cpu_s"] for r in rows if variant in r["results"]]
        table[variant] = {
            "groups": per_group,
            "cpu_s_median": statistics.median(cpu),
            "cpu_s_mean": statistics.mean(cpu),
        }
    return table


def print_report(table: dict) -> None:
    first = next(iter(table.values()))["groups"]
    totals = [g for g in first if g.startswith(("generated ", "real "))]
    types = [g for g in first if g not in totals]
    print(f"\n{'variant':34s} " + " ".join(f"{g:>19s}" for g in totals) + "   CPU s/page (median, mean)")
    for variant, res in table.items():
        cells = []
        for g in totals:
            s = res["groups"].get(g)
            cells.append(
                f"{s['cer']:.4f}/{s['boc']:.4f} ({s['pages']:>3d})" if s and s["cer"] is not None else f"{'-':>19s}"
            )
        print(
            f"{variant[:34]:34s} "
            + " ".join(f"{c:>19s}" for c in cells)
            + f"   {res['cpu_s_median']:.2f}, {res['cpu_s_mean']:.2f}"
        )
    print("\n(CER/BoC (pages))  Fields of the generated form pages read verbatim (found/in the reference):")
    for variant, res in table.items():
        fields = res["groups"].get("generated Chinese", {}).get("fields", {})
        text = ", ".join(f"{k} {v[0]}/{v[1]} ({v[0] / v[1]:.1%})" for k, v in fields.items() if v[1])
        total = [sum(v[0] for v in fields.values()), sum(v[1] for v in fields.values())]
        if total[1]:
            text += f"; all {total[0]}/{total[1]} ({total[0] / total[1]:.1%})"
        print(f"  {variant[:34]:34s} {text}")
    print("\nCER by page type")
    print(f"{'variant':34s} " + " ".join(f"{t[-18:]:>18s}" for t in types))
    for variant, res in table.items():
        cells = [
            f"{res['groups'][t]['cer']:.4f} ({res['groups'][t]['pages']:>2d})"
            if res["groups"][t]["cer"] is not None
            else "-"
            for t in types
        ]
        print(f"{variant[:34]:34s} " + " ".join(f"{c:>18s}" for c in cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", type=Path, default=[], help="eval-kit corpus or real-dev folder")
    ap.add_argument("--variant", action="append", help="engine variant (default: tesseract and ppocr)")
    ap.add_argument("--pages", type=int, default=0, help="at most this many text pages of each corpus")
    ap.add_argument("--lang", choices=["zh", "en"], help="only pages of this language")
    ap.add_argument("--no-bare", action="store_true", help="skip bare Tesseract on the raw page")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, help="results file (default bench/results/engines-<time>.json)")
    ap.add_argument("--summarise", type=Path, nargs="+", help="print the tables of earlier results files, merged")
    args = ap.parse_args()
    if args.summarise:
        runs = [json.loads(path.read_text(encoding="utf-8")) for path in args.summarise]
        shared = [v for v in runs[0]["variants"] if all(v in run["variants"] for run in runs)]
        print_report(report([row for run in runs for row in run["pages"]], shared))
        return
    variants = args.variant or ["tesseract", "ppocr"]
    pages = load_pages(args.corpus)
    if args.lang:
        pages = [p for p in pages if p["lang"] == args.lang]
    pages = spread(pages, args.pages)
    started = time.time()
    all_variants = variants + ([] if args.no_bare else [BARE])
    out = args.out or HERE / "results" / f"engines-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    rows: list[dict] = []

    def save(table: dict | None) -> None:
        """The results so far (a stopped run still leaves its pages for --summarise)."""
        record = {
            "corpora": [str(c) for c in args.corpus],
            "variants": all_variants,
            "elapsed_s": round(time.time() - started),
            "summary": table,
            "pages": rows,
        }
        out.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")

    with ProcessPoolExecutor(args.jobs) as pool:
        for i, row in enumerate(pool.map(run_page, [(p, variants, not args.no_bare) for p in pages]), 1):
            rows.append(row)
            save(None)
            print(f"\r{i}/{len(pages)} pages", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    table = report(rows, all_variants)
    print_report(table)
    save(table)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
