"""Benchmark `digitize qc` on an eval-kit corpus: process it (unless already done), run QC,
score the failing findings with the eval-kit's score.py, and time each step.

    python bench/qc.py --corpus /path/to/corpus                 # processes into a temp folder
    python bench/qc.py --corpus C --out OUT --reuse             # QC an existing OUT again
    python bench/qc.py --corpus C --json result.json

The corpus is what eval-kit/make_corpus.py writes (batch/, truth/). score.py is looked up in
--eval-kit, else $DIGITIZE_EVAL_KIT, else ../shared/eval-kit beside the repository.
Besides score.py's counts, the report lists every failing result on a document the truth
calls clean (false fails), which is what calibration has to keep at zero.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def eval_kit(given: str | None) -> Path:
    for candidate in (
        given,
        os.environ.get("DIGITIZE_EVAL_KIT"),
        ROOT.parent / "shared" / "eval-kit",
        "/work/shared/eval-kit",
    ):
        if candidate and (Path(candidate) / "score.py").is_file():
            return Path(candidate)
    sys.exit("score.py not found: pass --eval-kit DIR")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--out", type=Path, help="processed output folder (default: a temporary one)")
    ap.add_argument("--reuse", action="store_true", help="OUT is already processed: only run QC")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--languages", default=None, help="OCR languages for processing (default: the profile's)")
    ap.add_argument("--eval-kit", default=None)
    ap.add_argument("--json", type=Path, help="write the full result here")
    a = ap.parse_args()

    kit = eval_kit(a.eval_kit)
    batch = a.corpus / "batch"
    out = a.out or Path(tempfile.mkdtemp(prefix="bench-qc-")) / "out"
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    timings: dict[str, float] = {}
    if not a.reuse:
        command = [
            sys.executable,
            "-m",
            "cli",
            "process",
            str(batch),
            "--catalog",
            str(batch / "catalog.csv"),
            "--out",
            str(out),
            "--json",
            "--no-progress",
            "--jobs",
            str(a.jobs),
        ]
        if a.languages:
            command += ["-l", a.languages]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        timings["process_s"] = round(time.perf_counter() - started, 1)

    from bench.evalkit import found_defects
    from digitize.qc.run import QcRequest, run_qc
    from digitize.settings import Settings

    started = time.perf_counter()
    outcome = run_qc(QcRequest(out, Settings(), catalog=batch / "catalog.csv", jobs=a.jobs))
    timings["qc_s"] = round(time.perf_counter() - started, 1)
    timings.update({f"qc_{k}_s": round(v, 1) for k, v in outcome.checks.data.timings.items()})
    found = found_defects(outcome.to_dict()["results"])
    found_path = out / "qc" / "found.json"
    found_path.write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
    scored = subprocess.run(
        [sys.executable, str(kit / "score.py"), "qc", "--corpus", str(a.corpus), "--pred", str(found_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    score = json.loads(scored.stdout)

    truth = json.loads((a.corpus / "truth" / "defects.json").read_text(encoding="utf-8"))
    defective = {d["doc_id"] for d in truth}
    pages = sum(len(p) for p in outcome.checks.data.pages.values())
    false_fails = [
        {"check": r.check_id, "object": r.object, "evidence": r.evidence}
        for r in outcome.checks.results
        if r.status == "fail" and r.doc_key and r.doc_key not in defective and r.document not in defective
    ]
    warnings: dict[str, int] = {}
    for r in outcome.checks.results:
        if r.status == "warn":
            warnings[r.check] = warnings.get(r.check, 0) + 1
    result = {
        "corpus": str(a.corpus),
        "out": str(out),
        "pages": pages,
        "documents": len(outcome.checks.data.documents),
        "score": {k: score[k] for k in ("ground_truth", "found", "tp", "fp", "fn")},
        "per_type": score["per_type"],
        "missed": score["missed"],
        "spurious": score["spurious"],
        "false_fails_on_clean_documents": false_fails,
        "warnings_by_check": warnings,
        "verdict": outcome.verdict,
        "timings": timings,
        "qc_pages_per_minute": round(60 * pages / timings["qc_s"], 1) if timings["qc_s"] else None,
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if a.json:
        a.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
