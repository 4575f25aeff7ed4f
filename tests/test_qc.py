"""`digitize qc`: every check with a failing and a passing case, on batches processed for real.

Two small batches are drawn here (A5 pages, Latin text so that OCR with `eng` is quick) and
run through `digitize process`:

* clean:  one letter with a red seal (colour master) and a plain page -- everything passes;
* defects: a form document whose third page is a re-scan of the first (and whose second page
  is the same form with another person's data), a document with a 150-dpi page and a gap in
  its file numbers, a catalogue row without a folder and a folder without a catalogue row.

Mutation tests work on copies of the clean output.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image

from bench.evalkit import found_defects
from digitize.journal import read_journal
from digitize.qc import imagequality as iq
from digitize.qc.checks import run_checks
from digitize.qc.run import QcRequest, judge, prepare
from digitize.qc.sampling import Decision
from digitize.settings import Settings, load_settings

ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
CLEAN = "J099-SB·2020-Y-BGS-0001"
FORMS = "J099-SB·2020-D30-ZJ-0001"
GAPPED = "J099-SB·2020-D30-ZJ-0002"
ROW_ONLY = "J099-SB·2020-D30-ZJ-0003"
NO_ROW = "J099-SB·2020-D30-ZJ-0004"
HEADER = "档号,题名,责任者,日期,页数,密级,保管期限,备注,开放标识"
FONT = cv2.FONT_HERSHEY_DUPLEX
PROFILE = Path(__file__).parent / "data" / "qc" / "profile.toml"  # [archive]: the records' 来源
SETTINGS = load_settings(PROFILE)


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env or ENV)


# ------------------------------------------------------------------------------------- drawing
def blank_page(width: int = 1748, height: int = 2480, colour: bool = False, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    paper = np.full((height, width), 243, np.uint8)
    paper = np.clip(paper.astype(np.int16) + rng.normal(0, 2, paper.shape).astype(np.int16), 0, 255).astype(np.uint8)
    return cv2.cvtColor(paper, cv2.COLOR_GRAY2BGR) if colour else paper


def text(image: np.ndarray, line: str, x: int, y: int, scale: float = 1.3, thickness: int = 2) -> None:
    cv2.putText(image, line, (x, y), FONT, scale, (20, 20, 20) if image.ndim == 3 else 20, thickness, cv2.LINE_AA)


LETTER = [
    "Notice on the archiving of social insurance records",
    "All insured units shall hand over the business records",
    "of the past year before the end of March. Records are",
    "arranged by year and business line, numbered item by",
    "item, and described in the catalogue with title, date",
    "and retention period. Scans are made at 300 dpi in",
    "colour where seals or red headers appear on the paper.",
    "The archive checks every batch before it is accepted.",
    "Questions go to the records office of the fund centre.",
]


def letter_page(seed: int = 1) -> np.ndarray:
    page = blank_page(colour=True, seed=seed)
    cv2.putText(page, "SOCIAL INSURANCE FUND CENTRE", (150, 260), FONT, 2.0, (40, 40, 200), 4, cv2.LINE_AA)
    cv2.line(page, (150, 320), (1600, 320), (40, 40, 200), 6)
    for n, line in enumerate(LETTER):
        text(page, line, 150, 480 + n * 90)
    # the seal: a red ring with a star and a name, over the signature line
    centre = (1250, 1700)
    cv2.circle(page, centre, 190, (45, 40, 205), 14, cv2.LINE_AA)
    star = np.array(
        [
            [1250, 1590],
            [1280, 1680],
            [1370, 1680],
            [1295, 1730],
            [1325, 1820],
            [1250, 1765],
            [1175, 1820],
            [1205, 1730],
            [1130, 1680],
            [1220, 1680],
        ],
        np.int32,
    )
    cv2.fillPoly(page, [star], (45, 40, 205))
    cv2.putText(page, "RECORDS OFFICE", (1080, 1960), FONT, 1.0, (45, 40, 205), 3, cv2.LINE_AA)
    text(page, "Fund centre, 12 March 2020", 150, 1900)
    return page


def plain_page(seed: int = 2) -> np.ndarray:
    """A page of text; each seed gives other lines (a different sheet)."""
    page = blank_page(seed=seed)
    rng = np.random.default_rng(seed)
    words = " ".join(LETTER).split()
    for n in range(12):
        line = " ".join(rng.choice(words, size=7))
        text(page, line, 150, 300 + n * 90)
    text(page, f"Page reference {seed * 7919 % 10000:04d}", 150, 1500)
    return page


def form_page(person: dict[str, str], seed: int) -> np.ndarray:
    page = blank_page(seed=seed)
    text(page, "INSURED PERSON REGISTRATION FORM", 260, 250, 1.5, 3)
    labels = ["Name", "ID number", "Employer", "Start date", "Monthly wage", "Account", "Phone", "Address"]
    top, left, right, row_h = 380, 120, 1630, 150
    for n in range(len(labels) + 1):
        cv2.line(page, (left, top + n * row_h), (right, top + n * row_h), 30, 3)
    for x in (left, 560, right):
        cv2.line(page, (x, top), (x, top + len(labels) * row_h), 30, 3)
    for n, label in enumerate(labels):
        text(page, label, left + 25, top + n * row_h + 95)
        text(page, person[label], 590, top + n * row_h + 95)
    text(page, "Signature of the insured person:", 150, 1800)
    text(page, person["Name"], 950, 1800)
    return page


PERSON_1 = {
    "Name": "Zheng Hanpeng",
    "ID number": "330102198704120517",
    "Employer": "Jiuzhou Construction Co",
    "Start date": "2019-07-01",
    "Monthly wage": "6,480.00",
    "Account": "6222 0212 0400 1187",
    "Phone": "138 0571 2234",
    "Address": "12 Wulin Road, Hangzhou",
}
PERSON_2 = {
    "Name": "Li Guolan",
    "ID number": "330106199211030829",
    "Employer": "Jinqiao Trading Ltd",
    "Start date": "2018-03-15",
    "Monthly wage": "5,120.50",
    "Account": "6217 8560 1002 4471",
    "Phone": "139 5818 0912",
    "Address": "88 Moganshan Road, Hangzhou",
}


def rescan(page: np.ndarray, seed: int = 5) -> np.ndarray:
    """The same sheet scanned again: turned 0.8°, 2 % larger, shifted, noisier, a little softer."""
    h, w = page.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.8, 1.02)
    matrix[:, 2] += (14, -11)
    again = cv2.warpAffine(page, matrix, (w, h), borderValue=243)
    again = cv2.GaussianBlur(again, (0, 0), 0.6)
    noise = np.random.default_rng(seed).normal(0, 5, again.shape)
    return np.clip(again.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def save(image: np.ndarray, path: Path, dpi: int = 300) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image
    options = {"quality": 92} if path.suffix == ".jpg" else {}
    Image.fromarray(rgb).save(path, dpi=(dpi, dpi), **options)


def write_catalog(path: Path, rows: list[str]) -> None:
    """The catalogue with 开放标识 控制 on every row (DA/T 18-2022 必著)."""
    path.write_text("\ufeff" + "\n".join([HEADER, *(row + ",控制" for row in rows)]) + "\n", encoding="utf-8")


def process(batch: Path, out: Path, expect: int) -> None:
    result = cli(
        "process",
        str(batch),
        "--catalog",
        str(batch / "catalog.csv"),
        "--out",
        str(out),
        "--json",
        "--no-progress",
        "-l",
        "eng",
        "--jobs",
        "2",
    )
    assert result.returncode == expect, result.stdout + result.stderr


@pytest.fixture(scope="module")
def clean_out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("qc-clean")
    batch = root / "batch"
    save(letter_page(), batch / CLEAN / "0001.jpg")
    save(plain_page(), batch / CLEAN / "0002.png")
    write_catalog(
        batch / "catalog.csv",
        [f"{CLEAN},关于社会保险业务档案归档的通知,杭州市社会保险基金管理中心,20200312,2,内部,永久,"],
    )
    out = root / "out"
    process(batch, out, expect=0)
    return out


@pytest.fixture(scope="module")
def defect_out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("qc-defects")
    batch = root / "batch"
    first = form_page(PERSON_1, seed=11)
    save(first, batch / FORMS / "0001.tif")
    save(form_page(PERSON_2, seed=12), batch / FORMS / "0002.tif")
    save(rescan(first), batch / FORMS / "0003.tif")
    small = cv2.resize(plain_page(seed=13), (874, 1240), interpolation=cv2.INTER_AREA)
    save(small, batch / GAPPED / "0001.tif", dpi=150)
    save(plain_page(seed=14), batch / GAPPED / "0003.tif")
    save(plain_page(seed=15), batch / NO_ROW / "0001.png", dpi=300)  # a whole A4 sheet at 300 dpi: no low_dpi
    write_catalog(
        batch / "catalog.csv",
        [
            f"{FORMS},郑涵鹏等2人社会保险参保登记表,杭州市九州建筑工程有限公司,20200105,3,内部,定期30年,",
            f"{GAPPED},社会保险个人缴费明细表,杭州市社会保险基金管理中心,20200210,3,内部,定期30年,",
            f"{ROW_ONLY},李国兰社会保险参保登记表,杭州市金桥商贸股份有限公司,20200311,2,内部,定期30年,",
        ],
    )
    out = root / "out"
    process(batch, out, expect=4)  # ERROR findings: a 150-dpi page, a missing page, rows without scans
    result = cli("qc", str(out), "--jobs", "2", "--profile", str(PROFILE))
    assert result.returncode == 4, result.stdout + result.stderr
    return out


def copy_out(out: Path, tmp_path: Path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(out, target)
    return target


def failing(results, check: str) -> list:
    return [r for r in results if r.check == check and r.status == "fail"]


# ------------------------------------------------------------------------------------- defects found
def test_every_injected_defect_is_found_with_its_type_and_nothing_else_fails(defect_out):
    report = json.loads((defect_out / "qc" / "report.json").read_text(encoding="utf-8"))
    got = {(f["type"], f["doc_id"], f.get("page_id")) for f in found_defects(report["results"])}
    assert got == {
        ("duplicate_page", FORMS, f"{FORMS}/0003"),
        ("low_dpi", GAPPED, f"{GAPPED}/0001"),
        ("missing_page", GAPPED, None),
        ("catalog_row_no_folder", ROW_ONLY, None),
        ("folder_no_catalog_row", NO_ROW, None),
    }
    assert report["verdict"] == "fail" and report["passed"] is False
    fails = {(r["check"], r["object"]) for r in report["results"] if r["status"] == "fail"}
    allowed_checks = {"duplicate_page", "resolution", "content_count", "metadata_link", "item_count"}
    assert {check for check, _ in fails} - {"element_completeness"} <= allowed_checks, fails
    # the scan without a catalogue row has no 题名, 责任者, 日期 …: its record lacks them, and only its
    assert {obj for check, obj in fails if check == "element_completeness"} == {NO_ROW}
    # the second form (same type, another person's data) is not a duplicate
    assert not [
        r
        for r in report["results"]
        if r["check"] == "duplicate_page" and r["object"] != f"{FORMS}/0003" and r["status"] == "fail"
    ]
    # documents with critical findings are inspected in full, next to the random sample
    assert set(report["sampling"]["critical"]) >= {FORMS, GAPPED}


def test_clean_batch_passes_every_check(clean_out):
    run = run_checks(QcRequest(clean_out, SETTINGS, jobs=2))
    fails = [(r.check_id, r.object, r.evidence) for r in run.results if r.status == "fail"]
    assert fails == []
    status = {r.check: r.status for r in run.results}
    for check in (
        "capture_fixity",
        "output_fixity",
        "electronic_attributes",
        "metadata_link",
        "package_structure",
        "item_count",
        "byte_count",
        "content_count",
        "metadata_readable",
        "format_allowed",
        "pdfa",
        "extra_files",
        "resolution",
        "residual_skew",
        "blur",
        "duplicate_page",
        "page_order",
        "unreadable",
    ):
        assert status[check] == "pass", (check, [r.evidence for r in run.results if r.check == check])
    colour = [r for r in run.results if r.check == "colour_mode"]
    assert [r.status for r in colour] == ["pass", "not checked"]
    assert "1 页有红色印章或红头" in colour[0].evidence  # the seal page was measured as needing colour
    # the grey master: whether its paper had a red seal cannot be seen, so §9.3 is not passed for it
    assert colour[1].evidence.startswith("1 页灰度或黑白原始扫描件") and "看不出" in colour[1].evidence


def test_unmeasured_resolution_is_not_checked(clean_out, tmp_path):
    """A page whose resolution nobody measured (an older journal's assumed 300 dpi, or none)
    is "not checked" under DA/T 31 §9.4, never a pass."""
    out = copy_out(clean_out, tmp_path)
    db = sqlite3.connect(out / "journal.sqlite")
    db.execute("UPDATE pages SET dpi_source='default' WHERE page_no=1")
    db.execute("UPDATE pages SET dpi=NULL, dpi_source='unknown' WHERE page_no=2")
    db.commit()
    db.close()
    run = run_checks(QcRequest(out, jobs=2, verify_masters=False))
    resolution = [r for r in run.results if r.check == "resolution"]
    assert [(r.status, r.defect) for r in resolution] == [("not checked", "unknown_dpi")] * 2


def test_stages_follow_annex_a(clean_out):
    """DA/T 70 Annex A: --stage BC emits no item that applies only at GD/YJ, and the BC-only
    items exist (2-10 and 3-5 automated, the others not checked with a reason)."""
    run = run_checks(QcRequest(clean_out, stage="BC", jobs=2, verify_masters=False))
    ids = {r.check_id for r in run.results}
    assert not ids & {"BC-1-8", "BC-1-12", "BC-1-13", "BC-3-3", "BC-3-8", "BC-4-3"}
    assert {"BC-1-15", "BC-1-16", "BC-2-10", "BC-3-5", "BC-3-7", "BC-3-9", "BC-4-8", "BC-4-9"} <= ids
    status = {r.check_id: r.status for r in run.results}
    assert status["BC-3-5"] == "pass" and status["BC-4-9"] == "not checked"
    assert status["BC-2-10"] == "fail"  # no `digitize export` yet: the DA/T 46 files are missing
    gd = {r.check_id for r in run_checks(QcRequest(clean_out, jobs=2, verify_masters=False)).results}
    assert "GD-1-8" in gd and not any(i.startswith("GD-") and i.split("-", 1)[1] in ("1-15", "2-10", "3-5") for i in gd)


# ------------------------------------------------------------------------------------- mutations
def test_flipped_byte_in_a_pdf_fails_fixity(clean_out, tmp_path):
    out = copy_out(clean_out, tmp_path)
    pdf = out / "documents" / CLEAN / f"{CLEAN}.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    pdf.write_bytes(bytes(data))
    run = run_checks(QcRequest(out, jobs=2))
    fixity = failing(run.results, "output_fixity")
    assert [r.file for r in fixity] == [f"documents/{CLEAN}/{CLEAN}.pdf"]
    assert fixity[0].check_id == "GD-1-14" and fixity[0].defect == "fixity_mismatch"


def test_deleted_file_fails_and_extra_file_fails(clean_out, tmp_path):
    out = copy_out(clean_out, tmp_path)
    exported = cli("export", str(out))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    alto = out / "documents" / CLEAN / "ocr" / f"{CLEAN}-0002.alto.xml"
    alto.unlink()
    (out / "documents" / CLEAN / "ocr" / f"{CLEAN}-0001.alto.xml").write_bytes(b"<alto><unclosed>")
    with (out / "documents" / CLEAN / f"{CLEAN}.pdf").open("ab") as fh:
        fh.write(b"\n")
    (out / "documents" / CLEAN / "notes.txt").write_text("not part of the package", encoding="utf-8")
    run = run_checks(QcRequest(out, stage="YJ", jobs=2))
    fixity = {(r.check_id, r.defect, r.file) for r in failing(run.results, "output_fixity")}
    assert ("YJ-1-14", "file_missing", f"documents/{CLEAN}/ocr/{CLEAN}-0002.alto.xml") in fixity
    assert ("YJ-1-14", "fixity_mismatch", f"documents/{CLEAN}/{CLEAN}.pdf") in fixity
    assert [r.check_id for r in failing(run.results, "electronic_attributes")] == ["YJ-1-10"]  # PDF size
    assert [r.file for r in failing(run.results, "metadata_readable")] == [
        f"documents/{CLEAN}/ocr/{CLEAN}-0001.alto.xml"
    ]
    assert failing(run.results, "package_structure")
    assert failing(run.results, "byte_count")
    extra = failing(run.results, "extra_files")
    assert [(r.check_id, r.file) for r in extra] == [
        ("YJ-4-3", f"documents/{CLEAN}/notes.txt")
    ]  # exports accounted for
    catalogue = [r for r in run.results if r.check == "catalogue_file"]
    assert [r.status for r in catalogue] == ["pass"] and "列出 1 件" in catalogue[0].evidence


def edit_xml(path: Path, *changes: tuple[str, str]) -> None:
    """Replace text in an exported XML file (each change must apply)."""
    text = path.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def test_metadata_in_the_package_is_judged_like_the_catalogue(clean_out, tmp_path):
    """GD-1-2 … 1-8 b): the DA/T 46 records and the 目录文件 export wrote, parsed back, meet the
    catalogue's rules: a calendar date the schema lets through (20200230), a 机构或问题 element
    that disagrees with the record's 档号, a special character in the 目录文件."""
    before = run_checks(QcRequest(clean_out, jobs=2, verify_masters=False))
    would_write = [r.check_id for r in before.results if r.status == "pass" and "尚未导出" in r.evidence]
    assert would_write == [f"GD-1-{n}" for n in range(2, 9)]  # before export: what export would write
    out = copy_out(clean_out, tmp_path)
    assert cli("export", str(out)).returncode == 0
    record = f"documents/{CLEAN}/{CLEAN}.xml"
    edit_xml(out / record, ("<日期>20200312</日期>", "<日期>20200230</日期>"), ("<机构或问题>BGS<", "<机构或问题>ZJ<"))
    edit_xml(out / "catalog" / "目录文件.xml", ("<题名>关于", "<题名>★关于"))
    run = run_checks(QcRequest(out, jobs=2, verify_masters=False))
    found = {(r.check_id, r.status, r.defect, r.file) for r in run.results if r.status in ("fail", "warn")}
    assert {
        ("GD-1-3", "fail", "date_format", record),
        ("GD-1-5", "fail", "code_field_mismatch", record),
        ("GD-1-6", "warn", "special_char", "catalog/目录文件.xml"),
    } <= found
    assert not [r for r in run.results if r.check_id == "GD-3-1" and r.status == "fail"]  # schema-valid all the same
    assert next(r for r in run.results if r.check_id == "GD-1-7").evidence == (
        "已检查目录 " + str(clean_out.parent / "batch" / "catalog.csv") + " 的 1 条"
    )


