"""DA/T 93-2022 目录文件: the item-level catalogue XML of a transfer package.

Structure (DA/T 93-2022 Annex B, §5.3.2)::

    <文件目录>
      <文件><顺序号/><档号/><责任者/><题名/><日期/><保管期限/><密级/><页数/><备注/></文件>
      ...
    </文件目录>

The standard allows GB18030, GB2312 or UTF-8; GB18030 covers every Unicode character, so it is
offered instead of GB2312. Validated against our schema `schemas/dat93/dat93-catalogue.xsd`.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from digitize.xmlsafe import parse_bytes
from metadata.export.validate import assert_valid
from metadata.export.xmlbuild import serialize, sub
from metadata.records import ArchiveRecord

ENCODINGS = ("UTF-8", "GB18030")


def build_catalogue(records: Sequence[ArchiveRecord]) -> etree._ElementTree:
    """The 目录文件 tree; 顺序号 follows the order of `records`."""
    root = etree.Element("文件目录")
    for seq, record in enumerate(records, start=1):
        item = sub(root, "文件")
        sub(item, "顺序号", seq)
        sub(item, "档号", record.archival_code)
        sub(item, "责任者", record.get("责任者"))
        sub(item, "题名", record.title)
        sub(item, "日期", record.get("日期"))
        sub(item, "保管期限", record.get("保管期限"))
        sub(item, "密级", record.get("密级"))
        sub(item, "页数", record.page_count)
        sub(item, "备注", record.get("备注"))
    return etree.ElementTree(root)


def catalogue_bytes(records: Sequence[ArchiveRecord], encoding: str = "UTF-8") -> bytes:
    """The validated 目录文件 in `encoding` ("UTF-8" or "GB18030"), checked to read back intact."""
    if encoding not in ENCODINGS:
        raise ValueError(f"目录文件 encoding must be one of {ENCODINGS}, not {encoding!r}")
    tree = build_catalogue(records)
    assert_valid("dat93", tree, "目录文件")
    data = serialize(tree, encoding)
    if _texts(parse_bytes(data, "目录文件").getroot()) != _texts(tree.getroot()):
        raise ValueError(f"目录文件 does not read back unchanged from {encoding}")
    return data


def _texts(root: etree._Element) -> list[tuple[str, str]]:
    return [(el.tag, (el.text or "").strip()) for el in root.iter()]
