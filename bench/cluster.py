#!/usr/bin/env python3
"""How `digitize process` scales on Dask, and where one coordinator's ceiling is.

    python bench/cluster.py real [--documents 8] [--workers 1 2 4]
    python bench/cluster.py ceiling [--documents 10000 100000] [--pages 1]
    python bench/cluster.py local [--runs 3] [--only DOCUMENT ...]

real     One-page documents (a sample page at 150 dpi) processed on a Dask cluster of 1, 2 and 4
         single-thread workers started with `dask scheduler` / `dask worker` on 127.0.0.1 (as on
         a real cluster: scheduler, workers and coordinator are separate processes). Reported:
         wall seconds, pages/min, CPU-seconds of the coordinator, the scheduler and the workers.
ceiling  The coordinator alone: a simulated batch whose document jobs do nothing (they return
         a manifest as large as a real one at once), through the real coordinator, a real
         scheduler and two real workers, recorded in a real journal. Reported per size: wall,
         coordinator CPU per page, pages/min, peak RSS of the coordinator, and its RSS growth.
local    The local pool (--jobs 2): document tasks against page tasks on the sample batch (or
         only some of its documents), interleaved.

Every figure is a median over --runs rounds (default 1 for ceiling, 3 otherwise); results are
printed as JSON and a Markdown table (docs/benchmarks.md keeps them with the command).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
SAMPLE_PAGE = ROOT / "samples" / "batch" / "J022-SB·2019-Y-DY-0004" / "0003.jpg"


# ------------------------------------------------------------------ a cluster of separate processes
class Cluster:
    """`dask scheduler` and N `dask worker` processes on 127.0.0.1, like a real cluster's."""

    def __init__(self, workers: int, threads: int = 1):
        import psutil

        self.dir = Path(tempfile.mkdtemp(prefix="bench-dask-"))
        self.file = self.dir / "scheduler.json"
        dask = str(Path(sys.executable).with_name("dask"))
        self.scheduler = subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", self.file],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [
            subprocess.Popen(
                [dask, "worker", "--scheduler-file", self.file, "--nthreads", str(threads), "--nworkers", "1"]
                + ["--no-dashboard", "--memory-limit", "0"],
                env=ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        from distributed import Client

        with Client(self.address) as client:
            client.wait_for_workers(workers, timeout=300)
        self.processes = [psutil.Process(p.pid) for p in [self.scheduler, *self.workers]]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU-seconds used so far by the scheduler and by all workers (nanny and worker processes)."""

        def total(process: Any) -> float:
            seen = 0.0
            for p in [process, *process.children(recursive=True)]:
                try:
                    times = p.cpu_times()
                    seen += times.user + times.system
                except Exception:  # noqa: BLE001 - a process that just ended
                    continue
            return seen

        return {
            "scheduler": total(self.processes[0]),
            "workers": sum(total(p) for p in self.processes[1:]),
        }

    def close(self) -> None:
        for process in [*self.workers, self.scheduler]:
            process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def make_batch(dest: Path, documents: int) -> Path:
    from PIL import Image

    with Image.open(SAMPLE_PAGE) as page:
        small = page.convert("L").resize((page.width // 2, page.height // 2))
    for n in range(documents):
        folder = dest / f"DOC-{n:04d}"
        folder.mkdir(parents=True)
        small.save(folder / "0001.jpg", dpi=(150, 150), quality=90)
    return dest


def run_process(args: list[str]) -> tuple[dict[str, Any], float, float]:
    """One `digitize process`: its summary, wall seconds and the CPU-seconds of the coordinator process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "cli", *args, "--json"], env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"digitize process failed ({result.returncode}): {result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(result.stdout), wall, cpu


