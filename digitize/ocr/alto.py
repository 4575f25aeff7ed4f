"""OCR page model (`digitize.ocr.hocr.OcrPage`) → ALTO 4.4, validated against the official schema.

Layout: Description (MeasurementUnit pixel, sourceImageInformation/fileName, the OCR software
as a Processing step) → Layout/Page (WIDTH, HEIGHT, PHYSICAL_IMG_NR) → PrintSpace →
TextBlock → TextLine → String (CONTENT, WC = confidence 0..1, HPOS, VPOS, WIDTH, HEIGHT).

The page model keeps lines but not Tesseract's paragraphs, so each line gets its own
TextBlock. An SP separates two words only where running text has a space
(`hocr.needs_space_between`): never between Chinese characters, always between Latin words.
IDs carry the page number ("P3_TL0002") so that pages can be combined without clashes.
"""

from __future__ import annotations

from lxml import etree

from digitize.ocr.hocr import Box, OcrPage, needs_space_between
from metadata.export.validate import assert_valid
from metadata.export.xmlbuild import XLINK, XSI, serialize, sub

ALTO = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA_LOCATION = f"{ALTO} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"


def _a(tag: str) -> str:
    return f"{{{ALTO}}}{tag}"


def _geometry(box: Box) -> dict[str, str]:
    x0, y0, x1, y1 = box
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(max(0, x1 - x0)), "HEIGHT": str(max(0, y1 - y0))}


def build_alto(
    page: OcrPage,
    image_file_name: str,
    page_no: int = 1,
    *,
    width: int | None = None,
    height: int | None = None,
    software: tuple[str, str] | None = None,
) -> etree._ElementTree:
    """The ALTO tree of one page.

    image_file_name: the page image the coordinates refer to (sourceImageInformation/fileName).
    width, height: page size in pixels when the OCR result has none (e.g. a blank page).
    software: (name, version) of the OCR engine, recorded as a Processing step ("" version: none).
    """
    root = etree.Element(_a("alto"), nsmap={None: ALTO, "xlink": XLINK, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    description = sub(root, _a("Description"))
    sub(description, _a("MeasurementUnit"), "pixel")
    sub(sub(description, _a("sourceImageInformation")), _a("fileName"), image_file_name)
    if software:
        step = sub(description, _a("Processing"), attrib={"ID": f"P{page_no}_OCR"})
        sub(step, _a("processingCategory"), "contentGeneration")
        tool = sub(step, _a("processingSoftware"))
        sub(tool, _a("softwareName"), software[0])
        if software[1]:
            sub(tool, _a("softwareVersion"), software[1])

    page_width = width if width is not None else page.width
    page_height = height if height is not None else page.height
    layout = sub(root, _a("Layout"))
    page_el = sub(
        layout,
        _a("Page"),
        attrib={
            "ID": f"P{page_no}",
            "PHYSICAL_IMG_NR": str(page_no),
            "WIDTH": str(page_width),
            "HEIGHT": str(page_height),
        },
    )
    space = sub(page_el, _a("PrintSpace"), attrib=_geometry((0, 0, page_width, page_height)))
    word_no = 0
    for line_no, line in enumerate(page.lines, start=1):
        block = sub(space, _a("TextBlock"), attrib={"ID": f"P{page_no}_TB{line_no:04d}", **_geometry(line.bbox)})
        line_el = sub(block, _a("TextLine"), attrib={"ID": f"P{page_no}_TL{line_no:04d}", **_geometry(line.bbox)})
        previous = None
        for word in line.words:
            if previous is not None and needs_space_between(previous.text, word.text):
                gap = (previous.bbox[2], previous.bbox[1], max(previous.bbox[2], word.bbox[0]), previous.bbox[3])
                geometry = _geometry(gap)
                sub(line_el, _a("SP"), attrib={k: geometry[k] for k in ("HPOS", "VPOS", "WIDTH")})
            word_no += 1
            confidence = min(1.0, max(0.0, word.confidence / 100.0))
            sub(
                line_el,
                _a("String"),
                attrib={
                    "ID": f"P{page_no}_S{word_no:05d}",
                    "CONTENT": word.text,
                    "WC": f"{confidence:.2f}",
                    **_geometry(word.bbox),
                },
            )
            previous = word
    return etree.ElementTree(root)


def alto_bytes(
    page: OcrPage,
    image_file_name: str,
    page_no: int = 1,
    *,
    width: int | None = None,
    height: int | None = None,
    software: tuple[str, str] | None = None,
) -> bytes:
    """The validated ALTO 4.4 file of one page, UTF-8 (raises ExportValidationError if invalid)."""
    tree = build_alto(page, image_file_name, page_no, width=width, height=height, software=software)
    assert_valid("alto", tree, f"ALTO of page {page_no}")
    return serialize(tree)
