"""The command line as a new user meets it: exit codes, status, a catalogue given late or not at all,
an output folder inside the batch, hand-off and export of documents no catalogue row describes.

One small batch (three one-page documents, Latin text so that OCR with `eng` is quick) is
processed once WITHOUT its catalogue, as a user who forgot `--catalog` would; tests work on
copies of that output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image

from digitize.journal import Journal, RunStatus, read_journal
from digitize.ofd import check_ofd
from digitize.qc.decisions import DecisionRecord, SignOff
from digitize.settings import Settings
from metadata.catalog import CatalogError, read_catalog

ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
PROFILE = Path(__file__).parent / "data" / "handoff" / "profile.toml"  # 立档单位 for the DA/T 93 package
DESCRIBED = "J099-WS·2020-Y-BGS-0001"
LOW_DPI = "J099-WS·2020-Y-BGS-0002"
ROW_ONLY = "J099-WS·2020-Y-BGS-0003"
NO_ROW = "J099-WS·2020-Y-BGS-0009"
TITLES = {DESCRIBED: "关于社会保险业务档案归档的通知", LOW_DPI: "社会保险个人缴费明细表", ROW_ONLY: "参保登记表"}
HEADER = "档号,题名,责任者,日期,页数,密级,保管期限,开放标识,备注"
LINES = [
    "Notice on the archiving of social insurance records",
    "All insured units shall hand over the business records",
    "of the past year before the end of March.",
]


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], capture_output=True, text=True, env=ENV)


def page(dpi: int) -> np.ndarray:
    scale = dpi / 300
    image = np.full((int(2480 * scale), int(1748 * scale)), 243, np.uint8)
    for n, line in enumerate(LINES):
        cv2.putText(
            image, line, (int(150 * scale), int((400 + 90 * n) * scale)), cv2.FONT_HERSHEY_DUPLEX, 1.3 * scale, 20, 2
        )
    return image


def save_page(path: Path, dpi: int = 300) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(page(dpi)).save(path, dpi=(dpi, dpi))


def copy_out(out: Path, tmp_path: Path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(out, target)
    return target


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """Three documents (one at 150 dpi, one without a catalogue row) and BATCH/catalog.csv with a
    row that has no scans, processed without --catalog."""
    root = tmp_path_factory.mktemp("cli")
    batch = root / "batch"
    save_page(batch / DESCRIBED / "0001.png")
    save_page(batch / LOW_DPI / "0001.png", dpi=150)
    save_page(batch / NO_ROW / "0001.png")
    rows = [f"{code},{title},杭州市社会保险基金管理中心,20200312,1,内部,永久,开放," for code, title in TITLES.items()]
    (batch / "catalog.csv").write_text("\ufeff" + "\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    out = root / "out"
    result = cli("process", batch, "--out", out, "-l", "eng", "--jobs", "2", "--no-progress")
    return {"batch": batch, "out": out, "result": result}


def process_again(tiny: dict, out: Path, *options: str | Path) -> subprocess.CompletedProcess:
    return cli("process", tiny["batch"], "--out", out, "-l", "eng", "--jobs", "2", *options)


# ------------------------------------------------------------------------------------- exit codes
def test_error_findings_are_never_exit_0_and_are_logged(tiny):
    result = tiny["result"]
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"ERROR [DA/T 31 §9.4] {LOW_DPI} page 1" in result.stdout
    log = (tiny["out"] / "logs" / "digitize.log").read_text(encoding="utf-8")
    assert f"ERROR [DA/T 31 §9.4] {LOW_DPI} page 1" in log
    assert "catalog.csv looks like a catalogue" in log
    assert "ERROR [DA/T 31" not in result.stderr  # printed once, on stdout


def test_a_rerun_reports_the_same_findings_and_draws_no_bar_into_a_log(tiny, tmp_path):
    out = copy_out(tiny["out"], tmp_path)
    again = process_again(tiny, out, "--json")  # progress bar not switched off: stderr is not a terminal
    summary = json.loads(again.stdout)
    assert summary["documents_skipped"] == 3 and summary["pages_processed"] == 0
    assert [f["code"] for f in summary["findings"]] == ["low_dpi"]
    assert again.returncode == 4
    assert "Processing" not in again.stderr and "\r" not in again.stderr


def test_the_exit_rule_is_in_every_help():
    text = cli("--help").stdout
    assert "Exit codes (the same rule for every command" in text and "4  done, but something needs attention" in text
    for command in (
        "process",
        "status",
        "export",
        "stats",
        "qc",
        "handoff",
        "verify",
        "index",
        "search",
        "serve",
        "users",
    ):
        assert "Exit codes:" in cli(command, "--help").stdout, command


# ------------------------------------------------------------------------------------- status
def test_status_lists_open_findings_and_unfinished_runs(tiny, tmp_path):
    out = copy_out(tiny["out"], tmp_path)
    result = cli("status", out)
    assert result.returncode == 4
    assert "Open findings (1 errors" in result.stdout and f"ERROR [DA/T 31 §9.4] {LOW_DPI} page 1" in result.stdout
    assert "QC: not run yet" in result.stdout
    with Journal(out / "journal.sqlite") as journal:
        args = {"command": "digitize process", "batch": "b", "catalog": None, "settings": {}, "software": "x"}
        journal.start_run(**args, engine="e", jobs=1)  # left "running" by a process that died
        interrupted = journal.start_run(**args, engine="e", jobs=1)
        journal.finish_run(interrupted, RunStatus.INTERRUPTED, {})
    result = cli("status", out)
    assert result.returncode == 5, result.stdout
    assert "stopped without a word" in result.stdout
    assert f"Run {interrupted} " in result.stdout and "interrupted; run the same command again" in result.stdout
    data = json.loads(cli("status", out, "--json").stdout)
    assert [r["status"] for r in data["unfinished_runs"]] == ["interrupted", "interrupted"]  # marked by the next
    assert [f["code"] for f in data["findings"]] == ["low_dpi"]


# ------------------------------------------------------------------------------------- the catalogue, late
def test_a_batch_is_linked_to_its_catalogue_later_without_ocr(tiny, tmp_path):
    out = copy_out(tiny["out"], tmp_path)
    result = process_again(tiny, out, "--catalog", tiny["batch"] / "catalog.csv", "--json")
    summary = json.loads(result.stdout)
    assert summary["pages_processed"] == 0 and summary["documents_relinked"] == 2
    assert {f["code"] for f in summary["findings"]} == {"low_dpi", "row_without_scan", "scan_without_row"}
    assert result.returncode == 4
    journal = read_journal(out)
    assert {d.archival_code: d.title for d in journal.documents} == {
        DESCRIBED: TITLES[DESCRIBED],
        LOW_DPI: TITLES[LOW_DPI],
        NO_ROW: None,
    }
    with pikepdf.open(out / "documents" / DESCRIBED / f"{DESCRIBED}.pdf") as pdf:
        assert TITLES[DESCRIBED] in str(pdf.open_metadata())
        assert pdf.open_metadata()["pdfaid:part"] == "2"
    assert cli("verify", out).returncode == 0  # the journal follows the relabelled PDFs
    catalogue = "catalog" + "/目录文件.xml"
    exported = cli("export", out, "-f", "dat93")  # the catalogue of that run, by default
    assert exported.returncode == 4 and NO_ROW in exported.stdout and "INVALID" not in exported.stdout
    assert TITLES[DESCRIBED] in (out / catalogue).read_text(encoding="utf-8")
    again = process_again(tiny, out, "--json")  # the previous run's catalogue, no relabelling
    assert json.loads(again.stdout)["documents_relinked"] == 0 and "Catalogue:" not in again.stdout


def test_an_ofd_only_batch_is_linked_to_its_catalogue_later(tmp_path):
    """The OFD (no PDF/A beside it) gets the catalogue's 题名 and fields in its DocInfo, still validates,
    and the journal follows it."""
    batch, out = tmp_path / "batch", tmp_path / "out"
    save_page(batch / DESCRIBED / "0001.png")
    row = f"{DESCRIBED},{TITLES[DESCRIBED]},杭州市社会保险基金管理中心,20200312,1,内部,永久,开放,"
    (batch / "catalog.csv").write_text("\ufeff" + "\n".join([HEADER, row]) + "\n", encoding="utf-8")
    first = ("process", batch, "--out", out, "-l", "eng", "--jobs", "2", "--format", "ofd")
    assert cli(*first).returncode == 0
    ofd = out / "documents" / DESCRIBED / f"{DESCRIBED}.ofd"
    result = cli(*first, "--catalog", batch / "catalog.csv", "--json")
    assert json.loads(result.stdout)["documents_relinked"] == 1, result.stdout + result.stderr
    with zipfile.ZipFile(ofd) as package:
        info = package.read("OFD.xml").decode("utf-8")
    assert f"<ofd:Title>{TITLES[DESCRIBED]}</ofd:Title>" in info and '<ofd:CustomData Name="保管期限">永久<' in info
    assert check_ofd(ofd)[1] == []
    assert cli("verify", out).returncode == 0  # the journal follows the relabelled OFD


def test_export_with_a_catalogue_given_late_and_without_one(tiny, tmp_path):
    out = copy_out(tiny["out"], tmp_path)
    bare = cli("export", out, "-f", "dat93", "-f", "dat46")
    assert bare.returncode == 4, bare.stdout + bare.stderr
    assert "INVALID" not in bare.stdout and "minLength" not in bare.stdout
    assert "no catalogue row" in bare.stdout and "--catalog" in bare.stdout
    given = cli("export", out, "-f", "dat93", "--catalog", tiny["batch"] / "catalog.csv", "--json")
    report = json.loads(given.stdout)
    assert given.returncode == 4 and report["undescribed"] == [NO_ROW]
    assert sorted(report["described_anew"]) == [DESCRIBED, LOW_DPI]
    text = (out / "catalog" / "目录文件.xml").read_text(encoding="utf-8")
    assert all(title in text for title in TITLES.values()) and NO_ROW not in text


def test_handoff_of_a_folder_without_a_catalogue_row(tiny, tmp_path):
    out = copy_out(tiny["out"], tmp_path)
    process_again(tiny, out, "--catalog", tiny["batch"] / "catalog.csv")
    refused = cli("handoff", out, "--to", tmp_path / "refused", "--format", "dat93", "--profile", PROFILE)
    assert refused.returncode == 4
    assert "1 document(s) have no catalogue row" in refused.stderr and NO_ROW in refused.stderr
    dest = tmp_path / "package"
    forced = cli(
        "handoff",
        out,
        "--to",
        dest,
        "--format",
        "dat93",
        "--force",
        "--reason",
        "档案室同意",
        "--profile",
        PROFILE,
        "--json",
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    result = json.loads(forced.stdout)
    assert result["documents"] == 2
    assert [(d["archival_code"], "no catalogue row" in d["reason"]) for d in result["left_out"]] == [(NO_ROW, True)]
    assert cli("verify", dest).returncode == 0
    event = [e for e in read_journal(out).events if e.detail.get("step") == "hand-off QC gate"][-1]
    assert event.detail["left_out_without_catalogue_row"] == [NO_ROW]


# ------------------------------------------------------------------------------------- OUT and BATCH
def test_an_output_folder_inside_the_batch_is_not_a_document(tmp_path):
    batch = tmp_path / "batch"
    (batch / "out").mkdir(parents=True)
    first = cli("process", batch, "--out", batch / "out", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    again = cli("process", batch, "--out", batch / "out", "--json")  # now out/ holds a journal and logs/
    summary = json.loads(again.stdout)
    assert again.returncode == 0 and summary["documents"] == 0 and summary["failures"] == []
    assert any("not processed as a document" in w for w in summary["warnings"])
    assert cli("process", batch, "--out", batch).returncode == 2
    (batch / "DOC").mkdir()
    assert cli("process", batch, "--out", batch / "DOC" / "out").returncode == 2
    assert not (batch / "logs").exists()


# ------------------------------------------------------------------------------------- catalogues
def test_an_xlsx_catalogue_with_a_title_row(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["归档文件目录"])
    sheet.merge_cells("A1:H1")
    sheet.append(HEADER.split(","))
    sheet.append([DESCRIBED, TITLES[DESCRIBED], "杭州市社会保险基金管理中心", 20200312, 1, "内部", "永久", "开放"])
    workbook.save(tmp_path / "titled.xlsx")
    catalog = read_catalog(tmp_path / "titled.xlsx", Settings())
    assert [r.get("title") for r in catalog.records] == [TITLES[DESCRIBED]] and catalog.records[0].row == 3
    assert [p.code for p in catalog.problems] == ["header_row"] and "header_row = 2" in catalog.problems[0].message
    sheet.delete_rows(2)  # no header row at all: the error says where to set it
    workbook.save(tmp_path / "headless.xlsx")
    with pytest.raises(CatalogError, match="header_row in the \\[catalog\\] section"):
        read_catalog(tmp_path / "headless.xlsx", Settings())


# ------------------------------------------------------------------------------------- qc
def run_on_terminal(*args: str | Path) -> tuple[int, str]:
    """Run the command line with stderr on a pseudo-terminal; its exit code and what the terminal showed."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # rows, columns
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *map(str, args)], stdout=subprocess.DEVNULL, stderr=slave, env=ENV
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return process.wait(), shown.decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def checked(tiny, tmp_path_factory) -> Path:
    """The small batch after `qc --aql 1.0`: measurements kept, the plan remembered."""
    out = tmp_path_factory.mktemp("checked") / "out"
    shutil.copytree(tiny["out"], out)
    result = cli("qc", out, "--aql", "1.0", "--jobs", "2")
    assert result.returncode == 4, result.stdout + result.stderr  # a 150-dpi page fails it
    return out


