"""Hand-off packages (BagIt, DA/T 93, Archivematica) and their later verification.

One real `digitize process` run over two sample documents (one with a TIFF and a JPEG master,
one multi-page TIFF); every package is made from it with the real CLI, then damaged in copies
to show that `digitize verify` names what changed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import bagit
import pytest

from digitize.fsutil import sha256_file
from digitize.journal import Event, EventType, Journal, Outcome, read_journal
from digitize.xmlsafe import parse_file
from metadata.export.validate import validate as validate_xml
from tests.conftest import BOTH_FORMATS

ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
DOCS = ("J022-SB·2019-D30-BGS-0002", "J022-SB·2019-D30-ZJ-0001")
PROFILE = Path(__file__).parent / "data" / "handoff" / "profile.toml"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], capture_output=True, text=True, env=ENV)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def pass_qc(out: Path, tmp: Path) -> None:
    """`digitize qc` with the archive's profile, then the inspectors accept every sampled document: the lot passes."""
    assert run_cli("qc", out, "--json", "--profile", PROFILE).returncode == 4  # checks pass, decisions missing: pending
    with open(out / "qc" / "sample.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row.update(decision="pass", inspector="检查员甲")
    decisions = tmp / "decisions.csv"
    with open(decisions, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = json.loads(ok(run_cli("qc", out, "--record", decisions, "--json", "--profile", PROFILE)).stdout)
    assert report["verdict"] == "pass"


def leftovers(parent: Path, name: str) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name == name or p.name.startswith(f".{name}.partial-")]


def events(out: Path) -> list[Event]:
    return list(read_journal(out).events)


def two_document_batch(samples_dir: Path, base: Path) -> Path:
    """The sample documents DOCS and their catalogue rows, copied into base/batch."""
    batch = base / "batch"
    batch.mkdir()
    for name in DOCS:
        shutil.copytree(samples_dir / "batch" / name, batch / name)
    lines = (samples_dir / "batch" / "catalog.csv").read_text(encoding="utf-8-sig").splitlines()
    (batch / "catalog.csv").write_text(
        "\n".join([lines[0], *(row for row in lines if row.split(",")[0] in DOCS)]) + "\n", encoding="utf-8"
    )
    return batch


@pytest.fixture(scope="module")
def processed(samples_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("handoff")
    batch = two_document_batch(samples_dir, base)
    out = base / "out"
    # --dpi 300: one sample page is tagged 150 dpi, which QC (rightly) fails; the hand-off needs a pass
    ok(
        run_cli(
            "process",
            batch,
            "--catalog",
            batch / "catalog.csv",
            "--out",
            out,
            "--jobs",
            "2",
            "--dpi",
            "300",
            "--json",
            "--profile",
            PROFILE,
            *BOTH_FORMATS,  # PDF/A and OFD: every package carries both, and QC and verify check both
        )
    )
    pass_qc(out, base)
    plan = json.loads((out / "qc" / "report.json").read_text(encoding="utf-8"))["plan"]
    return {"base": base, "batch": batch, "out": out, "plan": plan}


@pytest.fixture(scope="module")
def bag(processed):
    dest = processed["base"] / "packages" / "bag"
    result = json.loads(ok(run_cli("handoff", processed["out"], "--to", dest, "--profile", PROFILE, "--json")).stdout)
    return {"dest": dest, "result": result}


def copy_of(path: Path, tmp_path: Path) -> Path:
    target = tmp_path / path.name
    shutil.copytree(path, target)
    return target


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# --------------------------------------------------------------------------- BagIt
def test_bag_is_valid_with_both_manifests_and_bagit_1_0(bag):
    dest = bag["dest"]
    assert bagit.Bag(str(dest)).validate() is True
    assert (dest / "bagit.txt").read_text(
        encoding="utf-8"
    ) == "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    for name in ("manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt", "tagmanifest-sha512.txt"):
        assert (dest / name).is_file()


def test_bag_payload_holds_masters_documents_catalogue_qc_and_journal(bag, processed):
    data = bag["dest"] / "data"
    zj, bgs = "J022-SB·2019-D30-ZJ-0001", "J022-SB·2019-D30-BGS-0002"
    assert sha256_file(data / "masters" / zj / "0001.tif") == sha256_file(processed["batch"] / zj / "0001.tif")
    assert (data / "masters" / zj / "0002.jpg").is_file()
    assert (data / "masters" / bgs / f"{bgs}.tif").is_file()
    for code in DOCS:
        for suffix in (".pdf", ".ofd"):
            assert sha256_file(data / "documents" / code / f"{code}{suffix}") == sha256_file(
                processed["out"] / "documents" / code / f"{code}{suffix}"
            )
        assert validate_xml("dat46", data / "documents" / code / f"{code}.xml") == []
        assert (data / "documents" / code / "ocr" / f"{code}-0001.alto.xml").is_file()
    assert validate_xml("dat93", data / "catalog" / "目录文件.xml") == []
    assert (data / "qc" / "report.json").is_file()
    # every file METS names resolves inside the bag, masters included, with the recorded checksum
    for mets in (data / "catalog" / "mets").glob("*.xml"):
        assert validate_xml("mets", mets) == []
        for file in parse_file(mets).getroot().iter("{http://www.loc.gov/METS/}file"):
            location = file.find("{http://www.loc.gov/METS/}FLocat")
            assert location.get("LOCTYPE") == "URL", file.get("ID")
            target = (mets.parent / unquote(location.get("{http://www.w3.org/1999/xlink}href"))).resolve()
            assert target.is_relative_to(data.resolve()) and sha256_file(target) == file.get("CHECKSUM")
    journal = data / "journal.sqlite"
    assert not (data / "journal.sqlite-wal").exists()
    with open(journal, "rb") as fh:
        header = fh.read(20)
    assert header[18:20] == b"\x01\x01"  # rollback journal mode: the copy is one self-contained file


def test_bag_info_names_batch_fonds_range_qc_and_journal_head(bag, processed):
    info = bagit.Bag(str(bag["dest"])).info
    assert info["Source-Organization"] == "杭州市社会保险事业管理局"
    assert info["Contact-Email"] == "dangan@example.org"
    assert info["Bagging-Date"] == dt.date.today().isoformat()
    assert info["External-Identifier"] == read_journal(processed["out"]).batch_id
    assert info["Bag-Group-Identifier"] == "J022"
    assert info["全宗号"] == "J022"
    assert info["起止档号"] == f"{DOCS[0]} 至 {DOCS[1]}"
    assert info["Document-Count"] == "2" and info["Page-Count"] == "5"
    assert info["QC-Lot-Result"] == "pass"
    assert info["QC-Sampling-Plan"] == processed["plan"] and "n=1" in info["QC-Sampling-Plan"]
    assert "QC-Override" not in info
    files = [p for p in (bag["dest"] / "data").rglob("*") if p.is_file()]
    assert info["Payload-Oxum"] == f"{sum(p.stat().st_size for p in files)}.{len(files)}"
    db = sqlite3.connect(bag["dest"] / "data" / "journal.sqlite")
    head = db.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()[0]
    db.close()
    assert info["Journal-Head-Hash"] == head


def test_handoff_is_recorded_after_fixity_checks_of_every_document(bag, processed):
    recorded = events(processed["out"])
    handoff = [
        e
        for e in recorded
        if e.detail.get("step") == "hand-off package" and e.detail["package"] == str(bag["dest"].resolve())
    ]
    assert len(handoff) == 1 and handoff[0].type == "creation" and handoff[0].object == "batch"
    assert handoff[0].detail["payload_oxum"] == bagit.Bag(str(bag["dest"])).info["Payload-Oxum"]
    assert handoff[0].seq == bag["result"]["event_seq"]
    checks = [e for e in recorded if e.type == "fixity check" and e.seq < handoff[0].seq]
    assert {e.object for e in checks} >= {code for code in DOCS}
    assert all(e.outcome == "success" for e in checks)


def test_verify_intact_bag(bag):
    report = json.loads(ok(run_cli("verify", bag["dest"], "--json")).stdout)
    assert report["ok"] and report["kind"] == "bag" and report["journal"]["chain_ok"]
    assert {c["item"] for c in report["checks"] if c["result"] == "pass"} >= {"YJ-1-1", "YJ-1-14", "YJ-2-1", "YJ-2-2"}


def _tamper_pdf(bag: Path) -> str:
    path = bag / "data" / "documents" / DOCS[1] / f"{DOCS[1]}.pdf"
    flip_byte(path)
    return f"data/documents/{DOCS[1]}/{DOCS[1]}.pdf"


def _delete_master(bag: Path) -> str:
    (bag / "data" / "masters" / DOCS[1] / "0002.jpg").unlink()
    return f"data/masters/{DOCS[1]}/0002.jpg"


def _add_file(bag: Path) -> str:
    (bag / "data" / "documents" / DOCS[0] / "notes.txt").write_text("added later", encoding="utf-8")
    return f"data/documents/{DOCS[0]}/notes.txt"


def _add_file_at_the_root(bag: Path) -> str:
    """A file beside bagit.txt: no manifest lists it, so only the bag's layout can notice."""
    (bag / "notes.txt").write_text("added later", encoding="utf-8")
    return "notes.txt"


def _forge_qc_verdict(bag: Path) -> str:
    """Edit the QC report and re-write the manifests: only the journal's record of the report notices."""
    report = bag / "data" / "qc" / "report.json"
    report.write_text(report.read_text(encoding="utf-8").replace('"passed": true', '"passed": true '), encoding="utf-8")
    bagit.Bag(str(bag)).save(manifests=True)
    return "data/qc/report.json"


@pytest.mark.parametrize(
    "tamper, kind",
    [
        (_tamper_pdf, "changed"),
        (_delete_master, "missing"),
        (_add_file, "extra"),
        (_add_file_at_the_root, "extra"),
        (_forge_qc_verdict, "changed"),
    ],
    ids=["flipped-byte", "deleted-master", "added-file", "added-file-at-the-root", "forged-qc-report"],
)
def test_verify_names_each_changed_missing_or_extra_file(bag, tmp_path, tamper, kind):
    damaged = copy_of(bag["dest"], tmp_path)
    path = tamper(damaged)
    result = run_cli("verify", damaged, "--json")
    assert result.returncode == 4
    report = json.loads(result.stdout)
    assert not report["ok"]
    assert {"kind": kind, "path": path} in [{"kind": p["kind"], "path": p["path"]} for p in report["problems"]]
    assert path in run_cli("verify", damaged).stdout


def test_verify_finds_an_edited_journal_event_in_the_bag(bag, tmp_path):
    damaged = copy_of(bag["dest"], tmp_path)
    db = sqlite3.connect(damaged / "data" / "journal.sqlite")
    seq, obj = db.execute(
        "SELECT seq, object FROM events WHERE type='message digest calculation' ORDER BY seq LIMIT 1"
    ).fetchone()
    db.execute("""UPDATE events SET detail='{"sha256":"0000"}' WHERE seq=?""", (seq,))
    db.commit()
    db.close()
    result = run_cli("verify", damaged, "--json")
    assert result.returncode == 4
    problems = json.loads(result.stdout)["problems"]
    assert {"kind": "chain", "seq": seq, "path": obj} in [
        {k: p.get(k) for k in ("kind", "seq", "path")} for p in problems
    ]
    assert any(p["kind"] == "changed" and p["path"] == "data/journal.sqlite" for p in problems)
    assert f"event {seq} ({obj})" in run_cli("verify", damaged).stdout


def test_verify_catches_a_file_replaced_together_with_its_manifest(bag, tmp_path):
    """Re-writing the manifests after a change satisfies bagit, but not the journal's checksums."""
    damaged = copy_of(bag["dest"], tmp_path)
    _tamper_pdf(damaged)
    forged = bagit.Bag(str(damaged))
    forged.save(manifests=True)
    assert forged.validate()
    result = run_cli("verify", damaged, "--json")
    assert result.returncode == 4
    assert any(
        p["kind"] == "journal" and p["path"].endswith(f"{DOCS[1]}.pdf") for p in json.loads(result.stdout)["problems"]
    )


def test_bag_without_masters(processed, tmp_path):
    dest = tmp_path / "bag-no-masters"
    ok(run_cli("handoff", processed["out"], "--to", dest, "--no-masters", "--no-progress"))
    assert not (dest / "data" / "masters").exists()
    assert bagit.Bag(str(dest)).info["Masters-Included"] == "no"
    assert bagit.Bag(str(dest)).validate()
    ok(run_cli("verify", dest))


# --------------------------------------------------------------------------- OUT folder
def test_verify_out_folder_rechecks_journal_checksums_and_records_fixity_checks(processed, tmp_path):
    ok(run_cli("verify", processed["out"]))
    out = copy_of(processed["out"], tmp_path)
    hocr = out / "documents" / DOCS[0] / "ocr" / f"{DOCS[0]}-0002.hocr"
    flip_byte(hocr)
    before = len(events(out))
    result = run_cli("verify", out, "--json")
    assert result.returncode == 4
    report = json.loads(result.stdout)
    assert [p["path"] for p in report["problems"]] == [f"documents/{DOCS[0]}/ocr/{DOCS[0]}-0002.hocr"]
    recorded = [e for e in events(out)[before:] if e.type == "fixity check"]
    assert {e.object: e.outcome for e in recorded} == {DOCS[0]: "failure", DOCS[1]: "success"}


# --------------------------------------------------------------------------- DA/T 93
def test_dat93_transfer_package(processed, tmp_path):
    dest = tmp_path / "移交"
    ok(run_cli("handoff", processed["out"], "--to", dest, "--format", "dat93", "--profile", PROFILE, "--no-progress"))
    for name in (
        "说明文件.xml",
        "目录文件.xml",
        "其他/移交登记表.xml",
        "其他/电子档案移交清单.xml",
        "其他/固化信息.sha256",
        "其他/规则说明.txt",
        "其他/质检报告/report.json",
        "其他/过程记录/journal.sqlite",
    ):
        assert (dest / name).is_file(), name
    assert validate_xml("dat93", dest / "目录文件.xml") == []
    folders = {DOCS[0]: "J022/2019/D30/BGS", DOCS[1]: "J022/2019/D30/ZJ"}  # down to the 机构 level
    for code in DOCS:
        record = dest / folders[code] / code
        assert (record / f"{code}.pdf").is_file() and validate_xml("dat46", record / f"{code}.xml") == []
        assert (record / f"{code}.ofd").is_file()
        assert (record / "全文" / f"{code}-0001.txt").is_file()
    assert sorted(p.name for p in (dest / folders[DOCS[1]] / DOCS[1] / "原始图像").iterdir()) == [
        "0001.tif",
        "0002.jpg",
    ]
    from lxml import etree

    statement = etree.parse(str(dest / "说明文件.xml")).getroot()
    assert statement.findtext("档案数量/件数") == "2" and statement.findtext("档案数量/页数") == "5"
    assert statement.findtext("起止档号/起始档号") == DOCS[0] and statement.findtext("起止档号/终止档号") == DOCS[1]
    assert statement.findtext("交接信息/接收单位") == "杭州市档案馆"
    assert statement.findtext("交接信息/移交单位") == "杭州市社会保险事业管理局"
    assert statement.findtext("目录结构") == "全宗号/年度/保管期限/机构或问题/档号"
    carrier = {e.tag: e.text for e in statement.find("载体")}  # DA/T 93 Annex B: every 载体参数 stated
    assert carrier == {
        "载体类型": "在线移交",
        **dict.fromkeys(("载体容量", "载体编号", "载体数量", "载体制作单位", "载体检查单位"), "不适用（在线移交）"),
    }
    transfer_list = etree.parse(str(dest / "其他" / "电子档案移交清单.xml")).getroot()  # DA/T 93 Annex A
    assert transfer_list.findtext("移交单位") == "杭州市社会保险事业管理局" and transfer_list.findtext("移交时间")
    rows = [{e.tag: e.text for e in row} for row in transfer_list.iter("文件")]
    assert [r["档号"] for r in rows] == list(DOCS) and [r["序号"] for r in rows] == ["1", "2"]
    assert set(rows[0]) == {"序号", "档号", "题名", "文件数量", "密级", "保管期限", "备注"}
    counted = sum(1 for p in (dest / folders[DOCS[1]] / DOCS[1]).rglob("*") if p.is_file())
    assert rows[1]["文件数量"] == str(counted) and rows[1]["密级"] == "内部" and rows[1]["保管期限"] == "定期30年"
    register = etree.parse(str(dest / "其他" / "移交登记表.xml")).getroot()
    rows = {item.get("名称"): item.findtext("移交单位检验结果") for item in register.iter("检验项目")}
    assert {k: rows[k].removesuffix("（有警告）") for k in ("真实性检测", "完整性检测", "可用性检测")} == {
        "真实性检测": "通过",
        "完整性检测": "通过",
        "可用性检测": "通过",
    }
    # without a virus scanner (4-1 a warning, 4-2 not checked) 安全性 is never written as 通过
    assert rows["安全性检测"].startswith("通过") == bool(shutil.which("clamscan"))
    items = {item.get("编号") for item in register.iter("检测项")}
    assert {"YJ-1-1", "YJ-1-14", "YJ-2-1", "YJ-2-2", "YJ-1-7", "YJ-2-11", "YJ-3-8"} <= items
    assert not [i for i in items if not i.startswith("YJ-")]  # transfer items only (DA/T 70 Annex A)
    virus_scanner = {i.get("编号"): i.get("结果") for i in register.iter("检测项")}.get("YJ-4-1")
    assert virus_scanner == ("通过" if shutil.which("clamscan") else "不通过")  # never 通过 without a scanner
    listed = (dest / "其他" / "固化信息.sha256").read_text(encoding="utf-8").splitlines()
    files = [p for p in dest.rglob("*") if p.is_file() and p.name != "固化信息.sha256"]
    assert len(listed) == len(files)
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "-c", "--strict", "--quiet", "其他/固化信息.sha256"], cwd=dest, check=True)
    report = json.loads(ok(run_cli("verify", dest, "--json")).stdout)
    assert report["kind"] == "dat93"
    assert {c["item"]: c["result"] for c in report["checks"]} == {
        "YJ-1-12": "pass",
        "YJ-1-1": "pass",
        "YJ-1-14": "pass",
        "YJ-1-13": "pass",
        "YJ-2-1": "pass",
        "YJ-2-2": "pass",
    }
    flip_byte(dest / folders[DOCS[0]] / DOCS[0] / f"{DOCS[0]}.pdf")
    result = run_cli("verify", dest, "--json")
    assert result.returncode == 4
    assert [p["path"] for p in json.loads(result.stdout)["problems"]] == [f"{folders[DOCS[0]]}/{DOCS[0]}/{DOCS[0]}.pdf"]


