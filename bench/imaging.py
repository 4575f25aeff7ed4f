#!/usr/bin/env python3
"""Benchmark of the page-imaging module against jdeskew, deskew and Tesseract OSD, side by side.

    python bench/imaging.py --corpus /work/data/holdout8 --corpus /work/shared/samples --jobs 2

For every readable page of a corpus made by the eval-kit generator (truth/pages.jsonl) it runs
``digitize.imaging.process_page`` (once without and once with the Tesseract OSD fallback),
jdeskew ``get_angle``, deskew ``determine_skew`` and Tesseract OSD alone, and scores:

* skew: mean absolute error (modulo 90°, as the eval-kit scorer), share within 0.1°, worst, s/page;
* orientation: accuracy on text pages, upright pages turned;
* blank pages: precision and recall;
* crop safety: every ground-truth line box, mapped into our straightened page, inside the crop;
* colour: pages with a red seal or red letterhead flagged, pages without colour marks not flagged;
* CER with Tesseract (chi_sim+eng or eng, from the page's truth), whole page, psm 3: on the raw
  page, on the page straightened with the true geometry, on our corrected page and on our OCR
  image; and as the pipeline reads our OCR image (``digitize.ocr.reading``: ruled tables cell by
  cell, the rest of the page with the pipeline's page segmentation mode, OcrSettings.psm).

``--extra-skew 15`` turns every page by a further seeded angle so that the true skews cover
±15°. Timings are CPU seconds of one process (OpenCV and Tesseract limited to one thread), so
they stay comparable when other work shares the machine; wall-clock seconds are kept as well.
Results go to bench/results/imaging-<time>.json. CER follows /work/shared/eval-kit/score.py:
NFKC, whitespace removed, Levenshtein distance over reference length.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pikepdf  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digitize.imaging import process_page  # noqa: E402
from digitize.imaging.geometry import map_points, straighten_matrix, warp  # noqa: E402
from digitize.settings import ImagingSettings, OcrSettings  # noqa: E402

CLEAN_W, CLEAN_H, CLEAN_DPI = 2480, 3508, 300
TESSDATA = os.environ.get("TESSDATA_PREFIX", "/usr/share/tesseract-ocr/5/tessdata/")
_WS = re.compile(r"\s+", re.UNICODE)


# ------------------------------------------------------------------ corpus
def load_truth(corpus: Path) -> list[dict]:
    with open(corpus / "truth" / "pages.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_image(corpus: Path, rec: dict) -> tuple[np.ndarray, bool]:
    """Decoded page: (grey | BGR | 0/255 bitonal, bitonal flag)."""
    path = corpus / "batch" / rec["file"]
    if path.suffix.lower() == ".pdf":
        with pikepdf.open(path) as pdf:
            (xobj,) = pdf.pages[rec["frame"]].get_images().values()
            data = bytes(xobj.read_raw_bytes())
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), False
    with Image.open(path) as im:
        im.seek(rec["frame"])
        if im.mode == "1":
            return np.asarray(im.convert("L")), True
        if im.mode == "RGB":
            return cv2.cvtColor(np.asarray(im), cv2.COLOR_RGB2BGR), False
        return np.asarray(im.convert("L")), False


def truth_forward(rec: dict) -> np.ndarray:
    """3x3 affine from the clean upright render (300 dpi) to the scan's pixel coordinates."""
    m = np.eye(3)
    w, h = CLEAN_W, CLEAN_H
    for _ in range((rec["orientation_deg"] // 90) % 4):  # numpy.rot90: counter-clockwise
        m = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w - 1.0], [0.0, 0.0, 1.0]]) @ m
        w, h = h, w
    deg = rec["degradation"]
    if rec["skew_deg"] != 0 or deg.get("dark_border"):
        rot = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), rec["skew_deg"], 1.0)
        if deg.get("dark_border"):
            mx, my = deg["border_margin"]
            rot[0, 2] += mx + deg["border_offset"][0]
            rot[1, 2] += my + deg["border_offset"][1]
        m = np.vstack([rot, [0.0, 0.0, 1.0]]) @ m
    s = rec["dpi"] / CLEAN_DPI
    if s != 1.0:
        m = np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5], [0.0, 0.0, 1.0]]) @ m
    return m


