"""The safe XML parser refuses entity tricks (XXE, billion laughs) instead of following them."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from digitize.xmlsafe import UnsafeXmlError, parse_bytes, parse_file
from metadata.export.validate import validate

XXE = b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<x>&e;</x>'
XXE_PARAMETER = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><x/>'
EXTERNAL_DTD_ENTITY = b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x>&e;</x>'


def _laughs(levels: int) -> bytes:
    decls = ['<!ENTITY lol0 "lol">']
    for n in range(1, levels + 1):
        decls.append(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">')
    return f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(decls)}]><lolz>&lol{levels};</lolz>'.encode()


@pytest.mark.parametrize("doc", [XXE, XXE_PARAMETER, EXTERNAL_DTD_ENTITY])
def test_external_entities_are_refused(doc):
    with pytest.raises(UnsafeXmlError):
        parse_bytes(doc)


def test_billion_laughs_is_refused():
    # Small enough for libxml2's amplification guard to let it through: our check refuses it.
    with pytest.raises(UnsafeXmlError):
        parse_bytes(_laughs(3))
    # The full bomb: libxml2 stops it first (XMLSyntaxError) or our check does; never expanded.
    with pytest.raises((UnsafeXmlError, etree.XMLSyntaxError)):
        parse_bytes(_laughs(9))


def test_refused_file_is_not_validated(tmp_path: Path):
    path = tmp_path / "目录文件.xml"
    path.write_bytes(XXE)
    with pytest.raises(UnsafeXmlError):
        parse_file(path)
    with pytest.raises(UnsafeXmlError):
        validate("dat93", path)


def test_ordinary_documents_parse():
    tree = parse_bytes("<文件目录><文件><题名>A&amp;B &lt;社保&gt;</题名></文件></文件目录>".encode())
    assert tree.getroot().findtext("文件/题名") == "A&B <社保>"
    # A public DOCTYPE without entities (as Tesseract's hOCR has) is fine and is not fetched.
    hocr = parse_file(Path(__file__).parent / "data" / "export" / "cjk.hocr")
    assert hocr.getroot().tag == "{http://www.w3.org/1999/xhtml}html"
