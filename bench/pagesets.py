"""Pages with reference text for the OCR benches: generated corpora and the real development set.

A page record (a dict) carries: ``set`` (the corpus folder's name), ``page_id``, ``page_type``
(the generator's page type; real pages: ``real-zh`` or ``real-en`` plus their group), ``lang``
(``zh`` or ``en``), ``text`` (the reference), ``fields`` (values an archive is searched by, see
``search_fields``), ``degraded`` and how to load it (``path``, ``frame``, ``container``).

Loading goes through the pipeline's own loader (`digitize.loader`), and ``our_page`` runs the
pipeline's imaging (`digitize.imaging.process_page`) with Tesseract OSD as its fallback, so the
OCR engines are measured on exactly what the pipeline hands them.

Scoring follows the two scorers: generated pages as eval-kit's score.py (NFKC, all whitespace
removed); real pages as real-dev's score.py (Chinese pages without whitespace, other pages with
whitespace runs collapsed to one space).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL_DEV = ROOT.parent / "shared" / "real-dev"
_WS = re.compile(r"\s+")

ID_NUMBER = re.compile(r"(?<![0-9])\d{17}[\dX](?![0-9])")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}年\d{1,2}月\d{1,2}日")
NAME_AFTER_LABEL = re.compile(r"(?:^|\t)(?:姓名：?\t?)([\u4e00-\u9fff]{2,4})(?=\t|\n|$|\s)", re.M)
FORM_TYPES = ("zh_registration_form", "zh_benefit_approval", "zh_contribution_table", "zh_application")


def search_fields(page_type: str, text: str) -> dict[str, list[str]]:
    """Names (after 姓名), ID numbers and dates of a form page's reference text.

    These are what a social-insurance archive is searched by; a value counts as read when it
    appears verbatim in the page's OCR text (whitespace removed), i.e. when a search finds it.
    Only the generator's form types have them (registration forms, benefit approvals, the
    header of contribution tables, applications).
    """
    if page_type not in FORM_TYPES:
        return {}
    return {
        "name": NAME_AFTER_LABEL.findall(text),
        "id_number": ID_NUMBER.findall(text),
        "date": DATE.findall(text),
    }


def is_degraded(rec: dict) -> bool:
    """A generated page with a visible scan defect (as bench/imaging.py defines it)."""
    from imaging import is_degraded as imaging_is_degraded

    return imaging_is_degraded({}, rec)


def _container(path: Path, frame: int) -> str:
    if path.suffix.lower() == ".pdf":
        return "pdf"
    if path.suffix.lower() in (".tif", ".tiff"):
        from PIL import Image

        with Image.open(path) as im:
            if frame or getattr(im, "n_frames", 1) > 1:
                return "tiff"
    return "image"


def generated_pages(corpus: Path) -> list[dict]:
    """Text pages of an eval-kit corpus (present, readable, not blank)."""
    pages = []
    with open(corpus / "truth" / "pages.jsonl", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    for rec in records:
        if not (rec["present"] and rec["readable"]) or rec["is_blank"] or not rec["n_chars"]:
            continue
        path = corpus / "batch" / rec["file"]
        pages.append(
            {
                "set": corpus.name,
                "page_id": rec["page_id"],
                "page_type": rec["page_type"],
                "lang": "zh" if rec["lang"].startswith("chi") else "en",
                "text": rec["text"],
                "fields": search_fields(rec["page_type"], rec["text"]),
                "degraded": is_degraded(rec),
                "path": str(path),
                "frame": rec["frame"],
                "container": _container(path, rec["frame"]),
                "real": False,
            }
        )
    return pages


def real_pages(folder: Path = REAL_DEV) -> list[dict]:
    """Pages of the real development set that have reference text.

    Its Chinese reference text was drafted with RapidOCR 1.4.4 (PP-OCRv4) and then corrected
    line by line: PP-OCR figures on it may be biased in PP-OCR's favour.
    """
    truth = json.loads((folder / "truth" / "pages.json").read_text(encoding="utf-8"))["pages"]
    pages = []
    for rec in truth:
        if not rec.get("text_ref"):
            continue
        path = folder / "batch" / rec["file"]
        lang = "zh" if rec["language"] == "zh" else "en"
        pages.append(
            {
                "set": "real-dev",
                "page_id": rec["page_id"],
                "page_type": f"real-dev {rec['group']}" + ("" if rec["group"] in ("zh_gt", "en_gt") else f" {lang}"),
                "lang": lang,
                "text": (folder / rec["text_ref"]).read_text(encoding="utf-8"),
                "fields": {},
                "degraded": True,
                "path": str(path),
                "frame": 0,
                "container": _container(path, 0),
                "real": True,
            }
        )
    return pages


def load_pages(corpora: list[Path]) -> list[dict]:
    """Page records of every corpus given; the real development set by its folder."""
    pages: list[dict] = []
    for corpus in corpora:
        if (corpus / "truth" / "pages.json").exists():
            pages += real_pages(corpus)
        else:
            pages += generated_pages(corpus)
    return pages


def spread(pages: list[dict], limit: int) -> list[dict]:
    """At most `limit` pages of each set, evenly spread over its page order."""
    if not limit:
        return pages
    out = []
    for name in dict.fromkeys(p["set"] for p in pages):
        group = [p for p in pages if p["set"] == name]
        step = max(1.0, len(group) / limit)
        out += [group[int(k * step)] for k in range(min(limit, len(group)))]
    return out


def load(page: dict):
    """The page as the pipeline loads it (`digitize.loader.LoadedPage`)."""
    from digitize.batch import PageRef
    from digitize.loader import load_page
    from digitize.settings import InputSettings

    ref = PageRef(page["page_id"].split("/")[0], 1, page["path"], page["frame"], page["container"])
    return load_page(ref, InputSettings())


def our_page(page: dict, osd=None):
    """(loaded page, processed page): the pipeline's imaging, OSD as its orientation fallback."""
    from digitize.imaging import process_page
    from digitize.settings import ImagingSettings

    loaded = load(page)
    processed = process_page(
        loaded.image,
        loaded.dpi,
        ImagingSettings(),
        bitonal=loaded.mode == "bitonal",
        osd=(lambda image: osd(image, loaded.dpi)) if osd else None,
    )
    return loaded, processed


