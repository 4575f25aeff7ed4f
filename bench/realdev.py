#!/usr/bin/env python3
"""Real pages: digitize beside bare Tesseract and OCRmyPDF on ../shared/real-dev, in one run.

    python bench/realdev.py --jobs 2                          # all three, scored side by side
    python bench/realdev.py --jobs 2 --only digitize          # digitize alone (while developing)
    python bench/realdev.py --jobs 2 --json bench/results/realdev.json
    python bench/realdev.py --jobs 2 --only digitize --engine ppocr --page-timeout 900 --work /tmp/rd-ppocr
    python bench/realdev.py --jobs 2 --only tesseract --only digitize --engine tesseract --extra-columns

The contenders run one after the other on the same pages, each as real-dev's README runs it:

- Tesseract   `tesseract PAGE - -l chi_sim+eng` on the file as it is, N pages at a time
- OCRmyPDF    per document folder: img2pdf of its pages, then `ocrmypdf -l chi_sim+eng
              --rotate-pages --deskew --output-type pdfa --jobs N --sidecar`; the sidecar text
              is split into pages at its form feeds
- digitize    `digitize process BATCH --out OUT --jobs N`

Every text is scored with real-dev's own score.py (CER micro over the pages with reference text,
per group). For digitize, the page records give the geometry and resolution measures: wrong and
missed turns, crops into text, blank flags on text pages, resolutions more than 15 % off the
page's real one (and how many were reported unknown).

Time, side by side: the wall seconds of each contender's whole run over the pages, and per
page: bare Tesseract's own wall and CPU seconds (each `tesseract` process's rusage), digitize's
from its page records (wall seconds of every step inside the worker, and the worker's CPU
seconds for the page: loading, imaging, OCR, encoding, staging; starting the workers, the PDF/A
and the journal are in the run's wall time only). Medians, totals and the ratio digitize /
Tesseract. `--extra-columns` measures the OCR of extra columns the issue's speed target leaves
aside: each page digitize read region by region (columns, the pages of a spread) is imaged again
in this process and its OCR image read both region by region and in one pass of the whole page;
what the regions cost beyond the one pass (CPU seconds, never below 0) is taken off digitize's
CPU total, and spread over the jobs, off its wall time.
The figures are development figures: real-dev is tuned on.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
LANG = "chi_sim+eng"
TOOLS = ("tesseract", "ocrmypdf", "digitize")
ENGINES = ("auto", "ppocr", "tesseract")
TARGET_RATIO = 0.8  # CER at most this share of the better baseline (issue 18)
SPEED_RATIO = 1.3  # seconds per page at most this multiple of bare Tesseract's


def real_dev(given: str | None) -> Path:
    beside = [folder / "shared" / "real-dev" for folder in ROOT.parents]  # ../shared, also from a worktree
    for candidate in (given, os.environ.get("DIGITIZE_REAL_DEV"), *beside):
        if candidate and (Path(candidate) / "score.py").is_file():
            return Path(candidate)
    sys.exit("real-dev not found: pass --real-dev DIR (the folder with score.py, batch/ and truth/)")


def load_scorer(folder: Path):
    """real-dev's score.py as a module, so every contender is scored exactly as the set defines."""
    spec = importlib.util.spec_from_file_location("realdev_score", folder / "score.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def page_files(batch: Path) -> list[Path]:
    return sorted(p for p in batch.glob("*/*") if p.is_file())


# ------------------------------------------------------------------ contenders
def run_tesseract(batch: Path, dest: Path, jobs: int) -> tuple[float, dict[str, tuple[float, float]]]:
    """Bare Tesseract on every page, `jobs` at a time: (wall seconds, {page: (wall, CPU seconds)})."""
    per_page: dict[str, tuple[float, float]] = {}

    def one(page: Path) -> None:
        target = dest / page.parent.name / f"{page.stem}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with target.open("wb") as text:
            process = subprocess.Popen(
                ["tesseract", str(page), "-", "-l", LANG], env=ENV, stdout=text, stderr=subprocess.DEVNULL
            )
            _, _, usage = os.wait4(process.pid, 0)  # this child's own CPU time, whatever else runs
        process.returncode = 0  # reaped here, not by Popen
        per_page[page_key(page)] = (time.perf_counter() - started, usage.ru_utime + usage.ru_stime)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, page_files(batch)))
    return time.perf_counter() - started, per_page


