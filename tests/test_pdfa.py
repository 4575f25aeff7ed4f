"""The PDF/A writer: structure, metadata, validation, and a text layer that extracts Chinese right."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pikepdf.pdfa
import pytest
from lxml import etree

from digitize.ocr.hocr import OcrLine, OcrPage, OcrWord, parse_hocr
from digitize.pageimage import encode_page
from digitize.pdfa import DocumentMeta, PdfPage, build_pdf

META = DocumentMeta(
    identifier="J022-SB·2019-D30-BGS-0002",
    title="关于做好社会保险业务档案整理归档工作的通知 & <附件>",
    creator="杭州市社会保险事业管理局",
    date="20191112",
    rights="内部",
    language="zh-CN",
    creator_tool="digitize test",
)


def _line(y: int, words: list[tuple[str, int, int]]) -> OcrLine:
    return OcrLine(
        bbox=(words[0][1], y, words[-1][2], y + 40),
        words=tuple(OcrWord(text, (x0, y, x1, y + 40), 90.0) for text, x0, x1 in words),
        baseline=(0.0, -8.0),
    )


def _chinese_page() -> OcrPage:
    # Tesseract splits Chinese into one "word" per character or short run, with gaps between
    # the ink boxes; the text layer must not turn those gaps into spaces.
    chars = "社会保险业务档案"
    words = [(ch, 300 + i * 48, 300 + i * 48 + 40) for i, ch in enumerate(chars)]
    english = [("Pension", 300, 450), ("Records", 470, 620), ("Office", 640, 760)]
    mixed = [("参保", 300, 390), ("2019", 400, 480), ("年", 488, 528), ("REF/2019/565", 600, 860)]
    return OcrPage(2480, 3508, [_line(400, words), _line(500, english), _line(600, mixed)])


def _grey_image() -> np.ndarray:
    image = np.full((3508, 2480), 245, np.uint8)
    cv2.putText(image, "page", (300, 430), cv2.FONT_HERSHEY_SIMPLEX, 2, 20, 4)
    return image


def _pdftotext(path: Path, *args: str) -> str:
    return subprocess.run(
        ["pdftotext", *args, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pdf") / "doc.pdf"
    grey = encode_page(_grey_image(), "grey", 300, 60, "ccitt")
    bitonal = encode_page(np.where(_grey_image() < 128, 0, 255).astype(np.uint8), "bitonal", 300, 60, "ccitt")
    colour = encode_page(cv2.cvtColor(_grey_image(), cv2.COLOR_GRAY2BGR), "rgb", 150, 60, "ccitt")
    pages = [PdfPage(grey, _chinese_page()), PdfPage(bitonal, _chinese_page()), PdfPage(colour, None)]
    report = build_pdf(pages, META, out)
    assert report.validated
    return out


def test_chinese_extracts_without_spaces_and_english_with_them(written):
    for mode in ((), ("-raw",)):
        text = _pdftotext(written, "-f", "1", "-l", "1", *mode)
        assert "社会保险业务档案" in text
        assert "Pension Records Office" in text
        assert re.search(r"参保\s?2019\s?年", text)
        assert "社 会" not in text


def test_phrase_search_finds_chinese(written):
    text = _pdftotext(written)
    assert text.count("业务档案") == 2  # two pages carry the text; the colour page has none


def test_pages_have_true_physical_size(written):
    with pikepdf.open(written) as pdf:
        boxes = [[float(v) for v in page.mediabox] for page in pdf.pages]
    assert boxes[0][2:] == pytest.approx([2480 * 72 / 300, 3508 * 72 / 300], abs=0.01)  # A4 at 300 dpi
    assert boxes[2][2:] == pytest.approx([2480 * 72 / 150, 3508 * 72 / 150], abs=0.01)


def test_image_encodings(written):
    with pikepdf.open(written) as pdf:
        images = [next(iter(page.get_images().values())) for page in pdf.pages]
        assert [str(i.Filter) for i in images] == ["/DCTDecode", "/CCITTFaxDecode", "/DCTDecode"]
        assert [str(i.ColorSpace) for i in images] == ["/DeviceGray", "/DeviceGray", "/DeviceRGB"]
        assert int(images[1].BitsPerComponent) == 1


def test_bitonal_page_renders_black_ink_on_white(written, tmp_path):
    subprocess.run(
        ["pdftoppm", "-r", "30", "-f", "2", "-l", "2", "-gray", str(written), str(tmp_path / "p")], check=True
    )
    rendered = cv2.imread(str(next(tmp_path.glob("p*.pgm"))), cv2.IMREAD_GRAYSCALE)
    assert rendered.mean() > 200  # mostly white paper: CCITT polarity is right


def test_pdfa_structure_and_metadata(written):
    assert pikepdf.pdfa.validate_written(written, "2b").passed
    with pikepdf.open(written) as pdf:
        assert not pdf.is_encrypted
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2"
        assert meta["pdfaid:conformance"] == "B"
        assert meta["dc:identifier"] == META.identifier
        assert meta["dc:title"] == META.title
        assert str(pdf.docinfo["/Title"]) == META.title  # XMP agrees with the document info
        assert META.creator in str(pdf.docinfo["/Author"])
        assert meta["xmp:CreatorTool"] == "digitize test"
        assert len(pdf.Root.OutputIntents) == 1
        assert str(pdf.Root.OutputIntents[0].S) == "/GTS_PDFA1"
        assert len(pdf.trailer.ID) == 2
        font = pdf.pages[0].Resources.Font.FOcr
        descendant = font.DescendantFonts[0]
        assert "/FontFile2" in descendant.FontDescriptor  # embedded
        assert "/ToUnicode" in font
        assert "/JavaScript" not in pdf.Root.get("/Names", {})
        for page in pdf.pages:
            assert "/Group" not in page  # no transparency group
            for image in page.get_images().values():
                assert "/SMask" not in image and not image.get("/Interpolate", False)


def test_to_unicode_maps_supplementary_plane_characters(tmp_path):
    rare = "𠀀"  # CJK extension B, outside the BMP
    page = OcrPage(2480, 3508, [_line(400, [("档", 300, 340), (rare, 348, 388), ("案", 396, 436)])])
    out = tmp_path / "rare.pdf"
    build_pdf([PdfPage(encode_page(_grey_image(), "grey", 300, 60, "ccitt"), page)], META, out)
    assert f"档{rare}案" in _pdftotext(out)


def test_invalid_pdfa_is_not_written(tmp_path, monkeypatch):
    """An XMP property outside the predefined schemas that no extension schema declares fails
    (PDF/A-2 6.6.2.3.1), although the validator's reports about declared ones are set aside."""
    from digitize import pdfa

    def undeclared(pdf, meta):
        packet = pdf.Root.Metadata.read_bytes().replace(
            b"<rdf:Description ", b'<rdf:Description xmlns:x1="urn:undeclared:1/" x1:note="?" ', 1
        )
        pdf.Root.Metadata = pdf.make_stream(packet, Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML)

    monkeypatch.setattr(pdfa, "_add_archival_xmp", undeclared)
    out = tmp_path / "bad.pdf"
    with pytest.raises(pdfa.PdfAError, match="x1"):
        build_pdf([PdfPage(encode_page(_grey_image(), "grey", 300, 60, "ccitt"), None)], META, out)
    assert not out.exists()