def exported_record(clean_out: Path, tmp_path: Path, check: str) -> tuple[Path, Path]:
    """A copy of the clean output exported with the profile, on which `check` passes: (OUT, the DA/T 46 record)."""
    out = copy_out(clean_out, tmp_path)
    assert cli("export", str(out), "--profile", str(PROFILE)).returncode == 0
    run = run_checks(QcRequest(out, SETTINGS, jobs=2, verify_masters=False))
    assert [r.status for r in run.results if r.check == check] == ["pass"], [
        r.evidence for r in run.results if r.check == check
    ]
    return out, out / "documents" / CLEAN / f"{CLEAN}.xml"


def test_a_record_that_lacks_elements_fails_element_completeness(clean_out, tmp_path):
    """GD-2-3: a DA/T 46 record whose 档号 carries only 保管期限 and which has no 来源 (what the
    export once wrote), and one that lost an element export gives it (a second 扫描色彩模式), fail;
    the record export would write passes, and without the profile's [archive] it lacks 来源."""
    out, record = exported_record(clean_out, tmp_path, "element_completeness")
    text = record.read_text(encoding="utf-8")
    text = re.sub(r"<来源>.*?</来源>", "", text, flags=re.S)
    text = re.sub(r"<档号>.*?</档号>", "<档号><保管期限>永久</保管期限></档号>", text, flags=re.S)
    record.write_text(text.replace("<扫描色彩模式>灰度</扫描色彩模式>", ""), encoding="utf-8")
    run = run_checks(QcRequest(out, SETTINGS, jobs=2, verify_masters=False))
    (finding,) = failing(run.results, "element_completeness")
    assert finding.check_id == "GD-2-3" and finding.file == f"documents/{CLEAN}/{CLEAN}.xml"
    for element in ("来源/立档单位名称 或 全宗名称", "档号/全宗号", "档号/年度", "档号/机构或问题", "档号/室编件号"):
        assert f"文件实体/{element}（" in finding.evidence, element
    assert "文件实体/数字化属性/扫描色彩模式（按日志、目录和配置生成的记录有此项" in finding.evidence
    assert "档号/保管期限" not in finding.evidence
    bare = run_checks(QcRequest(clean_out, jobs=2, verify_masters=False))  # no export, no [archive]
    (unexported,) = failing(bare.results, "element_completeness")
    assert "尚未导出" in unexported.evidence and "[archive] creating_unit" in unexported.evidence


