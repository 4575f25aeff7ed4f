"""Tesseract behind one small interface: one recognition pass per page yields hOCR and text.

Two implementations share the interface:
- `TesserocrEngine` calls the Tesseract C API through tesserocr; the language models are
  loaded once per worker process and pixels are handed over in memory.
- `TesseractCliEngine` runs the `tesseract` program through pytesseract, one process per page,
  with the page written as uncompressed PGM/PBM (no slow or lossy encoding on the way).
`make_engine("auto")` picks tesserocr when it is installed and finds the models, else the program
(the setting `[ocr] tesseract_api`: auto, tesserocr or program). `TesseractOsd` is Tesseract's
orientation detection alone, which the imaging step asks about pages it is unsure of, whatever
engine reads them. Both run with OMP_THREAD_LIMIT=1: one page per core is far faster than OpenMP threads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import cv2
import numpy as np

from digitize.errors import MissingSoftware
from digitize.ocr.hocr import Box

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

# Variables set on every recognition pass. preserve_interword_spaces keeps Tesseract from
# inserting spaces between Chinese characters in its text output.
TESSERACT_VARIABLES = {"preserve_interword_spaces": "1"}
DEBIAN_TESSDATA = "/usr/share/tesseract-ocr/5/tessdata"


class OcrError(MissingSoftware, RuntimeError):
    """Tesseract cannot be used, or failed on a page (not a timeout)."""


class OcrTimeout(OcrError):
    """Recognition took longer than the page timeout."""


@dataclass(frozen=True)
class OcrOutput:
    hocr: str
    text: str
    seconds: float


class OcrEngine(Protocol):
    name: str
    reads_boxes: bool  # can read parts of a page (table cells) one by one without reloading the page

    def recognise(self, image: np.ndarray, dpi: float, psm: int | None = None) -> OcrOutput:
        """One recognition pass; `psm` overrides the page segmentation mode for this page."""
        ...

    def recognise_boxes(self, image: np.ndarray, dpi: float, boxes: list[tuple[Box, int]]) -> list[str]:
        """hOCR of each box (x0, y0, x1, y1) of the image read on its own with its page
        segmentation mode, in page coordinates. Only engines with `reads_boxes` implement it."""
        ...

    def orientation(self, image: np.ndarray, dpi: float) -> tuple[int, float]:
        """Tesseract OSD: (how far the page is turned counter-clockwise from upright, confidence)."""
        ...


def find_tessdata(explicit: str | None = None) -> str | None:
    """The folder holding *.traineddata: setting, TESSDATA_PREFIX, or Debian's location."""
    for candidate in (explicit, os.environ.get("TESSDATA_PREFIX"), DEBIAN_TESSDATA):
        if candidate and any(Path(candidate).glob("*.traineddata")):
            return str(candidate)
    return None


class TesserocrEngine:
    name = "tesserocr"
    reads_boxes = True

    def __init__(self, languages: str, psm: int, timeout_s: float, tessdata: str):
        import tesserocr

        self._tesserocr = tesserocr
        self.languages = languages
        self.timeout_ms = int(timeout_s * 1000)
        self.psm = psm
        self.tessdata = tessdata.rstrip("/") + "/"
        self.api = tesserocr.PyTessBaseAPI(path=self.tessdata, lang=languages, psm=psm)
        for key, value in TESSERACT_VARIABLES.items():
            self.api.SetVariable(key, value)
        self._osd: TesseractOsd | None = None

    def recognise(self, image: np.ndarray, dpi: float, psm: int | None = None) -> OcrOutput:
        start = time.perf_counter()
        _set_image(self.api, image, dpi)
        if psm is not None:
            self.api.SetPageSegMode(psm)
        try:
            if not self.api.Recognize(timeout=self.timeout_ms):
                raise OcrTimeout(f"recognition stopped after {self.timeout_ms / 1000:.0f} s")
            hocr = self.api.GetHOCRText(0)
            text = self.api.GetUTF8Text()
        finally:
            self.api.Clear()
            if psm is not None:
                self.api.SetPageSegMode(self.psm)
        return OcrOutput(hocr, text, time.perf_counter() - start)

    def recognise_boxes(self, image: np.ndarray, dpi: float, boxes: list[tuple[Box, int]]) -> list[str]:
        deadline = time.perf_counter() + self.timeout_ms / 1000
        _set_image(self.api, image, dpi)
        hocr = []
        try:
            for (x0, y0, x1, y1), psm in boxes:
                self.api.SetPageSegMode(psm)
                self.api.SetRectangle(x0, y0, x1 - x0, y1 - y0)
                remaining_ms = int((deadline - time.perf_counter()) * 1000)
                if remaining_ms <= 0 or not self.api.Recognize(timeout=remaining_ms):
                    raise OcrTimeout(f"recognition stopped after {self.timeout_ms / 1000:.0f} s")
                hocr.append(self.api.GetHOCRText(0))
        finally:
            self.api.Clear()
            self.api.SetPageSegMode(self.psm)
        return hocr

    def orientation(self, image: np.ndarray, dpi: float) -> tuple[int, float]:
        if self._osd is None:
            self._osd = TesseractOsd(self.tessdata)
        return self._osd.orientation(image, dpi)


