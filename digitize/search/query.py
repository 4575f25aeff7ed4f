"""Search the archive index: page-level hits with a highlighted snippet, field filters, clearance.

    result = search(index, SearchRequest("王颖", clearance="内部", filters=Filters(years=("2019",))))

The full-text index is asked for the query's terms, the filter terms and the caller's clearance
term together (`digitize.search.access`), so records the caller may not see are never read.
Candidate pages of queries longer than two characters are checked against their folded text
(`digitize.search.text`): every hit is exact and every page with a match is found. Hits come
in index order (document, then page); page 0 is the document's catalogue record.

Counting stops at `count_limit` hits (the total is then "at least"), and a query whose
candidates take longer than `time_budget` seconds to check stops there, marked incomplete;
the hits returned are correct either way.
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from digitize.errors import BadInput
from digitize.search.access import visible_term
from digitize.search.index import CATALOGUE_PAGE, ArchiveIndex, split_row_id
from digitize.search.text import facet_term, find_spans, fold, match_expression, query_terms

SNIPPET_CHARS = 80
_YEARS = re.compile(r"^(\d{4})(?:\s*[-–—~至]\s*(\d{4}))?$")
MAX_YEAR_SPAN = 200


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

    def groups(self) -> list[list[str]]:
        named = (("y", self.years), ("r", self.retention), ("f", self.fonds), ("s", self.security))
        return [[facet_term(name, value) for value in values] for name, values in named if values]

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
    total: int  # hits counted (all of them when total_exact)
    total_exact: bool
    complete: bool  # False when the time budget cut the search short
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.request.text,
            "folded": self.folded,
            "clearance": self.request.clearance,
            "filters": self.request.filters.to_dict(),
            "offset": self.request.offset,
            "total": self.total,
            "total_exact": self.total_exact,
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
        if not request.filters.groups():
            raise QueryError("nothing to search for: give words, a name or a number, or a filter")
        terms, exact = [facet_term("p", "catalogue")], True
    expression = " AND ".join(
        [
            match_expression(terms),
            *("(" + " OR ".join(f'"{t}"' for t in group) + ")" for group in request.filters.groups()),
        ]
        + [f'"{visible_term(request.clearance)}"']
    )
    wanted: list[int] = []
    total = 0
    total_exact = complete = True
    for checked, (row_id, folded_page) in enumerate(index.candidates(expression, with_folded=not exact)):
        if folded_page is not None and folded not in zlib.decompress(folded_page).decode("utf-8"):
            if checked % 256 == 255 and time.perf_counter() - started > request.time_budget:
                complete = False
                break
            continue
        if request.offset <= total < request.offset + request.limit:
            wanted.append(row_id)
        total += 1
        if total >= request.count_limit:
            total_exact = False
            break
        if checked % 256 == 255 and time.perf_counter() - started > request.time_budget:
            complete = False
            break
    hits = _hits(index, wanted, folded)
    return SearchResult(request, folded, hits, total, total_exact, complete, time.perf_counter() - started)


def _hits(index: ArchiveIndex, row_ids: list[int], folded: str) -> list[Hit]:
    documents = index.documents(split_row_id(r)[0] for r in row_ids)
    hits = []
    for row_id in row_ids:
        document_id, page_no = split_row_id(row_id)
        document = documents[document_id]
        page = index.page(document_id, page_no)
        text = page.text if page is not None else ""
        if page_no == CATALOGUE_PAGE and not folded:
            text = document.title
        shown, highlights = snippet(text, folded)
        hits.append(
            Hit(document_id, document.archival_code, document.title, page_no, shown, highlights, document.catalogue)
        )
    return hits
