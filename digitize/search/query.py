"""Search the archive index: page-level hits with a highlighted snippet, field filters, clearance.

    result = search(index, SearchRequest("王颖", clearance="内部", filters=Filters(years=("2019",))))

The full-text index is asked for the query's terms, the filter terms and the caller's clearance
term together (`digitize.search.access`), so records the caller may not see are never read.
Candidate pages of queries that are not one index term are checked against their folded text
(`digitize.search.text`): every hit is exact and every page with a match is found. Hits come
in index order (document, then page); page 0 is the document's catalogue record.

Candidates are checked in index order only until the requested hits (offset + limit) are
found; the candidates after them are counted without checking, and the number of hits is then
an estimate: the hits found plus the unchecked candidates times the share of checked ones that
matched (`SearchResult.count_label` reads "约 N"). `exact_total` checks every candidate instead.
Counting stops at `count_limit` hits or candidates (the total is then "at least"), and a query
whose candidates take longer than `time_budget` seconds to check stops there, marked
incomplete; the hits returned are exact and in order either way.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from digitize.errors import BadInput
from digitize.search.access import COMBINED_FIELDS, clearance_rank, combined_term, visible_term
from digitize.search.index import CATALOGUE_PAGE, ArchiveIndex, split_row_id
from digitize.search.text import facet_term, find_spans, fold, match_expression, query_terms

SNIPPET_CHARS = 80
CHECK_BATCH = 256  # candidate pages checked with one read of the index
_YEARS = re.compile(r"^(\d{4})(?:\s*[-–—~至]\s*(\d{4}))?$")
MAX_YEAR_SPAN = 200
MAX_COMBINED = 64  # combined filter terms one search may ask for (OR); beyond, one list per field


class QueryError(BadInput):
    """A request that cannot be searched (bad filter value, nothing to search for)."""


def parse_years(spec: str) -> tuple[str, ...]:
    """ "2019" -> ("2019",); "2015-2019" -> the five years; "2015,2017" -> both."""
    years: list[str] = []
    for part in re.split(r"[,，、\s]+", spec.strip()):
        if not part:
            continue
        match = _YEARS.match(part)
        if not match:
            raise QueryError(f"year {part!r} is not YYYY or YYYY-YYYY")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first or last - first > MAX_YEAR_SPAN:
            raise QueryError(f"year range {part!r} is not a range of at most {MAX_YEAR_SPAN} years")
        years.extend(str(y) for y in range(first, last + 1))
    return tuple(years)


@dataclass(frozen=True)
class Filters:
    """Catalogue filters; within one field any value may match, across fields all must."""

    years: tuple[str, ...] = ()  # 年度
    retention: tuple[str, ...] = ()  # 保管期限
    fonds: tuple[str, ...] = ()  # 全宗号
    security: tuple[str, ...] = ()  # 密级 (still limited by the clearance)

    def given(self) -> bool:
        return bool(self.years or self.retention or self.fonds or self.security)

    def groups(self, clearance: str) -> list[list[str]]:
        """The filter and clearance terms of a search: a page must have one term of each group.

        年度, 保管期限 and 全宗号 with the clearance are one group of combined terms (one per
        combination of the values asked for, `digitize.search.access.combined_term`) when there
        are at most `MAX_COMBINED`; otherwise a group per field and the clearance term."""
        rank = clearance_rank(clearance)
        by_name = {"y": self.years, "r": self.retention, "f": self.fonds}
        asked = [(name, by_name[name]) for name, _ in COMBINED_FIELDS if by_name[name]]
        security = [[facet_term("s", value) for value in self.security]] if self.security else []
        combinations = 1
        for _, values in asked:
            combinations *= len(set(values))
        if asked and combinations <= MAX_COMBINED:
            pairs = [[(name, value) for value in dict.fromkeys(values)] for name, values in asked]
            combined = [combined_term(choice, rank) for choice in itertools.product(*pairs)]
            return [combined, *security]
        per_field = [[facet_term(name, value) for value in values] for name, values in asked]
        return [*per_field, *security, [visible_term(clearance)]]

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "年度": list(self.years),
            "保管期限": list(self.retention),
            "全宗号": list(self.fonds),
            "密级": list(self.security),
        }


@dataclass(frozen=True)
class SearchRequest:
    text: str
    clearance: str = "公开"
    filters: Filters = field(default_factory=Filters)
    offset: int = 0
    limit: int = 20
    count_limit: int = 1000
    time_budget: float = 2.0
    exact_total: bool = False  # check every candidate (up to count_limit), not just until the page is full


@dataclass(frozen=True)
class Hit:
    document_id: int
    archival_code: str
    title: str
    page_no: int  # 0: the catalogue record
    snippet: str
    highlights: tuple[tuple[int, int], ...]  # [start, end) spans of the snippet
    catalogue: dict[str, str]

    def marked(self, before: str = "【", after: str = "】") -> str:
        """The snippet with each highlight between `before` and `after`."""
        out, last = [], 0
        for start, end in self.highlights:
            out += [self.snippet[last:start], before, self.snippet[start:end], after]
            last = end
        out.append(self.snippet[last:])
        return "".join(out)

    def parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, highlighted) pieces, for templates that escape each piece."""
        pieces, last = [], 0
        for start, end in self.highlights:
            pieces += [(self.snippet[last:start], False), (self.snippet[start:end], True)]
            last = end
        pieces.append((self.snippet[last:], False))
        return [p for p in pieces if p[0]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "archival_code": self.archival_code,
            "title": self.title,
            "page": self.page_no,
            "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights],
            "catalogue": self.catalogue,
        }


