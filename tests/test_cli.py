"""The command line as a new user meets it: exit codes, status, a catalogue given late or not at all,
an output folder inside the batch, hand-off and export of documents no catalogue row describes.

One small batch (three one-page documents, Latin text so that OCR with `eng` is quick) is
processed once WITHOUT its catalogue, as a user who forgot `--catalog` would; tests work on
copies of that output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image

from digitize.journal import Journal, RunStatus, read_journal
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
    for command in ("process", "status", "export", "stats", "qc", "handoff", "verify"):
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
    assert [r["status"] for r in data["unfinished_runs"]] == ["running", "interrupted"]
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
