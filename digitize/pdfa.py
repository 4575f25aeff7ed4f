"""Assemble a document's PDF/A-2b with pikepdf (no Ghostscript) and validate what was written.

Each page is its processed image at its true physical size with the invisible OCR text on
top; one glyphless font is shared by all pages; XMP carries pdfaid 2/B and the catalogue's
key fields (题名, 档号, 责任者, 日期, 密级); the output intent is sRGB.

The archival fields no predefined XMP schema has — 全宗号, 保管期限, 开放标识 and 密级 under
their DA/T 46 names (fondsIdentifier M9, retentionPeriod M12, controlIdentifier M74,
securityClassification M38) — are in our namespace `ARCHIVAL_NS`, described by a PDF/A
extension schema (ISO 19005-2 §6.6.2.3.2) in the same packet.

The file is validated as written by pikepdf's PDF/A validator. That validator (pikepdf 10)
reads no extension schemas and reports every namespace outside the predefined ones (6.6.2.3.1);
`extension_schema_problems` checks the packet's extension schema instead, and the validator's
reports about exactly the namespaces and properties that schema declares are set aside.
Everything else the validator finds fails the file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pikepdf.pdfa
from lxml import etree
from pikepdf import Array, Dictionary, Name, Pdf, Stream

from digitize.errors import DigitizeError
from digitize.fsutil import fsync_dir
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
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
ARCHIVAL_NS = "urn:digitize:xmp:dat46:1.0/"  # our namespace for DA/T 46 fields (no public one exists)
ARCHIVAL_PREFIX = "dat46"
# catalogue field -> (XMP property, description in the extension schema)
ARCHIVAL_PROPERTIES = {
    "全宗号": ("fondsIdentifier", "全宗号 fonds identifier (DA/T 46-2009 M9)"),
    "保管期限": ("retentionPeriod", "保管期限 retention period (DA/T 46-2009 M12)"),
    "开放标识": ("controlIdentifier", "开放标识 open status (DA/T 46-2009 M74, DA/T 18-2022)"),
    "密级": ("securityClassification", "密级 security classification (DA/T 46-2009 M38, GB/T 7156)"),
}
PDFA_EXTENSION = "http://www.aiim.org/pdfa/ns/extension/"
PDFA_SCHEMA = "http://www.aiim.org/pdfa/ns/schema#"
PDFA_PROPERTY = "http://www.aiim.org/pdfa/ns/property#"
_EXTENSION_NAMESPACES = {"pdfaExtension": PDFA_EXTENSION, "pdfaSchema": PDFA_SCHEMA, "pdfaProperty": PDFA_PROPERTY}
# XMP value types an extension schema may name without defining them (ISO 19005-2 §6.6.2.3.3).
XMP_VALUE_TYPES = frozenset(
    {"Text", "Boolean", "Date", "Integer", "Real", "URI", "URL", "MIMEType", "AgentName", "Locale", "ProperName"}
)


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


def _set_metadata(pdf: Pdf, meta: DocumentMeta, now: dt.datetime, created: str | None = None) -> None:
    """XMP (and the document information title) from the catalogue; `created` keeps an earlier CreateDate."""
    if meta.title:
        pdf.docinfo[Name.Title] = meta.title
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
        xmp["xmp:CreateDate"] = created or stamp
        xmp["xmp:ModifyDate"] = stamp
        xmp["xmp:MetadataDate"] = stamp


def _archival_xmp(meta: DocumentMeta) -> list[etree._Element]:
    """rdf:Descriptions with the archival fields and the extension schema that declares them."""
    values = {ARCHIVAL_PROPERTIES[k][0]: v for k, v in meta.fields if k in ARCHIVAL_PROPERTIES and v}
    if not values:
        return []
    about = {f"{{{RDF}}}about": ""}
    fields = etree.Element(f"{{{RDF}}}Description", about, nsmap={"rdf": RDF, ARCHIVAL_PREFIX: ARCHIVAL_NS})
    for name, value in values.items():
        etree.SubElement(fields, f"{{{ARCHIVAL_NS}}}{name}").text = value
    schema = etree.Element(f"{{{RDF}}}Description", about, nsmap={"rdf": RDF, **_EXTENSION_NAMESPACES})
    bag = etree.SubElement(etree.SubElement(schema, f"{{{PDFA_EXTENSION}}}schemas"), f"{{{RDF}}}Bag")
    entry = etree.SubElement(bag, f"{{{RDF}}}li", {f"{{{RDF}}}parseType": "Resource"})
    for name, text in (
        ("schema", "DA/T 46-2009 archival metadata of digitized records (digitize)"),
        ("namespaceURI", ARCHIVAL_NS),
        ("prefix", ARCHIVAL_PREFIX),
    ):
        etree.SubElement(entry, f"{{{PDFA_SCHEMA}}}{name}").text = text
    properties = etree.SubElement(etree.SubElement(entry, f"{{{PDFA_SCHEMA}}}property"), f"{{{RDF}}}Seq")
    for name, description in ARCHIVAL_PROPERTIES.values():
        item = etree.SubElement(properties, f"{{{RDF}}}li", {f"{{{RDF}}}parseType": "Resource"})
        for key, text in (
            ("name", name),
            ("valueType", "Text"),
            ("category", "external"),
            ("description", description),
        ):
            etree.SubElement(item, f"{{{PDFA_PROPERTY}}}{key}").text = text
    return [fields, schema]


def _add_archival_xmp(pdf: Pdf, meta: DocumentMeta) -> None:
    """Add the archival fields to the packet pikepdf prepared (which keeps predefined ones only)."""
    descriptions = _archival_xmp(meta)
    if not descriptions:
        return
    root = etree.fromstring(pdf.Root.Metadata.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
    rdf = root.find(f".//{{{RDF}}}RDF")
    for description in descriptions:
        rdf.append(description)
    body = etree.tostring(root, encoding="utf-8")
    packet = b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + body + b'\n<?xpacket end="w"?>'
    pdf.Root.Metadata = pdf.make_stream(packet, Type=Name.Metadata, Subtype=Name.XML)


def extension_schema_problems(packet: bytes) -> tuple[set[str], list[str]]:
    """Check an XMP packet's PDF/A extension schemas against the properties it uses.

    Returns (labels the schemas properly declare, problems). Labels are "prefix=uri" for a
    namespace and "prefix:name" for a property, as pikepdf's validator names them; the
    extension-schema namespaces themselves are among them once a schema is well formed. A
    property outside the predefined schemas must be declared with its namespace URI and prefix,
    a known value type, a category of internal or external and a description.
    """
    root = etree.fromstring(packet, etree.XMLParser(resolve_entities=False, no_network=True))
    problems: list[str] = []
    declared: dict[tuple[str, str], set[str]] = {}
    for entry in root.iterfind(f".//{{{PDFA_EXTENSION}}}schemas/{{{RDF}}}Bag/{{{RDF}}}li"):
        uri = entry.findtext(f"{{{PDFA_SCHEMA}}}namespaceURI") or ""
        prefix = entry.findtext(f"{{{PDFA_SCHEMA}}}prefix") or ""
        if not uri or not prefix or not entry.findtext(f"{{{PDFA_SCHEMA}}}schema"):
            problems.append("an extension schema lacks schema, namespaceURI or prefix")
            continue
        names = declared.setdefault((prefix, uri), set())
        for item in entry.iterfind(f"{{{PDFA_SCHEMA}}}property/{{{RDF}}}Seq/{{{RDF}}}li"):
            name = item.findtext(f"{{{PDFA_PROPERTY}}}name") or ""
            value_type = item.findtext(f"{{{PDFA_PROPERTY}}}valueType")
            category = item.findtext(f"{{{PDFA_PROPERTY}}}category")
            if not name or value_type not in XMP_VALUE_TYPES or category not in ("internal", "external"):
                problems.append(
                    f"{prefix}:{name or '?'}: needs a name, a known valueType and category internal/external"
                )
            elif not item.findtext(f"{{{PDFA_PROPERTY}}}description"):
                problems.append(f"{prefix}:{name}: has no description")
            else:
                names.add(name)
    by_uri = {uri: (prefix, names) for (prefix, uri), names in declared.items()}
    labels = {f"{p}={u}" for p, u in _EXTENSION_NAMESPACES.items()} if declared else set()
    labels |= {"pdfaExtension:schemas"} if declared else set()
    for description in root.iter(f"{{{RDF}}}Description"):
        for prop in description:
            name = etree.QName(prop)
            if name.namespace not in by_uri:
                continue
            prefix, names = by_uri[name.namespace]
            if prop.prefix != prefix:
                problems.append(f"{prop.prefix}:{name.localname}: written with a prefix other than {prefix}")
            elif name.localname not in names:
                problems.append(f"{prefix}:{name.localname}: not declared in its extension schema")
            else:
                labels |= {f"{prefix}={name.namespace}", f"{prefix}:{name.localname}"}
    return labels, problems


def _set_aside(finding: pikepdf.pdfa.Finding, declared: set[str]) -> bool:
    """True for the validator's 6.6.2.3.1 reports about what our extension schema declares."""
    if not finding.rule.endswith("6.6.2.3.1-1"):
        return False
    match = re.fullmatch(r"XMP (?:namespace|property) (\S+) is not permitted", finding.message)
    return bool(match and match.group(1) in declared)


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
    _set_metadata(pdf, meta, now)
    if meta.language:
        pdf.Root.Lang = meta.language
    dest = Path(dest)
    pikepdf.pdfa.prepare(pdf, flavour, output_intent="sRGB")
    _add_archival_xmp(pdf, meta)
    pdf.save(dest, **pikepdf.pdfa.resolve_save_kwargs(flavour))
    if not validate:
        return PdfReport(dest, len(pages), flavour, False, ())
    failures, findings = validate_pdfa(dest, flavour)
    if failures:
        dest.unlink()
        raise PdfAError(f"PDF/A-{flavour} validation failed: " + "; ".join(failures[:5]))
    return PdfReport(dest, len(pages), flavour, True, tuple(findings))


