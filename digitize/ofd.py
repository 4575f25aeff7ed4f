"""Write a document as OFD (GB/T 33190-2016) with lxml, and check every XML part as written.

The same pages as the PDF/A: each page is its processed image at its true physical size, with
the OCR text drawn invisibly on top, positioned as in the PDF's text layer (the same segments
of each line, each stretched over its place), so that Chinese searches and copies in an OFD
reader as it does in the PDF. The package:

    OFD.xml                         DocInfo: 题名, 责任者, dates, creator, CustomDatas = catalogue fields
    Doc_0/Document.xml              page list, resources
    Doc_0/PublicRes.xml             the glyphless font of the text layer
    Doc_0/DocumentRes.xml           the page images
    Doc_0/Res/…                     font file, page images (JPEG as encoded for the PDF; bitonal as PNG)
    Doc_0/Pages/Page_N/Content.xml  image object and invisible text objects of page N+1

Invisible text: TextObject with Fill="false" (neither filled nor stroked, like PDF render
mode 3) in a font whose glyphs are empty, so nothing shows even in a reader that ignores Fill.
Units are millimetres, y downwards, as GB/T 33190 has them. No library on PyPI wrote valid OFD
when this was written (the ones tried used a wrong namespace, version or element order).
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import struct
import uuid
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from lxml import etree
from PIL import Image

from digitize.errors import DigitizeError
from digitize.fsutil import atomic_write_bytes
from digitize.ocr.hocr import OcrLine
from digitize.ocr.textlayer import ASCENT, DESCENT, FONT_NAME, UNITS_PER_EM, _line_segments, glyphless_font
from digitize.pageimage import EncodedImage
from digitize.pdfa import DocumentMeta, PdfPage
from digitize.xmlsafe import parse_bytes
from metadata.export.validate import OFD_NAMESPACE, validate_ofd_part

OFD_VERSION = "1.0"  # the only version GB/T 33190-2016 defines
MM_PER_INCH = 25.4
DOC = "Doc_0"
FONT_FILE = "glyphless.ttf"
OPEN_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # ZIP methods every OFD reader decodes
_OFD = f"{{{OFD_NAMESPACE}}}"


class OfdError(DigitizeError):
    """The written OFD does not validate against the GB/T 33190 schemas; carries the errors."""


@dataclass(frozen=True)
class OfdReport:
    path: Path
    pages: int
    parts: int  # XML parts validated
    validated: bool


def _el(parent: etree._Element | None, tag: str, text: object = None, **attrib: object) -> etree._Element:
    attributes = {k: str(v) for k, v in attrib.items() if v is not None}
    if parent is None:
        el = etree.Element(_OFD + tag, attributes, nsmap={"ofd": OFD_NAMESPACE})
    else:
        el = etree.SubElement(parent, _OFD + tag, attributes)
    if text is not None:
        el.text = str(text)
    return el


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _box(x: float, y: float, width: float, height: float) -> str:
    return " ".join(_num(v) for v in (x, y, width, height))


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class _Ids:
    """GB/T 33190 object IDs: one counter for the whole document (MaxUnitID is the last)."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


# --------------------------------------------------------------------------- images
def _tiff_g4(data: bytes, width: int, height: int) -> bytes:
    """A single-strip TIFF around CCITT G4 data in the PDF convention (ink = 1, WhiteIsZero)."""
    entries = [  # (tag, type 3 = SHORT / 4 = LONG, value); StripOffsets patched below
        (256, 3, width),
        (257, 3, height),
        (258, 3, 1),
        (259, 3, 4),
        (262, 3, 0),
        (273, 4, 0),
        (277, 3, 1),
        (278, 3, height),
        (279, 4, len(data)),
    ]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(entries)))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    return bytes(out + b"\0\0\0\0" + data)


def _bitonal_png(image: EncodedImage) -> bytes:
    """The page image of a bitonal page as a 1-bit PNG, which every OFD reader can decode."""
    bilevel: Image.Image
    if image.filter == "CCITTFaxDecode":
        bilevel = Image.open(io.BytesIO(_tiff_g4(image.data, image.width, image.height)))
        bilevel.load()
    else:  # FlateDecode: packed rows, 1 = white
        packed = np.frombuffer(zlib.decompress(image.data), dtype=np.uint8).reshape(image.height, -1)
        bilevel = Image.frombytes("1", (image.width, image.height), packed.tobytes())
    buffer = io.BytesIO()
    bilevel.convert("1").save(buffer, format="PNG", optimize=True, dpi=(image.dpi, image.dpi))
    return buffer.getvalue()