def page_key(page: Path) -> str:
    """A page's name in the per-page times: document folder / file name without suffix."""
    return f"{page.parent.name}/{page.stem}"


def run_ocrmypdf(batch: Path, dest: Path, work: Path, jobs: int, program: str) -> float:
    import img2pdf

    started = time.perf_counter()
    for folder in sorted(p for p in batch.iterdir() if p.is_dir()):
        pages = sorted(p for p in folder.iterdir() if p.is_file())
        source, output, sidecar = (work / f"{folder.name}{suffix}" for suffix in (".in.pdf", ".pdf", ".txt"))
        source.write_bytes(img2pdf.convert([str(p) for p in pages]))
        command = [program, "-l", LANG, "--rotate-pages", "--deskew", "--output-type", "pdfa", "--jobs", str(jobs)]
        command += ["--sidecar", str(sidecar), str(source), str(output)]
        done = subprocess.run(command, env=ENV, capture_output=True, text=True, check=False)
        (work / f"{folder.name}.log").write_text(done.stderr, encoding="utf-8")
        texts = sidecar.read_text(encoding="utf-8").split("\f") if sidecar.exists() else []
        for page, text in zip(pages, texts):
            target = dest / folder.name / f"{page.stem}.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return time.perf_counter() - started


def run_digitize(batch: Path, out: Path, jobs: int, engine: str | None, profile: Path | None) -> float:
    command = [sys.executable, "-m", "cli", "process", str(batch), "--out", str(out), "--jobs", str(jobs)]
    if engine:
        command += ["--engine", engine]
    if profile:
        command += ["--profile", str(profile)]
    started = time.perf_counter()
    subprocess.run(command + ["--no-progress"], cwd=ROOT, env=ENV, capture_output=True, check=False)
    return time.perf_counter() - started


def digitize_page_times(out: Path) -> dict[str, dict[str, float]]:
    """Per page, from the page records: wall seconds inside the worker (all steps), its CPU
    seconds, the OCR seconds of a second pass over the page (the sparse-text pass) and whether
    it was read region by region (columns, the pages of a spread)."""
    times = {}
    for record in out.glob("documents/*/pages/*.json"):
        data = json.loads(record.read_text(encoding="utf-8"))
        timings = data.get("timings") or {}
        master = Path(str(data.get("master") or record.stem))
        times[f"{master.parent.name}/{master.stem}"] = {
            "wall": sum(float(v) for k, v in timings.items() if k != "cpu"),
            "cpu": float(timings.get("cpu", 0.0)),
            "ocr": float(timings.get("ocr", 0.0)),
            "ocr_sparse": float(timings.get("ocr_sparse", 0.0)),
            "regions": len((data.get("layout") or {}).get("regions") or []),
        }
    return times