@dataclass
class SearchResult:
    request: SearchRequest
    folded: str
    hits: list[Hit]
    total: int  # hits found by checking (all of them when total_exact; at least this many otherwise)
    total_exact: bool
    complete: bool  # False when the time budget cut the search short
    seconds: float
    estimate: int | None = None  # set when checking stopped once the requested hits were found
    estimate_capped: bool = False  # the unchecked candidates were counted only up to count_limit

    @property
    def count_label(self) -> str:
        """The number of hits as people read it: "37", "1000+" (count limit), "约 420" (estimated)."""
        if self.total_exact:
            return str(self.total)
        if self.estimate is None:
            return f"{self.total}+"
        return f"约 {self.estimate}{'+' if self.estimate_capped else ''}"

    @property
    def pages_of_hits(self) -> int:
        """Hits to page through: the estimate when there is one, else the hits counted."""
        return max(self.total, self.estimate or 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.request.text,
            "folded": self.folded,
            "clearance": self.request.clearance,
            "filters": self.request.filters.to_dict(),
            "offset": self.request.offset,
            "total": self.total,
            "total_exact": self.total_exact,
            "estimate": self.estimate,
            "estimate_capped": self.estimate_capped,
            "complete": self.complete,
            "seconds": round(self.seconds, 4),
            "hits": [hit.to_dict() for hit in self.hits],
        }


