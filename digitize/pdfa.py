"""Assemble a document's PDF/A-2b with pikepdf (no Ghostscript) and validate what was written.

Each page is its processed image at its true physical size with the invisible OCR text on
top; one glyphless font is shared by all pages; XMP carries pdfaid 2/B and the catalogue's
key fields (题名, 档号, 责任者, 日期, 密级); the output intent is sRGB. The file is validated
by pikepdf's own PDF/A validator as it is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pikepdf.pdfa
from pikepdf import Array, Dictionary, Name, Pdf, Stream

from digitize.errors import DigitizeError
from digitize.ocr.hocr import OcrPage
from digitize.ocr.textlayer import (
    ASCENT,
    DESCENT,
    FONT_NAME,
    UNITS_PER_EM,
    CidAllocator,
    glyphless_font,
    page_text_operators,
)
from digitize.pageimage import EncodedImage
from metadata.dates import parse_date

FONT_RESOURCE = "FOcr"
IMAGE_RESOURCE = "Im0"


class PdfAError(DigitizeError, RuntimeError):
    """The written file did not pass PDF/A validation; carries the validator's findings."""


@dataclass(frozen=True)
class DocumentMeta:
    identifier: str  # 档号
    title: str | None = None  # 题名
    creator: str | None = None  # 责任者
    date: str | None = None  # 日期, YYYYMMDD
    rights: str | None = None  # 密级 / 开放标识
    language: str | None = None  # e.g. "zh-CN"
    creator_tool: str = "digitize"
    keywords: tuple[str, ...] = field(default_factory=tuple)
    fields: tuple[tuple[str, str], ...] = ()  # the catalogue's fields by DA/T name (OFD CustomDatas)


@dataclass(frozen=True)
class PdfPage:
    image: EncodedImage
    ocr: OcrPage | None  # in pixels of `image`


@dataclass(frozen=True)
class PdfReport:
    path: Path
    pages: int
    flavour: str
    validated: bool
    findings: tuple[str, ...]


def _image_xobject(pdf: Pdf, image: EncodedImage) -> Stream:
    stream = Stream(pdf, image.data)
    stream.Type = Name.XObject
    stream.Subtype = Name.Image
    stream.Width = image.width
    stream.Height = image.height
    if image.colour == "bitonal":
        stream.ColorSpace = Name.DeviceGray
        stream.BitsPerComponent = 1
    else:
        stream.ColorSpace = Name.DeviceRGB if image.colour == "rgb" else Name.DeviceGray
        stream.BitsPerComponent = 8
    stream.Filter = Name("/" + image.filter)
    if image.filter == "CCITTFaxDecode":
        stream.DecodeParms = Dictionary(K=-1, Columns=image.width, Rows=image.height, BlackIs1=False)
    return stream


def _font(pdf: Pdf, cids: CidAllocator) -> Dictionary:
    program = glyphless_font()
    font_file = Stream(pdf, program)
    font_file.Length1 = len(program)
    descriptor = Dictionary(
        Type=Name.FontDescriptor,
        FontName=Name("/" + FONT_NAME),
        Flags=4,
        FontBBox=Array([0, DESCENT, UNITS_PER_EM, ASCENT]),
        ItalicAngle=0,
        Ascent=ASCENT,
        Descent=DESCENT,
        CapHeight=ASCENT,
        StemV=80,
        FontFile2=pdf.make_indirect(font_file),
    )
    cid_font = Dictionary(
        Type=Name.Font,
        Subtype=Name.CIDFontType2,
        BaseFont=Name("/" + FONT_NAME),
        CIDSystemInfo=Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
        FontDescriptor=pdf.make_indirect(descriptor),
        DW=UNITS_PER_EM,
        CIDToGIDMap=pdf.make_indirect(Stream(pdf, cids.cid_to_gid_map())),
    )
    return Dictionary(
        Type=Name.Font,
        Subtype=Name.Type0,
        BaseFont=Name("/" + FONT_NAME),
        Encoding=Name("/Identity-H"),
        DescendantFonts=Array([pdf.make_indirect(cid_font)]),
        ToUnicode=pdf.make_indirect(Stream(pdf, cids.to_unicode_cmap())),
    )