def extra_columns(batch: Path, per_page: dict, a: argparse.Namespace) -> dict[str, dict[str, float]]:
    """The OCR of extra columns, measured: every page digitize read region by region is imaged
    again here (the same code) and its OCR image read twice, region by region as the pipeline
    reads it and in one pass of the whole page as bare Tesseract does; the CPU seconds the
    regions cost beyond the one pass are the page's extra columns."""
    from digitize.batch import PageRef
    from digitize.loader import load_page
    from digitize.ocr import engines
    from digitize.ocr.reading import read_page
    from digitize.settings import load_settings
    from digitize.tasks import image_page

    settings = load_settings(None)
    if a.engine:
        settings = settings.replace("ocr", engine=a.engine)
    engine = engines.make(settings.ocr)
    measured = {}
    for key, page in sorted(per_page.get("digitize", {}).items()):
        if page["regions"] < 2:
            continue
        path = next(p for p in page_files(batch) if page_key(p) == key)
        loaded = load_page(PageRef(path.parent.name, 1, str(path)), settings.input)
        processed = image_page(loaded, settings.imaging, engine)
        dpi = processed.resolution.working_dpi * processed.ocr_scale
        cpu = {}
        for how, layout in (("regions", processed.layout), ("one_pass", None)):
            started = time.process_time()
            read_page(engine, processed.ocr_image, dpi, read_tables=settings.ocr.read_tables, layout=layout)
            cpu[how] = time.process_time() - started
        measured[key] = {**cpu, "extra": max(0.0, cpu["regions"] - cpu["one_pass"])}
    return measured


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def time_summary(
    walls: dict[str, float], per_page: dict, n_pages: int, jobs: int, extra: dict[str, dict[str, float]] | None
) -> dict:
    """Seconds per page of each contender: the run's wall time over the pages, and per page (the
    median of the pages' wall and CPU seconds; CPU summed over the pages); for digitize also
    without the OCR of extra columns (their CPU seconds, spread over the jobs for the wall time)."""
    summary: dict = {}
    for tool, pages in per_page.items():
        summary[tool] = {
            "run_wall_s": walls[tool],
            "wall_s_per_page": walls[tool] / n_pages,
            "page_wall_median_s": median([p["wall"] for p in pages.values()]),
            "page_cpu_median_s": median([p["cpu"] for p in pages.values()]),
            "cpu_total_s": sum(p["cpu"] for p in pages.values()),
        }
    if "digitize" in summary and extra is not None:
        extra_cpu = sum(e["extra"] for e in extra.values())
        ours = summary["digitize"]
        ours["extra_columns"] = {"pages": extra, "cpu_s": extra_cpu}
        ours["wall_s_per_page_without_extra_columns"] = (walls["digitize"] - extra_cpu / jobs) / n_pages
        ours["cpu_total_without_extra_columns_s"] = ours["cpu_total_s"] - extra_cpu
    return summary


# ------------------------------------------------------------------ scoring
def score(scorer, pages: list[dict], predictions: dict) -> tuple[dict, list[dict]]:
    rows = [scorer.score_page(p, predictions.get(p["page_id"], {})) for p in pages]
    summary = {}
    for group in scorer.ORDER[:-1]:
        selected = [r for r in rows if scorer.group_key(r) == group]
        if selected:
            summary[group] = scorer.aggregate(selected)
    summary["all"] = scorer.aggregate(rows)
    return summary, rows


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def print_report(report: dict) -> None:
    scores = report["scores"]
    tools = [t for t in TOOLS if t in scores]
    print(f"real-dev: {report['pages']} pages, {report['text_pages']} with reference text (development figures)")
    print()
    header = f"{'CER (micro)':<12}{'pages':>6}" + "".join(f"{t:>12}" for t in tools)
    if {"tesseract", "ocrmypdf", "digitize"} <= set(tools):
        header += f"{'target':>10}{'ratio':>8}  met"
    print(header)
    for group in report["groups"]:
        line = f"{group:<12}{scores[tools[0]][group].get('text_pages', 0):>6}"
        line += "".join(f"{pct(scores[t][group].get('cer')):>12}" for t in tools)
        if {"tesseract", "ocrmypdf", "digitize"} <= set(tools) and scores["digitize"][group].get("cer") is not None:
            best = min(scores["tesseract"][group]["cer"], scores["ocrmypdf"][group]["cer"])
            ours = scores["digitize"][group]["cer"]
            line += (
                f"{pct(TARGET_RATIO * best):>10}{ours / best:>8.2f}  {'yes' if ours <= TARGET_RATIO * best else 'no'}"
            )
        print(line)
    print()
    print("Bag-of-characters error (order-free) " + "  ".join(f"{t} {pct(scores[t]['all'].get('boc'))}" for t in tools))
    if "digitize" in scores:
        a = scores["digitize"]["all"]
        dpi = report["dpi"]
        print()
        print("digitize, geometry and flags (all 58 pages)")
        print(f"  orientation right        {a.get('orient_ok')}/{a.get('orient_n')}")
        print(f"  upright pages turned     {a.get('wrong_turns')}/{a.get('upright_n')}")
        print(f"  turned pages missed      {a.get('missed_turns')}  (turned the wrong way: {a.get('other_turns')})")
        print(
            f"  skew MAE (known skews)   {a.get('skew_mae', 0):.3f}°, {a.get('skew_within_0.1')}/{a.get('skew_n')} within 0.1°"
        )
        print(f"  crops into text          {a.get('crop_cuts_text')}  (pages cropped {a.get('cropped_pages')})")
        print(
            f"  text pages flagged blank {a.get('blank_on_text')}  (blank pages found {a.get('blank_found')}/{a.get('blank_pages')})"
        )
        print(
            f"  resolution >15 % off     {dpi['wrong']}/{dpi['known']} pages with a known resolution "
            f"(reported unknown: {dpi['unknown_known']}; all pages by source: {dpi['sources']})"
        )
        for line in report["digitize_notes"]:
            print(f"  {line}")
    print()
    for label, key in (
        ("seconds per page (wall)", "seconds_per_page"),
        ("CPU seconds per page", "cpu_seconds_per_page"),
    ):
        seconds = report[key]
        if seconds:
            print(f"{label:<25}" + "  ".join(f"{t} {seconds[t]:.2f}" for t in tools if t in seconds))
    print_times(report["times"])


