"""The archive index: catalogue fields and the OCR text of every page, in one SQLite file.

An archive is a folder (ARCHIVE) that indexes the documents of one or more processed output
folders (OUT). It holds ``index.sqlite``; the web application keeps its users and page-image
cache beside it. Files stay in their OUT folders; the index records where.

Tables:
* ``sources``   -- the OUT folders indexed (a lot each);
* ``documents`` -- one row per document (件), keyed by 档号: catalogue fields, where its files
  are, the lowest clearance that may see it (`digitize.search.access`) and a fingerprint of
  what it was indexed from;
* ``pages``     -- one row per page (page 0 is the catalogue record) with its text and its
  folded text (`digitize.search.text.fold`), each zlib-compressed; the row id is
  ``document id * 65536 + page number``, so rows sort by document, then page;
* ``fulltext``  -- an FTS5 table (contentless, ``detail=none``, FTS5's ``ascii`` tokenizer over
  terms we make ourselves): the terms of each page (`page_terms`) and its filter terms
  (year, retention, fonds, 密级, one per clearance that may see it, and the combined terms of
  `digitize.search.access.combined_terms`: year, retention and fonds with the clearance).
  Contentless rows are deleted by giving FTS5 the same terms again; they are rebuilt from the
  stored folded text, so `TERMS_VERSION` guards the term-making code (an index built with
  other terms is refused, with the command that rebuilds it).

A document is identified by its 档号: indexing it again replaces it (all its pages), and an
unchanged document (same fingerprint) is left alone, so nothing is ever indexed twice.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.errors import BadInput
from digitize.journal import now_iso
from digitize.search.access import clearance_terms, combined_terms, required_clearance
from digitize.search.text import TERMS_VERSION, facet_term, fold, page_terms

INDEX_FILE = "index.sqlite"
PAGE_SLOTS = 1 << 16  # row id = document id * PAGE_SLOTS + page number
CATALOGUE_PAGE = 0
# Catalogue fields of the index, in the order the catalogue record's text lists them.
FIELDS = ("档号", "题名", "责任者", "日期", "年度", "保管期限", "密级", "开放标识", "全宗号")
ZLIB_LEVEL = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, indexed TEXT);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    archival_code TEXT NOT NULL UNIQUE,
    source_id INTEGER REFERENCES sources(id),
    doc_key TEXT NOT NULL DEFAULT '',
    pdf TEXT,
    title TEXT NOT NULL DEFAULT '',
    year TEXT NOT NULL DEFAULT '',
    retention TEXT NOT NULL DEFAULT '',
    security TEXT NOT NULL DEFAULT '',
    fonds TEXT NOT NULL DEFAULT '',
    required INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    catalogue TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    indexed TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source_id);
CREATE TABLE IF NOT EXISTS pages (id INTEGER PRIMARY KEY, text BLOB NOT NULL, folded BLOB NOT NULL, hocr TEXT);
CREATE VIRTUAL TABLE IF NOT EXISTS fulltext USING fts5(
    terms, content='', detail=none, columnsize=0, tokenize='ascii'
);
"""


class ArchiveIndexError(BadInput):
    """The index cannot be used as asked (missing, or built by other term-making code)."""


@dataclass(frozen=True)
class PageEntry:
    page_no: int
    text: str
    hocr: str | None = None  # hOCR file, relative to the source folder


@dataclass(frozen=True)
class DocumentEntry:
    """One document as it goes into the index."""

    archival_code: str
    catalogue: Mapping[str, str]  # DA/T names (档号, 题名, 责任者, 日期, 年度, 保管期限, 密级, 开放标识, 全宗号, ...)
    pages: tuple[PageEntry, ...]
    source: str = ""  # the OUT folder it comes from
    doc_key: str = ""  # its key in that folder's journal
    pdf: str | None = None  # its PDF/A, relative to the source folder
    fingerprint: str = ""  # what it was made from; an unchanged fingerprint is not indexed again


@dataclass(frozen=True)
class PreparedPage:
    page_no: int
    text: bytes  # zlib
    folded: bytes  # zlib
    hocr: str | None
    terms: str


@dataclass(frozen=True)
class PreparedDocument:
    entry: DocumentEntry
    required: int
    pages: tuple[PreparedPage, ...]

    @property
    def page_count(self) -> int:
        return sum(1 for p in self.pages if p.page_no != CATALOGUE_PAGE)


