"""OFD instead of PDF/A (`process --format ofd`), end to end: the outputs, `export`, `qc`, every
hand-off package and `verify` accept a batch whose only layout files are OFDs.

Two sample documents are processed for real with the hand-off tests' profile, exported and
passed through QC (the inspectors accept the sample); each package format is then made from
the output and verified.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil

import pytest

from digitize.journal import read_journal
from digitize.ofd import check_ofd, page_count
from digitize.xmlsafe import parse_file
from tests.test_handoff import DOCS, PROFILE, ok, pass_qc, run_cli, two_document_batch


@pytest.fixture(scope="module")
def ofd_only(samples_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("ofd-only")
    batch = two_document_batch(samples_dir, base)
    out = base / "out"
    # --dpi 300: one sample page is tagged 150 dpi, which QC (rightly) fails; the hand-off needs a pass
    process = ["process", batch, "--catalog", batch / "catalog.csv", "--out", out, "--jobs", "2", "--dpi", "300"]
    ok(run_cli(*process, "--format", "ofd", "--profile", PROFILE, "--json"))
    ok(run_cli("export", out, "--profile", PROFILE))
    pass_qc(out, base)
    return {"base": base, "out": out}


def test_only_ofds_are_made_and_each_validates(ofd_only):
    out = ofd_only["out"]
    journal = read_journal(out)
    assert {d.archival_code for d in journal.done} == set(DOCS)
    assert not list(out.rglob("*.pdf"))
    for doc in journal.done:
        assert doc.pdf_path is None and doc.ofd_path == f"documents/{doc.archival_code}/{doc.archival_code}.ofd"
        assert check_ofd(out / doc.ofd_path)[1] == []
        assert page_count(out / doc.ofd_path) == len(journal.pages_of(doc.doc_key))


def test_exports_describe_the_ofd(ofd_only):
    out = ofd_only["out"]
    for code in DOCS:
        record = parse_file(out / "documents" / code / f"{code}.xml").getroot()
        formats = [el.text for el in record.iter("格式信息")]
        assert formats == ["OFD 1.0 (application/ofd)"]
        assert record.findtext("文件实体/电子属性/计算机文件名") == f"{code}.ofd"
        assert record.findtext("文件实体/存储位置/当前位置") == f"documents/{code}/{code}.ofd"
        mets = (out / "catalog" / "mets" / f"{code}.xml").read_text(encoding="utf-8")
        assert f"{code}.ofd" in mets and ".pdf" not in mets


def test_qc_checks_the_ofd_itself(ofd_only):
    """The checks that look at layout files judge the OFD (not 'no PDF' passes): electronic
    attributes, folder structure, format compliance and the page images DA/T 31 is checked on."""
    report = json.loads((ofd_only["out"] / "qc" / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "pass"
    assert not [r for r in report["results"] if r["status"] == "fail"]
    evidence = {c["item"]: c["evidence"] for c in report["checks"]}
    assert evidence["GD-1-1"].startswith("事件链") and "2 个版式文件摘要与事件链相符" in evidence["GD-1-1"]
    assert evidence["GD-1-10"].startswith("2 个版式文件（PDF/A、OFD）")
    assert evidence["GD-3-3"].endswith("成果文件：OFD 2 个")
    assert evidence["GD-3-8"] == "2 个 OFD 通过 GB/T 33190 模式校验"
    skew = next(c for c in report["checks"] if c["item"] == "DA/T 31 §10.2")["evidence"]
    assert re.match(r"重新测量 [1-9]\d* 幅版式文件页面图像", skew)


def test_qc_keeps_the_ofd_measurements_until_the_ofd_changes(ofd_only, tmp_path):
    """The measurement cache's key covers the file measured: the OFD when there is no PDF/A."""
    report = json.loads((ofd_only["out"] / "qc" / "report.json").read_text(encoding="utf-8"))
    assert report["measurements"] == {"measured": 0, "reused": 2}  # the --record run reused the first run's
    out = tmp_path / "out"
    shutil.copytree(ofd_only["out"], out)
    ofd = out / "documents" / DOCS[0] / f"{DOCS[0]}.ofd"
    os.utime(ofd, ns=(ofd.stat().st_atime_ns, ofd.stat().st_mtime_ns + 10**9))  # touched: measured again
    again = json.loads(run_cli("qc", out, "--json", "--profile", PROFILE).stdout)
    assert again["measurements"] == {"measured": 1, "reused": 1}


@pytest.mark.parametrize("fmt", ["bagit", "dat93", "archivematica"])
def test_every_package_carries_the_ofds_and_verifies(ofd_only, fmt):
    dest = ofd_only["base"] / "packages" / fmt
    result = json.loads(
        ok(run_cli("handoff", ofd_only["out"], "--to", dest, "--format", fmt, "--profile", PROFILE, "--json")).stdout
    )
    assert result["documents"] == len(DOCS)
    names = {p.name for p in dest.rglob("*") if p.is_file()}
    assert {f"{code}.ofd" for code in DOCS} <= names and not any(n.endswith(".pdf") for n in names)
    ok(run_cli("verify", dest))
    if fmt == "archivematica":
        with open(dest / "metadata" / "metadata.csv", encoding="utf-8", newline="") as fh:
            files = [row["filename"] for row in csv.DictReader(fh)]
        assert files == [f"objects/{code}/{code}.ofd" for code in sorted(DOCS)]
        assert all((dest / f).is_file() for f in files)
    if fmt == "dat93":
        register = parse_file(dest / "其他" / "移交登记表.xml").getroot()
        formats = next(el for el in register.iter("检测项") if el.get("编号") == "YJ-3-3")
        assert formats.get("结果") == "通过" and "OFD" in (formats.text or "")


def test_verify_accepts_the_output_folder(ofd_only):
    ok(run_cli("verify", ofd_only["out"]))


def test_a_changed_ofd_is_named_by_verify(ofd_only, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(ofd_only["out"], out)
    ofd = out / "documents" / DOCS[0] / f"{DOCS[0]}.ofd"
    data = bytearray(ofd.read_bytes())
    data[-40] ^= 0x01
    ofd.write_bytes(bytes(data))
    result = run_cli("verify", out)
    assert result.returncode == 4 and f"{DOCS[0]}.ofd" in result.stdout + result.stderr