def snippet(text: str, folded_query: str, width: int = SNIPPET_CHARS) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A window of the text around the first occurrence, with every occurrence inside it."""
    flat = re.sub(r"\s+", " ", text)  # one-for-one for single whitespace; fold ignores it anyway
    spans = find_spans(flat, folded_query)
    if not spans:
        return flat[:width] + ("…" if len(flat) > width else ""), ()
    start = max(0, min(spans[0][0] - width // 3, len(flat) - width))
    end = min(len(flat), start + width)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(flat) else ""
    shift = len(prefix) - start
    inside = tuple((s + shift, min(e, end) + shift) for s, e in spans if s >= start and s < end)
    return prefix + flat[start:end] + suffix, inside


def search(index: ArchiveIndex, request: SearchRequest) -> SearchResult:
    started = time.perf_counter()
    folded = fold(request.text)
    terms, exact = query_terms(folded)
    if not terms:
        if not request.filters.given():
            raise QueryError("nothing to search for: give words, a name or a number, or a filter")
        terms, exact = [facet_term("p", "catalogue")], True
    groups = request.filters.groups(request.clearance)
    expression = " AND ".join(
        [match_expression(terms), *("(" + " OR ".join(f'"{t}"' for t in group) + ")" for group in groups)]
    )
    counter = _Counter(request, None if exact else folded.encode("utf-8"), started)
    for batch in _batches(index.candidate_ids(expression), counter):
        counter.add(index, batch)
        if counter.done or counter.page_full:
            break
    if counter.page_full and not counter.done:
        rest = index.count_candidates(expression, after=counter.last_row_id, limit=request.count_limit - counter.hits)
        counter.count_rest(rest)
    hits = _hits(index, counter.wanted, folded)
    return SearchResult(
        request,
        folded,
        hits,
        counter.hits,
        counter.total_exact,
        counter.complete,
        time.perf_counter() - started,
        counter.estimate,
        counter.estimate_capped,
    )


class _Counter:
    """Goes through candidate pages in index order, checking each against the folded query,
    until the requested hits are found (`page_full`); the candidates after them are then
    counted in one query (`count_rest`), not checked, unless the request wants `exact_total`."""

    def __init__(self, request: SearchRequest, needle: bytes | None, started: float):
        self.request = request
        self.needle = needle  # the folded query in UTF-8; None when having the terms is a match
        self.started = started
        self.needed = request.offset + request.limit
        self.wanted: list[int] = []
        self.hits = self.checked = self.last_row_id = 0
        self.total_exact = self.complete = True
        self.estimate: int | None = None
        self.estimate_capped = self.done = self.page_full = False

    def batch_size(self) -> int:
        if self.request.exact_total:
            return CHECK_BATCH
        if self.needle is None:  # every candidate is a hit: take just the hits the page shows
            return min(CHECK_BATCH, max(1, self.needed - self.hits))
        return min(CHECK_BATCH, max(16, 2 * (self.needed - self.hits)))

    def add(self, index: ArchiveIndex, batch: list[int]) -> None:
        matching = batch if self.needle is None else index.pages_containing(batch, self.needle)
        self.checked += len(batch)
        self.last_row_id = batch[-1]
        for row_id in matching:
            if self.request.offset <= self.hits < self.needed:
                self.wanted.append(row_id)
            self.hits += 1
            if self.hits >= self.request.count_limit:
                self.total_exact, self.done = False, True
                return
        self.page_full = self.hits >= self.needed and not self.request.exact_total
        if time.perf_counter() - self.started > self.request.time_budget:
            self.total_exact = self.complete = False
            self.done = True

    def count_rest(self, rest: int) -> None:
        """Take the number of candidates after the last one checked (at most count_limit - hits)."""
        if not rest:
            return
        self.total_exact = False
        capped = self.hits + rest >= self.request.count_limit
        if self.needle is None:  # every candidate is a hit
            self.hits += rest
            self.total_exact = not capped
        else:
            self.estimate = self.hits + round(rest * self.hits / self.checked)
            self.estimate_capped = capped


def _batches(row_ids: Iterator[int], counter: _Counter) -> Iterator[list[int]]:
    while batch := list(itertools.islice(row_ids, counter.batch_size())):
        yield batch


def _hits(index: ArchiveIndex, row_ids: list[int], folded: str) -> list[Hit]:
    documents = index.documents(split_row_id(r)[0] for r in row_ids)
    texts = index.page_texts(row_ids) if row_ids else {}
    hits = []
    for row_id in row_ids:
        document_id, page_no = split_row_id(row_id)
        document = documents[document_id]
        text = texts.get(row_id, "")
        if page_no == CATALOGUE_PAGE and not folded:
            text = document.title
        shown, highlights = snippet(text, folded)
        hits.append(
            Hit(document_id, document.archival_code, document.title, page_no, shown, highlights, document.catalogue)
        )
    return hits