def _image_file(image: EncodedImage, page_no: int) -> tuple[str, str, bytes]:
    """(file name, GB/T 33190 format name, bytes) of a page image resource."""
    if image.filter == "DCTDecode":
        return f"page_{page_no:04d}.jpg", "JPEG", image.data
    return f"page_{page_no:04d}.png", "PNG", _bitonal_png(image)


# --------------------------------------------------------------------------- text
def _text_object(layer: etree._Element, line: OcrLine, ids: _Ids, font_id: int, mm_per_px: float) -> None:
    """One invisible TextObject with one TextCode per OCR line. Its characters sit where the PDF's
    text layer puts them: the line's segments (words, and spaces between Latin words), each
    stretched from its start to the next one's, on the line's baseline at the segment's start.
    One TextCode keeps a reader from seeing gaps between the words of a Chinese line."""
    segments = _line_segments(line)
    if not segments:
        return
    x0, y0, _, y1 = line.bbox
    size = max((y1 - y0) * mm_per_px, 0.1)
    slope, offset = line.baseline
    chars: list[str] = []
    xs: list[float] = []
    ys: list[float] = []
    for text, start, end in segments:
        advance = (end - start) / len(text)
        baseline = (y1 + offset + slope * (start - x0)) * mm_per_px
        for index, char in enumerate(text):
            chars.append(char)
            xs.append((start + index * advance) * mm_per_px)
            ys.append(baseline)
    end_mm = segments[-1][2] * mm_per_px
    left, right = xs[0], max(end_mm, xs[-1] + 0.01)
    top = min(ys) - size * ASCENT / UNITS_PER_EM
    bottom = max(ys) - size * DESCENT / UNITS_PER_EM
    obj = _el(
        layer,
        "TextObject",
        ID=ids.next(),
        Boundary=_box(left, top, right - left, bottom - top),
        Font=font_id,
        Size=_num(size),
        Fill="false",
    )
    steps_y = [b - a for a, b in zip(ys, ys[1:])]
    _el(
        obj,
        "TextCode",
        "".join(chars),
        X=_num(xs[0] - left),
        Y=_num(ys[0] - top),
        DeltaX=" ".join(_num(b - a) for a, b in zip(xs, xs[1:])) or None,
        DeltaY=" ".join(_num(step) for step in steps_y) if any(abs(step) >= 0.0005 for step in steps_y) else None,
    )


# --------------------------------------------------------------------------- parts
def _doc_body(root: etree._Element, meta: DocumentMeta, today: str, created: str | None = None) -> None:
    body = _el(root, "DocBody")
    info = _el(body, "DocInfo")
    _el(info, "DocID", uuid.uuid4().hex)
    if meta.title:
        _el(info, "Title", meta.title)
    if meta.creator:
        _el(info, "Author", meta.creator)
    _el(info, "CreationDate", created or today)
    _el(info, "ModDate", today)
    if meta.keywords:
        keywords = _el(info, "Keywords")
        for keyword in meta.keywords:
            _el(keywords, "Keyword", keyword)
    name, _, version = meta.creator_tool.partition(" ")
    _el(info, "Creator", name)
    if version:
        _el(info, "CreatorVersion", version)
    fields = {"档号": meta.identifier, **{k: v for k, v in meta.fields if v}}
    datas = _el(info, "CustomDatas")
    for key, value in fields.items():
        _el(datas, "CustomData", value, Name=key)
    _el(body, "DocRoot", f"{DOC}/Document.xml")


def _page_content(page: PdfPage, ids: _Ids, image_id: int, font_id: int) -> tuple[etree._Element, float, float]:
    image = page.image
    mm_per_px = MM_PER_INCH / image.dpi
    width, height = image.width * mm_per_px, image.height * mm_per_px
    root = _el(None, "Page")
    _el(_el(root, "Area"), "PhysicalBox", _box(0, 0, width, height))
    layer = _el(_el(root, "Content"), "Layer", ID=ids.next(), Type="Body")
    _el(
        layer,
        "ImageObject",
        ID=ids.next(),
        Boundary=_box(0, 0, width, height),
        CTM=f"{_num(width)} 0 0 {_num(height)} 0 0",
        ResourceID=image_id,
    )
    if page.ocr is not None:
        for line in page.ocr.lines:
            _text_object(layer, line, ids, font_id, mm_per_px)
    return root, width, height


