"""The OFD's text layer against the PDF's, read back by independent readers, on the sample batch.

    .venv/bin/python bench/ofd_text.py OUT     # OUT processed with --format pdfa --format ofd

Per reader: character errors against the sample's reference text (NFKC, whitespace removed,
Levenshtein / reference length, as tests/textscore.py), over every non-blank page present:
- PDF, pdftotext -raw (content-stream order), and pdftotext -layout (reading order);
- OFD, ofdkit's text runs in content order, and ofdkit's own reading order (`Page.text`);
plus the size of each file type.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ofdkit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.textscore import cer  # noqa: E402


def pdftotext(pdf: Path, page: int, *mode: str) -> str:
    args = ["pdftotext", *mode, "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(pdf), "-"]
    return subprocess.run(args, capture_output=True, check=True).stdout.decode("utf-8")


def main(out: Path) -> None:
    truth = [json.loads(line) for line in (ROOT / "samples/truth/pages.jsonl").read_text(encoding="utf-8").splitlines()]
    errors = {key: [0, 0] for key in ("pdf -raw", "pdf -layout", "ofd runs", "ofd reading order")}
    sizes = {"pdf": 0, "ofd": 0}
    for folder in sorted((out / "documents").iterdir()):
        code = folder.name
        pdf, ofd = folder / f"{code}.pdf", folder / f"{code}.ofd"
        sizes["pdf"] += pdf.stat().st_size
        sizes["ofd"] += ofd.stat().st_size
        with ofdkit.open(ofd) as document:
            pages = list(document.pages)
            runs = ["".join(run.text for run in page.runs) for page in pages]
            reading = [page.text() for page in pages]
        present = sorted((p for p in truth if p["doc_id"] == code and p["present"]), key=lambda p: p["seq"])
        for number, page in enumerate(present, start=1):
            if page["is_blank"]:
                continue
            texts = {
                "pdf -raw": pdftotext(pdf, number, "-raw"),
                "pdf -layout": pdftotext(pdf, number, "-layout"),
                "ofd runs": runs[number - 1],
                "ofd reading order": reading[number - 1],
            }
            for key, text in texts.items():
                d, n = cer(page["text"], text)
                errors[key][0] += d
                errors[key][1] += n
    for key, (d, n) in errors.items():
        print(f"{key:18s} CER {d}/{n} = {d / n:.4f}")
    print(f"bytes: PDF/A {sizes['pdf']:,}, OFD {sizes['ofd']:,} ({sizes['ofd'] / sizes['pdf']:.2f}x)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
