"""Dublin Core: an OAI-DC record per document (catalog/dc/<档号>.xml) and metadata.csv rows.

dc:title 题名, dc:identifier 档号 (and 文号), dc:creator 责任者, dc:date ISO 8601, dc:type
(DCMI "Text" and 文种), dc:format (MIME type of the PDF), dc:language (ISO 639-2/B), dc:rights
(密级, 开放标识), dc:source (the paper original in its fonds), dc:subject (主题词).
OAI-DC records are validated against the official oai_dc schema.

`metadata_csv_row` builds one row of an Archivematica-style metadata.csv for the hand-off.
"""

from __future__ import annotations

from lxml import etree

from metadata.export.validate import assert_valid
from metadata.export.xmlbuild import XSI, serialize, sub
from metadata.records import ArchiveRecord, BatchInfo

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
SCHEMA_LOCATION = f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
METADATA_CSV_COLUMNS = (
    "filename",
    "dc.title",
    "dc.identifier",
    "dc.creator",
    "dc.date",
    "dc.rights",
    "dc.language",
    "dc.format",
)


def _dc(tag: str) -> str:
    return f"{{{DC}}}{tag}"


def rights_statement(record: ArchiveRecord) -> str:
    """dc:rights text from 密级 and 开放标识, e.g. "密级：公开；开放标识：开放"."""
    return "；".join(f"{name}：{record.get(name)}" for name in ("密级", "开放标识") if record.get(name))


def build_dc(record: ArchiveRecord, batch: BatchInfo) -> etree._ElementTree:
    """The oai_dc:dc tree of one document."""
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    sub(root, _dc("title"), record.title)
    if record.get("责任者"):
        sub(root, _dc("creator"), record.get("责任者"))
    for term in record.terms("主题词"):
        sub(root, _dc("subject"), term)
    if record.date_iso:
        sub(root, _dc("date"), record.date_iso)
    sub(root, _dc("type"), "Text")
    if record.get("文种"):
        sub(root, _dc("type"), record.get("文种"))
    for layout in record.layout_files:
        sub(root, _dc("format"), layout.mime_type)
    sub(root, _dc("identifier"), record.archival_code)
    if record.get("文号"):
        sub(root, _dc("identifier"), record.get("文号"))
    source = "，".join(x for x in (batch.fonds_name, batch.archives_name) if x)
    sub(root, _dc("source"), f"纸质档案原件（{source}）" if source else "纸质档案原件")
    for code in record.language:
        sub(root, _dc("language"), code)
    if rights_statement(record):
        sub(root, _dc("rights"), rights_statement(record))
    return etree.ElementTree(root)


def dc_bytes(record: ArchiveRecord, batch: BatchInfo) -> bytes:
    """The validated OAI-DC record of one document, UTF-8."""
    tree = build_dc(record, batch)
    assert_valid("oai_dc", tree, f"dc/{record.archival_code}.xml")
    return serialize(tree)


def metadata_csv_row(record: ArchiveRecord, filename: str) -> dict[str, str]:
    """One metadata.csv row (keys = METADATA_CSV_COLUMNS); `filename` is the path inside the
    transfer, e.g. "objects/<档号>.pdf". Repeated values (languages) are joined with "; "."""
    return {
        "filename": filename,
        "dc.title": record.title,
        "dc.identifier": record.archival_code,
        "dc.creator": record.get("责任者"),
        "dc.date": record.date_iso or "",
        "dc.rights": rights_statement(record),
        "dc.language": "; ".join(record.language),
        "dc.format": "; ".join(f.mime_type for f in record.layout_files),
    }
