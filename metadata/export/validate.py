"""XSD validation of every export, offline, against the schemas in `metadata/schemas`.

Each schema is compiled once per process, from its file path (so its relative imports
resolve inside the schemas folder) with the no-network parser of `digitize.xmlsafe`.
Exporters call `assert_valid` before writing; tests call `validate`.

Kinds: "dat93" and "dat46" (our schemas, see their README), "ead3", "alto", "oai_dc",
and "mets" = METS 1.12.1 + MODS 3.8 + PREMIS 3.0 in one schema set, so that the MODS and
PREMIS records wrapped in `mets:xmlData` (processed "lax" by mets.xsd alone) are validated too;
"ofd:<root element>" for the parts of an OFD package (GB/T 33190-2016, `validate_ofd_part`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

from digitize.errors import DigitizeError
from digitize.xmlsafe import parse_file, safe_parser

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

_SCHEMA_FILES = {
    "dat93": "dat93/dat93-catalogue.xsd",
    "dat46": "dat46/dat46-record.xsd",
    "ead3": "ead3/ead3.xsd",
    "alto": "alto/alto-4-4.xsd",
    "oai_dc": "oai_dc/oai_dc.xsd",
}
_METS_SET = (
    ("http://www.loc.gov/METS/", "mets/mets.xsd"),
    ("http://www.loc.gov/mods/v3", "mods/mods-3-8.xsd"),
    ("http://www.loc.gov/premis/v3", "premis/premis-v3-0.xsd"),
)
KINDS = (*_SCHEMA_FILES, "mets")
OFD_NAMESPACE = "http://www.ofdspec.org/2016"
# GB/T 33190-2016: root element of an OFD part -> its schema.
OFD_SCHEMAS = {
    "OFD": "ofd/OFD.xsd",
    "Document": "ofd/Document.xsd",
    "Page": "ofd/Page.xsd",
    "Res": "ofd/Res.xsd",
    "Signatures": "ofd/Signatures.xsd",
    "Signature": "ofd/Signature.xsd",
    "Annotations": "ofd/Annotations.xsd",
    "PageAnnot": "ofd/Annotation.xsd",
    "CustomTags": "ofd/CustomTags.xsd",
    "Attachments": "ofd/Attachments.xsd",
    "Extensions": "ofd/Extensions.xsd",
    "DocVersion": "ofd/Version.xsd",
}


class ExportValidationError(DigitizeError, ValueError):
    """An export does not validate against its schema; it must not be written."""

    def __init__(self, kind: str, label: str, errors: list[str]):
        self.kind = kind
        self.label = label
        self.errors = errors
        shown = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
        super().__init__(f"{label}: not valid {kind}: {shown}")


@functools.cache
def schema(kind: str) -> etree.XMLSchema:
    """The compiled schema for one kind of export (compiled on first use, then cached)."""
    if kind == "mets":
        imports = "".join(f'<xs:import namespace="{ns}" schemaLocation="{loc}"/>' for ns, loc in _METS_SET)
        driver = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
        # base_url only anchors the relative schemaLocations; no such file is read.
        doc = etree.fromstring(driver.encode(), safe_parser(), base_url=str(SCHEMA_DIR / "mets-set.xsd"))
        return etree.XMLSchema(doc)
    files = {**_SCHEMA_FILES, **{f"ofd:{root}": path for root, path in OFD_SCHEMAS.items()}}
    if kind not in files:
        raise ValueError(f"unknown export kind {kind!r}; known: {', '.join(KINDS)}")
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / files[kind]), safe_parser()))


def validate(kind: str, doc: etree._ElementTree | etree._Element | str | Path) -> list[str]:
    """Validate a tree, an element or an XML file; return the errors (empty when valid).

    Files are read with the safe parser, so a file declaring entities is refused (raises
    `digitize.xmlsafe.UnsafeXmlError`) rather than validated.
    """
    if isinstance(doc, (str, Path)):
        doc = parse_file(doc)
    xsd = schema(kind)
    if xsd.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]


def validate_ofd_part(doc: etree._ElementTree | etree._Element) -> list[str]:
    """Validate one XML part of an OFD package against the GB/T 33190 schema of its root element."""
    root = doc.getroot() if isinstance(doc, etree._ElementTree) else doc
    name = etree.QName(root)
    if name.namespace != OFD_NAMESPACE or name.localname not in OFD_SCHEMAS:
        return [f"root element {root.tag} is not an OFD part of namespace {OFD_NAMESPACE}"]
    return validate(f"ofd:{name.localname}", doc)


def assert_valid(kind: str, doc: etree._ElementTree | etree._Element, label: str) -> None:
    """Raise ExportValidationError unless `doc` is valid."""
    errors = validate(kind, doc)
    if errors:
        raise ExportValidationError(kind, label, errors)
