"""One side of `bench/search.py versus`: builds an index and answers queries with the digitize
code of a given folder (this checkout, or an older revision unpacked by `versus`).

    python bench/search_side.py CODE build CORPUS.jsonl ARCHIVE JOBS   -> one JSON line
    python bench/search_side.py CODE queries ARCHIVE                   <- / -> JSON lines

It uses only what every revision of `digitize.search` offers (ArchiveIndex, write_documents,
SearchRequest, Filters, search), so both sides run the same bench code.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _entries(corpus: Path) -> Iterator[Any]:
    from digitize.search.index import DocumentEntry, PageEntry

    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            pages = tuple(PageEntry(i, text) for i, text in enumerate(doc["p"], start=1))
            yield DocumentEntry(doc["c"]["档号"], doc["c"], pages, fingerprint=str(doc["n"]))


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def build(corpus: Path, archive: Path, jobs: int) -> dict[str, Any]:
    from digitize.search.build import write_documents
    from digitize.search.index import ArchiveIndex

    for old in archive.glob("index.sqlite*"):
        old.unlink()
    ArchiveIndex(archive, create=True).close()
    started, cpu = time.perf_counter(), cpu_seconds()
    with ArchiveIndex(archive) as index:
        report = write_documents(index, _entries(corpus), None, jobs)
        index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "pages": report.pages,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": cpu_seconds() - cpu,
        "index_bytes": sum(p.stat().st_size for p in archive.glob("index.sqlite*")),
    }


def answer_queries(archive: Path) -> None:
    """Per input line {"text", "clearance", "filters"}: run the search, print {"ms", "total"}."""
    from digitize.search.index import ArchiveIndex
    from digitize.search.query import Filters, SearchRequest, search

    with ArchiveIndex(archive) as index:
        for line in sys.stdin:
            query = json.loads(line)
            request = SearchRequest(query["text"], query["clearance"], Filters(**query["filters"]))
            started = time.perf_counter()
            result = search(index, request)
            elapsed = (time.perf_counter() - started) * 1000
            estimate = getattr(result, "estimate", None)
            print(json.dumps({"ms": elapsed, "total": result.total if estimate is None else estimate}), flush=True)


def main() -> None:
    code, command, *args = sys.argv[1:]
    sys.path.insert(0, code)
    if command == "build":
        print(json.dumps(build(Path(args[0]), Path(args[1]), int(args[2]))), flush=True)
    elif command == "queries":
        answer_queries(Path(args[0]))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
