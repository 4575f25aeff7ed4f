#!/usr/bin/env python3
"""Rebuild samples/ from the project's reference sample corpus (eval-kit, seed 1029).

    python samples/derive.py /path/to/shared/samples

The reference batch is copied unchanged except for the two files over 3 MB, which are made
smaller so that the repository stays lean; their geometry, resolution and page content are
unchanged, so the ground truth still applies:
- J022-SB·2019-D30-ZJ-0001/0002.png (a noisy greyscale PNG, 3.2 MB) becomes 0002.jpg,
  baseline JPEG quality 85, 300 dpi kept in the JFIF header;
- J022-SB·2019-D10-ZJ-0003/J022-SB·2019-D10-ZJ-0003.pdf (4 JPEG pages, 3.8 MB) keeps its
  structure, each page image re-encoded as JPEG quality 60.
The truth files needed by tests and benchmarks are copied: pages.jsonl (with the new name and
encoding of the converted PNG page), documents.json, defects.json, corpus.json and the
reference text per page.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pikepdf
from PIL import Image

HERE = Path(__file__).resolve().parent


def main(source: Path) -> None:
    batch_src, truth_src = source / "batch", source / "truth"
    batch_dst, truth_dst = HERE / "batch", HERE / "truth"
    for folder in (batch_dst, truth_dst):
        if folder.exists():
            shutil.rmtree(folder)
    shutil.copytree(batch_src, batch_dst, copy_function=shutil.copyfile)
    for path in [batch_dst, *batch_dst.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    truth_dst.mkdir(parents=True)
    for name in ("documents.json", "defects.json", "corpus.json"):
        shutil.copy2(truth_src / name, truth_dst / name)
    shutil.copytree(truth_src / "text", truth_dst / "text", copy_function=shutil.copyfile)
    for path in (truth_dst / "text").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    records = [
        json.loads(line) for line in (truth_src / "pages.jsonl").read_text(encoding="utf-8").splitlines() if line
    ]
    for record in records:
        if record["file"] == "J022-SB·2019-D30-ZJ-0001/0002.png":
            record.update(file="J022-SB·2019-D30-ZJ-0001/0002.jpg", format="jpg", compression="jpeg (q85, from png)")
    (truth_dst / "pages.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )

    png = batch_dst / "J022-SB·2019-D30-ZJ-0001" / "0002.png"
    with Image.open(png) as im:
        dpi = im.info.get("dpi", (300, 300))
        im.convert("L").save(png.with_suffix(".jpg"), quality=85, dpi=(round(dpi[0]), round(dpi[1])))
    png.unlink()

    pdf_path = batch_dst / "J022-SB·2019-D10-ZJ-0003" / "J022-SB·2019-D10-ZJ-0003.pdf"
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            for _name, image in page.get_images().items():
                pixels = cv2.imdecode(np.frombuffer(image.read_raw_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
                ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 60])
                assert ok
                image.write(data.tobytes(), filter=pikepdf.Name.DCTDecode)
        pdf.save(pdf_path, deterministic_id=True)
    total = sum(f.stat().st_size for f in batch_dst.rglob("*") if f.is_file())
    print(f"samples/batch: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