# ------------------------------------------------------------------ scoring
def normalize(text: str, page: dict) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    if not page["real"] or page["lang"] == "zh":
        return _WS.sub("", text)
    return _WS.sub(" ", text).strip()


def score_text(page: dict, hypothesis: str) -> dict:
    """Edit distance, reference length, order-free bag-of-characters distance, fields read."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = normalize(page["text"], page), normalize(hypothesis, page)
    common = sum((Counter(ref) & Counter(hyp)).values())
    flat = _WS.sub("", unicodedata.normalize("NFKC", hypothesis or ""))
    fields = {kind: [sum(1 for v in values if v in flat), len(values)] for kind, values in page["fields"].items()}
    return {
        "dist": Levenshtein.distance(ref, hyp),
        "len": len(ref),
        "boc": max(len(ref) - common, len(hyp) - common),
        "fields": fields,
    }


def summarise(rows: list[dict], key) -> dict:
    """Micro CER, BoC and fields over rows (each with a score under `key(row)`)."""
    scores = [key(row) for row in rows if key(row) is not None]
    length = sum(s["len"] for s in scores)
    fields: dict[str, list[int]] = {}
    for s in scores:
        for kind, (found, wanted) in s["fields"].items():
            total = fields.setdefault(kind, [0, 0])
            total[0] += found
            total[1] += wanted
    return {
        "pages": len(scores),
        "cer": sum(s["dist"] for s in scores) / length if length else None,
        "boc": sum(s["boc"] for s in scores) / length if length else None,
        "fields": fields,
    }


def groups(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows by reporting group: each generated page type, the real groups, and totals."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["page_type"], []).append(row)
    generated_zh = [r for r in rows if not r["real"] and r["lang"] == "zh"]
    generated_en = [r for r in rows if not r["real"] and r["lang"] == "en"]
    real_zh = [r for r in rows if r["real"] and r["lang"] == "zh"]
    real_en = [r for r in rows if r["real"] and r["lang"] == "en"]
    for name, members in (
        ("generated Chinese", generated_zh),
        ("generated English", generated_en),
        ("real Chinese", real_zh),
        ("real English", real_en),
    ):
        if members:
            out[name] = members
    return dict(sorted(out.items(), key=lambda item: (item[0].startswith(("generated", "real ")), item[0])))