@dataclass(frozen=True)
class DocumentRow:
    id: int
    archival_code: str
    title: str
    catalogue: dict[str, str]
    source: str
    doc_key: str
    pdf: str | None
    pages: int
    required: int
    fingerprint: str = ""

    def get(self, name: str) -> str:
        return (self.catalogue.get(name) or "").strip()


@dataclass
class StoredPage:
    text: str
    hocr: str | None


@dataclass
class IndexStats:
    documents: int
    pages: int
    sources: list[str] = field(default_factory=list)
    bytes: int = 0


def catalogue_text(catalogue: Mapping[str, str]) -> str:
    """The searchable text of a catalogue record: one "字段：值" line per non-empty field."""
    names = [*FIELDS, *sorted(k for k in catalogue if k not in FIELDS)]
    return "\n".join(f"{name}：{catalogue[name].strip()}" for name in names if (catalogue.get(name) or "").strip())


def document_facets(catalogue: Mapping[str, str], required: int) -> list[str]:
    """The filter terms of every page of a document."""
    facets = [
        facet_term("y", catalogue.get("年度") or ""),
        facet_term("r", catalogue.get("保管期限") or ""),
        facet_term("f", catalogue.get("全宗号") or ""),
        facet_term("s", catalogue.get("密级") or ""),
    ]
    return [*facets, *clearance_terms(required), *combined_terms(catalogue, required)]


def _row_terms(folded: str, facets: list[str], page_no: int) -> str:
    extra = [facet_term("p", "catalogue")] if page_no == CATALOGUE_PAGE else []
    return " ".join([page_terms(folded), *facets, *extra])


def prepare(entry: DocumentEntry) -> PreparedDocument:
    """Fold, make terms and compress every page (pure CPU work: runs in worker processes)."""
    required = required_clearance(entry.catalogue)
    facets = document_facets(entry.catalogue, required)
    pages = [PageEntry(CATALOGUE_PAGE, catalogue_text(entry.catalogue)), *entry.pages]
    prepared = []
    for page in pages:
        if not 0 <= page.page_no < PAGE_SLOTS:
            raise ArchiveIndexError(f"{entry.archival_code}: page number {page.page_no} is outside 1–{PAGE_SLOTS - 1}")
        folded = fold(page.text)
        prepared.append(
            PreparedPage(
                page.page_no,
                zlib.compress(page.text.encode("utf-8"), ZLIB_LEVEL),
                zlib.compress(folded.encode("utf-8"), ZLIB_LEVEL),
                page.hocr,
                _row_terms(folded, facets, page.page_no),
            )
        )
    return PreparedDocument(entry, required, tuple(prepared))


def page_row_id(document_id: int, page_no: int) -> int:
    return document_id * PAGE_SLOTS + page_no


def split_row_id(row_id: int) -> tuple[int, int]:
    return divmod(row_id, PAGE_SLOTS)


