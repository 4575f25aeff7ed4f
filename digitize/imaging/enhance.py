"""The image handed to Tesseract (never stored as a master).

Steps, all on 8-bit images and with the heavy filtering done on reduced copies:

* grey: for colour pages the green channel's complement of red marks is not used; plain
  luminance keeps red letterheads readable;
* illumination flattening: the paper level is estimated by a grey closing on a reduced copy
  (wider than any stroke) and the page is divided by it, so shading, yellowed paper and light
  show-through become white while ink keeps its contrast;
* low-resolution pages are resampled to about 300 dpi, the resolution Tesseract's models
  expect.
"""

from __future__ import annotations

import cv2
import numpy as np

TARGET_DPI = 300.0
MIN_UPSAMPLE = 1.25  # only resample when it changes the size noticeably
BACKGROUND_MM = 4.0  # closing size for the paper level: wider than any pen or type stroke


def ocr_image(page: np.ndarray, dpi: float) -> tuple[np.ndarray, float]:
    """Enhanced grey image for OCR and its scale (OCR pixels per page pixel)."""
    grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) if page.ndim == 3 else page
    scale = TARGET_DPI / dpi if TARGET_DPI / dpi >= MIN_UPSAMPLE else 1.0
    flat = flatten(grey, dpi)
    if scale != 1.0:
        flat = cv2.resize(flat, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return flat, scale


def flatten(grey: np.ndarray, dpi: float) -> np.ndarray:
    """Divide by the local paper level so the paper becomes white (255)."""
    h, w = grey.shape
    factor = 4 if dpi >= 200 else 2
    small = cv2.resize(grey, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    size = max(3, int(round(BACKGROUND_MM * dpi / factor / 25.4)) | 1)
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    background = cv2.GaussianBlur(background, (0, 0), size / 2.0)
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.divide(grey, np.maximum(background, 1), scale=255)