def _iso_date(yyyymmdd: str | None) -> str | None:
    """XMP dc:date: the catalogue date when it is a whole calendar date."""
    date = parse_date(yyyymmdd or "")
    return date.iso() if date and date.complete else None


def _set_metadata(pdf: Pdf, meta: DocumentMeta, now: dt.datetime) -> None:
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:identifier"] = meta.identifier
        if meta.title:
            xmp["dc:title"] = meta.title
        if meta.creator:
            xmp["dc:creator"] = [meta.creator]
        date = _iso_date(meta.date)
        if date:
            xmp["dc:date"] = [date]
        if meta.rights:
            xmp["dc:rights"] = meta.rights
        if meta.language:
            xmp["dc:language"] = [meta.language]
        if meta.keywords:
            xmp["pdf:Keywords"] = ", ".join(meta.keywords)
        xmp["dc:format"] = "application/pdf"
        xmp["xmp:CreatorTool"] = meta.creator_tool
        xmp["pdf:Producer"] = f"{meta.creator_tool}; pikepdf {pikepdf.__version__}"
        stamp = now.isoformat(timespec="seconds")
        xmp["xmp:CreateDate"] = stamp
        xmp["xmp:ModifyDate"] = stamp
        xmp["xmp:MetadataDate"] = stamp


def build_pdf(
    pages: list[PdfPage], meta: DocumentMeta, dest: Path, flavour: str = "2b", validate: bool = True
) -> PdfReport:
    """Write the document's PDF/A to `dest`. With `validate`, a file that fails PDF/A is not written."""
    pdf = Pdf.new()
    cids = CidAllocator()
    contents = []
    for page in pages:
        image = page.image
        width_pt = image.width * 72.0 / image.dpi
        height_pt = image.height * 72.0 / image.dpi
        ops = f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm /{IMAGE_RESOURCE} Do Q\n".encode("ascii")
        if page.ocr is not None:
            ops += page_text_operators(page.ocr, cids, FONT_RESOURCE, 72.0 / image.dpi, height_pt)
        contents.append((image, width_pt, height_pt, ops))
    font = pdf.make_indirect(_font(pdf, cids)) if cids.cids else None
    for image, width_pt, height_pt, ops in contents:
        resources = Dictionary(
            XObject=Dictionary({"/" + IMAGE_RESOURCE: pdf.make_indirect(_image_xobject(pdf, image))})
        )
        if font is not None and b" Tj" in ops:
            resources.Font = Dictionary({"/" + FONT_RESOURCE: font})
        page_dict = Dictionary(
            Type=Name.Page,
            MediaBox=Array([0, 0, round(width_pt, 4), round(height_pt, 4)]),
            Resources=resources,
            Contents=pdf.make_indirect(Stream(pdf, ops)),
        )
        pdf.pages.append(pikepdf.Page(page_dict))
    now = dt.datetime.now(dt.timezone.utc).astimezone()
    if meta.title:
        pdf.docinfo[Name.Title] = meta.title
    _set_metadata(pdf, meta, now)
    if meta.language:
        pdf.Root.Lang = meta.language
    dest = Path(dest)
    if not validate:
        pikepdf.pdfa.prepare(pdf, flavour, output_intent="sRGB")
        pdf.save(dest, **pikepdf.pdfa.resolve_save_kwargs(flavour))
        return PdfReport(dest, len(pages), flavour, False, ())
    try:
        report = pikepdf.pdfa.save(pdf, dest, flavour, output_intent="sRGB", repair=True)
    except pikepdf.pdfa.PdfaError as exc:
        findings = tuple(f"{f.rule} {f.where}: {f.message}" for f in exc.report.findings)
        raise PdfAError(f"PDF/A-{flavour} validation failed: " + "; ".join(findings[:5])) from None
    return PdfReport(dest, len(pages), flavour, True, tuple(f"{f.rule}: {f.message}" for f in report.findings))