def test_dat93_package_needs_a_transferring_unit(processed, tmp_path):
    """DA/T 93's 说明文件 and 移交清单 name the 移交单位: without one the package is not made."""
    profile = tmp_path / "profile.toml"
    profile.write_text(PROFILE.read_text(encoding="utf-8").replace('creating_unit = "杭州市社会保险事业管理局"', ""))
    dest = tmp_path / "移交"
    result = run_cli("handoff", processed["out"], "--to", dest, "--format", "dat93", "--profile", profile)
    assert result.returncode != 0 and "移交单位" in (result.stdout + result.stderr)
    assert not dest.exists() and not leftovers(tmp_path, "移交")


# --------------------------------------------------------------------------- Archivematica
def test_archivematica_standard_transfer(processed, tmp_path):
    dest = tmp_path / "transfer"
    ok(run_cli("handoff", processed["out"], "--to", dest, "--format", "archivematica", "--no-progress"))
    with open(dest / "metadata" / "metadata.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[0] == "filename"
    assert [r["filename"] for r in rows] == [f"objects/{c}/{c}.pdf" for c in DOCS]
    assert [r["dc.identifier"] for r in rows] == list(DOCS)
    assert all((dest / r["filename"]).is_file() for r in rows)
    lines = (dest / "metadata" / "checksum.sha256").read_text(encoding="utf-8").splitlines()
    objects = [p for p in (dest / "objects").rglob("*") if p.is_file()]
    assert len(lines) == len(objects)  # Archivematica requires exactly one line per object
    assert all(line.split("  ", 1)[1].startswith("objects/") for line in lines)
    assert (dest / "objects" / DOCS[1] / "masters" / "0001.tif").is_file()
    assert all((dest / "objects" / c / f"{c}.ofd").is_file() for c in DOCS)
    assert (dest / "metadata" / "submissionDocumentation" / "qc" / "report.json").is_file()
    info = json.loads(
        (dest / "metadata" / "submissionDocumentation" / "transfer-info.json").read_text(encoding="utf-8")
    )
    assert info["全宗号"] == "J022" and info["Document-Count"] == "2" and info["QC-Lot-Result"] == "pass"
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "-c", "--strict", "--quiet", "metadata/checksum.sha256"], cwd=dest, check=True)
    ok(run_cli("verify", dest))
    (dest / "objects" / DOCS[0] / "extra.pdf").write_bytes(b"%PDF-1.4")
    result = run_cli("verify", dest, "--json")
    assert result.returncode == 4
    assert [(p["kind"], p["path"]) for p in json.loads(result.stdout)["problems"]] == [
        ("extra", f"objects/{DOCS[0]}/extra.pdf")
    ]


