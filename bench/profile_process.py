#!/usr/bin/env python3
"""Where `digitize process` spends its CPU: the whole pipeline in one process under cProfile.

    python bench/profile_process.py BATCH --out /tmp/profiled --engine tesseract --top 60

The batch is planned and processed exactly as `digitize process BATCH --out OUT` does
(``digitize.pipeline.process_batch``), but every task runs in this process, one after the other,
so that one profile sees all of it: decoding, imaging, OCR, encoding, staging, the PDF/A and its
validation, the journal. The profile's clock is the process's CPU time (Tesseract runs inside
the process through tesserocr), so the figures hold when other work shares the machine. Prints
the functions by cumulative CPU seconds; --stats keeps the profile for `python -m pstats`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digitize.describe import ProcessRequest, plan_batch  # noqa: E402
from digitize.executors import Lost  # noqa: E402
from digitize.pipeline import process_batch  # noqa: E402
from digitize.settings import load_settings  # noqa: E402


class _Done:
    """A task already run: its value, or Lost."""

    def __init__(self, value: Any):
        self.value = value


class InlineExecutor:
    """Runs each task at once, in this process (the Executor protocol of digitize.executors)."""

    local = True

    def window(self) -> int:
        return 2

    def check_paths(self, readable: list[str], writable: list[str]) -> None:
        pass

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Done:
        try:
            return _Done(fn(*args))
        except Exception as exc:  # noqa: BLE001 - reported as the pool reports a lost task
            traceback.print_exc()
            return _Done(Lost(str(exc)))

    def wait_some(self, pending: Iterable[_Done], timeout: float | None = None) -> list[_Done]:
        return list(pending)

    def outcome(self, handle: _Done) -> Any:
        return handle.value

    def cancel(self, handle: _Done) -> None:
        pass

    def close(self, interrupted: bool = False) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("batch", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="output folder (emptied first)")
    ap.add_argument("--engine", choices=("auto", "ppocr", "tesseract"), default="auto")
    ap.add_argument("--top", type=int, default=60, help="functions to print")
    ap.add_argument("--stats", type=Path, help="keep the profile here")
    a = ap.parse_args()

    out = a.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    settings = load_settings(None).replace("ocr", engine=a.engine)
    plan = plan_batch(ProcessRequest(a.batch.resolve(), out, settings, None, "digitize process", False))
    out.mkdir(parents=True)
    profile = cProfile.Profile(time.process_time)
    started, cpu_started = time.perf_counter(), time.process_time()
    profile.enable()
    summary = process_batch(plan, InlineExecutor(), None, work_unit="document")
    profile.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"{summary.pages} pages: {cpu:.1f} CPU s ({cpu / max(summary.pages, 1):.2f} per page), {wall:.1f} s wall")
    if a.stats:
        profile.dump_stats(str(a.stats))
    pstats.Stats(profile).sort_stats("cumulative").print_stats(a.top)


if __name__ == "__main__":
    main()