def report(out: Path) -> dict:
    return json.loads((out / "qc" / "report.json").read_text(encoding="utf-8"))


def test_qc_keeps_measurements_and_the_sampling_plan(checked, tmp_path):
    out = copy_out(checked, tmp_path)
    first = report(out)
    assert first["measurements"] == {"measured": 3, "reused": 0}
    assert first["plan"].startswith("ISO 2859-1")
    again = cli("qc", out, "--jobs", "2")  # no sampling options: the plan of the previous run
    assert again.returncode == 4 and "Sampling plan of the previous qc run: ISO 2859-1" in again.stdout
    second = report(out)
    assert second["measurements"] == {"measured": 0, "reused": 3}
    assert second["plan"] == first["plan"] and second["sampling"]["random"] == first["sampling"]["random"]
    assert [r for r in second["results"] if r["status"] == "fail"] == [
        r for r in first["results"] if r["status"] == "fail"
    ]
    pdf = out / "documents" / DESCRIBED / f"{DESCRIBED}.pdf"
    os.utime(pdf, ns=(pdf.stat().st_atime_ns, pdf.stat().st_mtime_ns + 10**9))  # touched: measured again
    cli("qc", out, "--jobs", "2", "--ratio", "0.5")
    third = report(out)
    assert third["measurements"] == {"measured": 1, "reused": 2} and third["plan"].startswith("DA/T 31 ratio")
    log = (out / "logs" / "digitize.log").read_text(encoding="utf-8")
    assert f"FAIL [DA/T 31 §9.4] {LOW_DPI}/0001" in log and "qc: verdict fail" in log
    assert cli("verify", out).returncode == 0  # the kept measurements are recorded with the QC files
    (out / "qc" / "measurements.json").write_text("{}", encoding="utf-8")
    edited = cli("verify", out)
    assert edited.returncode == 4 and "qc/measurements.json" in edited.stdout


