"""hOCR page model → ALTO 4.4, validated against the official schema."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from digitize.ocr.alto import ALTO, alto_bytes, build_alto
from digitize.ocr.hocr import OcrPage, parse_hocr
from digitize.xmlsafe import parse_bytes
from metadata.export.validate import validate

DATA = Path(__file__).parent / "data" / "export"
A = f"{{{ALTO}}}"


def _line_items(root):
    """Per TextLine, the sequence of String contents and "SP" markers."""
    return [["SP" if el.tag == f"{A}SP" else el.get("CONTENT") for el in line] for line in root.iter(f"{A}TextLine")]


def test_mixed_chinese_english_page():
    page = parse_hocr((DATA / "mixed.hocr").read_bytes())
    data = alto_bytes(page, "0001.tif", 1, software=("Tesseract", "5.3.4"))
    tree = parse_bytes(data)
    assert validate("alto", tree) == []
    root = tree.getroot()
    assert root.findtext(f"{A}Description/{A}MeasurementUnit") == "pixel"
    assert root.findtext(f"{A}Description/{A}sourceImageInformation/{A}fileName") == "0001.tif"
    page_el = root.find(f"{A}Layout/{A}Page")
    assert (page_el.get("WIDTH"), page_el.get("HEIGHT"), page_el.get("PHYSICAL_IMG_NR")) == ("2480", "3508", "1")
    # No SP between Chinese words; SP between Latin words; none at a Latin/Chinese join.
    assert _line_items(root) == [["关于", "养老保险", "的通知"], ["R&D", "SP", "a<b", "SP", "Pension", "社保"]]
    strings = list(root.iter(f"{A}String"))
    assert [s.get("WC") for s in strings] == ["0.96", "0.93", "0.90", "0.88", "0.81", "0.64", "0.97"]
    first = strings[0]
    assert (first.get("HPOS"), first.get("VPOS"), first.get("WIDTH"), first.get("HEIGHT")) == ("200", "300", "80", "80")
    sp = root.find(f".//{A}SP")
    assert (sp.get("HPOS"), sp.get("WIDTH")) == ("420", "30")
    assert b"R&amp;D" in data and b"a&lt;b" in data
    assert len({el.get("ID") for el in root.iter() if el.get("ID")}) == len([el for el in root.iter() if el.get("ID")])


def test_peer_cjk_hocr():
    page = parse_hocr((DATA / "cjk.hocr").read_bytes())
    tree = build_alto(page, "test.png", 7)
    assert validate("alto", tree) == []
    root = tree.getroot()
    assert root.find(f"{A}Layout/{A}Page").get("ID") == "P7"
    items = _line_items(root)
    assert items[0] == ["你好", "世界"] and items[1] == ["繁體", "中文"]
    assert all(el.get("ID").startswith("P7_") for el in root.iter(f"{A}String"))


def test_blank_page_uses_given_size():
    tree = build_alto(OcrPage(0, 0), "0003.tif", 3, width=2480, height=3508)
    assert validate("alto", tree) == []
    page_el = tree.getroot().find(f"{A}Layout/{A}Page")
    assert page_el.get("WIDTH") == "2480" and page_el.find(f".//{A}TextBlock") is None


def test_confidence_is_clamped_to_alto_range():
    page = parse_hocr((DATA / "mixed.hocr").read_bytes().replace(b"x_wconf 96", b"x_wconf 130"))
    tree = build_alto(page, "0001.tif")
    assert next(tree.getroot().iter(f"{A}String")).get("WC") == "1.00"
    assert validate("alto", tree) == []


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda r: next(r.iter(f"{A}String")).attrib.pop("CONTENT"),
        lambda r: next(r.iter(f"{A}String")).set("WC", "1.5"),
        lambda r: r.find(f"{A}Layout/{A}Page").attrib.pop("PHYSICAL_IMG_NR"),
        lambda r: r.find(f"{A}Description").remove(r.find(f"{A}Description/{A}MeasurementUnit")),
    ],
)
def test_negative_controls(corrupt):
    tree = build_alto(parse_hocr((DATA / "mixed.hocr").read_bytes()), "0001.tif")
    bad = copy.deepcopy(tree)
    corrupt(bad.getroot())
    assert validate("alto", bad)