def test_missing_process_information_fails(clean_out, tmp_path):
    """GD-2-5: a processing step missing from the journal (page 2's OCR event deleted), a journal
    event without its 业务实体 in the record, and a 业务实体 without 行为时间 each fail."""
    out, record = exported_record(clean_out, tmp_path, "process_information")
    text = record.read_text(encoding="utf-8")
    dropped = re.search(r"<业务实体>\s*<业务标识符>(event-\d+)</业务标识符>.*?</业务实体>", text, flags=re.S)
    assert dropped is not None
    text = text.replace(dropped.group(0), "", 1)
    text = re.sub(r"<行为时间>[^<]*</行为时间>", "", text, count=1)
    record.write_text(text, encoding="utf-8")
    db = sqlite3.connect(out / "journal.sqlite")
    assert db.execute(f"DELETE FROM events WHERE object = '{CLEAN}/0002' AND detail LIKE '%\"step\":\"OCR\"%'").rowcount
    db.commit()
    db.close()
    run = run_checks(QcRequest(out, SETTINGS, jobs=2, verify_masters=False))
    (finding,) = failing(run.results, "process_information")
    assert finding.check_id == "GD-2-5" and finding.document == CLEAN
    assert "日志：第 2 页没有 OCR 事件" in finding.evidence
    assert f"日志的处理事件 {dropped.group(1)} 没有对应的业务实体" in finding.evidence
    assert "缺少行为时间" in finding.evidence