class TesseractCliEngine:
    name = "tesseract"
    reads_boxes = False  # one process per box would cost more than the cells gain

    def __init__(self, languages: str, psm: int, timeout_s: float, tessdata: str | None):
        import pytesseract

        self._pytesseract = pytesseract
        self.languages = languages
        self.psm = psm
        self.timeout_s = timeout_s
        self.tessdata = tessdata

    def _config(self, dpi: float, psm: int) -> str:
        parts = [f"--psm {psm}", f"--dpi {int(round(dpi))}"]
        if self.tessdata:
            parts.insert(0, f'--tessdata-dir "{self.tessdata}"')
        parts += [f"-c {k}={v}" for k, v in TESSERACT_VARIABLES.items()]
        return " ".join(parts)

    def recognise(self, image: np.ndarray, dpi: float, psm: int | None = None) -> OcrOutput:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="digitize-ocr-") as folder:
            path = _write_image(image, folder)
            base = os.path.join(folder, "page")
            try:
                self._pytesseract.pytesseract.run_tesseract(
                    path,
                    base,
                    "hocr txt",
                    self.languages,
                    config=self._config(dpi, self.psm if psm is None else psm),
                    timeout=self.timeout_s,
                )
                hocr = Path(base + ".hocr").read_text(encoding="utf-8")
                text = Path(base + ".txt").read_text(encoding="utf-8")
            except RuntimeError as exc:
                if "timeout" in str(exc).lower():
                    raise OcrTimeout(f"recognition stopped after {self.timeout_s:.0f} s") from None
                raise OcrError(str(exc)) from None
            except self._pytesseract.TesseractError as exc:
                raise OcrError(f"tesseract failed: {exc.message}") from None
        return OcrOutput(hocr, text, time.perf_counter() - start)

    def recognise_boxes(self, image: np.ndarray, dpi: float, boxes: list[tuple[Box, int]]) -> list[str]:
        raise NotImplementedError("the tesseract program reads whole pages only")

    def orientation(self, image: np.ndarray, dpi: float) -> tuple[int, float]:
        return _program_osd(self._pytesseract, image, dpi, self.tessdata, self.timeout_s)


class TesseractOsd:
    """Tesseract's orientation and script detection alone (the `osd` model, no OCR languages):
    through tesserocr when it is installed, else the `tesseract` program."""

    def __init__(self, tessdata: str | None = None, timeout_s: float = 60.0):
        self.tessdata = find_tessdata(tessdata)
        self.timeout_s = timeout_s
        self._api: Any = None
        try:
            import tesserocr
        except ImportError:
            self._tesserocr = None
        else:
            self._tesserocr = tesserocr

    def orientation(self, image: np.ndarray, dpi: float) -> tuple[int, float]:
        """(how far the page is turned counter-clockwise from upright, confidence); (0, 0) when
        OSD cannot decide."""
        if self._tesserocr is None or self.tessdata is None:
            import pytesseract

            return _program_osd(pytesseract, image, dpi, self.tessdata, self.timeout_s)
        if self._api is None:
            self._api = self._tesserocr.PyTessBaseAPI(
                path=self.tessdata.rstrip("/") + "/", lang="osd", psm=self._tesserocr.PSM.OSD_ONLY
            )
        _set_image(self._api, image, dpi)
        result = self._api.DetectOrientationScript()
        self._api.Clear()
        if not result:
            return 0, 0.0
        return (360 - int(result["orient_deg"])) % 360, float(result["orient_conf"])


