"""Which OCR engine reads a batch: PP-OCR (digitize.ocr.ppocr) or Tesseract (digitize.ocr.tesseract).

`[ocr] engine` (or `--engine`):

- ``auto`` (the default): PP-OCR when every language of `[ocr] languages` is one its
  recogniser reads (Chinese with English and the other Latin-script languages PP-OCRv6 covers)
  and at least one of them is Chinese; Tesseract for every other batch, e.g. one that lists a
  script PP-OCR does not read (Cyrillic, Arabic, Devanagari, Korean ...). PP-OCR reads
  Chinese pages far better than Tesseract's `chi_sim` (docs/benchmarks.md).
- ``ppocr``: PP-OCR whatever the languages.
- ``tesseract``: Tesseract; through tesserocr (the C API, models loaded once per worker) when
  it is installed, else one `tesseract` program run per page (`[ocr] tesseract_api`: auto,
  tesserocr or program).

Whatever the engine, Tesseract's OSD answers the imaging step's orientation questions.
"""

from __future__ import annotations

from pathlib import Path

from digitize.ocr.tesseract import (
    OcrEngine,
    OcrError,
    TesseractOsd,
    find_tessdata,
)
from digitize.ocr.tesseract import engine_version as tesseract_version
from digitize.ocr.tesseract import make_engine as make_tesseract
from digitize.ocr.tesseract import resolve_engine as resolve_tesseract
from digitize.settings import OcrSettings

ENGINES = ("auto", "ppocr", "tesseract")
CHINESE = {"chi_sim", "chi_tra", "chi_sim_vert", "chi_tra_vert"}
# Tesseract language codes of the languages PP-OCRv6's Chinese recogniser reads (rapidocr's
# model routes for PP-OCRv6: Chinese, English, Japanese and Latin-script European languages).
PPOCR_LANGUAGES = CHINESE | {
    "eng", "jpn", "afr", "aze", "bos", "cat", "ces", "cym", "dan", "deu", "spa", "est", "eus",
    "fin", "fra", "gle", "glg", "hrv", "hun", "ind", "isl", "ita", "kmr", "lat", "ltz", "lit",
    "lav", "mri", "msa", "mlt", "nld", "nor", "oci", "pol", "por", "que", "ron", "slk", "slv",
    "sqi", "swe", "swa", "tgl", "tur", "uzb", "vie",
}  # fmt: skip


def choose(engine: str, languages: str) -> str:
    """ "ppocr" or "tesseract" for an engine setting and a language list ("chi_sim+eng")."""
    if engine not in ENGINES:
        raise OcrError(f"unknown OCR engine {engine!r} (auto, ppocr or tesseract)")
    if engine != "auto":
        return engine
    codes = set(languages.split("+"))
    return "ppocr" if codes & CHINESE and codes <= PPOCR_LANGUAGES and _ppocr_installed() else "tesseract"


def _ppocr_installed() -> bool:
    try:
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


def resolve(ocr: OcrSettings) -> tuple[str, str | None]:
    """The engine kind that will run ("ppocr", "tesserocr" or "tesseract") and Tesseract's
    language folder; checks that it is installed, without loading any model."""
    if choose(ocr.engine, ocr.languages) == "tesseract":
        return resolve_tesseract(ocr.tesseract_api, ocr.languages, ocr.tessdata_dir)
    if not _ppocr_installed():
        raise OcrError("the rapidocr package (PP-OCR) is not installed: pip install rapidocr onnxruntime")
    data = find_tessdata(ocr.tessdata_dir)
    if data is None or not Path(data, "osd.traineddata").exists():
        raise OcrError("Tesseract's orientation data is missing (Debian: apt-get install tesseract-ocr-osd)")
    return "ppocr", data


def make(ocr: OcrSettings) -> OcrEngine:
    """The engine of the settings, models loaded (once per worker process: see digitize.tasks)."""
    kind, data = resolve(ocr)
    if kind == "ppocr":
        from digitize.ocr.ppocr import PpOcrEngine

        return PpOcrEngine(ocr.page_timeout_s, osd=TesseractOsd(data))
    api = "tesserocr" if kind == "tesserocr" else "program"
    return make_tesseract(api, ocr.languages, ocr.psm, ocr.page_timeout_s, ocr.tessdata_dir)


def version(kind: str) -> str:
    """Version string of an engine kind, without loading any model."""
    if kind == "ppocr":
        from digitize.ocr.ppocr import engine_description

        return engine_description()
    return tesseract_version(kind)
