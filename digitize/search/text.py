"""What a search matches: folded text, the index terms of a page, the terms of a query.

Matching rule (the one the recall tests and the brute-force scan use): a query matches a page
when ``fold(query)`` is a substring of ``fold(page text)``. ``fold`` maps every character on
its own to NFKC, then case-folds, then keeps only letters and digits, so full-width digits,
upper case and the spaces, punctuation and line breaks that OCR puts in unpredictable places
never decide a match: "王 颖", "王颖" and "王颖，" are the same query, and a name split over two
lines or table cells is still found. One exception keeps numbers apart: letters and digits
on both sides of a tab or line break (table cells, lines) do not run together; a boundary
mark stays between them (``BOUNDARY``), so 2,875.16 and 1,437.58 in neighbouring cells are two
numbers, while "330125 196603227201" (a space) and "2018-02-16" still match 20180216….

Index terms (`page_terms`), chosen by measurement (docs/benchmarks.md, "Search"):
* every character (one-character queries: a surname);
* every pair of neighbouring characters (two-character queries are exact; longer queries
  need all their pairs);
* every run of four neighbouring ASCII letters or digits (ID numbers, dates, amounts: pairs of
  digits are far too common to narrow a search).
A query of one or two folded characters, or of four ASCII letters/digits (a year, part of an
ID number), is one term and its matches are exact. A longer query
asks for all its terms (`query_terms`); the candidate pages are then checked by substring on
their folded text (`digitize.search.query`), so the result is exact and complete.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

FACET_MARK = "§"  # starts every filter term; fold() never keeps it, so no text term can equal one
BOUNDARY = "\x1f"  # kept by fold() between ASCII letters/digits that a tab or line break separates
_HARD_BREAKS = "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029"
_ASCII_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")  # all the ASCII fold() keeps
ASCII_GRAM = 4  # length of the ASCII letter/digit terms
_LONG_ASCII_RUN = re.compile(f"[0-9a-z]{{{ASCII_GRAM},}}")  # folded ASCII is only these
TERMS_VERSION = f"terms-3/unicode-{unicodedata.unidata_version}"  # index must be rebuilt when it changes


class _Folding(dict[int, str]):
    """Code point -> folded string, computed once per character (str.translate table)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _HARD_BREAKS:
            folded = BOUNDARY
        else:
            folded = "".join(ch for ch in unicodedata.normalize("NFKC", char).casefold() if ch.isalnum())
        self[code] = folded
        return folded


_FOLDING = _Folding()


def fold(text: str) -> str:
    """The text as matching sees it: per character NFKC, case-folded, letters and digits only,
    one BOUNDARY where a tab or line break separates two ASCII letters/digits."""
    folded = text.translate(_FOLDING)
    if BOUNDARY not in folded:
        return folded
    parts = [part for part in folded.split(BOUNDARY) if part]
    joined = parts[:1]
    for part in parts[1:]:
        if joined[-1][-1] in _ASCII_ALNUM and part[0] in _ASCII_ALNUM:
            joined.append(BOUNDARY)
        joined.append(part)
    return "".join(joined)


