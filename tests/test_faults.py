"""Faults, fast cases: collisions, the lock on OUT, a verify that sees everything, clean failure.

Each test causes the fault for real (a tampered file, a second writer, a full file system, a
hostile workbook) and checks: nothing lost, no silent wrong answer, a clear message with its
exit code, nothing left behind after the next run. The long cases (kill -9 at random moments
of every command, many trials) are in `bench/faults.py`; the table of all cases is in
docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from PIL import Image

from digitize.errors import ExitCode, Interrupted, as_interrupted
from digitize.fsutil import sha256_file
from digitize.journal import read_journal
from digitize.outlock import out_lock
from digitize.procid import ProcessId

ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
CATALOG_HEADER = ["档号", "题名", "日期", "责任者", "保管期限"]


def run_cli(*args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)], capture_output=True, text=True, env=env or ENV, timeout=600
    )


def expect(result: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """The command exited with `code`, said each of `words`, and printed no traceback."""
    said = result.stdout + result.stderr
    assert result.returncode == code, f"exit {result.returncode}\n{said}"
    assert "Traceback" not in said, said
    for word in words:
        assert word in said, f"{word!r} not in:\n{said}"
    return said


def blank_page(path: Path, size=(400, 560)) -> Path:
    """A blank page: processed without OCR, so fast."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, 245).save(path, dpi=(300, 300))
    return path


