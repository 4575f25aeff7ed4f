"""Benchmark the archive index and search on generated pages, and the web application under load.

    python bench/search.py index --pages 1000000 --work /tmp/searchbench --jobs 2
    python bench/search.py compare --pages 40000 --work /tmp/searchcompare
    python bench/search.py web --work /tmp/searchbench --clients 20 --requests 4000

`index`: generates documents (bench/search_corpus.py: catalogue fields, realistic page text
with names, 18-digit ID numbers, dates and amounts) into WORK/corpus.jsonl (timed apart), builds
WORK/archive/index.sqlite from it with `digitize.search.build.write_documents` (the code
`digitize index` runs) in `--jobs` processes, then times queries -- surnames, names, ID number
fragments, phrases, filtered queries, public-reader queries -- before and after FTS5's
`optimize`, and checks recall of a query sample against a brute-force scan of every page.

`compare`: the tokenizations that were considered, on the same pages: FTS5's trigram
tokenizer (with LIKE for 1–2 characters), one term per character with positions (phrase
queries), and this project's terms (characters, pairs, ASCII 4-grams, no positions, checked
on the folded text): build rate, size, latency and recall of each.

`web`: `digitize serve` on the `index` archive (127.0.0.1, a free port), N concurrent clients
that log in and then search, open a document page and its page image, for a bounded number of
requests; latency per kind. Results go to bench/results/search-*.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_corpus import Generator  # noqa: E402
from search_side import cpu_seconds  # noqa: E402

from digitize.search.build import write_documents  # noqa: E402
from digitize.search.index import ArchiveIndex, DocumentEntry, PageEntry, catalogue_text  # noqa: E402
from digitize.search.query import Filters, SearchRequest, search  # noqa: E402
from digitize.search.text import fold  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(percentile(values, 0.95), 2),
        "max_ms": round(max(values), 2),
    }


# ------------------------------------------------------------------------------------ corpus
def generate(work: Path, pages: int, seed: int) -> dict[str, Any]:
    """Documents until `pages` pages, one JSON line each, in WORK/corpus.jsonl."""
    path = work / "corpus.jsonl"
    meta_path = work / "corpus.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta["pages"] == pages and meta["seed"] == seed:
            print(f"corpus: reusing {path} ({pages} pages)", flush=True)
            return meta
    generator = Generator(seed)
    started = time.perf_counter()
    count = documents = text_bytes = catalogue_bytes = 0
    with path.open("w", encoding="utf-8") as handle:
        number = 0
        while count < pages:
            doc = generator.document(number)
            doc.pages = doc.pages[: pages - count]
            handle.write(json.dumps({"n": number, "c": doc.catalogue, "p": doc.pages}, ensure_ascii=False) + "\n")
            count += len(doc.pages)
            text_bytes += sum(len(p.encode("utf-8")) for p in doc.pages)
            catalogue_bytes += len(catalogue_text(doc.catalogue).encode("utf-8"))
            documents += 1
            number += 1
            if documents % 20000 == 0:
                print(f"  generated {count} pages", flush=True)
    meta = {
        "pages": pages,
        "seed": seed,
        "documents": documents,
        "text_bytes": text_bytes,
        "catalogue_bytes": catalogue_bytes,
        "generate_seconds": round(time.perf_counter() - started, 1),
    }
    meta_path.write_text(json.dumps(meta))
    return meta


def read_corpus(work: Path) -> Iterator[dict[str, Any]]:
    with (work / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def entries(work: Path) -> Iterator[DocumentEntry]:
    for doc in read_corpus(work):
        pages = tuple(PageEntry(i, text) for i, text in enumerate(doc["p"], start=1))
        yield DocumentEntry(doc["c"]["档号"], doc["c"], pages, fingerprint=str(doc["n"]))


# ------------------------------------------------------------------------------------ queries
def query_sets(work: Path, seed: int, per_set: int) -> dict[str, list[tuple[str, Filters]]]:
    """Queries drawn from the corpus itself (names, ID numbers and phrases that occur)."""
    rng = random.Random(seed)
    meta = json.loads((work / "corpus.json").read_text())
    generator = Generator(meta["seed"])
    picks = [generator.document(rng.randrange(meta["documents"])) for _ in range(per_set * 6)]
    names, ids, windows, filtered = [], [], [], []
    for doc in picks:
        text = "\n".join(doc.pages)
        names += re.findall(r"姓名[:\t]([\u4e00-\u9fff]{2,3})[\t公]", text)
        for number in re.findall(r"\d{17}[\dX]", text):
            length = rng.randint(4, 12)
            start = rng.randrange(0, 19 - length)
            ids.append(number[start : start + length])
        folded = fold(doc.pages[0])
        if len(folded) > 10:
            start = rng.randrange(len(folded) - 8)
            windows.append(folded[start : start + rng.randint(4, 8)])
        filtered.append((doc.catalogue, names[-1] if names else doc.catalogue["题名"][:2]))
    rng.shuffle(names)
    surnames = [name[0] for name in names]
    common = [
        "养老保险",
        "缴费基数",
        "社会保险基金",
        "待遇核定",
        "参保登记表",
        "失业保险金",
        "基金管理中心",
        "审批意见",
    ]
    common += ["有限公司", "个人账户储存额", "劳动合同期满", "公民身份号码", "保险社会", "社会保险"]
    sets: dict[str, list[tuple[str, Filters]]] = {
        "surname (1 character)": [(s, Filters()) for s in surnames[:per_set]],
        "name (2-3 characters)": [(n, Filters()) for n in names[:per_set]],
        "ID number fragment (4-12 digits)": [(i, Filters()) for i in ids[:per_set]],
        "common phrase": [(c, Filters()) for c in common],
        "text window (4-8 characters)": [(w, Filters()) for w in windows[:per_set]],
    }
    sets["name + year"] = [(n, Filters(years=(c["年度"],))) for c, n in filtered[:per_set]]
    sets["phrase + year + retention + fonds"] = [
        (rng.choice(common), Filters(years=(c["年度"],), retention=(c["保管期限"],), fonds=(c["全宗号"],)))
        for c, _ in filtered[:per_set]
    ]
    sets["catalogue only: year + fonds"] = [
        ("", Filters(years=(c["年度"],), fonds=(c["全宗号"],))) for c, _ in filtered[:per_set]
    ]
    return sets


def time_queries(archive: Path, sets: dict[str, list[tuple[str, Filters]]], clearance: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with ArchiveIndex(archive) as index:
        search(index, SearchRequest("社会保险", clearance))  # warm the page cache
        for name, queries in sets.items():
            times, hits, incomplete = [], [], 0
            for text, filters in queries:
                started = time.perf_counter()
                result = search(index, SearchRequest(text, clearance, filters))
                times.append((time.perf_counter() - started) * 1000)
                hits.append(result.total if result.estimate is None else result.estimate)
                incomplete += not result.complete
            results[name] = {**summary(times), "median_hits": statistics.median(hits), "incomplete": incomplete}
            print(f"  {clearance} {name:36s} {results[name]}", flush=True)
    return results


def recall(work: Path, archive: Path, queries: list[str]) -> dict[str, Any]:
    """Hits of each query against a brute-force scan of every page and catalogue record."""
    folded_queries = list(dict.fromkeys(fold(q) for q in queries))  # each once: counts are per query
    expected = dict.fromkeys(folded_queries, 0)
    started = time.perf_counter()
    for doc in read_corpus(work):
        texts = [fold(catalogue_text(doc["c"]))] + [fold(p) for p in doc["p"]]
        for query in folded_queries:
            expected[query] += sum(query in text for text in texts)
    scan_seconds = time.perf_counter() - started
    found = {}
    with ArchiveIndex(archive) as index:
        for query in folded_queries:
            result = search(
                index, SearchRequest(query, "绝密", limit=0, count_limit=10**9, time_budget=10**6, exact_total=True)
            )
            found[query] = result.total
    missed = {q: (found[q], expected[q]) for q in folded_queries if found[q] != expected[q]}
    total = sum(expected.values())
    return {
        "queries": len(queries),
        "expected_hits": total,
        "found_hits": sum(found.values()),
        "recall": round(sum(min(found[q], expected[q]) for q in folded_queries) / max(total, 1), 6),
        "differences": missed,
        "scan_seconds": round(scan_seconds, 1),
    }


def run_index(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    meta = generate(work, args.pages, args.seed)
    archive = work / "archive"
    if not args.reuse_index:
        for old in archive.glob("index.sqlite*"):
            old.unlink()
        ArchiveIndex(archive, create=True).close()
        started, cpu_started, load_before = time.perf_counter(), cpu_seconds(), _uptime()
        with ArchiveIndex(archive) as index:
            done = {"pages": 0}

            def progress(pages: int) -> None:
                done["pages"] += pages
                if done["pages"] % 100_000 < pages:
                    rate = done["pages"] / (time.perf_counter() - started)
                    print(f"  indexed {done['pages']} pages, {rate:.0f} pages/s", flush=True)

            write_documents(index, entries(work), None, args.jobs, progress=progress)
            index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        build_seconds = time.perf_counter() - started
        build_cpu = {"cpu_ms_per_page": round(1000 * (cpu_seconds() - cpu_started) / meta["pages"], 3)}
        build_cpu["load"] = f"{load_before} -> {_uptime()}"
    else:
        build_seconds, build_cpu = None, {}
    size = sum(p.stat().st_size for p in archive.glob("index.sqlite*"))
    build = {
        "pages": meta["pages"],
        "documents": meta["documents"],
        "jobs": args.jobs,
        "seconds": round(build_seconds, 1) if build_seconds else None,
        "pages_per_second": round(meta["pages"] / build_seconds) if build_seconds else None,
        "text_bytes": meta["text_bytes"],
        "catalogue_bytes": meta["catalogue_bytes"],
        "index_bytes": size,
        "index_per_text": round(size / meta["text_bytes"], 3),
        "index_per_text_and_catalogue": round(size / (meta["text_bytes"] + meta["catalogue_bytes"]), 3),
        "generate_seconds": meta["generate_seconds"],
        **build_cpu,
    }
    print(f"build: {build}", flush=True)
    sets = query_sets(work, args.seed + 1, args.queries)
    load_before = _uptime()
    latency = {"内部": time_queries(archive, sets, "内部"), "公开": time_queries(archive, sets, "公开")}
    result: dict[str, Any] = {"build": build, "queries": latency, "queries_load": f"{load_before} -> {_uptime()}"}
    if args.optimize:
        started = time.perf_counter()
        with ArchiveIndex(archive) as index:
            index.optimize()
        size = sum(p.stat().st_size for p in archive.glob("index.sqlite*"))
        result["optimize"] = {"seconds": round(time.perf_counter() - started, 1), "index_bytes": size}
        result["optimize"]["index_per_text"] = round(size / meta["text_bytes"], 3)
        print(f"optimize: {result['optimize']}", flush=True)
        load_before = _uptime()
        result["queries_optimized"] = {"内部": time_queries(archive, sets, "内部")}
        result["queries_optimized_load"] = f"{load_before} -> {_uptime()}"
    if args.recall:
        sample = [text for _, queries in sets.items() for text, filters in queries[:8] if text and not filters.given()]
        result["recall"] = recall(work, archive, sample)
        print(f"recall: {result['recall']}", flush=True)
    return result


# ------------------------------------------------------------------------------------ compare
def run_compare(args: argparse.Namespace) -> dict[str, Any]:
    """Trigram, positional characters and our terms on the same pages (small scale)."""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    meta = generate(work, args.pages, args.seed)
    pages = [text for doc in read_corpus(work) for text in doc["p"]]
    folded_pages = [fold(text) for text in pages]
    sets = query_sets(work, args.seed + 1, args.queries)
    queries = {name: [fold(t) for t, f in qs if t and not f.given()] for name, qs in sets.items()}
    queries = {k: v for k, v in queries.items() if v}
    expected = {q: sum(q in page for page in folded_pages) for qs in queries.values() for q in qs}
    schemes: dict[
        str, tuple[Callable[[sqlite3.Connection, list[str]], None], Callable[[sqlite3.Connection, str], int]]
    ] = {
        "FTS5 trigram (LIKE below 3 characters)": (_build_trigram, _query_trigram),
        "one term per character, positions (phrase)": (_build_characters, _query_characters),
    }
    results = {}
    for name, (build, query) in schemes.items():
        path = work / "compare.sqlite"
        for old in work.glob("compare.sqlite*"):
            old.unlink()
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        started = time.perf_counter()
        db.execute("BEGIN")
        # every scheme keeps the page text for snippets (ours also keeps the folded text it checks)
        db.execute("CREATE TABLE pages(id INTEGER PRIMARY KEY, text BLOB)")
        db.executemany(
            "INSERT INTO pages VALUES (?, ?)", ((i, zlib.compress(t.encode(), 6)) for i, t in enumerate(pages, 1))
        )
        build(db, folded_pages)
        db.execute("COMMIT")
        seconds = time.perf_counter() - started
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sum(p.stat().st_size for p in work.glob("compare.sqlite*"))
        entry: dict[str, Any] = {
            "pages_per_second": round(len(pages) / seconds),
            "size_per_text": round(size / meta["text_bytes"], 3),
        }
        found = hits = 0
        for set_name, qs in queries.items():
            times = []
            for q in qs:
                started = time.perf_counter()
                count = query(db, q)
                times.append((time.perf_counter() - started) * 1000)
                found += min(count, expected[q], COUNT_LIMIT)
                hits += min(expected[q], COUNT_LIMIT)
            entry[set_name] = summary(times)
        entry["recall"] = round(found / max(hits, 1), 4)
        results[name] = entry
        print(f"{name}: {entry}", flush=True)
        db.close()
    name = "characters, pairs and ASCII 4-grams without positions, checked (digitize.search)"
    catalogues = [fold(catalogue_text(doc["c"])) for doc in read_corpus(work)]  # its records are searched too
    with_catalogue = {q: n + sum(q in c for c in catalogues) for q, n in expected.items()}
    results[name] = _compare_ours(work, meta, queries, with_catalogue)
    print(f"{name}: {results[name]}", flush=True)
    return {"pages": len(pages), "text_bytes": meta["text_bytes"], "schemes": results}


def _compare_ours(
    work: Path, meta: dict[str, Any], queries: dict[str, list[str]], expected: dict[str, int]
) -> dict[str, Any]:
    """The index as `digitize index` builds it (one process, like the others) and `search`."""
    archive = work / "compare-archive"
    for old in archive.glob("index.sqlite*"):
        old.unlink()
    ArchiveIndex(archive, create=True).close()
    started = time.perf_counter()
    with ArchiveIndex(archive) as index:
        write_documents(index, entries(work), None, jobs=1)
        index.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in archive.glob("index.sqlite*"))
    entry: dict[str, Any] = {
        "pages_per_second": round(meta["pages"] / seconds),
        "size_per_text": round(size / meta["text_bytes"], 3),
    }
    found = hits = 0
    with ArchiveIndex(archive) as index:
        for set_name, qs in queries.items():
            times = []
            for q in qs:
                started = time.perf_counter()
                result = search(index, SearchRequest(q, "绝密", count_limit=COUNT_LIMIT))
                times.append((time.perf_counter() - started) * 1000)
                found += min(result.total, expected[q], COUNT_LIMIT)
                hits += min(expected[q], COUNT_LIMIT)
            entry[set_name] = summary(times)
    entry["recall"] = round(found / max(hits, 1), 4)
    return entry


COUNT_LIMIT = 1000


def _fill(db: sqlite3.Connection, folded_pages: list[str], make: Callable[[str], str]) -> None:
    db.executemany("INSERT INTO f(rowid, t) VALUES (?, ?)", ((i, make(f)) for i, f in enumerate(folded_pages, 1)))


def _build_trigram(db: sqlite3.Connection, folded_pages: list[str]) -> None:
    db.execute("CREATE VIRTUAL TABLE f USING fts5(t, tokenize='trigram')")  # content kept: LIKE needs it
    _fill(db, folded_pages, lambda folded: folded)


def _query_trigram(db: sqlite3.Connection, q: str) -> int:
    if len(q) >= 3:
        sql, arg = "SELECT rowid FROM f WHERE f MATCH ? LIMIT ?", f'"{q}"'
    else:  # FTS5's trigram tokenizer returns nothing for 1-2 characters, by MATCH or LIKE
        sql, arg = "SELECT rowid FROM f WHERE t LIKE ? LIMIT ?", f"%{q}%"
    return len(db.execute(sql, (arg, COUNT_LIMIT)).fetchall())


def _build_characters(db: sqlite3.Connection, folded_pages: list[str]) -> None:
    db.execute("CREATE VIRTUAL TABLE f USING fts5(t, content='', columnsize=0, tokenize='ascii')")
    _fill(db, folded_pages, lambda folded: " ".join(folded))


def _query_characters(db: sqlite3.Connection, q: str) -> int:
    phrase = '"' + " ".join(q) + '"'
    return len(db.execute("SELECT rowid FROM f WHERE f MATCH ? LIMIT ?", (phrase, COUNT_LIMIT)).fetchall())


# ------------------------------------------------------------------------------------ web
class Client:
    """One browser-like client: its own connection and session cookie (http.client, no extras)."""

    def __init__(self, port: int):
        import http.client

        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("digitize_session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, data

    def sign_in(self, name: str, password: str) -> None:
        from urllib.parse import urlencode

        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page)[1].decode()
        status, _ = self.request("POST", "/login", urlencode({"name": name, "password": password, "csrf_token": token}))
        if status != 302:
            raise RuntimeError(f"sign-in failed: {status}")


def run_web(args: argparse.Namespace) -> dict[str, Any]:
    """`digitize serve` on the `index` archive plus the processed sample batch; N clients."""
    import socket
    import subprocess
    import threading
    from urllib.parse import quote

    work = Path(args.work)
    archive = work / "archive"
    samples_out = work / "samples-out"
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    cli = [sys.executable, "-m", "cli"]
    if not (samples_out / "journal.sqlite").is_file():
        batch = ROOT / "samples" / "batch"
        subprocess.run(
            [
                *cli,
                "process",
                str(batch),
                "--catalog",
                str(batch / "catalog.csv"),
                "--out",
                str(samples_out),
                "--jobs",
                "2",
            ],
            cwd=ROOT,
            env=env,
            check=False,
            capture_output=True,
        )
    subprocess.run(
        [*cli, "index", str(samples_out), "--into", str(archive)], cwd=ROOT, env=env, check=True, capture_output=True
    )
    users = work / "bench-users.json"
    users.unlink(missing_ok=True)
    subprocess.run(
        [
            *cli,
            "users",
            "add",
            str(archive),
            "bench",
            "--role",
            "reader",
            "--clearance",
            "内部",
            "--password-stdin",
            "--users",
            str(users),
        ],
        input="bench-password\n",
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            *cli,
            "serve",
            str(archive),
            "--port",
            str(port),
            "--threads",
            str(args.threads),
            "--workers",
            str(args.workers),
            "--users",
            str(users),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                if Client(port).request("GET", "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        with ArchiveIndex(archive) as index:  # the real documents: the sample batch's
            rows = index.db.execute("SELECT id FROM documents WHERE source_id IS NOT NULL AND pages > 0").fetchall()
            documents = [d for d in (index.document(r[0]) for r in rows) if d is not None]
        sets = query_sets(work, args.seed + 1, 40)
        queries = [text for name, qs in sets.items() for text, f in qs if text and not f.given()]
        timings: dict[str, list[float]] = {"search": [], "document": [], "page image": []}
        errors: list[str] = []
        lock = threading.Lock()
        remaining = [args.requests]
        deadline = time.monotonic() + args.seconds

        def client_loop(number: int) -> None:
            rng = random.Random(number)
            client = Client(port)
            client.sign_in("bench", "bench-password")
            while time.monotonic() < deadline:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                roll = rng.random()
                document = rng.choice(documents)
                if roll < 0.6:
                    kind, path = "search", "/?q=" + quote(rng.choice(queries))
                elif roll < 0.8:
                    kind, path = "document", f"/doc/{document.id}?q=" + quote(rng.choice(("社会保险", "潘梅", "3301")))
                else:
                    kind, path = "page image", f"/doc/{document.id}/page/{rng.randint(1, document.pages)}.jpg"
                started = time.perf_counter()
                status, _ = client.request("GET", path)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    timings[kind].append(elapsed)
                    if status != 200:
                        errors.append(f"{status} {path}")

        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
        started, load_before = time.perf_counter(), _uptime()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    every = [t for values in timings.values() for t in values]
    result = {
        "clients": args.clients,
        "threads": args.threads,
        "workers": args.workers,
        "requests": len(every),
        "seconds": round(wall, 1),
        "requests_per_second": round(len(every) / wall, 1),
        "all": summary(every),
        **{kind: summary(values) for kind, values in timings.items() if values},
        "load": f"{load_before} -> {_uptime()}",
        "errors": errors[:20],
        "error_count": len(errors),
    }
    print(json.dumps(result, ensure_ascii=False, indent=1), flush=True)
    return result


# ------------------------------------------------------------------------------------ versus
def _uptime() -> str:
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


def run_versus(args: argparse.Namespace) -> dict[str, Any]:
    """This checkout against revision `--old`, on the same corpus: each builds its own index
    (one after the other), then every query goes to both sides in turn (the side that goes
    first alternates), so load changes touch both alike."""
    import shutil
    import subprocess
    import tarfile
    import tempfile

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    meta = generate(work, args.pages, args.seed)
    old_code = Path(tempfile.mkdtemp(prefix="old-code-", dir=work))
    archive_bytes = subprocess.run(["git", "archive", args.old], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive_bytes)) as tar:
        tar.extractall(old_code, filter="data")
    sides = {"old": old_code, "new": ROOT}
    side_script = str(ROOT / "bench" / "search_side.py")
    builds = {}
    for name, code in sides.items():
        if args.reuse_index and (work / name / "index.sqlite").is_file():
            continue
        load_before = _uptime()
        line = subprocess.run(
            [
                sys.executable,
                side_script,
                str(code),
                "build",
                str(work / "corpus.jsonl"),
                str(work / name),
                str(args.jobs),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        build = json.loads(line)
        builds[name] = {
            "pages_per_second": round(build["pages"] / build["seconds"]),
            "cpu_ms_per_page": round(1000 * build["cpu_seconds"] / build["pages"], 3),
            "index_per_text": round(build["index_bytes"] / meta["text_bytes"], 3),
            "seconds": round(build["seconds"], 1),
            "load": f"{load_before} -> {_uptime()}",
        }
        print(f"build {name}: {builds[name]}", flush=True)
    sets = query_sets(work, args.seed + 1, args.queries)
    processes = {
        name: subprocess.Popen(
            [sys.executable, side_script, str(code), "queries", str(work / name)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name, code in sides.items()
    }

    def ask(name: str, query: dict[str, Any]) -> dict[str, Any]:
        process = processes[name]
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(query, ensure_ascii=False) + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    queries: dict[str, Any] = {}
    load_before = _uptime()
    try:
        for clearance in ("内部", "公开"):
            for name in sides:
                ask(name, {"text": "社会保险", "clearance": clearance, "filters": {}})  # warm the page cache
            for set_name, pairs in sets.items():
                times: dict[str, list[float]] = {"old": [], "new": []}
                totals: dict[str, list[int]] = {"old": [], "new": []}
                for number, (text, filters) in enumerate(pairs):
                    query = {"text": text, "clearance": clearance, "filters": _filter_fields(filters)}
                    for name in ("old", "new") if number % 2 == 0 else ("new", "old"):
                        answer = ask(name, query)
                        times[name].append(answer["ms"])
                        totals[name].append(answer["total"])
                entry = {
                    name: {**summary(times[name]), "median_hits": statistics.median(totals[name])} for name in sides
                }
                entry["old/new p50"] = round(entry["old"]["p50_ms"] / max(entry["new"]["p50_ms"], 1e-3), 2)
                entry["old/new p95"] = round(entry["old"]["p95_ms"] / max(entry["new"]["p95_ms"], 1e-3), 2)
                queries[f"{clearance} {set_name}"] = entry
                print(f"  {clearance} {set_name:36s} {entry}", flush=True)
    finally:
        for process in processes.values():
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=60)
        shutil.rmtree(old_code)
    return {
        "old": args.old,
        "pages": meta["pages"],
        "build": builds,
        "queries": queries,
        "query_load": f"{load_before} -> {_uptime()}",
    }


def _filter_fields(filters: Filters) -> dict[str, list[str]]:
    return {"years": list(filters.years), "retention": list(filters.retention), "fonds": list(filters.fonds)}


# ------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="build an index of generated pages and time queries")
    index.add_argument("--pages", type=int, default=1_000_000)
    index.add_argument("--jobs", type=int, default=2)
    index.add_argument("--queries", type=int, default=60, help="queries per set")
    index.add_argument("--optimize", action="store_true", help="also time queries after FTS5 optimize")
    index.add_argument("--reuse-index", action="store_true", help="time queries on the index already in WORK")
    index.add_argument(
        "--no-recall", dest="recall", action="store_false", help="skip the brute-force recall check (a long scan)"
    )
    compare = commands.add_parser("compare", help="compare tokenizations on the same pages")
    compare.add_argument("--pages", type=int, default=40_000)
    compare.add_argument("--queries", type=int, default=40, help="queries per set")
    web = commands.add_parser("web", help="web latency with concurrent clients (after `index`)")
    web.add_argument("--clients", type=int, default=20)
    web.add_argument("--requests", type=int, default=4000, help="requests in all, at most")
    web.add_argument("--seconds", type=float, default=300, help="stop after this long at the latest")
    web.add_argument("--threads", type=int, default=8, help="request threads of `digitize serve`, per process")
    web.add_argument("--workers", type=int, default=2, help="server processes of `digitize serve`")
    versus = commands.add_parser("versus", help="this checkout against an older revision, side by side")
    versus.add_argument("--old", required=True, help="git revision to compare with, e.g. main")
    versus.add_argument("--pages", type=int, default=150_000)
    versus.add_argument("--jobs", type=int, default=2)
    versus.add_argument("--queries", type=int, default=60, help="queries per set")
    versus.add_argument("--reuse-index", action="store_true", help="time queries on the indexes already in WORK")
    for command in (index, compare, web, versus):
        command.add_argument("--work", required=True, help="folder for the corpus and the index")
        command.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    result = {"command": " ".join(sys.argv), "cpus": os.cpu_count()}
    runs = {"index": run_index, "compare": run_compare, "web": run_web, "versus": run_versus}
    result.update(runs[args.command](args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"search-{args.command}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
