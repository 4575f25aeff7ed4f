"""The whole `digitize process` run on the sample batch: outputs, quality, resume, kill -9, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from digitize.fsutil import sha256_file
from tests.conftest import BOTH_FORMATS
from tests.textscore import cer, pdf_page_texts, split_cjk_pairs

ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


def run_cli(*args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
    """Run the command line; its exit code must be `expect` (None: any)."""
    result = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=ENV)
    if expect is not None and result.returncode != expect:
        raise AssertionError(f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def truth_pages(samples: Path) -> list[dict]:
    return [json.loads(line) for line in (samples / "truth" / "pages.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture()
def processed(sample_run):
    return sample_run


def test_masters_are_never_modified(processed):
    assert processed["before"] == processed["after"]


def test_every_document_is_a_valid_pdfa_with_its_metadata(processed, samples_dir):
    out = processed["out"]
    summary = processed["summary"]
    assert summary["documents_ok"] == 4 and summary["documents_failed"] == 0
    documents = json.loads((samples_dir / "truth" / "documents.json").read_text(encoding="utf-8"))
    for doc in documents:
        if not doc["folder_exists"]:
            continue
        code = doc["archival_code"]
        pdf_path = out / "documents" / code / f"{code}.pdf"
        with pikepdf.open(pdf_path) as pdf:
            meta = pdf.open_metadata()
            assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
            assert meta["dc:identifier"] == code
            assert meta["dc:title"] == doc["title"]
            assert len(pdf.pages) == doc["files_pages"]
        for page_no in range(1, doc["files_pages"] + 1):
            for suffix in (".hocr", ".txt", ".alto.xml"):
                assert (out / "documents" / code / "ocr" / f"{code}-{page_no:04d}{suffix}").is_file()


def test_text_layer_quality_against_ground_truth(processed, samples_dir):
    """CER ≤ 0.15 over non-blank pages of documents without injected defects; < 1% split pairs."""
    out = processed["out"]
    truth = truth_pages(samples_dir)
    by_doc: dict[str, list[dict]] = {}
    for page in truth:
        by_doc.setdefault(page["doc_id"], []).append(page)
    distance = length = split = pairs = 0
    for doc_id, pages in by_doc.items():
        if any(p["defects"] for p in pages) or not any(p["present"] for p in pages):
            continue
        texts = pdf_page_texts(out / "documents" / doc_id / f"{doc_id}.pdf")
        present = [p for p in sorted(pages, key=lambda p: p["seq"]) if p["present"]]
        assert len(texts) == len(present)
        for page, text in zip(present, texts):
            if page["is_blank"]:
                continue
            d, n = cer(page["text"], text)
            distance, length = distance + d, length + n
            s, t = split_cjk_pairs(page["text"], text)
            split, pairs = split + s, pairs + t
    assert length > 2000
    assert distance / length <= 0.15, f"CER {distance / length:.3f}"
    assert split / pairs < 0.01, f"{split} of {pairs} Chinese pairs split by a space"


def test_ofd_of_every_document_validates_and_reads_back_like_the_pdf(processed, samples_dir):
    """GB/T 33190: every XML part of every OFD validates; an independent reader (ofdkit) gets the
    pages and the text back, with the same characters in the same order as the PDF's text layer
    (CER equal), and the journal records the OFD's fixity as it does the PDF's."""
    import ofdkit

    from digitize.ofd import check_ofd

    out = processed["out"]
    truth = truth_pages(samples_dir)
    errors = {"pdf": [0, 0], "ofd": [0, 0]}
    db = sqlite3.connect(out / "journal.sqlite")
    for code, ofd_path, ofd_sha, ofd_bytes in db.execute(
        "SELECT doc_key, ofd_path, ofd_sha256, ofd_bytes FROM documents"
    ):
        ofd = out / ofd_path
        assert sha256_file(ofd) == ofd_sha and ofd.stat().st_size == ofd_bytes
        parts, problems = check_ofd(ofd)
        assert parts >= 5 and problems == []
        pdf_texts = pdf_page_texts(out / "documents" / code / f"{code}.pdf")
        with ofdkit.open(ofd) as document:
            ofd_texts = ["".join(run.text for run in page.runs) for page in document.pages]
            assert document.info.custom_data["档号"] == code
        assert len(ofd_texts) == len(pdf_texts)
        present = sorted((p for p in truth if p["doc_id"] == code and p["present"]), key=lambda p: p["seq"])
        for page, pdf_text, ofd_text in zip(present, pdf_texts, ofd_texts):
            for kind, text in (("pdf", pdf_text), ("ofd", ofd_text)):
                d, n = cer(page["text"], text)
                errors[kind][0] += d
                errors[kind][1] += n
    assert errors["ofd"] == errors["pdf"] and errors["pdf"][1] > 2000
    steps = [json.loads(d)["step"] for (d,) in db.execute("SELECT detail FROM events WHERE type='creation'")]
    assert steps.count("OFD packaging") == steps.count("PDF/A packaging") == 4


def test_injected_defects_are_reported(processed):
    findings = processed["summary"]["findings"]
    codes = {(f["code"], f.get("archival_code") or f.get("document")) for f in findings}
    assert ("row_without_scan", "J022-SB·2019-Y-ZJ-0005") in codes
    assert ("missing_page", "J022-SB·2019-Y-DY-0004") in codes
    low = [f for f in findings if f["code"] == "low_dpi"]
    assert [(f["document"], f["page_no"], f["severity"]) for f in low] == [("J022-SB·2019-D30-ZJ-0001", 1, "error")]
    assert all(f["item"].startswith(("GD-", "DA/T 31")) for f in findings)


def test_journal_records_pages_and_a_sound_event_chain(processed):
    out = processed["out"]
    status = json.loads(run_cli("status", str(out), "--json", expect=4).stdout)  # open ERROR findings
    assert status["totals"] == {
        "documents": 4,
        "done": 4,
        "failed": 0,
        "withheld": 0,
        "pending": 0,
        "pages": 11,
        "blank_pages": 1,
    }
    assert status["event_chain_intact"]
    pages = [p for d in status["documents"] for p in d["page_list"]]
    assert all(len(p["source_path"]) and p["ocr_status"] for p in pages)
    db = sqlite3.connect(out / "journal.sqlite")
    masters = db.execute("SELECT COUNT(DISTINCT master_sha256) FROM pages").fetchone()[0]
    assert masters == 6  # 6 master files hold the 11 pages
    assert not (out / ".work").exists()


def test_exported_records_are_complete_without_a_profile(processed, tmp_path):
    """DA/T 46 档号 parts come from the parsed 档号 (the catalogue has no 全宗号 or 机构 column),
    语种 from the document's text (not the OCR packs chi_sim+eng), software agents are 机构人员;
    MODS, EAD3 and DC say the same 语种. Without [archive] settings 来源 is reported as unknown."""
    from digitize.xmlsafe import parse_bytes, parse_file

    out = tmp_path / "out"
    shutil.copytree(processed["out"], out)
    result = run_cli("export", str(out), "--json", "--not-open-only", "--max-security", "内部")
    report = json.loads(result.stdout)
    assert report["ok"] and any("来源" in w for w in report["warnings"])
    code = "J022-SB·2019-D30-BGS-0002"
    record = parse_file(out / "documents" / code / f"{code}.xml").getroot()
    parts = {e.tag: e.text for e in record.find("文件实体/档号")}
    assert parts == {
        "全宗号": "J022",
        "年度": "2019",
        "保管期限": "定期30年",
        "机构或问题": "BGS",
        "类别号": "SB",
        "室编件号": "0002",
    }
    assert [e.text for e in record.iterfind("文件实体/形式特征/语种")] == ["chi"]
    agents = {e.findtext("机构人员标识符"): e.findtext("机构人员类型") for e in record.iterfind("机构人员实体")}
    assert set(agents.values()) == {"信息系统"} and len(agents) == 2
    for event in record.iterfind("业务实体"):
        assert [e.text for e in event.iterfind("机构人员标识符")], event.findtext("业务标识符")
    mods = parse_file(out / "catalog" / "mets" / f"{code}.xml").getroot()
    assert [e.text for e in mods.iter("{http://www.loc.gov/mods/v3}languageTerm")] == ["chi", "chi"]
    dc = parse_file(out / "catalog" / "dc" / f"{code}.xml").getroot()
    assert [e.text for e in dc.iter("{http://purl.org/dc/elements/1.1/}language")] == ["chi"]
    ead = {"e": "http://ead3.archivists.org/schema/"}
    finding_aid = parse_file(out / "catalog" / "ead3.xml").getroot()
    items = {c.findtext("e:did/e:unitid", namespaces=ead): c for c in finding_aid.iterfind(".//e:c", ead)}
    languages = {
        k: [e.get("langcode") for e in c.iterfind("e:did/e:langmaterial/e:language", ead)] for k, c in items.items()
    }
    assert languages[code] == ["chi"]
    assert languages["J022-SB·2019-Y-DY-0004"] == ["eng", "chi"]  # its second page is an English letter
    with pikepdf.open(out / "documents" / code / f"{code}.pdf") as pdf:
        assert list(pdf.open_metadata()["dc:language"]) == ["zh"] and pdf.Root.Lang == "zh"
        packet = pdf.Root.Metadata.read_bytes()
    from digitize.pdfa import ARCHIVAL_NS, extension_schema_problems

    xmp = {e.tag.split("}")[1]: e.text for e in parse_bytes(packet).getroot().iter(f"{{{ARCHIVAL_NS}}}*")}
    assert xmp == {
        "fondsIdentifier": "J022",  # from the parsed 档号: the catalogue has no 全宗号 column
        "retentionPeriod": "定期30年",
        "controlIdentifier": "控制",
        "securityClassification": "内部",
    }
    assert extension_schema_problems(packet)[1] == []


def test_untagged_scan_resolution_is_unknown_not_assumed(tmp_path):
    """JPEGs without a resolution tag: a whole A4 sheet gets its resolution estimated from the
    sheet (约150dpi（估算）); a cut-off sheet of no standard size says 扫描分辨率 未知 (never an
    assumed 300dpi) and the run reports that DA/T 31 §9.4 could not be checked for it."""
    from digitize.xmlsafe import parse_file

    code = "J022-SB·2019-D30-BGS-0009"
    (tmp_path / "batch" / code).mkdir(parents=True)
    with Image.open(Path(__file__).parent / "data" / "imaging" / "zh_letter.png") as image:  # A4 at 150 dpi
        grey = image.convert("L")
        grey.crop((0, 0, grey.width, 1000)).save(tmp_path / "batch" / code / "0001.jpg", quality=90)  # no dpi
        grey.save(tmp_path / "batch" / code / "0002.jpg", quality=90)
    catalogue = tmp_path / "catalog.csv"
    catalogue.write_text(
        f"档号,题名,责任者,日期,页数,密级,保管期限\n{code},关于档案整理的通知,某市社会保险事业管理局,20190301,2,内部,定期30年\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    summary = json.loads(
        run_cli(
            "process", str(tmp_path / "batch"), "--catalog", str(catalogue), "--out", str(out), "--json", expect=4
        ).stdout  # exit 4: the catalogue has no 开放标识 (an ERROR finding)
    )
    unknown = [f for f in summary["findings"] if f["code"] == "unknown_dpi"]
    assert [(f["page_no"], f["item"]) for f in unknown] == [(1, "DA/T 31 §9.4")]
    run_cli("export", str(out), "-f", "dat46")
    record = parse_file(out / "documents" / code / f"{code}.xml").getroot()
    assert [e.text for e in record.iterfind("文件实体/数字化属性/扫描分辨率")] == ["未知", "约150dpi（估算）"]


def _one_page_batch(tmp_path: Path, rows: dict[str, str]) -> tuple[Path, Path]:
    """A batch of one-page documents (code -> 密级) and its catalogue with 开放标识."""
    batch = tmp_path / "batch"
    lines = ["档号,题名,责任者,日期,页数,密级,保管期限,开放标识"]
    for code, security in rows.items():
        (batch / code).mkdir(parents=True)
        with Image.open(Path(__file__).parent / "data" / "imaging" / "zh_letter.png") as image:
            image.save(batch / code / "0001.png", dpi=(150, 150))
        lines.append(f"{code},关于档案整理的通知,某市社会保险事业管理局,20190301,1,{security},定期30年,控制")
    catalogue = tmp_path / "catalog.csv"
    catalogue.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return batch, catalogue


@pytest.mark.parametrize("policy", ["refuse", "separate"])
def test_classified_records_never_reach_ordinary_outputs(tmp_path, policy):
    """[access] classified: refuse leaves a 机密 record unread; separate processes it into
    OUT/protected/ (owner-only), and neither an export nor a hand-off ever includes it."""
    secret, ordinary = "J022-SB·2019-D30-BGS-0007", "J022-SB·2019-D30-BGS-0008"
    batch, catalogue = _one_page_batch(tmp_path, {secret: "机密★10年", ordinary: "内部"})
    profile = tmp_path / "profile.toml"
    profile.write_text(f'[access]\nclassified = "{policy}"\n', encoding="utf-8")
    out = tmp_path / "out"
    args = ("process", str(batch), "--catalog", str(catalogue), "--out", str(out), "--json", "--profile", str(profile))
    summary = json.loads(run_cli(*args, expect=4).stdout)  # exit 4: the pages are 150 dpi (ERROR findings)
    assert not (out / "documents" / secret).exists() and (out / "documents" / ordinary).is_dir()
    if policy == "refuse":
        assert summary["documents_withheld"] == 1 and summary["documents_failed"] == 0
        assert [f["document"] for f in summary["findings"] if f["code"] == "classified_withheld"] == [secret]
        assert not (out / "protected").exists()
    else:
        assert summary["documents_ok"] == 2
        assert (out / "protected" / secret / f"{secret}.pdf").is_file()
        assert (out / "protected").stat().st_mode & 0o077 == 0
    report = json.loads(
        run_cli(
            "export", str(out), "--json", "--max-security", "绝密", "--not-open-only", "--profile", str(profile)
        ).stdout
    )
    written = " ".join(report["written"])
    assert ordinary in written
    leaked = [rel for rel in report["written"] if secret in rel]
    public = [rel for rel in leaked if rel.startswith(("catalog/dc", "catalog/ead3"))]
    assert public == []  # public formats never, whatever the export's options
    ead = (out / "catalog" / "ead3.xml").read_text(encoding="utf-8")
    assert secret not in ead


def test_second_run_does_no_ocr_and_is_fast(processed):
    out = processed["out"]
    batch = processed["batch"]
    started = time.perf_counter()
    result = run_cli(
        "process",
        str(batch),
        "--catalog",
        str(batch / "catalog.csv"),
        "--out",
        str(out),
        "--json",
        *BOTH_FORMATS,
        expect=4,
    )
    seconds = time.perf_counter() - started
    summary = json.loads(result.stdout)
    assert summary["pages_processed"] == 0 and summary["documents_skipped"] == 4
    db = sqlite3.connect(out / "journal.sqlite")
    checked = {obj for (obj,) in db.execute("SELECT object FROM events WHERE type='fixity check'")}
    assert len(checked) == 4  # the rerun compared masters and outputs with the journal: recorded
    identified = [
        json.loads(d)["file"] for (d,) in db.execute("SELECT detail FROM events WHERE type='format identification'")
    ]
    assert len(identified) == len(set(identified)) == 6  # each master file once
    assert seconds < 0.1 * processed["seconds"] + 1.5, (seconds, processed["seconds"])


def test_changed_output_is_redone(processed, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(processed["out"], out)
    code = "J022-SB·2019-Y-DY-0004"  # two pages: the smallest document to redo
    pdf = out / "documents" / code / f"{code}.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pdf.write_bytes(bytes(data))
    summary = json.loads(
        run_cli(
            "process",
            str(processed["batch"]),
            "--out",
            str(out),
            "--json",
            "--catalog",
            str(processed["batch"] / "catalog.csv"),
            *BOTH_FORMATS,
            expect=4,
        ).stdout
    )
    assert summary["documents_skipped"] == 3 and summary["pages_processed"] == 2
    with pikepdf.open(pdf) as reopened:
        assert len(reopened.pages) == 2


def _small_batch(samples: Path, dest: Path) -> Path:
    for name in ("J022-SB·2019-D30-BGS-0002", "J022-SB·2019-Y-DY-0004", "J022-SB·2019-D30-ZJ-0001"):
        shutil.copytree(samples / "batch" / name, dest / name)
    return dest


def _all_outputs_complete(documents: Path) -> None:
    """Every file under documents/ is whole: PDFs open, XML parses, nothing temporary."""
    from digitize.xmlsafe import parse_file

    for path in documents.rglob("*"):
        if path.is_dir():
            continue
        assert not path.name.endswith(".tmp"), path
        if path.suffix == ".pdf":
            with pikepdf.open(path) as pdf:
                assert len(pdf.pages) > 0
        elif path.suffix == ".xml":
            parse_file(path)


def test_kill_9_then_rerun_completes(samples_dir, tmp_path):
    batch = _small_batch(samples_dir, tmp_path / "batch")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "cli", "process", str(batch), "--out", str(out), "--jobs", "2", "--no-progress"]
    process = subprocess.Popen(
        args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    killed_after_some_work = False
    while time.time() < deadline and process.poll() is None:
        journal = out / "journal.sqlite"
        if journal.exists():
            try:
                db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
                staged = db.execute("SELECT COUNT(*) FROM pages WHERE state IN ('staged','done')").fetchone()[0]
                db.close()
            except sqlite3.OperationalError:
                staged = 0
            if (out / "documents").exists():
                _all_outputs_complete(out / "documents")
            if staged >= 3:
                os.killpg(process.pid, signal.SIGKILL)
                killed_after_some_work = True
                break
        time.sleep(0.2)
    process.wait(timeout=30)
    assert killed_after_some_work, "the run finished before it could be killed"
    if (out / "documents").exists():
        _all_outputs_complete(out / "documents")
    summary = json.loads(run_cli("process", str(batch), "--out", str(out), "--json", expect=4).stdout)  # a 150-dpi page
    assert summary["documents_ok"] == 3 and summary["documents_failed"] == 0
    assert summary["pages_reused"] > 0 or summary["documents_skipped"] > 0  # work before the kill was kept
    assert summary["pages_processed"] < 7
    _all_outputs_complete(out / "documents")
    for name in ("J022-SB·2019-D30-BGS-0002", "J022-SB·2019-Y-DY-0004", "J022-SB·2019-D30-ZJ-0001"):
        assert (out / "documents" / name / f"{name}.pdf").is_file()
    status = json.loads(run_cli("status", str(out), "--json", expect=4).stdout)
    assert status["totals"]["done"] == 3 and status["event_chain_intact"]


def test_bad_inputs_fail_their_document_only(samples_dir, tmp_path):
    batch = tmp_path / "batch"
    (batch / "GOOD").mkdir(parents=True)  # one good page is enough to show the others do not stop it
    shutil.copy(samples_dir / "batch" / "J022-SB·2019-Y-DY-0004" / "0001.jpg", batch / "GOOD" / "0001.jpg")
    (batch / "ZERO").mkdir()
    (batch / "ZERO" / "0001.tif").write_bytes(b"")
    (batch / "TRUNCATED").mkdir()
    jpeg = (samples_dir / "batch" / "J022-SB·2019-Y-DY-0004" / "0001.jpg").read_bytes()
    (batch / "TRUNCATED" / "0001.jpg").write_bytes(jpeg[: len(jpeg) // 4])
    (batch / "NOTIMAGE").mkdir()
    (batch / "NOTIMAGE" / "0001.png").write_text("not an image", encoding="utf-8")
    (batch / "BOMB").mkdir()
    Image.new("1", (12000, 12000), 1).save(batch / "BOMB" / "0001.png")
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(batch / "LOCKED.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    profile = tmp_path / "profile.toml"
    profile.write_text("[input]\nmax_image_pixels = 100000000\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("process", str(batch), "--out", str(out), "--json", "--profile", str(profile), expect=None)
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    errors = {f["document"]: f["error"] for f in summary["failures"]}
    assert set(errors) == {"ZERO", "TRUNCATED", "NOTIMAGE", "BOMB", "LOCKED"}
    assert "0001.tif: the file is empty" in errors["ZERO"]
    assert "0001.jpg: image data is damaged or truncated" in errors["TRUNCATED"]
    assert "0001.png: not a readable image" in errors["NOTIMAGE"]
    assert "decompression-bomb guard" in errors["BOMB"]
    assert "LOCKED.pdf" in errors["LOCKED"] and "encrypted" in errors["LOCKED"]
    assert summary["documents_ok"] == 1
    assert (out / "documents" / "GOOD" / "GOOD.pdf").is_file()
    for name in errors:
        assert not (out / "documents" / name).exists()
    status = json.loads(run_cli("status", str(out), "--json", expect=1).stdout)
    failed = {d["document"]: d["error"] for d in status["documents"] if d["state"] == "failed"}
    assert set(failed) == set(errors)
