"""The PP-OCR engine on real pages, next to Tesseract; its output through hOCR, ALTO and the PDF text layer.

Real pages are read in place from ../shared/real-dev (skipped when it is absent). Its Chinese
reference text was drafted with RapidOCR 1.4.4 (PP-OCRv4) and corrected by hand, which may
favour PP-OCR; the bounds below leave room for that.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pypdfium2
import pytest

from digitize.batch import PageRef
from digitize.imaging import process_page
from digitize.loader import load_page
from digitize.ocr import engines
from digitize.ocr.alto import alto_bytes
from digitize.ocr.hocr import is_cjk, parse_hocr
from digitize.ocr.ppocr import PpOcrEngine
from digitize.ocr.reading import read_page
from digitize.ocr.tesseract import TesseractOsd, make_engine
from digitize.pageimage import encode_page
from digitize.pdfa import DocumentMeta, PdfPage, build_pdf
from digitize.settings import ImagingSettings, InputSettings, OcrSettings
from digitize.xmlsafe import parse_bytes
from tests.textscore import cer

REAL_CHINESE = "D001-WS·2024-Y-BGS-0006/0001"  # a scanned boarding pass, stained, Chinese and English
REAL_ENGLISH = "D001-WS·2024-Y-BGS-0011/0001"  # a multi-column page


@pytest.fixture(scope="module")
def ppocr() -> PpOcrEngine:
    return PpOcrEngine(300, osd=TesseractOsd())


def _real_page(real_dev: Path, page_id: str) -> tuple[np.ndarray, float, str]:
    """(OCR image, its dpi, reference text) of a real page, through the pipeline's loader and imaging."""
    record = next(
        p
        for p in json.loads((real_dev / "truth" / "pages.json").read_text(encoding="utf-8"))["pages"]
        if p["page_id"] == page_id
    )
    ref = PageRef(record["folder"], 1, str(real_dev / "batch" / record["file"]))
    loaded = load_page(ref, InputSettings())
    page = process_page(
        loaded.image, loaded.dpi, ImagingSettings(), dpi_source=loaded.dpi_source, osd=TesseractOsd().orientation
    )
    dpi = page.resolution.working_dpi * page.ocr_scale  # as digitize.tasks hands it to the engine
    return page.ocr_image, dpi, (real_dev / record["text_ref"]).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def real_chinese(real_dev, ppocr):
    image, dpi, reference = _real_page(real_dev, REAL_CHINESE)
    return image, dpi, reference, read_page(ppocr, image, dpi)


def _rate(reference: str, text: str) -> float:
    distance, length = cer(reference, text)
    return distance / length


def test_real_chinese_page_read_far_better_than_tesseract(real_chinese):
    image, dpi, reference, output = real_chinese
    tesseract = read_page(make_engine("auto", "chi_sim+eng", OcrSettings().psm, 300), image, dpi)
    ppocr_cer, tesseract_cer = _rate(reference, output.text), _rate(reference, tesseract.text)
    assert ppocr_cer <= 0.5 * tesseract_cer, (ppocr_cer, tesseract_cer)
    assert ppocr_cer < 0.2


def test_real_english_page_read_as_well_as_tesseract(real_dev, ppocr):
    image, dpi, reference = _real_page(real_dev, REAL_ENGLISH)
    words = lambda text: re.sub(r"\s+", " ", text).strip()  # noqa: E731
    ppocr_cer = _rate(words(reference), words(read_page(ppocr, image, dpi).text))
    tesseract = make_engine("auto", "eng", OcrSettings().psm, 300)
    tesseract_cer = _rate(words(reference), words(read_page(tesseract, image, dpi).text))
    assert ppocr_cer <= tesseract_cer + 0.02, (ppocr_cer, tesseract_cer)


def test_words_are_characters_with_boxes_and_confidences(real_chinese):
    image, _, _, output = real_chinese
    height, width = image.shape[:2]
    page = parse_hocr(output.hocr)
    assert (page.width, page.height) == (width, height)
    assert len(page.words) > 50 and 80 < page.mean_confidence <= 100
    for line in page.lines:
        lefts = [w.bbox[0] for w in line.words]
        assert lefts == sorted(lefts)  # characters left to right along the line
        for word in line.words:
            x0, y0, x1, y1 = word.bbox
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
            assert line.bbox[0] <= x0 and x1 <= line.bbox[2]
            assert 0 <= word.confidence <= 100
            if any(is_cjk(c) for c in word.text):
                assert len(word.text) == 1  # one Chinese character per word, as chi_sim gives them