def ofd_parts(pages: Sequence[PdfPage], meta: DocumentMeta) -> dict[str, bytes]:
    """Every file of the OFD package by its path inside the package."""
    ids = _Ids()
    today = dt.date.today().isoformat()
    files: dict[str, bytes] = {}

    font_id = ids.next()
    public = _el(None, "Res", BaseLoc="Res")
    font = _el(_el(public, "Fonts"), "Font", ID=font_id, FontName=FONT_NAME, FamilyName=FONT_NAME)
    _el(font, "FontFile", FONT_FILE)
    files[f"{DOC}/Res/{FONT_FILE}"] = glyphless_font()

    document_res = _el(None, "Res", BaseLoc="Res")
    media = _el(document_res, "MultiMedias")
    page_list = []
    first_box = (0.0, 0.0)
    for index, page in enumerate(pages):
        image_id = ids.next()
        name, fmt, data = _image_file(page.image, index + 1)
        _el(_el(media, "MultiMedia", ID=image_id, Type="Image", Format=fmt), "MediaFile", name)
        files[f"{DOC}/Res/{name}"] = data
        content, width, height = _page_content(page, ids, image_id, font_id)
        if index == 0:
            first_box = (width, height)
        page_list.append((ids.next(), f"Pages/Page_{index}/Content.xml", content))

    document = _el(None, "Document")
    common = _el(document, "CommonData")
    max_unit = _el(common, "MaxUnitID", 0)
    _el(_el(common, "PageArea"), "PhysicalBox", _box(0, 0, *first_box))
    _el(common, "PublicRes", "PublicRes.xml")
    _el(common, "DocumentRes", "DocumentRes.xml")
    listing = _el(document, "Pages")
    for page_id, location, content in page_list:
        _el(listing, "Page", ID=page_id, BaseLoc=location)
        files[f"{DOC}/{location}"] = _xml(content)
    max_unit.text = str(ids.last)

    ofd = _el(None, "OFD", Version=OFD_VERSION, DocType="OFD")
    _doc_body(ofd, meta, today)
    files["OFD.xml"] = _xml(ofd)
    files[f"{DOC}/Document.xml"] = _xml(document)
    files[f"{DOC}/PublicRes.xml"] = _xml(public)
    files[f"{DOC}/DocumentRes.xml"] = _xml(document_res)
    return files


def check_ofd(path: Path) -> tuple[int, list[str]]:
    """(XML parts read, problems) of an OFD file: every XML part against the GB/T 33190 schemas;
    no entry encrypted or compressed other than stored or deflated (DA/T 70 3-8)."""
    problems: list[str] = []
    parts = 0
    with zipfile.ZipFile(path) as package:
        names = package.namelist()
        if "OFD.xml" not in names:
            problems.append("OFD.xml: missing (the entry point of every OFD package)")
        for info in package.infolist():
            if info.flag_bits & 0x1:
                problems.append(f"{info.filename}: encrypted")
            if info.compress_type not in OPEN_COMPRESSION:
                problems.append(f"{info.filename}: compression method {info.compress_type} (only stored or deflated)")
        for name in names:
            if not name.lower().endswith(".xml"):
                continue
            parts += 1
            try:
                tree = parse_bytes(package.read(name), name)
            except Exception as exc:  # noqa: BLE001 - any unreadable part is a finding
                problems.append(f"{name}: not well-formed XML ({exc})")
                continue
            problems.extend(f"{name}: {error}" for error in validate_ofd_part(tree))
    return parts, problems