def fold_with_origins(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, for each of its characters, the index of the text character it came from.

    Vectorised: each distinct character's folded length comes from the folding table, the
    origins are the text positions repeated that many times; then, as in `fold`, only the first
    BOUNDARY of a run is kept, and only between two ASCII letters/digits."""
    folded = text.translate(_FOLDING)
    if not folded:
        return "", []
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    distinct, inverse = np.unique(codes, return_inverse=True)
    lengths = np.array([len(_FOLDING[code]) for code in distinct.tolist()])[inverse.ravel()]
    origins = np.repeat(np.arange(len(text)), lengths)
    if BOUNDARY in folded:
        keep = np.ones(len(folded), bool)
        for run in re.finditer(f"{BOUNDARY}+", folded):
            start, end = run.span()
            keep[start + 1 : end] = False
            between_ascii = 0 < start and end < len(folded) and folded[start - 1] in _ASCII_ALNUM
            keep[start] = between_ascii and folded[end] in _ASCII_ALNUM
        points = np.frombuffer(folded.encode("utf-32-le"), np.uint32)[keep]
        folded, origins = points.tobytes().decode("utf-32-le"), origins[keep]
    return folded, origins.tolist()


def _unique(keys: np.ndarray) -> np.ndarray:
    if not len(keys):
        return keys
    keys.sort()
    keep = np.empty(len(keys), bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def _rows(*columns: np.ndarray) -> np.ndarray:
    """Code points of one term per row, each row ending in a space."""
    space = np.full(len(columns[0]), 32, np.uint32)
    return np.column_stack([*(c.astype(np.uint32) for c in columns), space]).ravel()


def page_terms(folded: str) -> str:
    """The distinct index terms of a folded text, space-separated (for FTS5's ascii tokenizer).

    Vectorised: the text's code points are combined into integer keys (pairs: 21 bits each;
    ASCII runs: 7 bits each), sorted and deduplicated in numpy, and written back as one string.
    It equals ``set(folded) | pairs | ASCII 4-grams``, leaving out every term with a BOUNDARY
    (a test checks this against plain Python).
    """
    if not folded:
        return ""
    points = np.frombuffer(folded.encode("utf-32-le"), np.uint32)
    mark = ord(BOUNDARY)
    parts = [_rows(_unique(points[points != mark]))]
    if len(points) > 1:
        keep = (points[:-1] != mark) & (points[1:] != mark)
        pairs = _unique(((points[:-1].astype(np.uint64) << 21) | points[1:])[keep])
        parts.append(_rows(pairs >> 21, pairs & 0x1FFFFF))
    if len(points) >= ASCII_GRAM:
        ascii_ = ((points >= 48) & (points <= 57)) | ((points >= 97) & (points <= 122))
        starts = np.flatnonzero(ascii_[:-3] & ascii_[1:-2] & ascii_[2:-1] & ascii_[3:])
        if len(starts):
            p = points
            grams = _unique((p[starts] << 21) | (p[starts + 1] << 14) | (p[starts + 2] << 7) | p[starts + 3])
            parts.append(_rows(grams >> 21, (grams >> 14) & 127, (grams >> 7) & 127, grams & 127))
    return np.concatenate(parts).tobytes().decode("utf-32-le")


def is_one_term(folded: str) -> bool:
    """Whether a folded query is itself an index term (then a page with the term is a match)."""
    if len(folded) <= 2:
        return BOUNDARY not in folded
    return len(folded) == ASCII_GRAM and _LONG_ASCII_RUN.fullmatch(folded) is not None


def query_terms(folded: str) -> tuple[list[str], bool]:
    """Terms every page matching ``folded`` contains, and whether having them is already a match.

    One or two characters, or four ASCII letters/digits: the term itself (exact). Longer: every
    pair of neighbours, except that a run of four or more ASCII letters/digits is asked for by
    its 4-grams instead.
    """
    if is_one_term(folded):
        return ([folded] if folded else []), True
    terms: set[str] = set()
    in_long_run = [False] * len(folded)
    for run in _LONG_ASCII_RUN.finditer(folded):
        terms.update(folded[i : i + ASCII_GRAM] for i in range(run.start(), run.end() - ASCII_GRAM + 1))
        in_long_run[run.start() : run.end()] = [True] * (run.end() - run.start())
    terms.update(folded[i : i + 2] for i in range(len(folded) - 1) if not (in_long_run[i] and in_long_run[i + 1]))
    terms = {term for term in terms if BOUNDARY not in term} or {c for c in folded if c != BOUNDARY}
    return sorted(terms), False


def facet_term(name: str, value: str) -> str:
    """A filter term, e.g. facet_term("y", "2019") -> "§y2019"; the value is folded."""
    return f"{FACET_MARK}{name}{fold(value)}"


def match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH expression asking for all terms (each quoted; terms never contain quotes)."""
    return " AND ".join(f'"{term}"' for term in terms)


def find_spans(text: str, folded_query: str) -> list[tuple[int, int]]:
    """Where a folded query occurs in `text`, as [start, end) spans of the text's own characters."""
    if not folded_query:
        return []
    folded, origins = fold_with_origins(text)
    spans = []
    position = folded.find(folded_query)
    while position >= 0:
        end = position + len(folded_query)
        spans.append((origins[position], origins[end - 1] + 1))
        position = folded.find(folded_query, end)
    return spans
