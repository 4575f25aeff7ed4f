#!/usr/bin/env python3
"""Throughput side by side: digitize, OCRmyPDF (two ways) and bare Tesseract, in one interleaved run.

    python bench/throughput.py --corpus CORPUS --ocrmypdf /path/to/venv/bin/ocrmypdf \
        [--runs 3] [--jobs 2] [--eval-kit ../shared/eval-kit] [--memory-pages 1000]

CORPUS is made by the eval-kit generator (batch/ + truth/). Each round runs every contender
once, in the same order (A B C D, A B C D, ...), each into a fresh output folder; figures are
medians over the rounds:

- digitize            `digitize process BATCH --catalog ... --jobs N` (the default engine: PP-OCR)
- digitize (Tesseract) the same with `--engine tesseract` (tesserocr: models loaded once per worker)
- digitize (tesseract program)  `--engine tesseract` with `[ocr] tesseract_api = "program"` in a
                      profile (one tesseract process per page)
- OCRmyPDF per doc    `ocrmypdf --deskew --clean --rotate-pages --output-type pdfa -l chi_sim+eng
                      --jobs N IN.pdf OUT.pdf`, one document after the other
- OCRmyPDF batch      the same with `--jobs 1`, N documents at a time (what `xargs -P N` does)
- Tesseract floor     `tesseract PAGE.png OUT -l chi_sim+eng hocr txt`, one process per core,
                      on pages whose skew and orientation were undone exactly from the truth

Inputs for OCRmyPDF (one PDF per document, made losslessly with img2pdf) and for the floor
(PNG pages) are prepared before timing. Reported per contender: pages/min, ratios to OCRmyPDF
and to the floor, CPU seconds per page, peak RSS of any one worker process, output KiB/page,
and CER of its text against the truth (eval-kit score.py: pdftotext -raw per page). Also the
SSIM of digitize's PDF pages rendered by pdftoppm against the processed page images.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digitize.batch import PageRef, discover  # noqa: E402
from digitize.loader import load_page  # noqa: E402
from digitize.settings import InputSettings  # noqa: E402

ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
LANG = "chi_sim+eng"


# ------------------------------------------------------------------ process measurement
class Measured:
    """Wall time, CPU time and peak RSS of a set of processes (and everything they start)."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.peak_rss_mb = 0.0  # largest single process seen (workers included)
        self.coordinator_rss_mb = 0.0
        self._lock = threading.Lock()

    def run(self, args: list[str], cwd: Path | None = None, watch_children: bool = False) -> int:
        import psutil

        proc = subprocess.Popen(args, env=ENV, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peaks: dict[int, float] = {}
        cpu_seen: dict[int, float] = {}  # processes the parent does not reap itself (pool workers)
        stop = threading.Event()

        def sample() -> None:
            try:
                parent = psutil.Process(proc.pid)
            except psutil.NoSuchProcess:
                return
            while not stop.is_set():
                try:
                    procs = [parent, *parent.children(recursive=True)] if watch_children else [parent]
                    for p in procs:
                        try:
                            peaks[p.pid] = max(peaks.get(p.pid, 0.0), p.memory_info().rss / 2**20)
                            times = p.cpu_times()
                            cpu_seen[p.pid] = times.user + times.system
                        except psutil.NoSuchProcess:
                            pass
                except psutil.NoSuchProcess:
                    break
                stop.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        with self._lock:
            self.cpu += max(usage.ru_utime + usage.ru_stime, sum(cpu_seen.values()))
            self.peak_rss_mb = max(
                self.peak_rss_mb, usage.ru_maxrss / 1024, *(v for k, v in peaks.items() if k != proc.pid), 0.0
            )
            self.coordinator_rss_mb = max(self.coordinator_rss_mb, peaks.get(proc.pid, 0.0))
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(args[:3])} … exited {proc.returncode}: {stderr[-2000:]}")
        return proc.returncode