def print_times(times: dict) -> None:
    if not times:
        return
    tools = [t for t in ("tesseract", "digitize") if t in times]
    print()
    print(f"{'time':<44}" + "".join(f"{t:>12}" for t in tools) + ("       ratio" if len(tools) == 2 else ""))
    for label, key in (
        ("run wall s", "run_wall_s"),
        ("run wall s / page", "wall_s_per_page"),
        ("page wall s, median", "page_wall_median_s"),
        ("page CPU s, median", "page_cpu_median_s"),
        ("page CPU s, total", "cpu_total_s"),
    ):
        line = f"{label:<44}" + "".join(f"{times[t][key]:>12.2f}" for t in tools)
        if len(tools) == 2 and times["tesseract"][key]:
            line += f"{times['digitize'][key] / times['tesseract'][key]:>12.2f}"
        print(line)
    ours = times.get("digitize", {})
    if "extra_columns" in ours:
        extra = ours["extra_columns"]
        print(f"OCR of extra columns: {extra['cpu_s']:.1f} CPU s on {len(extra['pages'])} pages read region by region")
        for label, key, bare in (
            ("run wall s / page without extra columns", "wall_s_per_page_without_extra_columns", "wall_s_per_page"),
            ("page CPU s total without extra columns", "cpu_total_without_extra_columns_s", "cpu_total_s"),
        ):
            line = f"{label:<44}" + (f"{times['tesseract'][bare]:>12.2f}" if "tesseract" in times else "")
            line += f"{ours[key]:>12.2f}"
            if "tesseract" in times:
                ratio = ours[key] / times["tesseract"][bare]
                line += f"{ratio:>12.2f}  target <= {SPEED_RATIO}: {'met' if ratio <= SPEED_RATIO else 'not met'}"
            print(line)