def test_recorded_software_environment_is_checked(clean_out, tmp_path):
    """GD-3-6: 文档创建程序 other than the software the journal says made the file, a missing
    信息系统描述 and a format that needs particular software fail."""
    out, record = exported_record(clean_out, tmp_path, "environment")
    text = record.read_text(encoding="utf-8")
    assert "<文档创建程序>digitize " in text and "; OCR " in text  # the process run's software and OCR engine
    text = re.sub(r"<文档创建程序>[^<]*<", "<文档创建程序>Adobe Acrobat Pro DC<", text, count=1)
    text = re.sub(r"<信息系统描述>[^<]*</信息系统描述>", "", text, count=1)
    record.write_text(re.sub(r"<格式信息>[^<]*<", "<格式信息>TIFF 6.0 (image/tiff)<", text, count=1), encoding="utf-8")
    run = run_checks(QcRequest(out, SETTINGS, jobs=2, verify_masters=False))
    (finding,) = failing(run.results, "environment")
    assert finding.check_id == "GD-3-6"
    assert "文档创建程序为 'Adobe Acrobat Pro DC'，但日志记录由 'digitize" in finding.evidence
    assert "缺少信息系统描述" in finding.evidence and "不是开放的版式格式" in finding.evidence


def test_a_broken_or_missing_event_chain_fails_operation_security(clean_out, tmp_path):
    """GD-4-7: the journal's hash chain must exist and be intact; classified records kept apart
    must be owner-only."""
    intact = run_checks(QcRequest(clean_out, SETTINGS, jobs=2, verify_masters=False))
    assert [r.status for r in intact.results if r.check == "operation_security"] == ["pass"]

    def operation_security(out: Path) -> list:
        run = run_checks(QcRequest(out, SETTINGS, jobs=2, verify_masters=False))
        return [(r.check_id, r.defect) for r in failing(run.results, "operation_security")]

    broken = copy_out(clean_out, tmp_path / "broken")
    db = sqlite3.connect(broken / "journal.sqlite")
    assert db.execute("UPDATE events SET outcome = 'failure' WHERE seq = 2").rowcount == 1
    db.commit()
    db.close()
    assert operation_security(broken) == [("GD-4-7", "journal_chain_broken")]

    missing = copy_out(clean_out, tmp_path / "missing")
    db = sqlite3.connect(missing / "journal.sqlite")
    db.execute("DELETE FROM events")
    db.commit()
    db.close()
    assert operation_security(missing) == [("GD-4-7", "journal_chain_missing")]

    opened = copy_out(clean_out, tmp_path / "opened")
    (opened / "protected").mkdir(mode=0o755)
    (opened / "protected").chmod(0o755)
    assert operation_security(opened) == [("GD-4-7", "protected_open")]


