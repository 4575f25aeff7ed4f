"""Encode a processed page image for the PDF: JPEG for colour and grey, CCITT G4 or Flate for bitonal.

Encoding happens in the page task (in a worker process), so that building the document's
PDF only copies finished streams.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    width: int
    height: int
    colour: str  # rgb | grey | bitonal
    filter: str  # DCTDecode | CCITTFaxDecode | FlateDecode
    dpi: float

    @property
    def compression(self) -> str:
        """DA/T 46 M56 wording of the compression scheme."""
        return {"DCTDecode": "JPEG", "CCITTFaxDecode": "CCITT Group 4", "FlateDecode": "Deflate"}[self.filter]


def output_mode(source_mode: str, needs_colour: bool, policy: str) -> str:
    """Colour mode of the PDF page image.

    `keep` keeps the master's mode. `auto` keeps colour only where the content needs it
    (DA/T 31 §9.3: red letterheads, seals, photos), otherwise stores grey; bitonal masters
    stay bitonal either way.
    """
    if source_mode == "bitonal":
        return "bitonal"
    if source_mode == "colour" and (policy == "keep" or needs_colour):
        return "rgb"
    return "grey"


def encode_page(image: np.ndarray, mode: str, dpi: float, jpeg_quality: int, bitonal_encoding: str) -> EncodedImage:
    height, width = image.shape[:2]
    if mode == "rgb":
        if image.ndim != 3:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return EncodedImage(_jpeg(image, jpeg_quality), width, height, "rgb", "DCTDecode", dpi)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if mode == "grey":
        return EncodedImage(_jpeg(image, jpeg_quality), width, height, "grey", "DCTDecode", dpi)
    ink = image < 128
    if bitonal_encoding == "ccitt":
        return EncodedImage(_ccitt_g4(ink), width, height, "bitonal", "CCITTFaxDecode", dpi)
    packed = np.packbits(~ink, axis=1)  # PDF DeviceGray 1-bit: 1 is white
    return EncodedImage(zlib.compress(packed.tobytes(), 6), width, height, "bitonal", "FlateDecode", dpi)


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def _ccitt_g4(ink: np.ndarray) -> bytes:
    """CCITT Group 4 data (one strip) for a bitonal image, via libtiff in Pillow.

    Pillow writes bilevel TIFFs as MinIsBlack; libtiff's fax coder then codes pixel value 0 as
    the "white" run colour. Handing it ink as 1 gives a stream in the fax convention that PDF
    expects with its default /BlackIs1 false (ink black, paper white).
    """
    height, width = ink.shape
    bilevel = Image.frombytes("1", (width, height), np.packbits(ink, axis=1).tobytes())
    buffer = io.BytesIO()
    bilevel.save(buffer, format="TIFF", compression="group4", strip_size=2**31 - 1)
    buffer.seek(0)
    with Image.open(buffer) as tiff:
        assert isinstance(tiff, TiffImagePlugin.TiffImageFile)  # written as TIFF just above
        offsets = tiff.tag_v2[273]
        counts = tiff.tag_v2[279]
    if len(offsets) != 1:
        raise ValueError("G4 encoder wrote more than one strip")
    raw = buffer.getvalue()
    return raw[offsets[0] : offsets[0] + counts[0]]