# --------------------------------------------------------------------------- refusals and overrides
def test_refused_without_a_current_qc_pass_and_nothing_left_behind(processed, tmp_path):
    out = copy_of(processed["out"], tmp_path)
    dest = tmp_path / "pkg"
    report = out / "qc" / "report.json"
    passed = report.read_bytes()
    report.unlink()
    result = run_cli("handoff", out, "--to", dest, "--json")
    assert result.returncode == 4 and "no QC report" in json.loads(result.stdout)["refused"][0]
    report.write_bytes(passed.replace(b'"verdict": "pass"', b'"verdict": "pass" '))  # not the report QC wrote
    result = run_cli("handoff", out, "--to", dest)
    assert result.returncode == 4 and "differs from the report QC recorded" in result.stderr
    report.write_bytes(passed)
    with Journal(out / "journal.sqlite") as journal:  # a document processed again after QC
        journal.record_event(EventType.CREATION, DOCS[0], Outcome.SUCCESS, {"step": "PDF/A packaging"})
    result = run_cli("handoff", out, "--to", dest)
    assert result.returncode == 4 and "processed again after the QC run" in result.stderr
    assert leftovers(tmp_path, "pkg") == []


def test_forced_handoff_needs_a_reason_and_is_recorded(processed, tmp_path):
    out = copy_of(processed["out"], tmp_path)
    (out / "qc" / "decisions.jsonl").unlink()  # the inspectors' decisions withdrawn
    assert run_cli("qc", out, "--profile", PROFILE).returncode == 4  # a new QC run without decisions: pending
    dest = tmp_path / "forced"
    assert run_cli("handoff", out, "--to", dest).returncode == 4
    assert run_cli("handoff", out, "--to", dest, "--force").returncode == 2
    reason = "复检由科长批准免检"
    result = json.loads(ok(run_cli("handoff", out, "--to", dest, "--force", "--reason", reason, "--json")).stdout)
    assert result["override"]["reason"] == reason and result["override"]["qc_state"] == "pending"
    info = bagit.Bag(str(dest)).info
    assert info["QC-Lot-Result"] == "pending" and reason in info["QC-Override"]
    recorded = events(out)
    override = [e for e in recorded if e.detail.get("step") == "hand-off QC gate"]
    assert len(override) == 1 and override[0].outcome == "warning" and override[0].detail["reason"] == reason
    assert recorded[-1].detail["qc_override"] == reason
    db = sqlite3.connect(dest / "data" / "journal.sqlite")  # the package's own journal holds the override
    assert reason in db.execute("SELECT detail FROM events WHERE seq=?", (override[0].seq,)).fetchone()[0]
    db.close()
    dat93 = tmp_path / "forced93"
    ok(run_cli("handoff", out, "--to", dat93, "--format", "dat93", "--force", "--reason", reason, "--profile", PROFILE))
    assert reason in (dat93 / "说明文件.xml").read_text(encoding="utf-8")