# ------------------------------------------------------------------ preparation
def truth_pages(corpus: Path) -> list[dict]:
    with open(corpus / "truth" / "pages.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def prepare_floor_pages(corpus: Path, dest: Path) -> list[tuple[Path, Path]]:
    """PNG pages with the truth geometry undone exactly: (image, output base) per page."""
    jobs = []
    for page in truth_pages(corpus):
        if not (page["present"] and page["readable"]):
            continue
        path = corpus / "batch" / page["file"]
        container = (
            "pdf" if path.suffix.lower() == ".pdf" else ("tiff" if page["frame"] or _frames(path) > 1 else "image")
        )
        loaded = load_page(PageRef(page["doc_id"], page["seq"], str(path), page["frame"], container), InputSettings())
        image = loaded.image
        height, width = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -page["skew_deg"], 1.0)
        fill = 255 if image.ndim == 2 else (255, 255, 255)
        image = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=fill)
        image = np.rot90(image, k=-(page["orientation_deg"] // 90))
        out_image = dest / "pages" / f"{page['page_id']}.png"
        out_image.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out_image), np.ascontiguousarray(image))
        jobs.append((out_image, dest / "text" / page["page_id"]))
    return jobs


def _frames(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return getattr(im, "n_frames", 1)


def prepare_ocrmypdf_inputs(corpus: Path, dest: Path) -> list[tuple[Path, str]]:
    """One PDF per document, made losslessly from its page files (PDFs are used as they are)."""
    import img2pdf

    dest.mkdir(parents=True, exist_ok=True)
    inputs = []
    for doc in discover(corpus / "batch").documents:
        if doc.error:
            continue
        target = dest / f"{doc.key}.pdf"
        files = doc.master_files
        if len(files) == 1 and files[0].lower().endswith(".pdf"):
            shutil.copyfile(files[0], target)
        else:
            target.write_bytes(img2pdf.convert(files, rotation=img2pdf.Rotation.ifvalid))
        inputs.append((target, doc.key))
    return inputs


# ------------------------------------------------------------------ contenders
def run_digitize(corpus: Path, out: Path, jobs: int, engine: str | None, profile: Path | None = None) -> Measured:
    measured = Measured()
    args = [
        sys.executable,
        "-m",
        "cli",
        "process",
        str(corpus / "batch"),
        "--out",
        str(out),
        "--jobs",
        str(jobs),
        "--no-progress",
        "--json",
    ]
    if engine:
        args += ["--engine", engine]
    if profile:
        args += ["--profile", str(profile)]
    catalog = corpus / "batch" / "catalog.csv"
    if catalog.exists():
        args += ["--catalog", str(catalog)]
    measured.run(args, cwd=ROOT, watch_children=True)
    return measured


OCRMYPDF_ARGS = ["--deskew", "--clean", "--rotate-pages", "--output-type", "pdfa", "-l", LANG]


def run_ocrmypdf_per_doc(ocrmypdf: str, inputs: list[tuple[Path, str]], out: Path, jobs: int) -> Measured:
    measured = Measured()
    out.mkdir(parents=True)
    for source, key in inputs:
        measured.run(
            [ocrmypdf, *OCRMYPDF_ARGS, "--jobs", str(jobs), "-q", str(source), str(out / f"{key}.pdf")],
            watch_children=True,
        )
    return measured


def run_ocrmypdf_batch(ocrmypdf: str, inputs: list[tuple[Path, str]], out: Path, jobs: int) -> Measured:
    measured = Measured()
    out.mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(
            pool.map(
                lambda item: measured.run(
                    [ocrmypdf, *OCRMYPDF_ARGS, "--jobs", "1", "-q", str(item[0]), str(out / f"{item[1]}.pdf")],
                    watch_children=True,
                ),
                inputs,
            )
        )
    return measured


def run_floor(pages: list[tuple[Path, Path]], out: Path, jobs: int) -> Measured:
    measured = Measured()

    def one(item: tuple[Path, Path]) -> None:
        image, base = item
        target = out / base.relative_to(base.parents[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        measured.run(["tesseract", str(image), str(target), "-l", LANG, "hocr", "txt"])

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, pages))
    return measured


# ------------------------------------------------------------------ quality
def load_scorer(eval_kit: Path):
    sys.path.insert(0, str(eval_kit))
    import score  # the eval-kit scorer, so CER is computed exactly as we are judged

    return score


def cer_of(score, corpus: Path, pred: Path, pdf: bool) -> float | None:
    truth = score.load_truth(str(corpus))
    if pdf:
        preds, _ = score.collect_pdf_predictions(truth, str(pred))
    else:
        preds = score.collect_txt_predictions(truth, str(pred))
    return score.score_ocr(truth, preds)["summary"]["main"]["cer_micro"]


def pdf_kib_per_page(folder: Path, pages: int) -> float:
    total = sum(p.stat().st_size for p in folder.rglob("*.pdf"))
    return total / 1024 / pages


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004), Gaussian window 11, σ 1.5, on grey images."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(value.mean())