def digitize_notes(rows: list[dict]) -> list[str]:
    notes = []
    for kind, label in (("wrong_turn", "upright turned"), ("missed_turn", "turn missed"), ("other_turn", "wrong way")):
        found = [
            f"{r['page_id'][-9:]} (true {r['true_orientation']}, got {r['pred_orientation']})"
            for r in rows
            if r.get(kind)
        ]
        if found:
            notes.append(f"{label}: " + ", ".join(found))
    cuts = [f"{r['page_id'][-9:]} ({100 * r['text_cut']:.1f}%)" for r in rows if r.get("crop_cuts_text")]
    if cuts:
        notes.append("crops into text: " + ", ".join(cuts))
    blanks = [r["page_id"][-9:] for r in rows if r.get("blank_on_text_page")]
    if blanks:
        notes.append("text pages flagged blank: " + ", ".join(blanks))
    wrong = [f"{r['page_id'][-9:]} ({r['pred_dpi']})" for r in rows if r.get("dpi_wrong")]
    if wrong:
        notes.append("resolution off: " + ", ".join(wrong))
    return notes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-dev", help="the real-dev folder (default: ../shared/real-dev beside the repository)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", action="append", choices=TOOLS, help="run only these contenders (repeatable)")
    ap.add_argument("--ocrmypdf", default=shutil.which("ocrmypdf") or str(Path(sys.executable).with_name("ocrmypdf")))
    ap.add_argument("--work", type=Path, help="keep the outputs here (default: a temporary folder)")
    ap.add_argument("--json", type=Path, help="write the summary and per-page scores here")
    ap.add_argument("--engine", choices=ENGINES, help="digitize's OCR engine (default: its own default)")
    ap.add_argument(
        "--extra-columns",
        action="store_true",
        help="measure the OCR of extra columns (pages read region by region against one pass) after the runs",
    )
    ap.add_argument("--page-timeout", type=float, help="digitize's OCR time limit per page, seconds (a loaded machine)")
    a = ap.parse_args()

    folder = real_dev(a.real_dev)
    scorer = load_scorer(folder)
    batch = folder / "batch"
    pages = scorer.load_truth()
    work = a.work or Path(tempfile.mkdtemp(prefix="bench-realdev-"))
    work.mkdir(parents=True, exist_ok=True)
    tools = [t for t in TOOLS if not a.only or t in a.only]
    n_pages = len(page_files(batch))
    report: dict = {"pages": n_pages, "text_pages": sum(1 for p in pages if p.get("text")), "work": str(work)}
    scores, rows_of, seconds, cpu = {}, {}, {}, {}
    per_page: dict[str, dict[str, dict[str, float]]] = {}
    walls: dict[str, float] = {}
    for tool in tools:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        target = work / tool
        if target.exists():
            shutil.rmtree(target)
        if tool == "tesseract":
            wall, bare_pages = run_tesseract(batch, target, a.jobs)
            per_page["tesseract"] = {k: {"wall": w, "cpu": c} for k, (w, c) in bare_pages.items()}
            predictions = scorer.load_text_dir(target, pages)
        elif tool == "ocrmypdf":
            scratch = work / "ocrmypdf-work"
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            wall = run_ocrmypdf(batch, target, scratch, a.jobs, a.ocrmypdf)
            predictions = scorer.load_text_dir(target, pages)
        else:
            profile = None
            if a.page_timeout:
                profile = work / "bench-profile.toml"
                profile.write_text(f"[ocr]\npage_timeout_s = {a.page_timeout}\n", encoding="utf-8")
            wall = run_digitize(batch, target, a.jobs, a.engine, profile)
            predictions = scorer.load_digitize(target, pages)
            per_page["digitize"] = digitize_page_times(target)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        seconds[tool] = wall / n_pages
        walls[tool] = wall
        if tool != "digitize":  # digitize's workers are not its own children (a fork server starts them)
            cpu[tool] = used / n_pages
        scores[tool], rows_of[tool] = score(scorer, pages, predictions)
        print(f"{tool}: {wall:.0f} s", file=sys.stderr)
    report.update(
        scores=scores,
        seconds_per_page=seconds,
        cpu_seconds_per_page=cpu,
        times=time_summary(
            walls, per_page, n_pages, a.jobs, extra_columns(batch, per_page, a) if a.extra_columns else None
        ),
        groups=[g for g in scorer.ORDER if g in scores[tools[0]]],
    )
    if "digitize" in rows_of:
        rows = rows_of["digitize"]
        truth = {p["page_id"]: p for p in pages}
        known = [r for r in rows if truth[r["page_id"]].get("true_dpi")]
        sources: dict[str, int] = {}
        for r in rows:
            sources[str(r.get("dpi_source"))] = sources.get(str(r.get("dpi_source")), 0) + 1
        report["dpi"] = {
            "known": len(known),
            "wrong": sum(1 for r in known if r.get("dpi_wrong")),
            "unknown_known": sum(1 for r in known if not r.get("pred_dpi")),
            "sources": sources,
        }
        report["digitize_notes"] = digitize_notes(rows)
    print_report(report)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        report["rows"] = rows_of
        a.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