def build_ofd(pages: Sequence[PdfPage], meta: DocumentMeta, dest: Path, validate: bool = True) -> OfdReport:
    """Write the document's OFD to `dest`. With `validate`, a file whose parts do not validate is not kept."""
    files = ofd_parts(pages, meta)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in files.items():
            stored = name.endswith((".jpg", ".png"))  # already compressed
            package.writestr(name, data, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    dest = Path(dest)
    atomic_write_bytes(dest, buffer.getvalue())
    if not validate:
        return OfdReport(dest, len(pages), 0, False)
    parts, problems = check_ofd(dest)
    if problems:
        dest.unlink()
        raise OfdError("OFD does not validate against GB/T 33190-2016: " + "; ".join(problems[:5]))
    return OfdReport(dest, len(pages), parts, True)


def relabel_ofd(path: Path, meta: DocumentMeta) -> OfdReport:
    """Give a finished OFD the catalogue's description (OFD.xml's DocInfo and its CustomDatas)
    without touching its pages; the file replaces the old one only once every part validates."""
    path = Path(path)
    with zipfile.ZipFile(path) as package:
        entries = [(info, package.read(info)) for info in package.infolist()]
        created = _part(package, "OFD.xml").findtext(f"{_OFD}DocBody/{_OFD}DocInfo/{_OFD}CreationDate")
    ofd = _el(None, "OFD", Version=OFD_VERSION, DocType="OFD")
    _doc_body(ofd, meta, dt.date.today().isoformat(), created)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for info, data in entries:
            package.writestr(info, _xml(ofd) if info.filename == "OFD.xml" else data, compress_type=info.compress_type)
    staged = path.with_name(f".{path.name}.tmp")
    atomic_write_bytes(staged, buffer.getvalue())
    try:
        parts, problems = check_ofd(staged)
        if problems:
            raise OfdError("OFD does not validate against GB/T 33190-2016: " + "; ".join(problems[:5]))
        pages = page_count(staged)
        staged.replace(path)
    finally:
        staged.unlink(missing_ok=True)
    return OfdReport(path, pages, parts, True)


# --------------------------------------------------------------------------- reading back
@dataclass(frozen=True)
class OfdPageImage:
    """The image of one OFD page as the package references it."""

    format: str  # MultiMedia Format: "JPEG", "PNG", ...
    data: bytes


def _resolve(base: str, location: str) -> str:
    """A package path: `location` relative to the folder `base` (or absolute from the package root)."""
    if location.startswith("/"):
        return location.lstrip("/")
    return posixpath.normpath(posixpath.join(base, location)) if base else posixpath.normpath(location)


def _part(package: zipfile.ZipFile, name: str) -> etree._Element:
    return parse_bytes(package.read(name), name).getroot()


def _document(package: zipfile.ZipFile) -> tuple[str, etree._Element]:
    """(path, root) of the first document of the package (OFD.xml → DocBody/DocRoot)."""
    root = _part(package, "OFD.xml").findtext(f"{_OFD}DocBody/{_OFD}DocRoot")
    if not root:
        raise OfdError("OFD.xml names no DocRoot")
    path = _resolve("", root.strip())
    return path, _part(package, path)


def _page_paths(document_path: str, document: etree._Element) -> list[str]:
    base = posixpath.dirname(document_path)
    return [_resolve(base, page.get("BaseLoc", "")) for page in document.iterfind(f"{_OFD}Pages/{_OFD}Page")]


def _area(obj: etree._Element) -> float:
    box = [float(v) for v in (obj.get("Boundary") or "").split()]
    return box[2] * box[3] if len(box) == 4 else 0.0


def page_count(path: Path) -> int:
    """Number of pages of the OFD's first document (its Document.xml page list)."""
    with zipfile.ZipFile(path) as package:
        return len(_page_paths(*_document(package)))


def page_images(path: Path) -> list[OfdPageImage]:
    """The page images of the OFD's first document, in page order, found the way a reader finds
    them: page → ImageObject ResourceID → MultiMedia of the document's resources → MediaFile.
    The largest image object of a page counts; OfdError when a page has none."""
    with zipfile.ZipFile(path) as package:
        document_path, document = _document(package)
        base = posixpath.dirname(document_path)
        media: dict[str, tuple[str, str]] = {}  # ID -> (format, package path)
        for tag in ("DocumentRes", "PublicRes"):
            for res_loc in document.iterfind(f"{_OFD}CommonData/{_OFD}{tag}"):
                res_path = _resolve(base, (res_loc.text or "").strip())
                res = _part(package, res_path)
                res_base = _resolve(posixpath.dirname(res_path), res.get("BaseLoc", ""))
                for item in res.iterfind(f"{_OFD}MultiMedias/{_OFD}MultiMedia"):
                    location = _resolve(res_base, item.findtext(f"{_OFD}MediaFile", "").strip())
                    media[item.get("ID", "")] = (item.get("Format", ""), location)
        images = []
        for page_path in _page_paths(document_path, document):
            objects = sorted(_part(package, page_path).iter(f"{_OFD}ImageObject"), key=_area, reverse=True)
            found = [media[obj.get("ResourceID", "")] for obj in objects if obj.get("ResourceID", "") in media]
            if not found:
                raise OfdError(f"{page_path}: the page has no image")
            fmt, location = found[0]
            images.append(OfdPageImage(fmt, package.read(location)))
        return images