def validate_pdfa(path: Path, flavour: str) -> tuple[list[str], list[str]]:
    """(violations, all findings) of a written file: pikepdf's PDF/A validator, with its reports
    about what the packet's extension schema properly declares set aside, plus the schema check."""
    report = pikepdf.pdfa.validate_written(path, flavour)
    with pikepdf.open(path) as written:
        metadata = written.Root.get(Name.Metadata)
        declared, problems = extension_schema_problems(metadata.read_bytes()) if metadata is not None else (set(), [])
    failures = [f"{f.rule} {f.where}: {f.message}" for f in report.violations if not _set_aside(f, declared)]
    failures += [f"XMP extension schema: {p}" for p in problems]
    kept = [f"{f.rule}: {f.message}" for f in report.findings if not _set_aside(f, declared)]
    return failures, kept


def relabel_pdf(path: Path, meta: DocumentMeta, flavour: str = "2b") -> PdfReport:
    """Give a finished PDF/A the catalogue's description (XMP, its archival fields and the document
    information) without touching its pages; the file replaces the old one only once it validates."""
    path = Path(path)
    staged = path.with_name(f".{path.name}.tmp")
    try:
        with pikepdf.open(path) as pdf:
            created = pdf.open_metadata().get("xmp:CreateDate")
            _set_metadata(pdf, meta, dt.datetime.now(dt.timezone.utc).astimezone(), created)
            pikepdf.pdfa.prepare(pdf, flavour, output_intent="sRGB")
            _add_archival_xmp(pdf, meta)
            pages = len(pdf.pages)
            pdf.save(staged, **pikepdf.pdfa.resolve_save_kwargs(flavour))
    except pikepdf.PdfError as exc:
        staged.unlink(missing_ok=True)
        raise PdfAError(f"{path}: not a readable PDF ({exc})") from None
    failures, findings = validate_pdfa(staged, flavour)
    if failures:
        staged.unlink()
        raise PdfAError(f"{path}: PDF/A-{flavour} validation failed: " + "; ".join(failures[:5]))
    os.replace(staged, path)
    fsync_dir(path.parent)
    return PdfReport(path, pages, flavour, True, tuple(findings))
