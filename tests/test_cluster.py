"""`digitize process` on a real Dask cluster (distributed.LocalCluster on 127.0.0.1) and on the local pool
when things go wrong: a killed worker, a page that kills every worker it reaches, a lost scheduler,
SIGTERM, a coordinator killed with SIGKILL. Batches are a few small pages, so the tests stay fast.

Waits are on events (a file appearing, a journal row, a process ending) with a deadline, never
on fixed sleeps: the machine may be loaded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import distributed
import pikepdf
import pytest
from PIL import Image

from digitize.jobs import KILL_HOOK
from tests.test_pipeline import ENV, run_cli

CATALOG_HEADER = "档号,题名,责任者,日期,页数,密级,保管期限,开放标识,备注"
SMALL_PAGE = "J022-SB·2019-Y-DY-0004/0003.jpg"  # a short text page; its top left OCRs in about a second


def small_batch(samples: Path, dest: Path, names: tuple[str, ...]) -> Path:
    """One-page documents made from the top left of a 300-dpi sample page (a third of its pixels,
    tagged 300 dpi as its characters agree: no resolution finding)."""
    with Image.open(samples / "batch" / SMALL_PAGE) as page:
        small = page.convert("L").crop((0, 0, page.width * 7 // 10, page.height // 2))
    for name in names:
        (dest / name).mkdir(parents=True)
        small.save(dest / name / "0001.jpg", dpi=(300, 300), quality=90)
    return dest


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def journal_rows(out: Path, sql: str) -> list[tuple]:
    journal = out / "journal.sqlite"
    if not journal.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:  # created but not yet initialised
        return []


def committed_documents(out: Path) -> int:
    return len(list((out / "documents").glob("*/*.pdf"))) if (out / "documents").exists() else 0


@pytest.fixture()
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., object]]:
    """Start LocalClusters (2 single-thread worker processes, 127.0.0.1); all are closed at the end."""
    import dask

    started: list[object] = []

    def start(allowed_failures: int = 3, **env: str) -> object:
        for key, value in env.items():
            monkeypatch.setenv(key, value)  # worker processes inherit the environment
        monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
        with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}):
            local = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
        started.append(local)
        return local

    yield start
    for local in started:
        local.close()


def dask_args(batch: Path, out: Path, address: str) -> list[str]:
    return ["process", str(batch), "--out", str(out), "--executor", "dask", "--scheduler", address, "--json"]


def start_cli(args: list[str]) -> subprocess.Popen:
    """`digitize ARGS` in the background, its output captured."""
    command = [sys.executable, "-m", "cli", *args, "--no-progress"]
    return subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_dask_gives_the_same_outputs_as_the_local_pool(sample_run, samples_dir, tmp_path, cluster):
    local = cluster()
    batch = tmp_path / "batch"
    name = "J022-SB·2019-Y-DY-0004"
    (batch / name).mkdir(parents=True)
    for page in (samples_dir / "batch" / name).iterdir():
        (batch / name / page.name).write_bytes(page.read_bytes())
    out = tmp_path / "out"
    catalog = samples_dir / "batch" / "catalog.csv"
    result = run_cli(*dask_args(batch, out, local.scheduler_address), "--catalog", str(catalog), expect=4)
    summary = json.loads(result.stdout)
    assert summary["documents_ok"] == 1 and summary["work_unit"] == "document"
    ours, theirs = out / "documents" / name, sample_run["out"] / "documents" / name
    for path in sorted((theirs / "ocr").iterdir()):
        assert (ours / "ocr" / path.name).read_bytes() == path.read_bytes(), path.name
    for path in sorted((theirs / "pages").iterdir()):
        mine, expected = (json.loads(p.read_text(encoding="utf-8")) for p in (ours / "pages" / path.name, path))
        mine.pop("timings"), expected.pop("timings")
        assert mine == expected
    assert not (out / ".work").exists()


def test_dask_worker_killed_mid_run_the_batch_completes_once(samples_dir, tmp_path, cluster):
    local = cluster()
    names = ("A", "B", "C", "D")
    batch = small_batch(samples_dir, tmp_path / "batch", names)
    out = tmp_path / "out"
    client = distributed.Client(local)
    try:
        process = start_cli(dask_args(batch, out, local.scheduler_address))
        wait_for(lambda: any(client.processing().values()) or process.poll() is not None, "a task on a worker")
        busy = next(addr for addr, tasks in client.processing().items() if tasks)
        pid = client.run(os.getpid, workers=[busy])[busy]
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        client.close()
    assert process.returncode == 0, stdout + stderr
    summary = json.loads(stdout)
    assert summary["documents_ok"] == 4 and summary["documents_failed"] == 0
    packaging = journal_rows(out, "SELECT object FROM events WHERE detail LIKE '%PDF/A packaging%'")
    assert sorted(o for (o,) in packaging) == list(names)  # each document recorded once
    pages = journal_rows(out, "SELECT doc_key, page_no, state FROM pages ORDER BY doc_key")
    assert pages == [(n, 1, "done") for n in names]


def test_dask_poison_page_fails_its_document_and_a_rerun_skips_it(samples_dir, tmp_path, cluster):
    local = cluster(allowed_failures=1, **{KILL_HOOK: "B/1"})
    batch = small_batch(samples_dir, tmp_path / "batch", ("A", "B", "C"))
    out = tmp_path / "out"
    first = run_cli(*dask_args(batch, out, local.scheduler_address), expect=1)
    summary = json.loads(first.stdout)
    assert summary["documents_ok"] == 2
    assert [f["document"] for f in summary["failures"]] == ["B"]
    assert "worker died 2 times on page 1 (0001.jpg)" in summary["failures"][0]["error"]
    assert committed_documents(out) == 2

    again = run_cli(*dask_args(batch, out, local.scheduler_address), expect=1)
    summary = json.loads(again.stdout)
    assert summary["documents_quarantined"] == 1 and summary["documents_skipped"] == 2
    assert "--retry-failed" in summary["failures"][0]["error"]
    assert summary["pages_processed"] == 0


def test_dask_scheduler_lost_mid_run_is_interrupted_and_a_rerun_completes(samples_dir, tmp_path, cluster):
    local = cluster()
    names = ("A", "B", "C", "D", "E", "F")
    batch = small_batch(samples_dir, tmp_path / "batch", names)
    out = tmp_path / "out"
    process = start_cli(dask_args(batch, out, local.scheduler_address))
    wait_for(lambda: committed_documents(out) >= 1 or process.poll() is not None, "a committed document")
    local.close()  # the scheduler and its workers go away
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 5, stdout + stderr
    assert "run the same command again" in stderr
    assert journal_rows(out, "SELECT status FROM runs") == [("interrupted",)]

    fresh = cluster()
    summary = json.loads(run_cli(*dask_args(batch, out, fresh.scheduler_address)).stdout)
    assert summary["documents_ok"] == 6
    assert summary["documents_skipped"] + summary["documents_adopted"] >= 1
    assert summary["pages_processed"] <= 5  # what was committed before the loss is not redone
    packaging = journal_rows(out, "SELECT object FROM events WHERE detail LIKE '%PDF/A packaging%'")
    assert sorted(o for (o,) in packaging) == list(names)


def test_dask_links_a_batch_to_its_catalogue_later_without_ocr(samples_dir, tmp_path, cluster):
    """Processed without --catalog, then again with it: described anew on the coordinator, no OCR redone."""
    local = cluster()
    titles = {"J099-WS·2020-Y-BGS-0001": "关于社会保险业务档案归档的通知", "J099-WS·2020-Y-BGS-0002": "参保登记表"}
    batch = small_batch(samples_dir, tmp_path / "batch", tuple(titles))
    catalog = tmp_path / "catalog.csv"
    rows = [f"{code},{title},杭州市社会保险基金管理中心,20200312,1,内部,永久,开放," for code, title in titles.items()]
    catalog.write_text("\ufeff" + "\n".join([CATALOG_HEADER, *rows]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    run_cli(*dask_args(batch, out, local.scheduler_address))

    linked = run_cli(*dask_args(batch, out, local.scheduler_address), "--catalog", str(catalog))
    summary = json.loads(linked.stdout)
    assert summary["documents_relinked"] == 2 and summary["documents_skipped"] == 2
    assert summary["pages_processed"] == 0
    assert dict(journal_rows(out, "SELECT archival_code, title FROM documents")) == titles
    for code, title in titles.items():
        with pikepdf.open(out / "documents" / code / f"{code}.pdf") as pdf:
            assert title in str(pdf.open_metadata())
    run_cli("verify", str(out))  # the journal follows the relabelled PDFs
    again = run_cli(*dask_args(batch, out, local.scheduler_address))  # the previous run's catalogue
    assert json.loads(again.stdout)["documents_relinked"] == 0


def test_the_dashboard_answers_with_the_cluster_extra():
    """`dask[diagnostics]` (the `cluster` extra) brings bokeh: the status page is the dashboard, not "needs bokeh"."""
    import urllib.request

    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0") as local:
        status = f"http://127.0.0.1:{local.scheduler.http_server.port}/status"
        with urllib.request.urlopen(status, timeout=60) as response:
            page = response.read().decode("utf-8")
    assert "needs bokeh" not in page.lower() and "Bokeh" in page


# ------------------------------------------------------------------------------ the local pool
def test_local_pool_worker_killed_by_a_page_fails_that_document_only(samples_dir, tmp_path):
    batch = small_batch(samples_dir, tmp_path / "batch", ("A", "B", "C"))
    out = tmp_path / "out"
    env = {**ENV, KILL_HOOK: "B/1"}
    args = [sys.executable, "-m", "cli", "process", str(batch), "--out", str(out), "--jobs", "2", "--json"]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["documents_ok"] == 2
    assert [f["document"] for f in summary["failures"]] == ["B"]
    assert "worker died" in summary["failures"][0]["error"] and "on page 1" in summary["failures"][0]["error"]


def test_a_worker_lost_in_a_task_of_several_documents_blames_only_the_one_that_killed_it(samples_dir, tmp_path):
    """A and B share a task (one job, four one-page documents): A's page is corrupt, B's kills its worker.
    A fails with its own error and its page recorded, not with B's lost worker."""
    batch = small_batch(samples_dir, tmp_path / "batch", ("A", "B", "C", "D"))
    (batch / "A" / "0001.jpg").write_bytes(b"not a JPEG")
    out = tmp_path / "out"
    env = {**ENV, KILL_HOOK: "B/1"}
    args = [sys.executable, "-m", "cli", "process", str(batch), "--out", str(out), "--jobs", "1", "--json"]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    errors = {f["document"]: f["error"] for f in summary["failures"]}
    assert sorted(errors) == ["A", "B"] and summary["documents_ok"] == 2
    assert "worker died" not in errors["A"] and "0001.jpg" in errors["A"]
    assert "worker died" in errors["B"] and "on page 1" in errors["B"]