def test_fonds_and_category_codes_are_those_the_archives_requires(clean_out, tmp_path):
    """YJ-1-9 (transfer only): 全宗号 and 门类 code of the database and of the DA/T 46 record follow
    the 档号 rules and are those the receiving archives requires ([archive] fonds_ids, category_codes);
    not configured, the comparison is "not checked"."""

    def codes(out: Path, stage: str = "YJ", **archive: list[str]) -> list:
        settings = SETTINGS.replace("archive", **archive) if archive else SETTINGS
        run = run_checks(QcRequest(out, settings, stage=stage, jobs=2, verify_masters=False))
        return [(r.check_id, r.status, r.evidence.split("：")[0]) for r in run.results if r.check == "archives_codes"]

    assert [(i, s) for i, s, _ in codes(clean_out)] == [("YJ-1-9", "pass"), ("YJ-1-9", "not checked")]
    assert codes(clean_out, stage="GD") == []
    assert [(i, s) for i, s, _ in codes(clean_out, fonds_ids=["J099"], category_codes=["SB"])] == [("YJ-1-9", "pass")]
    assert codes(clean_out, fonds_ids=["J099"], category_codes=["WS"]) == [("YJ-1-9", "fail", "门类代码 SB（数据库）")]
    out, record = exported_record(clean_out, tmp_path, "element_completeness")
    edit_xml(record, ("<全宗号>J099</全宗号>", "<全宗号>X99</全宗号>"))
    assert codes(out, fonds_ids=["J099"], category_codes=["SB"]) == [
        ("YJ-1-9", "fail", f"全宗号 X99（documents/{CLEAN}/{CLEAN}.xml）")
    ]


