"""CER of the full pipeline's PDF/A text next to Tesseract on the raw pages and on the truth geometry.

    python bench/qc.py --corpus holdout65 --out out65 --jobs 2
    python ../shared/eval-kit/score.py ocr --corpus holdout65 --pred out65/documents --pdf --json pdf.json
    python bench/imaging.py --corpus holdout65 --jobs 2          # writes bench/results/imaging-*.json
    python bench/pipeline_cer.py --pdf-score pdf.json --imaging bench/results/imaging-<time>.json

score.py reads each PDF/A with `pdftotext -raw`; bench/imaging.py ran Tesseract 5 (psm 3, whole
page) on the raw page and on the page straightened with the true geometry. This joins the two on
the pages that have both (pages of documents the pipeline failed on purpose, such as a document
with a corrupt page, have no PDF) and prints micro CER (edit distance over reference length) for
all those pages and for the degraded ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pdf-score", type=Path, required=True, help="score.py ocr --pdf --json output")
    ap.add_argument("--imaging", type=Path, required=True, help="bench/imaging.py results file (with OCR)")
    args = ap.parse_args()

    scored = load(args.pdf_score)["pages"]
    pipeline = {row["page_id"]: row for row in scored if not row["missing"]}
    imaging = {row["page_id"]: row for row in load(args.imaging)["pages"] if row.get("cer")}
    shared = sorted(set(pipeline) & set(imaging))
    if not shared:
        raise SystemExit("no page has both a PDF text score and an imaging CER: different corpora?")

    print(f"{'pages (micro CER)':34s} {'raw':>7s} {'truth geometry':>15s} {'digitize PDF/A':>15s}")
    for label, ids in (("all", shared), ("degraded", [p for p in shared if imaging[p]["degraded"]])):
        ref = sum(pipeline[p]["ref_len"] for p in ids)
        columns = [
            sum(imaging[p]["cer"]["raw"]["dist"] for p in ids) / sum(imaging[p]["cer"]["raw"]["len"] for p in ids),
            sum(imaging[p]["cer"]["truth_geometry"]["dist"] for p in ids)
            / sum(imaging[p]["cer"]["truth_geometry"]["len"] for p in ids),
            sum(pipeline[p]["dist"] for p in ids) / ref,
        ]
        print(f"{label + f' ({len(ids)} pages)':34s} {columns[0]:7.3f} {columns[1]:15.3f} {columns[2]:15.3f}")
    missing = [row["page_id"] for row in scored if row["missing"] and row["page_id"] in imaging]
    if missing:
        print(f"text pages without a PDF page (document failed on purpose): {len(missing)}")


if __name__ == "__main__":
    main()