def noisy_page(path: Path, size=(700, 900), seed: int = 0) -> Path:
    """A page that compresses badly: its staged image is large."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    Image.fromarray(pixels).save(path, dpi=(300, 300), quality=95)
    return path


def copy_of(path: Path, target: Path) -> Path:
    shutil.copytree(path, target)
    return target


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------- archive
@pytest.fixture(scope="module")
def archived(sample_run, tmp_path_factory) -> Path:
    """The sample batch processed, exported and checked by QC: every kind of file OUT holds."""
    out = copy_of(sample_run["out"], tmp_path_factory.mktemp("archived") / "out")
    expect(run_cli("export", out), 0)
    assert run_cli("qc", out, "--no-masters").returncode in (0, 4)
    expect(run_cli("verify", out, "--no-record"), 0, "INTACT")
    return out


def verify_json(out: Path) -> tuple[int, dict]:
    result = run_cli("verify", out, "--no-record", "--json")
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}


def problems(report: dict) -> list[tuple[str, str]]:
    return [(p["kind"], p["path"]) for p in report["problems"]]


def test_verify_finds_events_deleted_from_the_end(archived, tmp_path):
    out = copy_of(archived, tmp_path / "out")
    db = sqlite3.connect(out / "journal.sqlite")
    last = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    db.execute("DELETE FROM events WHERE seq > ?", (last - 13,))  # the last 13, QC's verdict among them
    db.commit()
    db.close()
    code, report = verify_json(out)
    assert code == ExitCode.ATTENTION and not report["journal"]["chain_ok"]
    assert any("removed from its end" in p.get("detail", "") for p in report["problems"]), report["problems"]
    status = json.loads(run_cli("status", out, "--json").stdout)
    assert status["event_chain_intact"] is False


def test_verify_and_status_on_a_journal_with_a_zeroed_page_exit_6(archived, tmp_path):
    out = copy_of(archived, tmp_path / "out")
    journal = out / "journal.sqlite"
    with open(journal, "r+b") as fh:
        fh.seek(4096 * 3)
        fh.write(bytes(4096))
    expect(run_cli("verify", out), ExitCode.DAMAGED, "journal.sqlite", "damaged")
    expect(run_cli("status", out), ExitCode.DAMAGED, "journal.sqlite", "damaged")


def test_verify_finds_an_extra_document_folder_and_files(archived, tmp_path):
    out = copy_of(archived, tmp_path / "out")
    blank_page(out / "documents" / "EXTRA-0001" / "EXTRA-0001.pdf")
    (out / "catalog" / "notes.txt").write_text("added by hand", encoding="utf-8")
    (out / "stray").mkdir()
    code, report = verify_json(out)
    assert code == ExitCode.ATTENTION
    assert {("extra", "documents/EXTRA-0001/"), ("extra", "catalog/notes.txt"), ("extra", "stray/")} <= set(
        problems(report)
    )


def test_verify_finds_an_edited_documents_row(archived, tmp_path):
    out = copy_of(archived, tmp_path / "out")
    db = sqlite3.connect(out / "journal.sqlite")
    key = db.execute("SELECT doc_key FROM documents WHERE state='done' LIMIT 1").fetchone()[0]
    db.execute("UPDATE documents SET title='改过的题名' WHERE doc_key=?", (key,))
    db.commit()
    db.close()
    code, report = verify_json(out)
    assert code == ExitCode.ATTENTION
    assert ("journal", key) in problems(report)


@pytest.mark.parametrize("rel", ["documents/{name}/{name}.xml", "catalog/目录文件.xml", "qc/report.html"])
def test_verify_finds_an_edited_export_or_qc_report(archived, tmp_path, rel):
    out = copy_of(archived, tmp_path / "out")
    name = read_journal(out).done[0].output_dir.split("/")[-1]
    target = out / rel.format(name=name)
    target.write_bytes(target.read_bytes().replace(b">", b"> ", 1))
    code, report = verify_json(out)
    assert code == ExitCode.ATTENTION
    assert ("changed", rel.format(name=name)) in problems(report)


def test_export_and_qc_record_their_files_in_the_journal(archived):
    events = read_journal(archived).events
    exported = [e for e in events if e.detail.get("step") == "metadata export"]
    assert exported and "catalog/目录文件.xml" in exported[-1].detail["written"]
    qc = [e for e in events if e.detail.get("report_sha256")]
    assert set(qc[-1].detail["written"]) >= {"qc/report.json", "qc/report.html", "qc/checks.csv"}


# ---------------------------------------------------------------------------------------- the lock
def test_a_second_writer_is_refused_at_once_and_readers_go_on(archived, tmp_path):
    out = copy_of(archived, tmp_path / "out")
    with out_lock(out, "digitize process (a test holding OUT)"):
        for args in (("export", out), ("qc", out, "--no-masters"), ("handoff", out, "--to", tmp_path / "bag")):
            expect(run_cli(*args), ExitCode.BUSY, "in use", "a test holding OUT", f"pid {os.getpid()}")
        blank_page(tmp_path / "batch" / "A" / "0001.png")
        expect(run_cli("process", tmp_path / "batch", "--out", out), ExitCode.BUSY, "in use")
        expect(run_cli("verify", out), ExitCode.BUSY, "in use")  # no writer may change OUT under verify
        expect(run_cli("status", out), ExitCode.ATTENTION, "QC: FAIL")  # readers go on (the lot failed QC)
        expect(run_cli("stats", out), ExitCode.ATTENTION, "Scans missing")  # a catalogue row without scans
    assert not (tmp_path / "bag").exists()
    expect(run_cli("export", out), 0)


def test_a_stale_lock_is_taken_over_and_what_its_process_left_is_removed(archived, tmp_path):
    out = copy_of(archived, tmp_path / "out")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    holder = ProcessId.current().to_dict() | {"pid": int(dead.stdout), "started": 1}
    (out / ".lock").write_text(json.dumps(holder | {"command": "digitize export", "since": "then"}), encoding="utf-8")
    debris = [out / "catalog" / ".目录文件.xml.0a1b2c3d.tmp", out / "qc" / ".report.json.0a1b2c3d.tmp"]
    for path in debris:
        path.write_bytes(b"half")
    done = read_journal(out).done[0]
    (out / ".work" / done.doc_key).mkdir(parents=True)  # killed right after its commit
    (out / ".work" / done.doc_key / "0001.img").write_bytes(b"staged")
    old = out / "documents" / f".{done.output_dir.split('/')[-1]}.old-0a1b2c3d"
    old.mkdir()
    code, report = verify_json(out)
    assert code == 0 and len(report["notes"]) == 2  # leftovers are not damage, but they are said
    expect(run_cli("export", out), 0, "took over the lock")
    assert not any(p.exists() for p in debris) and not old.exists() and not (out / ".work").exists()
    assert (out / ".lock").read_text(encoding="utf-8") == ""


def test_a_run_is_left_running_by_a_gone_writer_only_when_no_living_process_holds_out(tmp_path):
    from digitize.outlock import writer_gone

    out = tmp_path / "out"
    out.mkdir()
    assert not writer_gone(out)  # no lock file: cannot tell
    lock = out / ".lock"
    me = ProcessId.current()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    cases = [
        (me.to_dict(), False),  # a living holder
        (me.to_dict() | {"pid": int(dead.stdout)}, True),  # its process has ended
        (me.to_dict() | {"started": me.started + 1}, True),  # the pid now belongs to a later process
        (me.to_dict() | {"boot": "another-boot"}, True),  # the machine has restarted since
        (me.to_dict() | {"host": "another-host", "pid": int(dead.stdout)}, False),  # cannot tell: left alone
    ]
    for holder, gone in cases:
        lock.write_text(json.dumps(holder | {"command": "digitize process", "since": "then"}), encoding="utf-8")
        assert writer_gone(out) is gone, holder
    lock.write_text("", encoding="utf-8")  # released in order
    assert writer_gone(out)


# ---------------------------------------------------------------------------------------- collisions
@pytest.mark.parametrize(
    "names",
    [
        ("A:0001", "A_0001"),
        (unicodedata.normalize("NFC", "café-0001"), unicodedata.normalize("NFD", "café-0001")),
        ("X-0001", "x-0001"),
    ],
    ids=["colon", "nfc-nfd", "case"],
)
def test_documents_that_would_share_a_folder_are_refused_naming_both(tmp_path, names):
    batch = tmp_path / "batch"
    for name in names:
        blank_page(batch / name / "0001.png")
    said = expect(run_cli("process", batch, "--out", tmp_path / "out"), ExitCode.USAGE, "overwrite each other")
    for name in names:
        assert name in unicodedata.normalize("NFC", said) or unicodedata.normalize("NFC", name) in said
    assert not (tmp_path / "out" / "documents").exists()


def test_a_document_that_would_replace_an_earlier_output_is_refused(tmp_path):
    batch = tmp_path / "batch"
    blank_page(batch / "A:0001" / "0001.png")
    out = tmp_path / "out"
    expect(run_cli("process", batch, "--out", out, "--jobs", "1"), 0)
    shutil.move(batch / "A:0001", batch / "A_0001")
    expect(run_cli("process", batch, "--out", out, "--jobs", "1"), ExitCode.USAGE, "A_0001", "would replace")


# ---------------------------------------------------------------------------------------- inputs
def test_skipped_inputs_are_reported_and_outside_links_refused_unless_allowed(tmp_path):
    batch = tmp_path / "batch"
    blank_page(batch / "GOOD" / "0001.png")
    blank_page(batch / ".hidden" / "0001.png")
    (batch / "GOOD" / "notes.txt").write_text("x", encoding="utf-8")
    blank_page(batch / "GOOD" / "sub" / "0002.png")
    outside = blank_page(tmp_path / "elsewhere" / "0001.png")
    (batch / "LINKED").symlink_to(outside.parent)
    (batch / "FILELINK").mkdir()
    (batch / "FILELINK" / "0001.png").symlink_to("/etc/passwd")
    out = tmp_path / "out"
    result = run_cli("process", batch, "--out", out, "--json", "--jobs", "1")
    expect(result, ExitCode.FAILED)
    summary = json.loads(result.stdout)
    skipped = {Path(s["path"]).name: s["reason"] for s in summary["skipped"]}
    assert skipped == {
        ".hidden": "hidden (its name starts with '.')",
        "notes.txt": "not a page image",
        "sub": "a folder inside a document folder is not read",
    }
    errors = {f["document"]: f["error"] for f in summary["failures"]}
    assert set(errors) == {"LINKED", "FILELINK"}
    assert "outside the batch folder" in errors["LINKED"] and "/etc/passwd" in errors["FILELINK"]
    assert [p for p in files_under(out) if "passwd" in p or "LINKED" in p] == []
    discovery = [e for e in read_journal(out).events if e.detail.get("step") == "discovery"]
    assert len(discovery[-1].detail["skipped"]) == 3

    args = ("--json", "--jobs", "1", "--follow-outside-links", "--retry-failed")  # both failed the first run
    result = run_cli("process", batch, "--out", out, *args)
    summary = json.loads(result.stdout)
    assert {f["document"] for f in summary["failures"]} == {"FILELINK"}  # /etc/passwd is no image
    assert {Path(link["path"]).name for link in summary["outside_links"]} == {"LINKED", "0001.png"}
    assert (out / "documents" / "LINKED" / "LINKED.pdf").is_file()
    recorded = [e for e in read_journal(out).events if e.detail.get("step") == "discovery"][-1]
    assert recorded.outcome == "warning" and len(recorded.detail["outside_links"]) == 2


def test_a_damaged_frame_of_a_multipage_tiff_is_named(tmp_path):
    batch = tmp_path / "batch"
    (batch / "T").mkdir(parents=True)
    rng = np.random.default_rng(1)
    frames = [Image.fromarray(rng.integers(0, 256, (120, 90), dtype=np.uint8)) for _ in range(3)]
    path = batch / "T" / "T.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw", dpi=(300, 300))
    with Image.open(path) as im:
        im.seek(1)
        offset, length = im.tag_v2[273][0], im.tag_v2[279][0]
    data = bytearray(path.read_bytes())
    data[offset : offset + length] = b"\xff" * length
    path.write_bytes(bytes(data))
    result = run_cli("process", batch, "--out", tmp_path / "out", "--json", "--jobs", "1")
    expect(result, ExitCode.FAILED)
    (failure,) = json.loads(result.stdout)["failures"]
    assert "T.tif" in failure["error"] and "frame 2" in failure["error"]


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def _with_dtd(source: Path, target: Path, dtd: bytes) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = dtd + data
            zout.writestr(item, data)
    return target


@pytest.mark.parametrize(
    "dtd",
    [
        b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    ],
    ids=["xxe", "billion-laughs"],
)
def test_hostile_xlsx_catalogue_is_refused_with_exit_2(archived, tmp_path, dtd):
    plain = _workbook(tmp_path / "plain.xlsx", [CATALOG_HEADER, ["A-0001", "题名", "20190101", "某局", "永久"]])
    hostile = _with_dtd(plain, tmp_path / "catalog.xlsx", dtd)
    batch = tmp_path / "batch"
    blank_page(batch / "A-0001" / "0001.png")
    expect(run_cli("process", batch, "--catalog", hostile, "--out", tmp_path / "o"), 2, "catalog.xlsx", "DTD")
    expect(run_cli("stats", archived, "--catalog", hostile), 2, "catalog.xlsx", "DTD")


def test_xlsx_formulas_without_saved_values_are_named(tmp_path):
    rows = [
        CATALOG_HEADER,
        ["A-0001", "题名", "20190101", "某局", "永久"],
        ["A-0002", '=B2&"续"', "=C2", "某局", "永久"],
    ]
    book = _workbook(tmp_path / "catalog.xlsx", rows)
    batch = tmp_path / "batch"
    blank_page(batch / "A-0001" / "0001.png")
    expect(run_cli("process", batch, "--catalog", book, "--out", tmp_path / "o"), 2, "B3, C3", "never saved")


def test_export_and_stats_with_an_unreadable_catalogue_exit_2(archived, tmp_path):
    out = copy_of(archived, tmp_path / "out")
    broken = tmp_path / "catalog.csv"
    broken.write_bytes("档号,题名\n".encode("utf-16"))
    expect(run_cli("export", out, "--catalog", broken), 2, "catalog.csv")
    expect(run_cli("stats", out, "--catalog", broken), 2, "catalog.csv")


# ---------------------------------------------------------------------------------------- resources
def test_failures_of_the_machine_are_interruptions_and_of_the_input_are_not(tmp_path):
    full = as_interrupted(OSError(28, "No space left on device", str(tmp_path / "x")))
    assert full is not None and "disk is full" in str(full) and full.exit_code == ExitCode.INTERRUPTED
    assert as_interrupted(MemoryError()) is not None
    denied = PermissionError(13, "Permission denied", str(tmp_path / "out" / "x"))
    assert as_interrupted(denied, tmp_path / "out") is not None
    assert as_interrupted(denied, tmp_path / "elsewhere") is None  # an unreadable master fails its document
    assert as_interrupted(ValueError("bad pixels")) is None


@pytest.fixture()
def small_disk(tmp_path):
    """A 4 MB tmpfs (root only: mount needs it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace')}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill the file system but for about `leave` bytes."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def test_disk_full_interrupts_the_run_and_the_rerun_completes_with_nothing_left_behind(small_disk, tmp_path):
    batch = tmp_path / "batch"
    blank_page(batch / "A" / "0001.png")
    out = small_disk / "out"
    expect(run_cli("process", batch, "--out", out, "--jobs", "1"), 0)
    noisy_page(batch / "B" / "0001.jpg")  # its staged image does not fit
    filler = _fill(small_disk, 96 * 1024)
    said = expect(run_cli("process", batch, "--out", out, "--jobs", "1"), ExitCode.INTERRUPTED, "disk is full")
    assert "run the same command again" in said
    filler.unlink()
    expect(run_cli("process", batch, "--out", out, "--jobs", "1"), 0)
    runs = json.loads(run_cli("status", out, "--json").stdout)["runs"]
    assert [r["status"] for r in runs] == ["ok", "interrupted", "ok"]
    assert not (out / ".work").exists() and not [p for p in files_under(out) if p.endswith(".tmp")]
    expect(run_cli("verify", out, "--no-record"), 0, "INTACT")


def test_read_only_output_folder_is_an_interruption(small_disk, tmp_path):
    batch = tmp_path / "batch"
    blank_page(batch / "A" / "0001.png")
    out = small_disk / "out"
    expect(run_cli("process", batch, "--out", out, "--jobs", "1"), 0)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    expect(run_cli("export", out), ExitCode.INTERRUPTED, "Read-only file system")
    expect(run_cli("verify", out, "--no-record"), 0, "INTACT")  # a read-only archive can still be verified


def test_temporary_folders_of_killed_processes_are_removed_by_the_next_command(archived, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp / f"digitize-{ProcessId(ProcessId.current().host, int(dead.stdout), 1).tag}"
    (left / "pymp-abc").mkdir(parents=True)
    expect(run_cli("status", archived, env={**ENV, "TMPDIR": str(tmp)}), ExitCode.ATTENTION)  # the lot failed QC
    assert not left.exists() and list(tmp.iterdir()) == []


def test_partial_packages_of_killed_hand_offs_are_removed_by_the_next_one(archived, tmp_path):
    dest = tmp_path / "bag"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = tmp_path / f".bag.partial-{ProcessId(ProcessId.current().host, int(dead.stdout), 1).tag}~0a1b2c3d"
    legacy = tmp_path / ".bag.partial-0a1b2c3d"
    for folder in (killed, legacy):
        (folder / "data").mkdir(parents=True)
    run_cli("handoff", archived, "--to", dest, "--force", "--reason", "test")
    assert not killed.exists() and not legacy.exists()
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []


def test_private_tempdir_is_the_default_for_children(tmp_path):
    from digitize.leftovers import private_tempdir

    with private_tempdir() as mine:
        assert tempfile.gettempdir() == str(mine) and os.environ["TMPDIR"] == str(mine)
    assert tempfile.gettempdir() != str(mine)


def test_a_full_destination_interrupts_the_hand_off_instead_of_blaming_the_files(small_disk, tmp_path):
    from digitize.handoff.collect import Packer, SourceFile

    master = tmp_path / "0001.tif"
    master.write_bytes(os.urandom(6 << 20))  # more than the 4 MB disk holds
    recorded = SourceFile(master, "master", "0001.tif", sha256_file(master), 6 << 20, "master A/0001.tif", "A/0001.tif")
    packer = Packer(small_disk / "package", workers=1)
    with pytest.raises(Interrupted, match="disk is full"):  # exit 5: not "cannot be read", not a refusal
        packer.copy_checked([(recorded, "data/masters/A/0001.tif")])