def test_retention_period_is_checked_against_the_schedule(clean_out):
    """GD-2-9: the record's 保管期限 (永久) against the profile's [retention] schedule: not allowed by
    the item that covers it fails, allowed passes, covered by no item warns; no schedule is "not
    checked", never a pass; YJ has no 2-9 (Annex A)."""

    def retention(*rules: dict) -> list:
        settings = SETTINGS.replace("retention", schedule="测试单位保管期限表", rules=list(rules))
        run = run_checks(QcRequest(clean_out, settings, jobs=2, verify_masters=False))
        return [(r.check_id, r.status, r.defect) for r in run.results if r.check == "retention_schedule"]

    assert retention() == [("GD-2-9", "not checked", None)]
    notice = {"item": "业务档案工作通知", "keywords": ["工作通知", "归档的通知"], "periods": ["30年", "定期30年"]}
    assert retention(notice, {"category": "SB", "periods": ["永久"]}) == [("GD-2-9", "fail", "retention_not_allowed")]
    assert retention({"category": "SB", "org": "BGS", "periods": ["永久", "100年"]}, notice) == [
        ("GD-2-9", "pass", None)
    ]
    assert retention({"category": "WS", "periods": ["永久"]}, {"org": "ZJ", "periods": ["永久"]}) == [
        ("GD-2-9", "warn", "outside_schedule")
    ]
    schedule = SETTINGS.replace("retention", rules=[notice])
    transfer = run_checks(QcRequest(clean_out, schedule, stage="YJ", jobs=2, verify_masters=False))
    assert not [r for r in transfer.results if r.check == "retention_schedule"]