def _set_image(api, image: np.ndarray, dpi: float) -> None:
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    api.SetImageBytes(image.tobytes(), width, height, channels, width * channels)
    api.SetSourceResolution(int(round(dpi)))


def _write_image(image: np.ndarray, folder: str) -> str:
    """The page as uncompressed PBM/PGM/PPM for the tesseract program."""
    bitonal = image.ndim == 2 and not np.any((image > 0) & (image < 255))
    path = os.path.join(folder, "page.pbm" if bitonal else ("page.pgm" if image.ndim == 2 else "page.ppm"))
    if not cv2.imwrite(path, image):
        raise OcrError("could not write the page for Tesseract")
    return path


def _program_osd(
    pytesseract, image: np.ndarray, dpi: float, tessdata: str | None, timeout_s: float
) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(prefix="digitize-osd-") as folder:
        path = _write_image(image, folder)
        config = f"--psm 0 --dpi {int(round(dpi))}"
        if tessdata:
            config = f'--tessdata-dir "{tessdata}" ' + config
        try:
            osd = pytesseract.image_to_osd(
                path, lang="osd", config=config, output_type=pytesseract.Output.DICT, timeout=timeout_s
            )
        except (pytesseract.TesseractError, RuntimeError):
            return 0, 0.0  # too little text for OSD to decide
    return int(osd["rotate"]) % 360, float(osd["orientation_conf"])


TESSERACT_APIS = ("auto", "tesserocr", "program")


def resolve_engine(api: str, languages: str, tessdata: str | None = None) -> tuple[str, str | None]:
    """Which Tesseract will run ("tesserocr" or "tesseract", the program) and its language folder.

    `api`: auto (tesserocr when installed, else the program), tesserocr or program. Checks that
    it and every requested language are installed, without loading models.
    """
    data = find_tessdata(tessdata)
    if api not in TESSERACT_APIS:
        raise OcrError(f"unknown Tesseract interface {api!r} (auto, tesserocr or program)")
    kind = "tesseract"
    if api in ("auto", "tesserocr"):
        try:
            import tesserocr  # noqa: F401
        except ImportError:
            if api == "tesserocr":
                raise OcrError("the tesserocr package is not installed (pip install 'digitize[fast]')") from None
        else:
            kind = "tesserocr"
    if kind == "tesseract" and shutil.which("tesseract") is None:
        raise OcrError("the tesseract program is not installed (Debian: apt-get install tesseract-ocr)")
    if data is None:
        if kind == "tesserocr":
            raise OcrError("no Tesseract language data found; install tesseract-ocr-chi-sim or set TESSDATA_PREFIX")
    else:
        _check_languages(languages, data)
    return kind, data


def engine_version(kind: str) -> str:
    """Version string of an engine kind, without loading any model."""
    if kind == "tesserocr":
        import tesserocr

        return f"tesseract {tesserocr.tesseract_version().split()[1]} (tesserocr {tesserocr.__version__})"
    import pytesseract

    return f"tesseract {pytesseract.get_tesseract_version()} (program)"


def make_engine(api: str, languages: str, psm: int, timeout_s: float, tessdata: str | None = None) -> OcrEngine:
    """A Tesseract engine through the interface named ("auto", "tesserocr" or "program")."""
    kind, data = resolve_engine(api, languages, tessdata)
    if kind == "tesserocr":
        return TesserocrEngine(languages, psm, timeout_s, cast(str, data))  # resolve_engine refuses it without data
    return TesseractCliEngine(languages, psm, timeout_s, tessdata)


def _check_languages(languages: str, tessdata: str) -> None:
    missing = [lang for lang in languages.split("+") if not Path(tessdata, f"{lang}.traineddata").exists()]
    if missing:
        raise OcrError(
            f"Tesseract language data missing in {tessdata}: {', '.join(missing)} "
            f"(Debian: apt-get install {' '.join('tesseract-ocr-' + m.replace('_', '-') for m in missing)})"
        )
