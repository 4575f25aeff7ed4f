"""Character error rate the way the project is judged: NFKC, all whitespace removed, Levenshtein / reference length."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

from rapidfuzz.distance import Levenshtein

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    return _WS.sub("", unicodedata.normalize("NFKC", text or ""))


def cer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance, reference length) after normalisation."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    return Levenshtein.distance(ref, hyp), len(ref)


def pdf_page_texts(pdf: Path) -> list[str]:
    """Text of each page with `pdftotext -raw` (content-stream order)."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    texts = []
    for number in range(1, pages + 1):
        out = subprocess.run(
            ["pdftotext", "-raw", "-f", str(number), "-l", str(number), "-enc", "UTF-8", str(pdf), "-"],
            capture_output=True,
            check=True,
        )
        texts.append(out.stdout.decode("utf-8"))
    return texts


def is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def split_cjk_pairs(reference: str, hypothesis: str) -> tuple[int, int]:
    """(Chinese character pairs split by a space the reference lacks, all adjacent pairs seen)."""
    ref_pairs = set()
    for line in reference.splitlines():
        for a, b in zip(line, line[1:]):
            if is_cjk(a) and is_cjk(b):
                ref_pairs.add(a + b)
    split = total = 0
    for line in hypothesis.splitlines():
        for index in range(len(line) - 1):
            a, b = line[index], line[index + 1]
            if is_cjk(a) and is_cjk(b):
                total += 1
            elif is_cjk(a) and b == " " and index + 2 < len(line) and is_cjk(line[index + 2]):
                total += 1
                if a + line[index + 2] in ref_pairs:
                    split += 1
    return split, total
