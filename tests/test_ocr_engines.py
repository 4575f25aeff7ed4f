"""Both OCR engines read the same page in one pass and agree; OSD reports turned pages."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from digitize.ocr.hocr import parse_hocr
from digitize.ocr.tesseract import OcrError, make_engine, resolve_engine


@pytest.fixture(scope="module")
def page(samples_dir) -> np.ndarray:
    """The top of an English letter from the samples, straightened by hand (1.59° skew)."""
    image = cv2.imread(str(samples_dir / "batch" / "J022-SB·2019-Y-DY-0004" / "0003.jpg"), cv2.IMREAD_GRAYSCALE)
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -1.59, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderValue=255)[:1400]


@pytest.mark.parametrize("engine", ["tesserocr", "program"])
def test_one_pass_gives_hocr_and_text(page, engine):
    ocr = make_engine(engine, "chi_sim+eng", 3, 120)
    output = ocr.recognise(page, 300)
    words = parse_hocr(output.hocr).words
    assert len(words) > 20
    assert "PENSION" in output.text and "PENSION" in " ".join(w.text for w in words)
    sparse = ocr.recognise(page, 300, psm=11)
    assert parse_hocr(sparse.hocr).words


@pytest.mark.parametrize("engine", ["tesserocr", "program"])
def test_orientation_of_a_turned_page(page, engine):
    ocr = make_engine(engine, "chi_sim+eng", 3, 120)
    turned = np.ascontiguousarray(np.rot90(page, 2))  # upside down
    angle, confidence = ocr.orientation(turned, 300)
    assert angle == 180 and confidence > 1


def test_missing_language_is_a_clear_error():
    with pytest.raises(OcrError, match="language data missing.*xyz"):
        resolve_engine("auto", "chi_sim+xyz")