# ------------------------------------------------------------------ real pages on 1, 2, 4 workers
def bench_real(documents: int, worker_counts: list[int], runs: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        batch = make_batch(Path(tmp) / "batch", documents)
        for workers in worker_counts:
            cluster = Cluster(workers)
            try:
                samples = []
                for run in range(runs):
                    out = Path(tmp) / f"out-{workers}-{run}"
                    cpu_before = cluster.cpu_seconds()
                    summary, wall, coordinator_cpu = run_process(
                        ["process", str(batch), "--out", str(out), "--executor", "dask", "--scheduler", cluster.address]
                    )
                    cpu_after = cluster.cpu_seconds()
                    samples.append(
                        {
                            "wall_s": wall,
                            "coordinator_cpu_s": coordinator_cpu,
                            "coordinator_loop_cpu_s": summary["coordinator_cpu_seconds"],
                            "scheduler_cpu_s": cpu_after["scheduler"] - cpu_before["scheduler"],
                            "workers_cpu_s": cpu_after["workers"] - cpu_before["workers"],
                            "pages": summary["pages_processed"],
                        }
                    )
                    shutil.rmtree(out)
            finally:
                cluster.close()
            row = {"workers": workers, **{k: statistics.median(s[k] for s in samples) for k in samples[0]}}
            row["pages_per_min"] = 60 * row["pages"] / row["wall_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def bench_local(only: list[str], runs: int) -> list[dict[str, Any]]:
    """Document tasks against page tasks on the local pool (--jobs 2), interleaved."""
    rows: dict[str, list[dict[str, Any]]] = {"document": [], "page": []}
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        batch = Path(tmp) / "batch"
        shutil.copytree(ROOT / "samples" / "batch", batch, ignore=shutil.ignore_patterns("catalog.csv"))
        for folder in batch.iterdir():
            if only and folder.name not in only:
                shutil.rmtree(folder)
        for run in range(runs):
            for unit in rows:
                out = Path(tmp) / f"out-{unit}-{run}"
                summary, wall, cpu = run_process(
                    ["process", str(batch), "--out", str(out), "--jobs", "2", "--unit", unit]
                )
                rows[unit].append({"wall_s": wall, "coordinator_cpu_s": cpu, "pages": summary["pages_processed"]})
                shutil.rmtree(out)
    result = []
    for unit, samples in rows.items():
        row = {"unit": unit, **{k: statistics.median(s[k] for s in samples) for k in samples[0]}}
        row["pages_per_min"] = 60 * row["pages"] / row["wall_s"]
        result.append(row)
        print(json.dumps(row), flush=True)
    return result


# ------------------------------------------------------------------ the coordinator's ceiling
def noop_jobs(jobs: list[Any]) -> list[Any]:
    """A document job that does nothing: the manifest a real one-document job returns, made at once."""
    from digitize.jobs import DocumentManifest, JobStatus

    manifests = []
    for job in jobs:
        pages = []
        for ref in job.pages:
            geometry = {
                "skew_deg": 0.4,
                "orientation_deg": 0,
                "crop_box": [12, 20, 2468, 3490],
                "is_blank": False,
                "needs_colour": False,
                "ink_ratio": 0.07,
                "contrast": 0.81,
            }
            facts = {
                "file_format": "JPEG",
                "compression": "JPEG",
                "dpi": 300.0,
                "dpi_source": "file",
                "source_mode": "grey",
                "width": 2480,
                "height": 3508,
                "output_mode": "grey",
                "output_compression": "JPEG",
                "output_width": 2456,
                "output_height": 3470,
            }
            result = {
                "doc_key": ref.doc_key,
                "page_no": ref.page_no,
                "ok": True,
                "error": None,
                "warnings": [],
                "facts": facts,
                "geometry": geometry,
                "ocr_confidence": 88.5,
                "ocr_status": "ok",
                "staged": {"image": {"name": "0001.img", "sha256": "0" * 64, "bytes": 812345}},
                "timings": {"load": 0.1, "imaging.skew": 0.2, "ocr": 3.1, "encode": 0.2, "stage": 0.01},
                "reused": False,
            }
            source = {
                "source_path": ref.path,
                "frame": 0,
                "slot": ref.page_no,
                "container": "image",
                "master_sha256": "1" * 64,
                "master_bytes": 912345,
            }
            pages.append({"source": source, "result": result})
        files = {}
        for ref in job.pages:
            for folder, suffix in (("ocr", ".hocr"), ("ocr", ".txt"), ("ocr", ".alto.xml"), ("pages", ".json")):
                files[f"{folder}/{job.name}-{ref.page_no:04d}{suffix}"] = {"sha256": "2" * 64, "bytes": 4567}
        pdf = {"name": f"{job.name}.pdf", "sha256": "3" * 64, "bytes": 987654, "flavour": "2b"}
        pdf.update(validated=True, findings=[], producer="digitize")
        files[pdf["name"]] = {"sha256": pdf["sha256"], "bytes": pdf["bytes"]}
        manifests.append(
            DocumentManifest(
                job.doc_key,
                JobStatus.DONE,
                job.settings_key,
                masters={ref.path: ["1" * 64, 912345] for ref in job.pages},
                pages=pages,
                output_dir=f"documents/{job.name}",
                pdf=pdf,
                files=files,
                seconds=0.0,
                worker="noop",
            )
        )
    return manifests


class SimulatedBatch:
    """N documents of P pages, made when iterated (nothing is kept): the plan of a huge batch."""

    def __init__(self, root: Path, documents: int, pages: int):
        self.root, self.documents, self.pages = root, documents, pages

    def __len__(self) -> int:
        return self.documents

    def __iter__(self) -> Iterator[Any]:
        from digitize.batch import PageRef, SourceDocument

        for n in range(self.documents):
            key = f"SIM-{n:07d}"
            folder = self.root / key
            refs = [PageRef(key, p, f"{folder}/{p:04d}.tif", slot=p) for p in range(1, self.pages + 1)]
            yield SourceDocument(key, str(folder), refs, master_files=[r.path for r in refs])


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def simulate(documents: int, pages: int, address: str) -> dict[str, Any]:
    """One simulated run in this process (called in a fresh process per size)."""
    import threading

    from digitize.describe import BatchDescription, BatchPlan, ProcessRequest
    from digitize.executors import DaskExecutor
    from digitize.pipeline import Coordinator
    from digitize.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-ceiling-"))
    try:
        batch, out = tmp / "batch", tmp / "out"
        batch.mkdir()
        out.mkdir()
        docs = SimulatedBatch(batch, documents, pages)
        request = ProcessRequest(batch, out, Settings(), None, "bench ceiling")
        plan = BatchPlan(request, docs, BatchDescription(None, {}))  # type: ignore[arg-type]
        executor = DaskExecutor(address, 1)
        samples: list[tuple[int, float]] = []
        done = [0]

        def progress(pages_done: int, total: int) -> None:
            done[0] = pages_done

        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                samples.append((done[0], rss_mb()))

        rss_start = rss_mb()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        coordinator = Coordinator(plan, executor, progress, run_jobs=noop_jobs)
        summary = coordinator.run(docs, "bench ceiling")  # type: ignore[arg-type]
        stop.set()
        executor.close()
        total_pages = documents * pages
        mid = [rss for pages_done, rss in samples if pages_done >= total_pages // 10]
        return {
            "documents": documents,
            "pages": total_pages,
            "wall_s": summary.wall_seconds,
            "coordinator_cpu_s": summary.coordinator_cpu_seconds,
            "cpu_ms_per_page": 1000 * summary.coordinator_cpu_seconds / total_pages,
            "pages_per_min": 60 * total_pages / summary.wall_seconds,
            "rss_start_mb": rss_start,
            "rss_at_10pct_mb": mid[0] if mid else None,
            "rss_end_mb": samples[-1][1] if samples else rss_mb(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "journal_mb": (out / "journal.sqlite").stat().st_size / 2**20,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_ceiling(sizes: list[int], pages: int, threads: int) -> list[dict[str, Any]]:
    cluster = Cluster(2, threads)
    rows = []
    try:
        for documents in sizes:
            cpu_before = cluster.cpu_seconds()
            result = subprocess.run(
                [sys.executable, __file__, "simulate", str(documents), str(pages), cluster.address],
                env=ENV,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise SystemExit(result.stderr[-3000:])
            row = json.loads(result.stdout.strip().splitlines()[-1])
            cpu_after = cluster.cpu_seconds()
            row["scheduler_cpu_s"] = cpu_after["scheduler"] - cpu_before["scheduler"]
            row["workers_cpu_s"] = cpu_after["workers"] - cpu_before["workers"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        cluster.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    real = sub.add_parser("real")
    real.add_argument("--documents", type=int, default=8)
    real.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    real.add_argument("--runs", type=int, default=3)
    local = sub.add_parser("local")
    local.add_argument("--runs", type=int, default=3)
    local.add_argument("--only", nargs="*", default=[], help="only these sample documents")
    ceiling = sub.add_parser("ceiling")
    ceiling.add_argument("--documents", type=int, nargs="+", default=[10_000, 100_000])
    ceiling.add_argument("--pages", type=int, default=1)
    ceiling.add_argument("--threads", type=int, default=4, help="threads per worker (2 workers)")
    simulated = sub.add_parser("simulate")  # internal: one size, in a fresh process
    simulated.add_argument("documents", type=int)
    simulated.add_argument("pages", type=int)
    simulated.add_argument("address")
    args = parser.parse_args()
    if args.command == "real":
        bench_real(args.documents, args.workers, args.runs)
    elif args.command == "local":
        bench_local(args.only, args.runs)
    elif args.command == "ceiling":
        bench_ceiling(args.documents, args.pages, args.threads)
    else:
        print(json.dumps(simulate(args.documents, args.pages, args.address)))


if __name__ == "__main__":
    main()
