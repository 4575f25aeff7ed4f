"""Small helpers shared by the XML writers: element building, text cleaning, serialising."""

from __future__ import annotations

import re
from collections.abc import Mapping

from lxml import etree

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XLINK = "http://www.w3.org/1999/xlink"

# Characters XML 1.0 cannot carry at all (C0 controls except tab/newline/return, surrogates,
# U+FFFE/U+FFFF). Spreadsheet cells and OCR text sometimes contain them (e.g. a vertical tab).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: object) -> str:
    """`text` as a string XML can hold: characters XML 1.0 forbids are removed."""
    return _NOT_XML.sub("", str(text))


def sub(
    parent: etree._Element, tag: str, text: object = None, attrib: Mapping[str, object] | None = None
) -> etree._Element:
    """Append a child element, with cleaned text when `text` is not None."""
    el = etree.SubElement(parent, tag, {k: clean(v) for k, v in (attrib or {}).items()})
    if text is not None:
        el.text = clean(text)
    return el


def serialize(doc: etree._ElementTree | etree._Element, encoding: str = "UTF-8") -> bytes:
    """Pretty-printed bytes in `encoding`, with an XML declaration that names it."""
    root = doc.getroot() if isinstance(doc, etree._ElementTree) else doc
    body = etree.tostring(root, encoding=encoding, xml_declaration=False, pretty_print=True)
    return f'<?xml version="1.0" encoding="{encoding}"?>\n'.encode("ascii") + body
