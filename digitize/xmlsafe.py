"""The one way this project parses XML: no network, no DTD loading, no entity expansion.

Every reader of XML (hOCR from Tesseract, exported catalogue files read back for validation,
METS/ALTO checks during QC) goes through `parse_bytes` / `parse_file`, so an XML file that
declares an external entity (XXE) or a billion-laughs expansion is refused, not followed.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from digitize.errors import BadInput


class UnsafeXmlError(BadInput, ValueError):
    """The document declares entities; we refuse rather than expand or fetch them."""


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_bytes(data: bytes, source: str = "<bytes>") -> etree._ElementTree:
    """Parse XML bytes; raise UnsafeXmlError if the document declares any entity."""
    tree = etree.ElementTree(etree.fromstring(data, safe_parser()))
    docinfo = tree.docinfo
    internal = docinfo.internalDTD
    if internal is not None and any(True for _ in internal.iterentities()):
        raise UnsafeXmlError(f"{source}: XML declares entities; refusing to read it")
    if any(isinstance(node, etree._Entity) for node in tree.iter()):
        raise UnsafeXmlError(f"{source}: XML uses an undeclared or external entity; refusing to read it")
    return tree


def parse_file(path: str | Path) -> etree._ElementTree:
    path = Path(path)
    return parse_bytes(path.read_bytes(), str(path))