def test_archival_fields_in_xmp_with_an_extension_schema(tmp_path):
    """全宗号, 保管期限, 开放标识 and 密级 in XMP, declared by a PDF/A extension schema that the
    schema check accepts; pikepdf's validator reports nothing else."""
    from digitize.pdfa import ARCHIVAL_NS, extension_schema_problems

    meta = dataclasses.replace(
        META, fields=(("全宗号", "J022"), ("保管期限", "定期30年"), ("开放标识", "控制"), ("密级", "内部"))
    )
    out = tmp_path / "archival.pdf"
    report = build_pdf([PdfPage(encode_page(_grey_image(), "grey", 300, 60, "ccitt"), None)], meta, out)
    assert report.validated
    with pikepdf.open(out) as pdf:
        packet = pdf.Root.Metadata.read_bytes()
        meta_read = pdf.open_metadata()
        assert meta_read["pdfaid:part"] == "2" and meta_read["dc:title"] == META.title
    root = etree.fromstring(packet)
    values = {etree.QName(e).localname: e.text for e in root.iter() if etree.QName(e).namespace == ARCHIVAL_NS}
    assert values == {
        "fondsIdentifier": "J022",
        "retentionPeriod": "定期30年",
        "controlIdentifier": "控制",
        "securityClassification": "内部",
    }
    declared, problems = extension_schema_problems(packet)
    assert problems == [] and "dat46:controlIdentifier" in declared
    written = pikepdf.pdfa.validate_written(out, "2b")
    assert {f.rule.split(":")[-1] for f in written.violations} <= {"6.6.2.3.1-1"}  # only what it cannot read
    # negative control: a declared property whose schema entry loses its value type
    broken = packet.replace(b"<pdfaProperty:valueType>Text</pdfaProperty:valueType>", b"", 1)
    assert extension_schema_problems(broken)[1]


def test_real_tesseract_hocr_round_trip(samples_dir, tmp_path):
    """One real page through Tesseract: the PDF text matches what Tesseract read."""
    from digitize.ocr.tesseract import make_engine

    engine = make_engine("auto", "chi_sim+eng", 3, 120)
    image = cv2.imread(str(samples_dir / "batch" / "J022-SB·2019-Y-DY-0004" / "0003.jpg"), cv2.IMREAD_GRAYSCALE)
    image = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)[:900]
    output = engine.recognise(image, 150)
    ocr = parse_hocr(output.hocr)
    assert ocr.words
    out = tmp_path / "real.pdf"
    build_pdf([PdfPage(encode_page(image, "grey", 150, 60, "ccitt"), ocr)], META, out)
    extracted = re.sub(r"\s+", "", _pdftotext(out, "-raw"))
    assert re.sub(r"\s+", "", ocr.text) == extracted