def test_retention_rules_are_checked_when_the_profile_is_read(tmp_path):
    profile = tmp_path / "profile.toml"
    profile.write_text('[[retention.rules]]\nitem = "工伤认定材料"\nperiod = ["50年"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="unknown setting period"):
        load_settings(profile)
    profile.write_text('[[retention.rules]]\nkeywords = ["工伤认定"]\nperiods = "50年"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="periods must be a list"):
        load_settings(profile)


def test_exported_record_of_a_catalogue_row_without_scans_is_no_extra_file(defect_out, tmp_path):
    """GD-4-3: the DA/T 46 record `export` writes for a catalogue row that has no scans is accounted for."""
    out = copy_out(defect_out, tmp_path)
    cli("export", str(out))  # exit 1: the scan without a catalogue row has no 题名; the others are written
    assert (out / "documents" / ROW_ONLY / f"{ROW_ONLY}.xml").is_file()
    run = run_checks(QcRequest(out, jobs=2, verify_masters=False))
    assert failing(run.results, "extra_files") == []


def test_red_seal_page_stored_grey_fails_colour_mode(clean_out, tmp_path):
    out = copy_out(clean_out, tmp_path)
    pdf_path = out / "documents" / CLEAN / f"{CLEAN}.pdf"
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0]
        name, stream = next(iter(page.get_images().items()))
        colour = np.array(pikepdf.PdfImage(stream).as_pil_image().convert("L"))
        ok, jpeg = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 70])
        assert ok and str(pikepdf.PdfImage(stream).colorspace) == "/DeviceRGB"
        stream.write(jpeg.tobytes(), filter=pikepdf.Name.DCTDecode)
        stream.ColorSpace = pikepdf.Name.DeviceGray
        pdf.save(pdf_path)
    run = run_checks(QcRequest(out, jobs=2))
    colour_fails = failing(run.results, "colour_mode")
    assert [(r.check_id, r.object) for r in colour_fails] == [("DA/T 31 §9.3", f"{CLEAN}/0001")]
    assert "印章" in colour_fails[0].evidence and "灰度" in colour_fails[0].evidence


