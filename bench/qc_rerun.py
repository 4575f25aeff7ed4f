"""How long `digitize qc` takes when an inspector records decisions: measuring every page again
(--measure-again, as every run did before measurements were kept) against reusing the kept
measurements of unchanged documents. Both are run in turns on one processed OUT, side by side;
medians and their ratio.

    python bench/qc_rerun.py --out archive/2019 --rounds 3 --jobs 2
    python bench/qc_rerun.py --batch samples/batch --rounds 3 --jobs 2   # processes it first

With --batch the batch is processed (with BATCH/catalog.csv when there is one) into a
temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


def digitize(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)], capture_output=True, text=True, env=ENV, cwd=ROOT
    )


def timed_qc(out: Path, jobs: int, *options: str) -> dict[str, float]:
    started = time.perf_counter()
    result = digitize("qc", out, "--jobs", str(jobs), "--json", *options)
    wall = time.perf_counter() - started
    if result.returncode not in (0, 4):
        sys.exit(f"qc failed ({result.returncode}): {result.stderr}")
    report = json.loads(result.stdout)
    return {"wall": wall, "measure": report["timings"]["measure"], "reused": report["measurements"]["reused"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--out", type=Path, help="a processed output folder")
    source.add_argument("--batch", type=Path, help="a batch to process first")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()

    out = a.out
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="bench-qc-rerun-")) / "out"
        catalog = a.batch / "catalog.csv"
        options = ["--catalog", catalog] if catalog.is_file() else []
        processed = digitize("process", a.batch, "--out", out, "--jobs", str(a.jobs), "--no-progress", *options)
        if processed.returncode not in (0, 4):
            sys.exit(f"process failed ({processed.returncode}): {processed.stderr}")
    timed_qc(out, a.jobs)  # the first run: measurements are kept from here on
    runs: dict[str, list[dict[str, float]]] = {"measure again": [], "kept": []}
    for _ in range(a.rounds):
        runs["measure again"].append(timed_qc(out, a.jobs, "--measure-again"))
        runs["kept"].append(timed_qc(out, a.jobs))
    medians = {
        name: {key: statistics.median(r[key] for r in rows) for key in ("wall", "measure", "reused")}
        for name, rows in runs.items()
    }
    print(f"{'qc run':14s} {'wall s':>8s} {'measure s':>10s} {'documents reused':>17s}")
    for name, m in medians.items():
        print(f"{name:14s} {m['wall']:8.2f} {m['measure']:10.2f} {m['reused']:17.0f}")
    print(f"wall ratio (measure again / kept): {medians['measure again']['wall'] / medians['kept']['wall']:.2f}")
    print(json.dumps({"out": str(out), "rounds": runs, "medians": medians}, indent=1))


if __name__ == "__main__":
    main()