def test_qc_shows_a_progress_bar_on_a_terminal_only(checked, tmp_path):
    out = copy_out(checked, tmp_path)
    code, shown = run_on_terminal("qc", out, "--jobs", "1", "--measure-again")
    assert code == 4 and "Measuring" in shown and "3/3" in shown
    redirected = cli("qc", out, "--jobs", "1")
    assert "Measuring" not in redirected.stderr and "\r" not in redirected.stderr


# ------------------------------------------------------------------------------------- spreadsheets
def sheets(path: Path) -> dict[str, list[tuple]]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets}
    finally:
        workbook.close()


def test_catalogue_findings_and_statistics_as_spreadsheets(checked, tiny, tmp_path):
    out = copy_out(checked, tmp_path)
    findings = sheets(out / "qc" / "checks.xlsx")
    assert any(row[1] == "DA/T 31 §9.4" and row[2] == LOW_DPI for row in findings["问题清单 findings"])
    exported = cli("export", out, "-f", "xlsx", "--catalog", tiny["batch"] / "catalog.csv")
    assert exported.returncode == 0, exported.stdout + exported.stderr
    (catalogue,) = sheets(out / "catalog" / "归档文件目录.xlsx").values()
    assert catalogue[0][:4] == ("档号", "文号", "责任者", "题名")
    rows = {row[0]: row for row in catalogue[1:]}
    assert rows[DESCRIBED][3] == TITLES[DESCRIBED] and rows[DESCRIBED][-2] == 1
    assert rows[ROW_ONLY][-1].startswith("未扫描") and rows[NO_ROW][-1].startswith("已扫描，无目录条目")
    stats = cli("stats", out, "--catalog", tiny["batch"] / "catalog.csv", "--xlsx", tmp_path / "stats.xlsx")
    assert stats.returncode == 4 and f"Scans missing: {ROW_ONLY}" in stats.stdout  # a row without scans
    assert sheets(tmp_path / "stats.xlsx")["缺扫 scans missing"][1][0] == ROW_ONLY
    status = cli("status", out, "--xlsx", tmp_path / "status.xlsx")
    assert status.returncode == 4
    assert sheets(tmp_path / "status.xlsx")["问题 findings"][1][1] == "DA/T 31 §9.4"
    assert cli("qc", out, "--jobs", "2").returncode == 4  # the workbook is an export QC knows
    assert not [r for r in report(out)["results"] if r["check"] == "extra_files" and r["status"] != "pass"]
    assert cli("verify", out).returncode == 0  # the workbooks of export and qc are recorded