def test_changed_master_stops_the_handoff_without_a_partial_package(processed, tmp_path):
    out = copy_of(processed["out"], tmp_path)
    batch = copy_of(processed["batch"], tmp_path)
    flip_byte(batch / DOCS[1] / "0001.tif")
    dest = tmp_path / "pkg"
    result = run_cli("handoff", out, "--to", dest, "--batch", batch, "--force", "--reason", "even forced", "--json")
    assert result.returncode == 4
    problems = json.loads(result.stdout)["problems"]
    assert [(p["kind"], p["path"]) for p in problems] == [("changed", f"master {DOCS[1]}/0001.tif")]
    assert leftovers(tmp_path, "pkg") == []
    failed = [e for e in events(out) if e.type == "fixity check" and e.outcome == "failure"]
    assert [e.object for e in failed] == [DOCS[1]] and "0001.tif" in failed[0].detail["problems"][0]


def test_broken_journal_chain_cannot_be_forced(processed, tmp_path):
    out = copy_of(processed["out"], tmp_path)
    db = sqlite3.connect(out / "journal.sqlite")
    db.execute("""UPDATE events SET outcome='success', detail='{}' WHERE seq=2""")
    db.commit()
    db.close()
    dest = tmp_path / "pkg"
    result = run_cli("handoff", out, "--to", dest, "--force", "--reason", "try", "--json")
    assert result.returncode == 4 and "journal" in json.loads(result.stdout)["refused"][0]
    assert leftovers(tmp_path, "pkg") == []
    assert run_cli("verify", out).returncode == 4


