"""Finding documents and pages in a batch, and decoding pages, including every kind of bad input."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from digitize.batch import InputError, discover, natural_key
from digitize.describe import NameCollision, ProcessRequest, plan_batch
from digitize.loader import load_page
from digitize.settings import InputSettings, Settings


def _page(path: Path, size=(400, 560), mode="L", dpi=(300, 300), **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = {"L": 235, "RGB": (240, 235, 230), "1": 1}[mode]
    image = Image.new(mode, size, colour)
    image.save(path, dpi=dpi, **save)
    return path


def _image_pdf(path: Path, pages: int = 2, text: bool = False, encrypt: bool = False) -> Path:
    pdf = pikepdf.new()
    for _ in range(pages):
        pixels = Image.new("L", (200, 283), 230)  # 200 px over 72 pt: 200 dpi
        buffer = BytesIO()
        pixels.save(buffer, "JPEG")
        image = pikepdf.Stream(pdf, buffer.getvalue())
        image.update(
            {
                "/Type": pikepdf.Name.XObject,
                "/Subtype": pikepdf.Name.Image,
                "/Width": 200,
                "/Height": 283,
                "/ColorSpace": pikepdf.Name.DeviceGray,
                "/BitsPerComponent": 8,
                "/Filter": pikepdf.Name.DCTDecode,
            }
        )
        resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
        content = b"q 72 0 0 101.88 0 0 cm /Im0 Do Q"
        if text:
            resources.Font = pikepdf.Dictionary(
                F1=pikepdf.Dictionary(
                    Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
                )
            )
            content += b" BT /F1 12 Tf 3 Tr (hello) Tj ET"
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 72, 101.88],
            Resources=resources,
            Contents=pikepdf.Stream(pdf, content),
        )
        pdf.pages.append(pikepdf.Page(page))
    kwargs = {"encryption": pikepdf.Encryption(owner="o", user="")} if encrypt else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.save(path, **kwargs)
    return path


def test_natural_order_and_non_ascii_names(tmp_path):
    doc = tmp_path / "batch" / "J022-SB·2019-D30-BGS-0002"
    for name in ("10.tif", "2.png", "1.jpg", "扫描说明.txt"):
        if name.endswith(".txt"):
            (doc / name).write_text("notes", encoding="utf-8")
        else:
            _page(doc / name)
    scan = discover(tmp_path / "batch")
    docs = scan.documents
    assert [d.key for d in docs] == ["J022-SB·2019-D30-BGS-0002"]
    assert [Path(p.path).name for p in docs[0].pages] == ["1.jpg", "2.png", "10.tif"]
    assert [p.slot for p in docs[0].pages] == [1, 2, 10]
    assert [(Path(s.path).name, s.reason) for s in scan.skipped] == [("扫描说明.txt", "not a page image")]
    assert natural_key("page2") < natural_key("page10")


def test_multipage_tiff_and_pdf_documents(tmp_path):
    batch = tmp_path / "batch"
    frames = [Image.new("1", (300, 420), 1) for _ in range(3)]
    (batch / "J1").mkdir(parents=True)
    frames[0].save(
        batch / "J1" / "J1.tif", save_all=True, append_images=frames[1:], compression="group4", dpi=(300, 300)
    )
    _image_pdf(batch / "J2.pdf", pages=2)
    docs = {d.key: d for d in discover(batch).documents}
    assert [(p.container, p.frame) for p in docs["J1"].pages] == [("tiff", 0), ("tiff", 1), ("tiff", 2)]
    assert [(p.container, p.frame) for p in docs["J2"].pages] == [("pdf", 0), ("pdf", 1)]
    tiff_page = load_page(docs["J1"].pages[2], InputSettings())
    assert tiff_page.mode == "bitonal" and tiff_page.compression == "CCITT Group 4" and tiff_page.dpi == 300
    pdf_page = load_page(docs["J2"].pages[1], InputSettings())
    assert pdf_page.image.shape == (283, 200)  # the embedded image itself, not a re-render
    assert pdf_page.dpi == 200 and pdf_page.compression == "JPEG" and pdf_page.dpi_source == "tag"


@pytest.mark.parametrize(
    "suffix,save",
    [
        (".tif", {"compression": "tiff_jpeg"}),
        (".tif", {"compression": "tiff_lzw"}),
        (".png", {}),
        (".jp2", {}),
        (".jpg", {}),
    ],
)
def test_formats_decode_with_their_resolution(tmp_path, suffix, save):
    path = _page(tmp_path / f"0001{suffix}", mode="RGB", dpi=(400, 400), **save)
    loaded = load_page(_ref(path), InputSettings())
    assert loaded.image.shape[:2] == (560, 400)
    if suffix == ".jp2":  # Pillow does not write a JP2 resolution box: the file states none
        assert loaded.dpi is None and loaded.dpi_source == "none"
    else:
        assert loaded.dpi == 400 and loaded.dpi_source == "tag"


def _ref(path: Path):
    from digitize.batch import PageRef

    return PageRef("doc", 1, str(path))


def test_dpi_override_and_missing_dpi(tmp_path):
    path = tmp_path / "0001.png"
    Image.new("L", (100, 100), 200).save(path)  # no pHYs chunk
    loaded = load_page(_ref(path), InputSettings())
    assert loaded.dpi is None and loaded.dpi_source == "none"  # nothing assumed here: imaging measures the page
    overridden = load_page(_ref(path), InputSettings(dpi_override=600))
    assert overridden.dpi == 600 and overridden.dpi_source == "profile"


def test_a_jpeg_states_a_resolution_only_with_a_unit(tmp_path):
    exif = Image.Exif()
    exif[0x0131] = "an editor"  # EXIF without a resolution: Pillow itself would report 72 dpi
    aspect_only = tmp_path / "aspect.jpg"
    Image.new("RGB", (100, 140), (240, 235, 230)).save(aspect_only, exif=exif)
    assert load_page(_ref(aspect_only), InputSettings()).dpi is None
    in_cm = tmp_path / "cm.jpg"
    exif[0x0128], exif[0x011A], exif[0x011B] = 3, 118.11, 118.11  # dots per centimetre
    Image.new("RGB", (100, 140), (240, 235, 230)).save(in_cm, exif=exif)
    assert load_page(_ref(in_cm), InputSettings()).dpi == pytest.approx(300.0, abs=0.05)


def test_a_camera_photo_is_known_as_one(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x829A] = 1 / 60  # ExposureTime: only cameras write it
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (120, 90), (200, 190, 180)).save(photo, exif=exif, dpi=(72, 72))
    loaded = load_page(_ref(photo), InputSettings())
    assert loaded.photo and loaded.dpi == 72  # the tag is kept as stated; imaging does not believe it
    assert not load_page(_ref(_page(tmp_path / "scan.jpg", mode="RGB")), InputSettings()).photo


def test_zero_byte_file_names_the_file(tmp_path):
    path = tmp_path / "0001.tif"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="0001.tif: the file is empty"):
        load_page(_ref(path), InputSettings())


def test_truncated_image(tmp_path):
    path = _page(tmp_path / "0001.jpg", size=(1200, 1600), mode="RGB")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"0001\.jpg: image data is damaged or truncated"):
        load_page(_ref(path), InputSettings())


def test_non_image_with_image_extension(tmp_path):
    path = tmp_path / "0001.tif"
    path.write_text("this is a text file, not a TIFF", encoding="utf-8")
    with pytest.raises(InputError, match=r"0001\.tif: not a readable image"):
        load_page(_ref(path), InputSettings())


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = _page(tmp_path / "0001.png", size=(3000, 3000))
    with pytest.raises(InputError, match="decompression-bomb guard"):
        load_page(_ref(path), InputSettings(max_image_pixels=5_000_000))


def test_encrypted_pdf_fails_its_document_only(tmp_path):
    batch = tmp_path / "batch"
    _image_pdf(batch / "A.pdf", encrypt=True)
    _image_pdf(batch / "B.pdf")
    docs = {d.key: d for d in discover(batch).documents}
    assert "A.pdf: the PDF is encrypted" in docs["A"].error
    assert docs["B"].error is None and len(docs["B"].pages) == 2


def test_pdf_with_text_layer_is_refused_unless_forced(tmp_path):
    batch = tmp_path / "batch"
    _image_pdf(batch / "A.pdf", text=True)
    assert "already has a text layer; use --force" in discover(batch).documents[0].error
    assert discover(batch, force_text=True).documents[0].error is None


def test_unreadable_folder_fails_its_document_only(tmp_path, monkeypatch):
    batch = tmp_path / "batch"
    _page(batch / "A" / "0001.png")
    _page(batch / "B" / "0001.png")
    locked = batch / "A"
    if os.geteuid() != 0:
        locked.chmod(0)
    else:  # root reads any folder: simulate the permission error the OS would raise
        real_scandir = os.scandir

        def scandir(path="."):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    try:
        docs = {d.key: d for d in discover(batch).documents}
    finally:
        locked.chmod(0o755)
    assert "cannot read the folder" in docs["A"].error and str(locked) in docs["A"].error
    assert docs["B"].error is None


def test_empty_folder_and_duplicate_names(tmp_path):
    batch = tmp_path / "batch"
    (batch / "A").mkdir(parents=True)
    _page(batch / "B" / "0001.png")
    _image_pdf(batch / "B.pdf")
    docs = discover(batch).documents
    assert "no page images found" in docs[0].error
    with pytest.raises(NameCollision, match=r"batch/B and .*batch/B\.pdf would both get"):
        plan_batch(ProcessRequest(batch, tmp_path / "out", Settings()))


def test_palette_and_alpha_images_load_as_colour_or_grey(tmp_path):
    rgba = tmp_path / "0001.png"
    pixels = np.zeros((50, 60, 4), np.uint8)
    pixels[..., 0] = 200
    pixels[..., 3] = 255
    Image.fromarray(pixels, "RGBA").save(rgba, dpi=(300, 300))
    loaded = load_page(_ref(rgba), InputSettings())
    assert loaded.mode == "colour" and loaded.image.shape == (50, 60, 3)
    grey_rgb = tmp_path / "0002.jpg"
    Image.new("RGB", (80, 80), (128, 128, 128)).save(grey_rgb, dpi=(300, 300))
    assert load_page(_ref(grey_rgb), InputSettings()).mode == "grey"


def test_planning_a_rerun_reads_the_journals_runs_and_documents_not_its_every_event(tmp_path, monkeypatch):
    from digitize.journal import DocumentState, EventType, Journal, JournalReader, Outcome
    from digitize.leftovers import sweep_work

    batch, out = tmp_path / "batch", tmp_path / "out"
    _page(batch / "A" / "0001.png")
    catalogue = tmp_path / "catalog.csv"
    catalogue.write_text("档号,题名,责任者,日期,保管期限\nA,养老保险登记表,某单位,20190101,永久\n", encoding="utf-8")
    with Journal(out / "journal.sqlite") as journal:  # a journal of a large batch has millions of events
        journal.start_run(
            command="digitize process",
            batch=str(batch),
            catalog=str(catalogue),
            settings={},
            software="",
            engine="",
            jobs=1,
        )
        journal.upsert_document("A", archival_code="A", state=DocumentState.PENDING, output_dir="documents/A")
        journal.record_event(EventType.MODIFICATION, "A/0001", Outcome.SUCCESS, {"step": "image processing"})
    (out / ".work" / "A").mkdir(parents=True)

    def every_event(self):
        raise AssertionError("read every event of the journal")

    monkeypatch.setattr(JournalReader, "snapshot", every_event)
    plan = plan_batch(ProcessRequest(batch, out, Settings()))
    assert plan.catalog_reused and plan.request.catalog == catalogue
    assert sweep_work(out, batch_keys=["A"]) == []  # A is pending: its staged pages are kept for the rerun
    assert (out / ".work" / "A").is_dir()
