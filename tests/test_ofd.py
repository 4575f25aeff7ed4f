"""The OFD writer (GB/T 33190-2016): every XML part against the real schemas, read back by an
independent reader (ofdkit, PyPI), text placed where the PDF's text layer places it, pages and
images intact, catalogue fields in CustomDatas."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import ofdkit
import pikepdf
import pytest
from lxml import etree
from PIL import Image

from digitize.ocr.hocr import OcrLine, OcrPage, OcrWord
from digitize.ofd import OfdError, build_ofd, check_ofd, ofd_parts, page_count, page_images
from digitize.pageimage import encode_page
from digitize.pdfa import DocumentMeta, PdfPage, build_pdf
from metadata.export.validate import OFD_NAMESPACE, validate_ofd_part

META = DocumentMeta(
    identifier="J022-SB·2019-D30-BGS-0002",
    title="关于做好社会保险业务档案整理归档工作的通知 & <附件>",
    creator="杭州市社会保险事业管理局",
    date="20191112",
    rights="内部",
    language="zh",
    creator_tool="digitize 0.1.0",
    fields=(
        ("题名", "关于做好社会保险业务档案整理归档工作的通知 & <附件>"),
        ("保管期限", "定期30年"),
        ("全宗号", "J022"),
    ),
)
OFD = {"ofd": OFD_NAMESPACE}


def _line(y: int, words: list[tuple[str, int, int]], slope: float = 0.0) -> OcrLine:
    return OcrLine(
        bbox=(words[0][1], y, words[-1][2], y + 40),
        words=tuple(OcrWord(text, (x0, y, x1, y + 40), 90.0) for text, x0, x1 in words),
        baseline=(slope, -8.0),
    )


def _ocr() -> OcrPage:
    chars = "社会保险业务档案"
    chinese = [(ch, 300 + i * 48, 300 + i * 48 + 40) for i, ch in enumerate(chars)]
    english = [("Pension", 300, 450), ("Records", 470, 620), ("Office", 640, 760)]
    mixed = [("参保", 300, 390), ("2019", 400, 480), ("年", 488, 528), ("REF/2019/565", 600, 860)]
    return OcrPage(2480, 3508, [_line(400, chinese), _line(500, english, slope=0.01), _line(600, mixed)])


def _pages() -> list[PdfPage]:
    colour = np.full((3508, 2480, 3), 240, np.uint8)
    cv2.circle(colour, (1800, 3000), 200, (30, 30, 220), 12)  # a red seal
    bitonal = np.full((1754, 1240), 255, np.uint8)
    bitonal[200:260, 150:900] = 0
    return [
        PdfPage(encode_page(colour, "rgb", 300, 70, "ccitt"), _ocr()),
        PdfPage(encode_page(bitonal, "bitonal", 150, 70, "ccitt"), None),
        PdfPage(encode_page(bitonal, "bitonal", 150, 70, "flate"), None),
    ]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ofd")
    pages = _pages()
    build_ofd(pages, META, folder / "doc.ofd")
    build_pdf(pages, META, folder / "doc.pdf")
    return folder / "doc.ofd", folder / "doc.pdf"


def test_every_xml_part_validates_against_gbt_33190(written):
    ofd, _ = written
    with zipfile.ZipFile(ofd) as package:
        names = package.namelist()
        xml = [n for n in names if n.endswith(".xml")]
        roots = {etree.QName(etree.fromstring(package.read(n))).localname for n in xml}
        for name in xml:
            assert validate_ofd_part(etree.fromstring(package.read(name))) == [], name
    assert roots == {"OFD", "Document", "Res", "Page"}
    assert len(xml) == 4 + 3  # OFD.xml, Document.xml, two Res, three pages
    assert check_ofd(ofd) == (len(xml), [])


def test_invalid_parts_are_caught(written, tmp_path):
    """Negative controls: a missing required element, and a part in the wrong namespace."""
    ofd, _ = written
    broken = tmp_path / "broken.ofd"
    with zipfile.ZipFile(ofd) as source, zipfile.ZipFile(broken, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "Doc_0/Document.xml":
                data = re.sub(rb"<ofd:MaxUnitID>\d+</ofd:MaxUnitID>", b"", data)
            if name == "Doc_0/Pages/Page_1/Content.xml":
                data = data.replace(OFD_NAMESPACE.encode(), b"http://example.org/not-ofd")
            target.writestr(name, data)
    _, problems = check_ofd(broken)
    assert any(p.startswith("Doc_0/Document.xml") and "MaxUnitID" in p for p in problems)
    assert any(p.startswith("Doc_0/Pages/Page_1/Content.xml") for p in problems)
    assert len(problems) == 2


def test_writer_refuses_to_keep_an_invalid_file(tmp_path, monkeypatch):
    """A fault the writer cannot be made to produce: a part that breaks the schema is not kept."""
    import digitize.ofd as writer

    def broken(pages, meta):
        files = ofd_parts(pages, meta)
        files["OFD.xml"] = files["OFD.xml"].replace(b'Version="1.0"', b'Version="1.1"')
        return files

    monkeypatch.setattr(writer, "ofd_parts", broken)
    with pytest.raises(OfdError, match="OFD.xml"):
        writer.build_ofd(_pages()[1:2], META, tmp_path / "x.ofd")
    assert not (tmp_path / "x.ofd").exists()


def test_independent_reader_gets_pages_text_and_metadata(written):
    ofd, pdf = written
    with ofdkit.open(ofd) as document, pikepdf.open(pdf) as reference:
        pages = list(document.pages)
        assert len(pages) == len(reference.pages) == 3
        for page, pdf_page in zip(pages, reference.pages):
            _, _, width_pt, height_pt = (float(v) for v in pdf_page.MediaBox)
            assert page.width == pytest.approx(width_pt * 25.4 / 72, abs=0.01)
            assert page.height == pytest.approx(height_pt * 25.4 / 72, abs=0.01)
        lines = [run.text for run in pages[0].runs]
        assert lines == ["社会保险业务档案", "Pension Records Office", "参保2019年REF/2019/565"]  # as the PDF draws it
        assert pages[0].text().splitlines()[0] == "社会保险业务档案"  # no spaces inside Chinese
        assert pages[1].runs == [] and pages[2].runs == []
        info = document.info
        assert info.title == META.title and info.author == META.creator
        assert info.custom_data == {
            "档号": META.identifier,
            "题名": META.title,
            "保管期限": "定期30年",
            "全宗号": "J022",
        }


def _pdf_line_starts(pdf: pikepdf.Pdf, page_index: int) -> list[tuple[float, float]]:
    """(x, y) in points of the first segment of each line of our text layer (a Tm after each Tf)."""
    starts, new_line = [], False
    for operands, operator in pikepdf.parse_content_stream(pdf.pages[page_index]):
        if operator == pikepdf.Operator("Tf"):
            new_line = True
        elif operator == pikepdf.Operator("Tm") and new_line:
            starts.append((float(operands[4]), float(operands[5])))
            new_line = False
    return starts


def test_text_sits_where_the_pdf_text_layer_puts_it(written):
    ofd, pdf = written
    with ofdkit.open(ofd) as document, pikepdf.open(pdf) as reference:
        page = list(document.pages)[0]
        height_pt = float(reference.pages[0].MediaBox[3])
        starts = _pdf_line_starts(reference, 0)
        assert len(starts) == len(page.runs) == 3
        for run, (x_pt, y_pt) in zip(page.runs, starts):
            assert run.x == pytest.approx(x_pt * 25.4 / 72, abs=0.01)
            assert run.y == pytest.approx((height_pt - y_pt) * 25.4 / 72, abs=0.01)
    with zipfile.ZipFile(ofd) as package:
        content = etree.fromstring(package.read("Doc_0/Pages/Page_0/Content.xml"))
    text_objects = content.findall(".//ofd:TextObject", OFD)
    assert {t.get("Fill") for t in text_objects} == {"false"}  # invisible, like PDF render mode 3
    assert text_objects[1].find("ofd:TextCode", OFD).get("DeltaY")  # the sloped line follows its baseline


def _ofd_page_image(package: zipfile.ZipFile, index: int) -> Image.Image:
    """Follow Content.xml's ImageObject to its resource in DocumentRes.xml, as a reader does."""
    content = etree.fromstring(package.read(f"Doc_0/Pages/Page_{index}/Content.xml"))
    resource_id = content.find(".//ofd:ImageObject", OFD).get("ResourceID")
    resources = etree.fromstring(package.read("Doc_0/DocumentRes.xml"))
    media = resources.find(f".//ofd:MultiMedia[@ID='{resource_id}']", OFD)
    base = resources.get("BaseLoc")
    image = Image.open(io.BytesIO(package.read(f"Doc_0/{base}/{media.findtext('ofd:MediaFile', namespaces=OFD)}")))
    image.load()
    return image