def test_existing_destination_is_a_usage_error(processed, tmp_path):
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "something").write_text("x")
    assert run_cli("handoff", processed["out"], "--to", dest).returncode == 2
    assert (dest / "something").read_text() == "x"


def test_verify_records_the_fixity_of_many_documents_in_one_pass_over_their_files(tmp_path):
    """One "fixity check" event per document, counting its files: not a pass over every file for each."""
    import time

    from digitize.handoff.verify import _record_fixity
    from digitize.journal import DocumentState

    with Journal(tmp_path / "journal.sqlite") as journal, journal.batch():
        for d in range(2000):
            journal.upsert_document(f"D{d:04d}", archival_code=f"D{d:04d}", state=DocumentState.DONE)
    snapshot = read_journal(tmp_path)
    owner = {f"documents/D{d:04d}/ocr/{f:03d}.hocr": f"D{d:04d}" for d in range(2000) for f in range(100)}
    started = time.perf_counter()
    _record_fixity(tmp_path, snapshot, [], owner)
    assert time.perf_counter() - started < 10  # a pass over the 200,000 files for each: 2000 x 200,000 checks
    fixity = [e for e in events(tmp_path) if e.type == EventType.FIXITY_CHECK]
    assert len(fixity) == 2000 and {e.detail["files"] for e in fixity} == {100}