class ArchiveIndex:
    """One connection to ARCHIVE/index.sqlite (use one per thread)."""

    def __init__(self, archive: str | Path, create: bool = False):
        self.archive = Path(archive)
        self.path = self.archive / INDEX_FILE
        if not create and not self.path.is_file():
            raise ArchiveIndexError(
                f"{self.archive} has no {INDEX_FILE}; build it with `digitize index OUT --into {archive}`"
            )
        if create:
            self.archive.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if create:
            self.db.executescript(_SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('terms_version', ?)", (TERMS_VERSION,))
        version = self.db.execute("SELECT value FROM meta WHERE key='terms_version'").fetchone()
        if version is None or version[0] != TERMS_VERSION:
            found = version[0] if version else "none"
            self.db.close()
            raise ArchiveIndexError(
                f"{self.path} was built with index terms {found}, this version makes {TERMS_VERSION}; "
                f"rebuild it with `digitize index OUT... --into {archive} --rebuild`"
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ArchiveIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---------------------------------------------------------------- writing
    def source_id(self, path: str) -> int:
        self.db.execute("INSERT OR IGNORE INTO sources(path) VALUES (?)", (path,))
        return int(self.db.execute("SELECT id FROM sources WHERE path=?", (path,)).fetchone()[0])

    def mark_source_indexed(self, source_id: int) -> None:
        self.db.execute("UPDATE sources SET indexed=? WHERE id=?", (now_iso(), source_id))

    def fingerprints(self, source_id: int | None = None) -> dict[str, str]:
        """档号 -> fingerprint, of one source or of all documents."""
        if source_id is None:
            rows = self.db.execute("SELECT archival_code, fingerprint FROM documents")
        else:
            rows = self.db.execute("SELECT archival_code, fingerprint FROM documents WHERE source_id=?", (source_id,))
        return dict(rows.fetchall())

    def source_of(self, archival_code: str) -> str | None:
        row = self.db.execute(
            "SELECT s.path FROM documents d JOIN sources s ON s.id = d.source_id WHERE d.archival_code=?",
            (archival_code,),
        ).fetchone()
        return row[0] if row else None

    def put(self, prepared: PreparedDocument, source_id: int | None) -> str:
        """Add or replace a document (call inside `transaction`); returns "added" or "replaced"."""
        entry = prepared.entry
        row = self.db.execute("SELECT id FROM documents WHERE archival_code=?", (entry.archival_code,)).fetchone()
        if row is not None:
            document_id = int(row[0])
            self._delete_pages(document_id)
        catalogue = {k: v.strip() for k, v in entry.catalogue.items() if v and v.strip()}
        values = (
            entry.archival_code,
            source_id,
            entry.doc_key,
            entry.pdf,
            catalogue.get("题名", ""),
            catalogue.get("年度", ""),
            catalogue.get("保管期限", ""),
            catalogue.get("密级", ""),
            catalogue.get("全宗号", ""),
            prepared.required,
            prepared.page_count,
            json.dumps(catalogue, ensure_ascii=False, sort_keys=True),
            entry.fingerprint,
            now_iso(),
        )
        columns = (
            "archival_code, source_id, doc_key, pdf, title, year, retention, security, fonds, required, pages, "
            "catalogue, fingerprint, indexed"
        )
        if row is None:
            cursor = self.db.execute(f"INSERT INTO documents({columns}) VALUES ({', '.join('?' * 14)})", values)
            document_id = int(cursor.lastrowid or 0)
        else:
            assignments = ", ".join(f"{name.strip()}=?" for name in columns.split(","))
            self.db.execute(f"UPDATE documents SET {assignments} WHERE id=?", (*values, document_id))
        self.db.executemany(
            "INSERT INTO pages(id, text, folded, hocr) VALUES (?, ?, ?, ?)",
            [(page_row_id(document_id, p.page_no), p.text, p.folded, p.hocr) for p in prepared.pages],
        )
        self.db.executemany(
            "INSERT INTO fulltext(rowid, terms) VALUES (?, ?)",
            [(page_row_id(document_id, p.page_no), p.terms) for p in prepared.pages],
        )
        return "added" if row is None else "replaced"

    def remove(self, archival_code: str) -> bool:
        """Take a document out of the index (call inside `transaction`)."""
        row = self.db.execute("SELECT id FROM documents WHERE archival_code=?", (archival_code,)).fetchone()
        if row is None:
            return False
        self._delete_pages(int(row[0]))
        self.db.execute("DELETE FROM documents WHERE id=?", (row[0],))
        return True

    def _delete_pages(self, document_id: int) -> None:
        catalogue_json, required = self.db.execute(
            "SELECT catalogue, required FROM documents WHERE id=?", (document_id,)
        ).fetchone()
        facets = document_facets(json.loads(catalogue_json), required)
        low, high = page_row_id(document_id, 0), page_row_id(document_id + 1, 0)
        rows = self.db.execute("SELECT id, folded FROM pages WHERE id >= ? AND id < ?", (low, high)).fetchall()
        self.db.executemany(
            "INSERT INTO fulltext(fulltext, rowid, terms) VALUES ('delete', ?, ?)",
            [
                (row_id, _row_terms(zlib.decompress(folded).decode("utf-8"), facets, split_row_id(row_id)[1]))
                for row_id, folded in rows
            ],
        )
        self.db.execute("DELETE FROM pages WHERE id >= ? AND id < ?", (low, high))

    def optimize(self) -> None:
        """Merge the full-text index into one segment (smaller, faster queries; takes a while)."""
        self.db.execute("INSERT INTO fulltext(fulltext) VALUES ('optimize')")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # ---------------------------------------------------------------- reading
    def document(self, document_id: int) -> DocumentRow | None:
        return self._document("d.id=?", document_id)

    def document_by_code(self, archival_code: str) -> DocumentRow | None:
        return self._document("d.archival_code=?", archival_code)

    def _document(self, where: str, value: Any) -> DocumentRow | None:
        rows = self._documents(where, (value,))
        return rows[0] if rows else None

    def _documents(self, where: str, values: tuple[Any, ...]) -> list[DocumentRow]:
        rows = self.db.execute(
            "SELECT d.id, d.archival_code, d.title, d.catalogue, COALESCE(s.path, ''), d.doc_key, d.pdf, d.pages, "
            f"d.required, d.fingerprint FROM documents d LEFT JOIN sources s ON s.id = d.source_id WHERE {where}",
            values,
        )
        return [DocumentRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows]

    def documents(self, ids: Iterable[int]) -> dict[int, DocumentRow]:
        """The documents of these ids (one read)."""
        wanted = tuple(set(ids))
        rows = self._documents(f"d.id IN ({','.join('?' * len(wanted))})", wanted) if wanted else []
        return {row.id: row for row in rows}

    def page_texts(self, row_ids: list[int]) -> dict[int, str]:
        """Row id -> text of these pages (one read)."""
        placeholders = ",".join("?" * len(row_ids))
        rows = self.db.execute(f"SELECT id, text FROM pages WHERE id IN ({placeholders})", row_ids)
        return {row_id: zlib.decompress(text).decode("utf-8") for row_id, text in rows}

    def page(self, document_id: int, page_no: int) -> StoredPage | None:
        row = self.db.execute(
            "SELECT text, hocr FROM pages WHERE id=?", (page_row_id(document_id, page_no),)
        ).fetchone()
        if row is None:
            return None
        return StoredPage(zlib.decompress(row[0]).decode("utf-8"), row[1])

    def folded_pages(self, document_id: int) -> dict[int, str]:
        """Page number -> folded text of every page of a document (catalogue record included)."""
        low, high = page_row_id(document_id, 0), page_row_id(document_id + 1, 0)
        rows = self.db.execute("SELECT id, folded FROM pages WHERE id >= ? AND id < ?", (low, high))
        return {split_row_id(row_id)[1]: zlib.decompress(folded).decode("utf-8") for row_id, folded in rows}

    def source_id_of(self, path: str) -> int | None:
        row = self.db.execute("SELECT id FROM sources WHERE path=?", (path,)).fetchone()
        return int(row[0]) if row else None

    def candidate_ids(self, expression: str) -> Iterator[int]:
        """Row ids of the pages matching an FTS5 expression, in row order (read as they are used)."""
        for (row_id,) in self.db.execute(
            "SELECT rowid FROM fulltext WHERE fulltext MATCH ? ORDER BY rowid", (expression,)
        ):
            yield row_id

    def count_candidates(self, expression: str, after: int, limit: int) -> int:
        """How many pages after row `after` match an FTS5 expression, counting up to `limit`."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM (SELECT rowid FROM fulltext WHERE fulltext MATCH ? AND rowid > ? LIMIT ?)",
                (expression, after, limit),
            ).fetchone()[0]
        )

    def pages_containing(self, row_ids: list[int], folded_query: bytes) -> list[int]:
        """Those of the pages (in the order given) whose folded text contains the folded query (UTF-8)."""
        placeholders = ",".join("?" * len(row_ids))
        rows = self.db.execute(f"SELECT id, folded FROM pages WHERE id IN ({placeholders})", row_ids)
        found = {row_id for row_id, folded in rows if folded_query in zlib.decompress(folded)}
        return [row_id for row_id in row_ids if row_id in found]

    def sources(self) -> list[tuple[int, str, str | None]]:
        return [
            (int(r[0]), str(r[1]), r[2]) for r in self.db.execute("SELECT id, path, indexed FROM sources ORDER BY id")
        ]

    def stats(self) -> IndexStats:
        documents = self.db.execute("SELECT count(*), COALESCE(sum(pages), 0) FROM documents").fetchone()
        size = sum(p.stat().st_size for p in self.archive.glob(INDEX_FILE + "*") if p.is_file())
        return IndexStats(int(documents[0]), int(documents[1]), [s[1] for s in self.sources()], size)