def test_alto_is_valid_and_inside_the_page(real_chinese):
    image, _, _, output = real_chinese
    height, width = image.shape[:2]
    data = alto_bytes(parse_hocr(output.hocr), "page.jpg", 1, software=("rapidocr", "3"))  # validates (XSD)
    root = parse_bytes(data, "ALTO").getroot()
    strings = [el for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("}String")]
    assert strings
    for el in strings:
        x, y = int(el.get("HPOS")), int(el.get("VPOS"))
        assert 0 <= x and x + int(el.get("WIDTH")) <= width and 0 <= y and y + int(el.get("HEIGHT")) <= height
    spaces = [el for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("}SP")]
    contents = [el.get("CONTENT") for el in strings]
    assert len(spaces) < len(contents) / 4  # no space between Chinese characters


def test_pdf_search_highlights_the_characters_read(samples_dir, ppocr, tmp_path):
    """pypdfium2 (PDFium, the engine of a browser's PDF viewer) finds a phrase in the text layer;
    Tesseract, reading the page image under the highlight, reads that phrase there."""
    image = cv2.imread(str(samples_dir / "batch" / "J022-SB·2019-Y-DY-0004" / "0001.jpg"), cv2.IMREAD_GRAYSCALE)
    page = process_page(image, 300, ImagingSettings())
    dpi = page.resolution.working_dpi * page.ocr_scale
    ocr = parse_hocr(read_page(ppocr, page.ocr_image, dpi).hocr).scaled(1 / page.ocr_scale)
    lines = [line.text for line in ocr.lines if sum(is_cjk(c) for c in line.text) >= 12]
    phrase = lines[len(lines) // 2][2:10]
    out = tmp_path / "page.pdf"
    meta = DocumentMeta("X-0001", "测试", "digitize", "20240101", "内部", "zh-CN", "digitize test")
    build_pdf([PdfPage(encode_page(page.image, "grey", 300, 70, "ccitt"), ocr)], meta, out)

    pdftotext = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(out), "-"], capture_output=True, check=True)
    assert phrase in pdftotext.stdout.decode("utf-8")  # copies without stray spaces

    document = pypdfium2.PdfDocument(str(out))
    pdf_page = document[0]
    text_page = pdf_page.get_textpage()
    searcher = text_page.search(phrase)
    found = searcher.get_next()
    assert found is not None, phrase
    start, count = found
    scale = 300 / 72
    rendered = pdf_page.render(scale=scale, grayscale=True).to_numpy()
    page_height = pdf_page.get_height()
    boxes = [text_page.get_charbox(i) for i in range(start, start + count)]
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    left, bottom = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, top = max(b[2] for b in boxes), max(b[3] for b in boxes)
    crop = rendered[
        int((page_height - top) * scale) : int((page_height - bottom) * scale), int(left * scale) : int(right * scale)
    ]
    crop = cv2.copyMakeBorder(
        np.ascontiguousarray(crop[..., 0] if crop.ndim == 3 else crop), 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255
    )
    read = make_engine("auto", "chi_sim", 7, 60).recognise(crop, 300).text
    assert _rate(phrase, read) <= 0.25, (phrase, read)
    document.close()


def test_auto_routes_chinese_to_ppocr_and_other_scripts_to_tesseract():
    assert engines.choose("auto", "chi_sim+eng") == "ppocr"
    assert engines.choose("auto", "chi_sim") == "ppocr"
    assert engines.choose("auto", "rus") == "tesseract"
    assert engines.choose("auto", "chi_sim+rus") == "tesseract"  # PP-OCR's model does not read Cyrillic
    assert engines.choose("tesseract", "chi_sim+eng") == "tesseract"
    assert engines.choose("ppocr", "eng") == "ppocr"
    with pytest.raises(engines.OcrError, match="unknown OCR engine"):
        engines.choose("tesserocr", "chi_sim")


def test_profile_chooses_the_engine(tmp_path):
    from digitize.settings import load_settings

    profile = tmp_path / "profile.toml"
    profile.write_text('[ocr]\nengine = "tesseract"\nlanguages = "chi_sim+eng"\n', encoding="utf-8")
    assert engines.resolve(load_settings(profile).ocr)[0] in ("tesserocr", "tesseract")
    profile.write_text('[ocr]\nlanguages = "eng"\n', encoding="utf-8")
    assert engines.resolve(load_settings(profile).ocr)[0] in ("tesserocr", "tesseract")  # auto: no Chinese
    profile.write_text('[ocr]\nengine = "ppocr"\nlanguages = "eng"\n', encoding="utf-8")
    assert engines.resolve(load_settings(profile).ocr)[0] == "ppocr"
    assert engines.resolve(load_settings(None).ocr)[0] == "ppocr"  # the default: auto, chi_sim+eng