def ssim_of_outputs(corpus: Path, out: Path, limit: int = 24) -> dict:
    """SSIM of rendered PDF pages against the processed page images they were made from."""
    from digitize.imaging import process_page
    from digitize.pageimage import output_mode
    from digitize.settings import Settings

    settings = Settings()
    values = []
    with tempfile.TemporaryDirectory() as tmp:
        for doc in discover(corpus / "batch").documents[:limit]:
            if doc.error:
                continue
            pdf = next((out / "documents").glob(f"{doc.key}/*.pdf"), None)
            if pdf is None:
                continue
            for ref in doc.pages:
                loaded = load_page(ref, settings.input)
                processed = process_page(loaded.image, loaded.dpi, settings.imaging, bitonal=loaded.mode == "bitonal")
                mode = output_mode(loaded.mode, processed.geometry.needs_colour, settings.imaging.output_colour)
                image = processed.image
                grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
                if mode == "bitonal":  # the PDF stores the page at 1 bit: compare with what was meant
                    grey = np.where(grey < 128, 0, 255).astype(np.uint8)
                prefix = Path(tmp) / f"r{len(values)}"
                # At exactly the image's dpi, float rounding makes poppler's scale 1 + 1e-16, which it treats
                # as upsampling and interpolates: even a lossless G4 page then scores SSIM 0.94. A hair
                # below the dpi renders pixel for pixel, as a viewer at 100% does (pdftocairo agrees).
                subprocess.run(
                    [
                        "pdftoppm",
                        "-r",
                        f"{loaded.dpi - 0.01:.2f}",
                        "-f",
                        str(ref.page_no),
                        "-l",
                        str(ref.page_no),
                        "-gray",
                        str(pdf),
                        str(prefix),
                    ],
                    check=True,
                )
                rendered = cv2.imread(str(next(Path(tmp).glob(f"{prefix.name}*.pgm"))), cv2.IMREAD_GRAYSCALE)
                h = min(rendered.shape[0], grey.shape[0])
                w = min(rendered.shape[1], grey.shape[1])
                values.append((mode, ssim(rendered[:h, :w], grey[:h, :w])))
    by_mode = {m: [v for mm, v in values if mm == m] for m in {m for m, _ in values}}
    return {
        "pages": len(values),
        "mean": round(statistics.mean(v for _, v in values), 4) if values else None,
        "min": round(min(v for _, v in values), 4) if values else None,
        "by_mode": {
            m: {"pages": len(v), "mean": round(statistics.mean(v), 4), "min": round(min(v), 4)}
            for m, v in by_mode.items()
        },
    }