def test_the_qc_report_reads_in_chinese_and_prints_on_a4_with_a_signoff_block(checked, tmp_path):
    assert shutil.which("chromium"), "chromium is needed to print the report (scripts/bootstrap.sh --dev installs it)"
    printed = tmp_path / "report.pdf"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer"]
        + [f"--print-to-pdf={printed}", (checked / "qc" / "report.html").as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    with pikepdf.open(printed) as pdf:
        width, height = (float(v) for v in pdf.pages[0].mediabox[2:])
        assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2  # A4, not Letter
    text = subprocess.run(["pdftotext", "-layout", printed, "-"], capture_output=True, text=True).stdout
    assert "扫描分辨率 150 dpi" in text and "要求不低于 200 dpi" in text  # evidence in Chinese
    assert "检查人" in text and "复核人" in text and "日期" in text  # sign-off block
    generated = report(checked)["generated"]
    assert re.search(r"Generated 生成时间\s+\d{4}-\d\d-\d\d \d\d:\d\d \(UTC[+-]\d\d:\d\d\)", text), generated
    out = copy_out(checked, tmp_path)
    DecisionRecord(out).add_signoff(SignOff("王芳", "李明", "2024-05-06", "15:20"), "web", "wangfang")
    cli("qc", out, "--jobs", "2")  # the sign-off recorded in the web review fills the block in
    html = (out / "qc" / "report.html").read_text(encoding="utf-8")
    block = html[html.index('id="signoff"') :]
    assert "王芳" in block and "李明" in block and "2024-05-06" in block


# ------------------------------------------------------------------------------------- decisions
def test_decisions_in_chinese_from_a_gbk_file(checked, tmp_path):
    out = copy_out(checked, tmp_path)
    items = report(out)["sampling"]["random"]
    assert len(items) == 3  # ISO 2859-1, AQL 1.0: a lot of 3 is inspected in full
    rows = ["档号,结论,缺陷类型,缺陷等级,检查人,备注"]
    rows += [f"{items[0]},合格,,,王芳,", f"{items[1]},不合格,图像歪斜,B类,王芳,第1页", f"{items[2]},通过,,,王芳,"]
    filled = tmp_path / "抽检结果.csv"
    filled.write_bytes(("\r\n".join(rows) + "\r\n").encode("gbk"))  # as a spreadsheet saves it on a Chinese system
    result = cli("qc", out, "--record", filled, "--json", "--jobs", "2")
    assert result.returncode == 4, result.stdout + result.stderr  # rejected: one nonconforming, Ac 0
    sampling = json.loads(result.stdout)["sampling"]
    assert [(d["item_id"], d["decision"], d["defect_type"], d["defect_class"]) for d in sampling["decisions"]] == [
        (items[0], "pass", "", ""),
        (items[1], "fail", "skew", "major"),
        (items[2], "pass", "", ""),
    ]
    assert sampling["status"] == "reject"


def test_interactive_decisions_take_nothing_for_granted(checked, tmp_path):
    from click.testing import CliRunner

    from cli import main

    out = copy_out(checked, tmp_path)
    first, second, third = report(out)["sampling"]["random"]
    answers = [
        "王芳",  # inspector
        "",  # Enter is no decision: asked again
        "合格",
        "",  # note
        "不合格",
        "blurry",  # not a defect type of the list: asked again
        "5",  # skew
        "",  # no class: asked again
        "B类",
        "第1页歪斜",
        "跳过",
        "y",  # confirm
    ]
    result = CliRunner().invoke(main, ["qc", str(out), "--interactive", "--jobs", "1"], input="\n".join(answers) + "\n")
    assert result.exit_code == 4, result.output
    assert "'blurry' is not a number from the list" in result.output
    decisions = report(out)["sampling"]["decisions"]
    assert [(d["item_id"], d["decision"], d["defect_type"], d["defect_class"], d["note"]) for d in decisions] == [
        (first, "pass", "", "", ""),
        (second, "fail", "skew", "major", "第1页歪斜"),
    ]
    recorded = DecisionRecord(out).entries()
    declined = CliRunner().invoke(
        main,
        ["qc", str(out), "--interactive", "--jobs", "1"],
        input="\n".join(["王芳", "不合格", "1", "A类", "", "合格", "", "合格", "", "n"]) + "\n",
    )
    assert "Nothing recorded" in declined.output and DecisionRecord(out).entries() == recorded
    assert [d["decision"] for d in report(out)["sampling"]["decisions"]] == ["pass", "fail"]  # as recorded before