def test_page_images_are_the_pdf_page_images(written):
    ofd, pdf = written
    with zipfile.ZipFile(ofd) as package, pikepdf.open(pdf) as reference:
        for index, pdf_page in enumerate(reference.pages):
            ours = _ofd_page_image(package, index)
            (theirs,) = (pikepdf.PdfImage(image).as_pil_image() for image in pdf_page.get_images().values())
            assert ours.size == theirs.size
            if theirs.mode == "1":
                assert np.array_equal(np.array(ours.convert("L")), np.array(theirs.convert("L")))
            else:  # the very JPEG the PDF holds
                assert np.array_equal(np.array(ours), np.array(theirs))


def test_page_images_and_count_are_read_through_the_references(written):
    """What QC measures of an OFD: each page's image as a reader finds it (page → ImageObject →
    MultiMedia → MediaFile), in page order."""
    ofd, _ = written
    images = page_images(ofd)
    assert page_count(ofd) == len(images) == 3
    assert [image.format for image in images] == ["JPEG", "PNG", "PNG"]
    with zipfile.ZipFile(ofd) as package:
        for index, image in enumerate(images):
            ours = Image.open(io.BytesIO(image.data))
            assert np.array_equal(np.array(ours), np.array(_ofd_page_image(package, index)))


def test_an_entry_not_stored_or_deflated_is_reported(written, tmp_path):
    """DA/T 70 3-8: no compression a reader may not know (here bzip2) inside the package."""
    ofd, _ = written
    copy = tmp_path / "bzip2.ofd"
    with zipfile.ZipFile(ofd) as source, zipfile.ZipFile(copy, "w") as target:
        for info in source.infolist():
            method = zipfile.ZIP_BZIP2 if info.filename == "OFD.xml" else info.compress_type
            target.writestr(info.filename, source.read(info.filename), compress_type=method)
    assert check_ofd(copy)[1] == ["OFD.xml: compression method 12 (only stored or deflated)"]