def session_processes(session: int) -> list[int]:
    """Processes of a session (the coordinator started it; its pool and helpers belong to it)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_sigkill_of_the_coordinator_leaves_no_worker_and_sigterm_interrupts(samples_dir, tmp_path):
    names = ("A", "B", "C", "D", "E", "F")
    batch = small_batch(samples_dir, tmp_path / "batch", names)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "cli", "process", str(batch), "--out", str(out), "--jobs", "2", "--json"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    process = subprocess.Popen(args, env=ENV, start_new_session=True, **quiet)
    wait_for(lambda: len(session_processes(process.pid)) >= 5, "the pool's workers")  # + forkserver, tracker
    os.kill(process.pid, signal.SIGKILL)  # the coordinator only, as the OOM killer would
    process.wait(timeout=60)
    wait_for(lambda: not session_processes(process.pid), "every child to end", seconds=30)
    status = json.loads(run_cli("status", str(out), "--json", expect=5).stdout)  # 5: interrupted
    assert status["runs"][-1]["status"] == "interrupted"  # its process is gone: said so before any rerun

    process = start_cli(args[3:])
    committed_before = committed_documents(out)
    wait_for(
        lambda: (
            (len(journal_rows(out, "SELECT id FROM runs")) == 2 and committed_documents(out) > committed_before)
            or process.poll() is not None
        ),
        "a document committed by the rerun",
    )
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 5, stderr
    statuses = [s for (s,) in journal_rows(out, "SELECT status FROM runs ORDER BY id")]
    assert statuses == ["interrupted", "interrupted"]  # the killed run is recognised, the stopped one says so

    summary = json.loads(run_cli("process", str(batch), "--out", str(out), "--json", "--jobs", "2").stdout)
    assert summary["documents_ok"] == 6
    assert summary["documents_skipped"] + summary["documents_adopted"] >= 1
    assert summary["pages_processed"] <= 5


# ------------------------------------------------------------------------------ journal location
def test_a_journal_on_a_network_file_system_is_refused(tmp_path, monkeypatch):
    from digitize import storage

    share = tmp_path / "share"
    (share / "out").mkdir(parents=True)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        f"90 22 0:52 / {share} rw,relatime shared:50 - nfs4 fileserver:/export rw,vers=4.2\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(storage, "MOUNTINFO", mountinfo)
    assert storage.filesystem_type(share / "out") == "nfs4"
    assert storage.filesystem_type(tmp_path) == "ext4"
    with pytest.raises(storage.JournalOnNetwork, match="network file system \\(nfs4\\)"):
        storage.require_local_journal(share / "out")
    storage.require_local_journal(tmp_path)  # local: accepted