def extra_rotation(image: np.ndarray, angle: float, bitonal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Turn a scan by a further `angle` degrees counter-clockwise (same canvas); returns it and its 3x3 map."""
    h, w = image.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    corner = image[: max(1, h // 50), : max(1, w // 50)]
    if bitonal:
        fill: int | tuple[int, ...] = 255
    elif image.ndim == 3:
        fill = tuple(int(v) for v in np.median(corner.reshape(-1, 3), axis=0))
    else:
        fill = int(np.median(corner))
    out = cv2.warpAffine(image, rot, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    if bitonal:
        out = np.where(out > 127, 255, 0).astype(np.uint8)
    return out, np.vstack([rot, [0.0, 0.0, 1.0]])


def box_points(bbox: list[int], per_edge: int = 6) -> np.ndarray:
    x0, y0, x1, y1 = bbox
    t = np.linspace(0.0, 1.0, per_edge)
    xs = np.concatenate([x0 + (x1 - x0) * t, x0 + (x1 - x0) * t, np.full(per_edge, x0), np.full(per_edge, x1)])
    ys = np.concatenate([np.full(per_edge, y0), np.full(per_edge, y1), y0 + (y1 - y0) * t, y0 + (y1 - y0) * t])
    return np.stack([xs, ys], axis=1).astype(np.float64)


def crop_violations(
    rec: dict,
    forward: np.ndarray,
    scan_shape: tuple[int, int],
    skew: float,
    orientation: int,
    box: tuple[int, int, int, int] | None,
    tolerance: float = 2.0,
) -> int:
    """Ground-truth lines (their parts visible in the scan) that end up outside our crop box."""
    if box is None or not rec["lines"]:
        return 0
    h, w = scan_shape
    ours, _ = straighten_matrix(w, h, skew, orientation)
    x0, y0, x1, y1 = box
    bad = 0
    for line in rec["lines"]:
        pts = box_points(line["bbox"]) @ forward[:2, :2].T + forward[:2, 2]
        pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] <= w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1)]
        if pts.size == 0:
            continue
        q = map_points(ours, pts)
        if (
            np.any(q[:, 0] < x0 - tolerance)
            or np.any(q[:, 0] > x1 + tolerance)
            or np.any(q[:, 1] < y0 - tolerance)
            or np.any(q[:, 1] > y1 + tolerance)
        ):
            bad += 1
    return bad


def colour_truth(rec: dict) -> str:
    """red: a seal or red letterhead; sig: only a (blue) signature; none: no coloured marks."""
    if rec["color_mode"] != "RGB":
        return "grey"
    first = rec["text"].split("\n", 1)[0] if rec["text"] else ""
    if rec.get("stamp_text") or (rec["page_type"] == "zh_letter" and first.endswith("文件")):
        return "red"
    if (
        rec["page_type"] in ("zh_application", "zh_registration_form", "zh_benefit_approval")
        or "Yours sincerely" in rec["text"]
    ):
        return "sig"
    return "none"


# ------------------------------------------------------------------ OCR and baselines
_APIS: dict = {}


def _api(kind: str):
    import tesserocr

    if kind not in _APIS:
        if kind == "osd":
            _APIS[kind] = tesserocr.PyTessBaseAPI(path=TESSDATA, lang="osd", psm=tesserocr.PSM.OSD_ONLY)
        else:
            _APIS[kind] = tesserocr.PyTessBaseAPI(path=TESSDATA, lang=kind, psm=tesserocr.PSM.AUTO)
    return _APIS[kind]


def _set(api, image: np.ndarray, dpi: float) -> None:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    grey = np.ascontiguousarray(grey)
    api.SetImageBytes(grey.tobytes(), grey.shape[1], grey.shape[0], 1, grey.shape[1])
    api.SetSourceResolution(int(round(dpi)))


def tesseract_osd(image: np.ndarray, dpi: float) -> tuple[int, float]:
    """(orientation in the corpus convention, confidence); (0, 0) when OSD cannot decide."""
    api = _api("osd")
    _set(api, image, dpi)
    result = api.DetectOrientationScript()
    api.Clear()
    if not result:
        return 0, 0.0
    return (360 - int(result["orient_deg"])) % 360, float(result["orient_conf"])


def ocr_text(image: np.ndarray, dpi: float, lang: str) -> tuple[str, float]:
    """Recognised text and the CPU seconds Tesseract took."""
    api = _api("chi_sim+eng" if lang.startswith("chi") else "eng")
    c0 = time.process_time()
    _set(api, image, dpi)
    text = api.GetUTF8Text()
    api.Clear()
    return text, time.process_time() - c0


_ENGINES: dict = {}


def read_text(image: np.ndarray, dpi: float, lang: str, layout=None) -> tuple[str, float]:
    """Text as the pipeline reads it (columns one by one, ruled tables cell by cell) and the CPU
    seconds it took."""
    from digitize.ocr.reading import read_page
    from digitize.ocr.tesseract import make_engine

    languages = "chi_sim+eng" if lang.startswith("chi") else "eng"
    if languages not in _ENGINES:
        _ENGINES[languages] = make_engine("tesserocr", languages, OcrSettings().psm, 600.0, TESSDATA)
    c0 = time.process_time()
    text = read_page(_ENGINES[languages], image, dpi, layout=layout).text
    return text, time.process_time() - c0


def normalize(s: str) -> str:
    return _WS.sub("", unicodedata.normalize("NFKC", s or ""))


def cer_counts(ref: str, hyp: str) -> tuple[int, int]:
    from rapidfuzz.distance import Levenshtein

    r, h = normalize(ref), normalize(hyp)
    return Levenshtein.distance(r, h), len(r)


def wrap90(a: float) -> float:
    return (a + 45.0) % 90.0 - 45.0


# ------------------------------------------------------------------ one page
def run_page(job: dict) -> dict:
    cv2.setNumThreads(1)
    corpus, rec = Path(job["corpus"]), job["rec"]
    image, bitonal = load_image(corpus, rec)
    forward = truth_forward(rec)
    skew_true = rec["skew_deg"]
    if job["extra_skew"]:
        rnd = random.Random(f"{rec['page_id']}-extra")
        target = rnd.uniform(-job["extra_skew"], job["extra_skew"])
        image, extra = extra_rotation(image, target - skew_true, bitonal)
        forward = extra @ forward
        skew_true = target
    dpi = float(rec["dpi"])
    settings = ImagingSettings()
    row: dict = {
        "page_id": rec["page_id"],
        "corpus": str(corpus),
        "page_type": rec["page_type"],
        "lang": rec["lang"],
        "dpi": dpi,
        "color_mode": rec["color_mode"],
        "defects": rec["defects"],
        "is_blank": rec["is_blank"],
        "n_chars": rec["n_chars"],
        "skew_true": skew_true,
        "orientation_true": rec["orientation_deg"],
        "colour_truth": colour_truth(rec),
        "dark_border": bool(rec["degradation"].get("dark_border")),
    }

    t0, c0 = time.perf_counter(), time.process_time()
    page = process_page(image, dpi, settings, bitonal=bitonal)
    row["ours_s"] = time.process_time() - c0
    row["ours_wall_s"] = time.perf_counter() - t0
    row["timings"] = page.timings
    g = page.geometry
    row["ours"] = {
        "skew": g.skew_deg,
        "orientation": g.orientation_deg,
        "method": g.orientation_method,
        "blank": g.is_blank,
        "blank_score": g.blank_score,
        "colour": g.needs_colour,
        "crop": g.crop_box,
        "blur": g.blur,
        "ink": g.ink_coverage,
        "dpi": page.resolution.dpi,
        "dpi_source": page.resolution.source,
    }
    osd_calls = []

    def osd(img: np.ndarray, working_dpi: float) -> tuple[int, float]:
        res = tesseract_osd(img, working_dpi)
        osd_calls.append(res)
        return res

    page_osd = process_page(image, dpi, settings, bitonal=bitonal, osd=osd)
    row["ours_osd"] = {
        "orientation": page_osd.geometry.orientation_deg,
        "method": page_osd.geometry.orientation_method,
        "osd_calls": osd_calls,
    }
    applied = g.skew_deg if abs(g.skew_deg) >= settings.min_deskew_deg else 0.0
    row["crop_violations"] = crop_violations(rec, forward, image.shape[:2], applied, g.orientation_deg, g.crop_box)

    if job["baselines"]:
        from deskew import determine_skew
        from jdeskew.estimator import get_angle

        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        # both return the angle to rotate by to straighten the page: the negative of the content's skew
        c0 = time.process_time()
        angle = get_angle(image)
        row["jdeskew"] = {"skew": -float(angle), "s": time.process_time() - c0}
        c0 = time.process_time()
        angle = determine_skew(grey)
        row["deskew"] = {"skew": None if angle is None else -float(angle), "s": time.process_time() - c0}
        c0 = time.process_time()
        o, conf = tesseract_osd(grey, dpi)
        row["osd"] = {"orientation": o, "conf": conf, "s": time.process_time() - c0}

    if job["ocr"] and not rec["is_blank"] and rec["n_chars"] > 0:
        lang = rec["lang"]
        variants = {
            "raw": (image, dpi),
            "truth_geometry": (
                warp(image, skew_true, rec["orientation_deg"], 255 if bitonal else int(np.median(image))),
                dpi,
            ),
            "our_geometry": (page_osd.image, page_osd.resolution.working_dpi),
            "our_ocr_image": (page_osd.ocr_image, page_osd.resolution.working_dpi * page_osd.ocr_scale),
        }
        row["cer"] = {}
        for name, (img, d) in variants.items():
            text, secs = ocr_text(img, d, lang)
            dist, n = cer_counts(rec["text"], text)
            row["cer"][name] = {"dist": dist, "len": n, "s": secs}
        text, secs = read_text(
            page_osd.ocr_image, page_osd.resolution.working_dpi * page_osd.ocr_scale, lang, page_osd.layout
        )
        dist, n = cer_counts(rec["text"], text)
        row["cer"]["ours"] = {"dist": dist, "len": n, "s": secs}
    return row


# ------------------------------------------------------------------ summary
def _skew_stats(rows: list[dict], key: str) -> dict | None:
    errs, secs = [], []
    for r in rows:
        res = r.get(key)
        if res is None:
            return None
        v = res["skew"]
        errs.append(abs(wrap90(v - r["skew_true"])) if v is not None else 90.0)
        if "s" in res:
            secs.append(res["s"])
    if not errs:
        return None
    return {
        "pages": len(errs),
        "mean_abs_err": statistics.mean(errs),
        "within_0.1": sum(e <= 0.1 for e in errs) / len(errs),
        "max_abs_err": max(errs),
        "s_per_page": statistics.mean(secs) if secs else None,
    }


def _orientation_stats(rows: list[dict], get) -> dict:
    ok = [get(r) == r["orientation_true"] for r in rows]
    upright = [r for r in rows if r["orientation_true"] == 0]
    turned = [r for r in rows if r["orientation_true"] != 0]
    return {
        "pages": len(rows),
        "accuracy": sum(ok) / len(rows) if rows else None,
        "rotated_pages": len(turned),
        "rotated_right": sum(get(r) == r["orientation_true"] for r in turned),
        "upright_pages": len(upright),
        "upright_turned": sum(get(r) != 0 for r in upright),
    }


def summarise(rows: list[dict]) -> dict:
    text_pages = [r for r in rows if not r["is_blank"]]
    for r in text_pages:  # skew estimation proper: the analysis and skew steps, in CPU seconds
        wall = sum(r["timings"].values()) or 1.0
        r["ours"]["s"] = (r["timings"]["analysis"] + r["timings"]["skew"]) * r["ours_s"] / wall
    skew = {name: _skew_stats(text_pages, name) for name in ("ours", "jdeskew", "deskew")}
    orientation = {
        "ours (image + OSD fallback)": _orientation_stats(text_pages, lambda r: r["ours_osd"]["orientation"]),
        "ours (image only)": _orientation_stats(text_pages, lambda r: r["ours"]["orientation"]),
    }
    if text_pages and "osd" in text_pages[0]:
        orientation["Tesseract OSD alone"] = _orientation_stats(text_pages, lambda r: r["osd"]["orientation"])
    osd_calls = sum(len(r["ours_osd"]["osd_calls"]) for r in text_pages)
    tp = sum(r["is_blank"] and r["ours"]["blank"] for r in rows)
    fp = sum((not r["is_blank"]) and r["ours"]["blank"] for r in rows)
    fn = sum(r["is_blank"] and not r["ours"]["blank"] for r in rows)
    blank = {
        "blank_pages": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "errors": [r["page_id"] for r in rows if r["is_blank"] != r["ours"]["blank"]],
    }
    cropped = [r for r in rows if r["ours"]["crop"] is not None]
    crop = {
        "pages_cropped": len(cropped),
        "pages_with_dark_bed": sum(r["dark_border"] for r in rows),
        "lines_cut": sum(r["crop_violations"] for r in rows),
        "pages_cut": [r["page_id"] for r in rows if r["crop_violations"]],
    }
    resolution = {
        "sources": {
            src: sum(r["ours"].get("dpi_source") == src for r in rows) for src in ("tag", "estimated", "unknown")
        },
        "wrong": [r["page_id"] for r in rows if r["ours"].get("dpi") and abs(r["ours"]["dpi"] / r["dpi"] - 1.0) > 0.15],
    }
    colour_rows = [r for r in rows if r["colour_truth"] != "grey"]
    colour = {
        cat: {
            "pages": sum(r["colour_truth"] == cat for r in colour_rows),
            "flagged": sum(r["colour_truth"] == cat and r["ours"]["colour"] for r in colour_rows),
        }
        for cat in ("red", "sig", "none")
    }
    colour["grey_pages_flagged"] = sum(r["ours"]["colour"] for r in rows if r["colour_truth"] == "grey")
    cer: dict = {}
    ocr_rows = [r for r in rows if "cer" in r]
    subsets = {"all": ocr_rows, "degraded": [r for r in ocr_rows if r["degraded"]]}
    for subset, rs in subsets.items():
        cer[subset] = {"pages": len(rs)}
        for v in CER_VARIANTS:
            if any(v not in r["cer"] for r in rs):
                continue
            d = sum(r["cer"][v]["dist"] for r in rs)
            n = sum(r["cer"][v]["len"] for r in rs)
            cer[subset][v] = {
                "cer": d / n if n else None,
                "ocr_s": statistics.mean(r["cer"][v]["s"] for r in rs) if rs else None,
            }
    # process_page reports wall seconds per step; scale each page's steps to its CPU total so the
    # breakdown is not inflated by other work on the machine
    steps: dict[str, list[float]] = {}
    for r in rows:
        wall = sum(r["timings"].values()) or 1.0
        for k, v in r["timings"].items():
            steps.setdefault(k, []).append(v * r["ours_s"] / wall)
    timing = {k: statistics.mean(v) for k, v in steps.items()}
    timing["total"] = statistics.mean(r["ours_s"] for r in rows)
    a4 = [r["ours_s"] for r in rows if r["dpi"] >= 290]
    timing["total_300dpi"] = statistics.mean(a4) if a4 else None
    return {
        "pages": len(rows),
        "text_pages": len(text_pages),
        "skew": skew,
        "orientation": orientation,
        "osd_calls": osd_calls,
        "blank": blank,
        "crop": crop,
        "resolution": resolution,
        "colour": colour,
        "cer": cer,
        "timing_s": timing,
        "orientation_errors": [
            {
                "page_id": r["page_id"],
                "true": r["orientation_true"],
                "ours": r["ours_osd"]["orientation"],
                "method": r["ours_osd"]["method"],
            }
            for r in text_pages
            if r["ours_osd"]["orientation"] != r["orientation_true"]
        ],
        "skew_misses": [
            {"page_id": r["page_id"], "true": r["skew_true"], "ours": r["ours"]["skew"]}
            for r in text_pages
            if abs(wrap90(r["ours"]["skew"] - r["skew_true"])) > 0.1
        ],
    }


def is_degraded(row: dict, rec: dict) -> bool:
    """A page with a visible scan defect beyond paper texture and mild blur/noise."""
    d = rec["degradation"]
    return bool(
        rec["defects"]
        or d.get("fade", 1.0) < 1.0
        or d.get("ink_bleed")
        or d.get("letterpress")
        or d.get("low_ink_lines")
        or d.get("dirty_drum")
        or d.get("bleed_through", 0) > 0
        or d.get("specks")
        or d.get("dark_border")
        or d.get("lighting", 0) > 0.1
        or rec["color_mode"] == "1"
    )


CER_VARIANTS = ("raw", "truth_geometry", "our_geometry", "our_ocr_image", "ours")


def print_table(s: dict) -> None:
    def f(v, fmt="{:.3f}"):
        return "-" if v is None else fmt.format(v)

    print(f"\npages {s['pages']} (text pages {s['text_pages']})")
    print("\nSkew (text pages)            mean|err|°  within 0.1°  worst°   s/page (CPU; ours: analysis + skew steps)")
    for name, st in s["skew"].items():
        if st:
            print(
                f"  {name:26s} {f(st['mean_abs_err'], '{:.4f}'):>10s} {f(st['within_0.1'], '{:.1%}'):>11s} {f(st['max_abs_err'], '{:.2f}'):>7s} {f(st['s_per_page']):>8s}"
            )
    print("\nOrientation (text pages)       accuracy   rotated right   upright turned")
    for name, st in s["orientation"].items():
        print(
            f"  {name:28s} {f(st['accuracy'], '{:.1%}'):>8s}   {st['rotated_right']:>5d}/{st['rotated_pages']:<5d}    {st['upright_turned']:>3d}/{st['upright_pages']}"
        )
    print(f"  OSD calls made by ours: {s['osd_calls']}")
    b = s["blank"]
    print(
        f"\nBlank pages: {b['blank_pages']} true blanks; precision {f(b['precision'])} recall {f(b['recall'])} (fp {b['fp']}, fn {b['fn']})"
    )
    c = s["crop"]
    print(
        f"Crop: {c['pages_cropped']} pages cropped ({c['pages_with_dark_bed']} have a dark scanner bed); "
        f"ground-truth lines cut by a crop: {c['lines_cut']}"
    )
    res = s.get("resolution")
    if res:
        print(
            "Resolution: "
            + ", ".join(f"{n} pages {src}" for src, n in res["sources"].items())
            + f"; more than 15 % off the truth: {len(res['wrong'])}"
        )
    col = s["colour"]
    print(
        f"Colour: red seal/letterhead flagged {col['red']['flagged']}/{col['red']['pages']}; signature-only flagged "
        f"{col['sig']['flagged']}/{col['sig']['pages']}; no colour marks flagged {col['none']['flagged']}/{col['none']['pages']}; "
        f"grey sources flagged {col['grey_pages_flagged']}"
    )
    if s["cer"].get("all", {}).get("pages"):
        print(
            "\nCER (Tesseract 5)          raw   truth geometry   our geometry   our OCR image   ours (+ table cells)   (pages)"
        )
        for subset, res in s["cer"].items():
            if res["pages"]:
                print(
                    f"  {subset:18s} {f(res['raw']['cer']):>8s} {f(res['truth_geometry']['cer']):>14s} {f(res['our_geometry']['cer']):>14s} "
                    f"{f(res['our_ocr_image']['cer']):>15s} {f(res.get('ours', {}).get('cer')):>22s}   ({res['pages']})"
                )
    t = s["timing_s"]
    print("\nprocess_page CPU seconds per page: " + ", ".join(f"{k} {v:.4f}" for k, v in t.items() if v is not None))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", default=[], type=Path)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-ocr", action="store_true", help="skip the Tesseract CER runs (the slow part)")
    ap.add_argument("--no-baselines", action="store_true", help="skip jdeskew, deskew and OSD alone")
    ap.add_argument("--extra-skew", type=float, default=0.0, help="turn pages further so true skews cover ±this")
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages of each corpus")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--summarise", type=Path, help="print the table of an earlier results file and stop")
    args = ap.parse_args()
    if args.summarise:
        with open(args.summarise, encoding="utf-8") as fh:
            rows = json.load(fh)["pages"]
        print_table(summarise(rows))
        return
    if not args.corpus:
        ap.error("give at least one --corpus (or --summarise FILE)")

    jobs, recs = [], {}
    for corpus in args.corpus:
        truth = [r for r in load_truth(corpus) if r["present"] and r["readable"]]
        if args.limit:
            truth = truth[: args.limit]
        for rec in truth:
            recs[(str(corpus), rec["page_id"])] = rec
            jobs.append(
                {
                    "corpus": str(corpus),
                    "rec": rec,
                    "ocr": not args.no_ocr,
                    "baselines": not args.no_baselines,
                    "extra_skew": args.extra_skew,
                }
            )
    started = time.time()
    rows = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for i, row in enumerate(pool.map(run_page, jobs, chunksize=1), 1):
            row["degraded"] = is_degraded(row, recs[(row["corpus"], row["page_id"])])
            rows.append(row)
            print(f"\r{i}/{len(jobs)} pages", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    summary = summarise(rows)
    summary["args"] = {
        "corpus": [str(c) for c in args.corpus],
        "extra_skew": args.extra_skew,
        "ocr": not args.no_ocr,
        "elapsed_s": round(time.time() - started, 1),
    }
    print_table(summary)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"imaging-{time.strftime('%Y%m%d-%H%M%S')}.json"
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"summary": summary, "pages": rows}, fh, ensure_ascii=False, indent=1, default=str)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