def test_virus_scan_hook(clean_out, tmp_path):
    out = copy_out(clean_out, tmp_path)
    fake = tmp_path / "bin" / "clamscan"
    fake.parent.mkdir()
    victim = out / "documents" / CLEAN / f"{CLEAN}.pdf"
    fake.write_text(
        f"#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'ClamAV 1.0.0'; exit 0; fi\n"
        f"echo '{victim}: Eicar-Test-Signature FOUND'\nexit 1\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    run = run_checks(QcRequest(out, jobs=1, virus_scanner=str(fake)))
    virus = failing(run.results, "virus")
    assert [(r.check_id, r.file) for r in virus] == [("GD-4-2", f"documents/{CLEAN}/{CLEAN}.pdf")]
    assert next(r for r in run.results if r.check == "antivirus").status == "pass"
    if shutil.which("clamscan") is None:
        plain = run_checks(QcRequest(out, jobs=1))
        assert next(r for r in plain.results if r.check == "virus").status == "not checked"


# ------------------------------------------------------------------------------------- sampling, verdict, CLI
def test_decisions_give_the_lot_verdict_and_exit_codes(clean_out, tmp_path):
    out = copy_out(clean_out, tmp_path)
    first = cli("qc", str(out), "--jobs", "2", "--profile", str(PROFILE))
    assert first.returncode == 4, first.stdout + first.stderr  # checks pass, decisions missing
    report = json.loads((out / "qc" / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "pending" and report["automated"]["status"] == "pass"
    with (out / "qc" / "sample.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["item_id"] for row in rows] == [CLEAN]
    for row in rows:
        row.update(decision="pass", inspector="王芳")
    filled = tmp_path / "decisions.csv"
    with filled.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    accepted = cli("qc", str(out), "--record", str(filled), "--json", "--jobs", "2", "--profile", str(PROFILE))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    data = json.loads(accepted.stdout)
    assert data["verdict"] == "pass" and data["sampling"]["status"] == "accept"
    # what the hand-off reads: verdict, plan, generated, and one line per check item
    assert data["plan"].startswith("DA/T 31 ratio") and data["generated"]
    assert {"item": "GD-1-14", "result": "pass"}.items() <= next(
        c for c in data["checks"] if c["item"] == "GD-1-14"
    ).items()
    journal = read_journal(out)
    event = [e for e in journal.events if e.object == "batch"][-1]
    assert journal.chain.intact
    assert event.type == "validation" and event.outcome == "success" and event.detail["verdict"] == "pass"

    rows[0].update(decision="fail", defect_type="blur", defect_class="major")
    with filled.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    rejected = cli(
        "qc",
        str(out),
        "--record",
        str(filled),
        "--aql",
        "1.0",
        "--level",
        "II",
        "--jobs",
        "2",
        "--profile",
        str(PROFILE),
    )
    assert rejected.returncode == 4
    report = json.loads((out / "qc" / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "fail" and report["sampling"]["status"] == "reject"
    assert report["plan"].startswith("ISO 2859-1")

    assert cli("qc", str(out), "--ratio", "2").returncode == 2
    assert cli("qc", str(tmp_path)).returncode == 2  # no journal


def test_critical_documents_are_inspected_and_judged(defect_out):
    outcome = prepare(QcRequest(defect_out, jobs=2))
    assert {FORMS, GAPPED} <= set(outcome.sample.critical)
    decisions = [Decision(item, "pass", inspector="李明") for item in outcome.sample.items]
    judge(outcome, decisions)
    assert outcome.lot.status == "accept" and outcome.verdict == "fail"  # the automated findings still fail it
    decisions = [
        Decision(
            item,
            "fail" if item == FORMS else "pass",
            "duplicate_page" if item == FORMS else "",
            "critical" if item == FORMS else "",
            "李明",
        )
        for item in outcome.sample.items
    ]
    judge(outcome, decisions)
    assert FORMS in outcome.lot.critical_failed


def test_report_html_verdict_is_readable(defect_out, tmp_path):
    assert shutil.which("chromium"), "chromium is needed to render the report (scripts/bootstrap.sh --dev installs it)"
    html = (defect_out / "qc" / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "<script" not in html
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,700",
            f"--screenshot={shot}",
            (defect_out / "qc" / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file()
    ocr = subprocess.run(
        ["tesseract", str(shot), "-", "-l", "eng", "--psm", "3"], capture_output=True, text=True, timeout=120
    ).stdout
    assert "QC verdict: FAIL" in ocr, ocr[:500]
    checks = (defect_out / "qc" / "checks.csv").read_text(encoding="utf-8-sig")
    assert checks.startswith("check_id,check,title,status")


# ------------------------------------------------------------------------------------- measurements
def test_blur_measure_separates_sharp_from_out_of_focus():
    sharp = plain_page()
    blurred = cv2.GaussianBlur(sharp, (0, 0), 6.0)
    settings = Settings().qc
    assert iq.edge_width(sharp, 300).width_px < settings.blur_warn_edge_px
    assert iq.edge_width(blurred, 300).width_px > settings.blur_fail_edge_px
    assert iq.edge_width(blank_page(), 300).width_px is None  # nothing to judge on an empty page


def test_colour_content_and_skew_measures():
    assert iq.colour_content(letter_page(), 300).needs_colour
    assert not iq.colour_content(cv2.cvtColor(plain_page(), cv2.COLOR_GRAY2BGR), 300).needs_colour
    page = plain_page()
    h, w = page.shape
    turned = cv2.warpAffine(page, cv2.getRotationMatrix2D((w / 2, h / 2), 2.0, 1.0), (w, h), borderValue=243)
    estimate = iq.estimate_skew(turned, 300)
    assert estimate is not None and abs(estimate.angle_deg - 2.0) < 0.2  # positive: lines rise to the right


def test_found_defects_uses_the_eval_kit_format(defect_out):
    found = found_defects(json.loads((defect_out / "qc" / "report.json").read_text(encoding="utf-8"))["results"])
    low = next(f for f in found if f["type"] == "low_dpi")
    assert low == {"type": "low_dpi", "doc_id": GAPPED, "page_id": f"{GAPPED}/0001", "file": f"{GAPPED}/0001.tif"}