# ------------------------------------------------------------------ memory over a long run
def memory_run(corpus: Path, pages: int, jobs: int, work: Path, engine: str | None = None) -> dict:
    """Synthesise a long batch from the corpus's colour A4 pages (hard links) and watch worker RSS."""
    import psutil

    colour = [
        p
        for p in truth_pages(corpus)
        if p["present"]
        and p["readable"]
        and p["color_mode"] == "RGB"
        and (corpus / "batch" / p["file"]).suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff")
        and not p["defects"]
        and _frames(corpus / "batch" / p["file"]) == 1
    ]
    if not colour:
        raise SystemExit(f"{corpus} has no single-page colour images to repeat")
    batch = work / "memory-batch"
    per_doc = 10
    for n in range(pages):
        source = corpus / "batch" / colour[n % len(colour)]["file"]
        target = batch / f"M{n // per_doc:04d}" / f"{n % per_doc + 1:04d}{source.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    out = work / "memory-out"
    args = [sys.executable, "-m", "cli", "process", str(batch), "--out", str(out), "--jobs", str(jobs)]
    args += ["--no-progress", "-q"] + (["--engine", engine] if engine else [])
    proc = subprocess.Popen(args, cwd=ROOT, env=ENV)
    parent = psutil.Process(proc.pid)
    samples: list[tuple[float, float]] = []  # (seconds, largest worker RSS MB)
    started = time.time()
    while proc.poll() is None:
        try:
            rss = [c.memory_info().rss / 2**20 for c in parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            rss = []
        if rss:
            samples.append((time.time() - started, max(rss)))
        time.sleep(1.0)
    wall = time.time() - started

    def at(fraction: float) -> float | None:
        window = [r for t, r in samples if abs(t - fraction * wall) <= max(5.0, 0.05 * wall)]
        return round(max(window), 1) if window else None

    return {
        "engine": engine or "default",
        "pages": pages,
        "wall_s": round(wall, 1),
        "peak_worker_rss_mb": round(max(r for _, r in samples), 1),
        "worker_rss_mb_at_10_50_90_percent": [at(0.1), at(0.5), at(0.9)],
    }


# ------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--ocrmypdf", help="path of the ocrmypdf program (its own venv); omit to skip OCRmyPDF")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--eval-kit", type=Path, default=ROOT.parent / "shared" / "eval-kit")
    ap.add_argument("--skip-cli-engine", action="store_true", help="do not run digitize with the tesseract program")
    ap.add_argument(
        "--memory-pages", type=int, default=0, help="also run a long synthetic batch and watch worker memory"
    )
    ap.add_argument(
        "--memory-corpus", type=Path, help="corpus whose colour pages the long batch repeats (default --corpus)"
    )
    ap.add_argument("--memory-engine", action="append", help="engine(s) of the long run (default: the default engine)")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "throughput.json")
    args = ap.parse_args()
    args.memory_engine = args.memory_engine or ["auto"]

    score = load_scorer(args.eval_kit)
    work = args.work or Path(tempfile.mkdtemp(prefix="digitize-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", file=sys.stderr)
    floor_pages = prepare_floor_pages(args.corpus, work / "floor-input")
    pages = len(floor_pages)
    program_profile = work / "tesseract-program.toml"
    program_profile.write_text('[ocr]\nengine = "tesseract"\ntesseract_api = "program"\n', encoding="utf-8")
    contenders: dict[str, callable] = {
        "digitize": lambda out: run_digitize(args.corpus, out, args.jobs, None),
        "digitize (Tesseract)": lambda out: run_digitize(args.corpus, out, args.jobs, "tesseract"),
    }
    if not args.skip_cli_engine:
        contenders["digitize (tesseract program)"] = lambda out: run_digitize(
            args.corpus, out, args.jobs, None, program_profile
        )
    if args.ocrmypdf:
        inputs = prepare_ocrmypdf_inputs(args.corpus, work / "ocrmypdf-input")
        contenders["OCRmyPDF per document"] = lambda out: run_ocrmypdf_per_doc(args.ocrmypdf, inputs, out, args.jobs)
        contenders["OCRmyPDF batch (xargs -P)"] = lambda out: run_ocrmypdf_batch(args.ocrmypdf, inputs, out, args.jobs)
    contenders["Tesseract floor"] = lambda out: run_floor(floor_pages, out, args.jobs)

    results: dict[str, dict] = {name: {"wall": [], "cpu": [], "rss": []} for name in contenders}
    last_out: dict[str, Path] = {}
    for round_no in range(args.runs):
        for name, run in contenders.items():
            out = work / f"{name.split()[0].lower()}-{abs(hash(name)) % 10000}-{round_no}"
            if out.exists():
                shutil.rmtree(out)
            started = time.perf_counter()
            measured = run(out)
            wall = time.perf_counter() - started
            results[name]["wall"].append(wall)
            results[name]["cpu"].append(measured.cpu)
            results[name]["rss"].append(measured.peak_rss_mb)
            print(f"round {round_no + 1}: {name}: {wall:.1f} s", file=sys.stderr)
            if name in last_out and last_out[name] != out:
                shutil.rmtree(last_out[name], ignore_errors=True)
            last_out[name] = out

    floor_wall = statistics.median(results["Tesseract floor"]["wall"])
    per_doc = (
        statistics.median(results["OCRmyPDF per document"]["wall"]) if "OCRmyPDF per document" in results else None
    )
    batch = (
        statistics.median(results["OCRmyPDF batch (xargs -P)"]["wall"])
        if "OCRmyPDF batch (xargs -P)" in results
        else None
    )
    table = []
    for name in contenders:
        wall = statistics.median(results[name]["wall"])
        out = last_out[name]
        is_floor = name == "Tesseract floor"
        kib = None if is_floor else pdf_kib_per_page(out if "OCRmyPDF" in name else out / "documents", pages)
        cer = cer_of(
            score, args.corpus, out if not name.startswith("digitize") else out / "documents", pdf=not is_floor
        )
        table.append(
            {
                "contender": name,
                "wall_s_median": round(wall, 2),
                "wall_s_runs": [round(w, 2) for w in results[name]["wall"]],
                "pages_per_min": round(60 * pages / wall, 1),
                "vs_ocrmypdf_per_doc": round(per_doc / wall, 2) if per_doc else None,
                "vs_ocrmypdf_batch": round(batch / wall, 2) if batch else None,
                "wall_vs_floor": round(wall / floor_wall, 3),
                "cpu_s_per_page": round(statistics.median(results[name]["cpu"]) / pages, 2),
                "peak_rss_mb_per_process": round(max(results[name]["rss"]), 1),
                "kib_per_page": round(kib, 1) if kib is not None else None,
                "cer": round(cer, 4) if cer is not None else None,
            }
        )
    report = {
        "corpus": str(args.corpus),
        "pages": pages,
        "jobs": args.jobs,
        "runs": args.runs,
        "cpu_count": os.cpu_count(),
        "table": table,
        "ssim": ssim_of_outputs(args.corpus, last_out["digitize"]),
    }
    if args.memory_pages:
        report["memory"] = [
            memory_run(args.memory_corpus or args.corpus, args.memory_pages, args.jobs, work / engine, engine)
            for engine in args.memory_engine
        ]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print_table(report)


def print_table(report: dict) -> None:
    print(f"{report['pages']} pages, {report['jobs']} jobs, median of {report['runs']} interleaved runs")
    header = "| contender | pages/min | × OCRmyPDF per doc | × OCRmyPDF batch | wall / floor | CPU s/page | peak RSS/process MB | KiB/page | CER |"
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in report["table"]:
        cells = [
            row["contender"],
            row["pages_per_min"],
            row["vs_ocrmypdf_per_doc"],
            row["vs_ocrmypdf_batch"],
            row["wall_vs_floor"],
            row["cpu_s_per_page"],
            row["peak_rss_mb_per_process"],
            row["kib_per_page"],
            row["cer"],
        ]
        print("| " + " | ".join("–" if c is None else str(c) for c in cells) + " |")
    print(f"SSIM of digitize pages (pdftoppm render vs processed image): {report['ssim']}")
    if "memory" in report:
        print(f"Memory over a long run: {report['memory']}")


if __name__ == "__main__":
    main()
