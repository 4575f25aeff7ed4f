"""数据挂接 (DA/T 31-2017 §11): link catalogue rows to scanned documents by 档号.

Rows and documents are matched on the exact 档号 first, then on the 档号 with lookalike
characters fixed (・ for ·, full-width hyphens, stray spaces); a link of the second kind is
reported. Then each link's 页数 is compared with the page images found. Every page image
counts, blank reverse sides included (they were scanned and are in the catalogue's 页数), and
a gap in the numbers of single-page files (0001, 0003) is a missing page.

Findings use the DA/T 70 items 1-11 (metadata ↔ content link) and 2-11 (content count).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from digitize.settings import Settings
from metadata.archival_code import CodeTemplate, normalize_lookalikes
from metadata.catalog import Catalog, CatalogRecord
from metadata.validation import Finding, Reporter

PAGE_NUMBER_DIGITS = 4  # how page image numbers are shown in messages (0002)
T = TypeVar("T")


@dataclass(frozen=True)
class ScannedDocument:
    """What the batch holds for one document, as plain data."""

    key: str  # folder or file name of the document
    archival_code: str  # normally the same as key
    page_count: int  # page images found, blank pages included
    slots: tuple[int, ...] = ()  # numbers of single-page files (0001.tif → 1); empty for PDF/TIFF containers


@dataclass(frozen=True)
class Link:
    record: CatalogRecord
    document: ScannedDocument
    normalised: bool  # matched only after fixing lookalike characters


@dataclass
class LinkResult:
    links: list[Link] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def link_documents(
    catalog: Catalog, documents: Sequence[ScannedDocument], settings: Settings, first_slot: int = 1
) -> LinkResult:
    """Link rows ↔ documents and report unlinked ones and page-count problems."""
    separators = CodeTemplate(settings.archival_code).separators
    report = Reporter(settings.catalog, catalog.file)
    result = LinkResult()
    used_rows: set[int] = set()
    used_docs: set[str] = set()

    def normalised(text: str) -> str:
        return normalize_lookalikes(text, allowed=separators)

    def exact(text: str) -> str:
        return text

    for key_of, is_normalised in ((exact, False), (normalised, True)):
        rows = _group((key_of(r.get("archival_code")), r) for r in catalog.records if r.row not in used_rows)
        docs = _group((key_of(d.archival_code), d) for d in documents if d.key not in used_docs)
        for key, doc_group in docs.items():
            row_group = rows.get(key)
            if not key or not row_group:
                continue
            used_rows.update(r.row for r in row_group)
            used_docs.update(d.key for d in doc_group)
            if len(row_group) > 1 or len(doc_group) > 1:
                _report_ambiguous(row_group, doc_group, catalog, report)
                continue
            link = Link(row_group[0], doc_group[0], is_normalised)
            result.links.append(link)
            if is_normalised:
                report.add(
                    "linked_after_normalising",
                    f"档号 {link.record.get('archival_code')!r} matches document {link.document.key!r} "
                    "only after fixing lookalike characters",
                    row=link.record.row,
                    column=catalog.column("archival_code"),
                    archival_code=link.record.get("archival_code"),
                    document=link.document.key,
                )

    for record in catalog.records:
        if record.row not in used_rows:
            code = record.get("archival_code")
            reason = f"no scanned document has the 档号 {code!r}" if code.strip() else "the row has no 档号 to link by"
            report.add(
                "row_without_scan", reason, row=record.row, column=catalog.column("archival_code"), archival_code=code
            )
    for doc in documents:
        if doc.key not in used_docs:
            report.add(
                "scan_without_row",
                f"document {doc.key!r} has no catalogue row with 档号 {doc.archival_code!r}",
                archival_code=doc.archival_code,
                document=doc.key,
            )
    for link in result.links:
        _check_pages(link, catalog, first_slot, report)
    result.findings = report.findings
    return result


def _group(keyed: Iterable[tuple[str, T]]) -> dict[str, list[T]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for key, item in keyed:
        groups[key].append(item)
    return groups


def _report_ambiguous(
    rows: list[CatalogRecord], docs: list[ScannedDocument], catalog: Catalog, report: Reporter
) -> None:
    row_list = ", ".join(str(r.row) for r in rows)
    doc_list = ", ".join(repr(d.key) for d in docs)
    for record in rows:
        report.add(
            "ambiguous_link",
            f"档号 matches rows {row_list} and documents {doc_list}; not linked",
            row=record.row,
            column=catalog.column("archival_code"),
            archival_code=record.get("archival_code"),
            document=docs[0].key,
        )


def _check_pages(link: Link, catalog: Catalog, first_slot: int, report: Reporter) -> None:
    record, doc = link.record, link.document
    where: dict[str, Any] = {
        "row": record.row,
        "column": catalog.column("pages"),
        "archival_code": record.get("archival_code"),
        "document": doc.key,
    }
    counts = Counter(doc.slots)
    for slot, count in sorted(counts.items()):
        if count > 1:
            report.add("duplicate_slot", f"{count} page images are numbered {slot:0{PAGE_NUMBER_DIGITS}d}", **where)
    missing = [n for n in range(first_slot, max(counts, default=first_slot - 1) + 1) if n not in counts]
    pages_text = record.get("pages").strip()
    declared = int(pages_text) if pages_text.isascii() and pages_text.isdigit() else None  # else 1-3 reports it
    found = f"{doc.page_count} page image{'s' if doc.page_count != 1 else ''} found"
    if missing:
        numbers = ", ".join(f"{n:0{PAGE_NUMBER_DIGITS}d}" for n in missing)
        declared_text = f"页数 {declared}, " if declared is not None else ""
        report.add("missing_page", f"page image {numbers} missing ({declared_text}{found})", **where)
    if declared is not None and doc.page_count + len(missing) != declared:
        report.add("page_count_mismatch", f"页数 {declared} but {found}", **where)
