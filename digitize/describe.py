"""What a batch holds and what each document is: the plan of a `digitize process` run.

`plan_batch` finds the documents (`digitize.batch.discover`) and links them to their catalogue
rows (数据挂接): every document gets its 档号 (from its row, else its folder name), title and
catalogue fields, and the catalogue's validation and linking findings come with their DA/T 70
item IDs (stage GD: archiving), for the process summary and the journal. Bad input (a batch
folder or catalogue that cannot be used) is raised here, before any worker starts.

The plan also says what a new user would otherwise miss: without ``--catalog`` the catalogue
of the previous run into the same OUT is used again; a catalogue-like file in BATCH that was
not given is named in a warning; an output folder inside BATCH (this run's OUT, or another
one with a journal) is not taken for a document.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.batch import BatchScan, SourceDocument, discover
from digitize.errors import BadInput
from digitize.journal import JournalReader
from digitize.layout import JOURNAL, OutLayout, document_dir
from digitize.settings import Settings
from metadata.archival_code import archival_code_filename
from metadata.catalog import Catalog, read_catalog
from metadata.linking import ScannedDocument, link_documents
from metadata.validation import Finding, validate_catalog

STAGE = "GD"


@dataclass(frozen=True)
class Description:
    """What the catalogue says about a scanned document (or just its folder name)."""

    archival_code: str
    title: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchDescription:
    catalog: Catalog | None
    descriptions: dict[str, Description] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def findings_for_summary(self) -> list[dict[str, Any]]:
        return [finding_dict(f) for f in self.findings]


def finding_dict(finding: Finding) -> dict[str, Any]:
    where = finding.archival_code or finding.document or Path(finding.file).name
    if finding.row is not None:
        where += f" (row {finding.row}" + (f", column {finding.column}" if finding.column else "") + ")"
    return {
        "severity": finding.severity,
        "item": f"{STAGE}-{finding.item_id}",
        "code": finding.code,
        "object": where,
        "message": finding.message,
        "file": finding.file,
        "row": finding.row,
        "column": finding.column,
        "archival_code": finding.archival_code,
        "document": finding.document,
    }


def describe_batch(docs: list[SourceDocument], catalog_path: Path | None, settings: Settings) -> BatchDescription:
    if catalog_path is None:
        return BatchDescription(None, {d.key: Description(archival_code=d.key) for d in docs})
    catalog = read_catalog(catalog_path, settings)  # CatalogError (BadInput) names the file and the reason
    result = BatchDescription(catalog)
    result.findings.extend(validate_catalog(catalog, settings))
    scanned = [ScannedDocument(d.key, d.key, len(d.pages), tuple(d.slots)) for d in docs if d.error is None]
    linked = link_documents(catalog, scanned, settings)
    result.findings.extend(linked.findings)
    links = {link.document.key: link for link in linked.links}
    for doc in docs:
        link = links.get(doc.key)
        if link is None:
            result.descriptions[doc.key] = Description(archival_code=doc.key)
            continue
        record = link.record
        fields = {k: v for k, v in record.labelled().items() if v}
        # A row linked only after fixing lookalike characters keeps the folder's correct 档号.
        code = doc.key if link.normalised else record.get("archival_code").strip()
        fields["档号"] = code
        result.descriptions[doc.key] = Description(
            archival_code=code,
            title=record.get("title").strip() or None,
            fields=fields,
        )
    return result


@dataclass(frozen=True)
class ProcessRequest:
    """What `digitize process` is asked to do."""

    batch: Path
    out: Path
    settings: Settings
    catalog: Path | None = None  # the catalogue (归档文件目录), CSV or XLSX
    command: str = "digitize process"  # recorded in the journal's run
    follow_outside_links: bool = False  # read symbolic links that lead out of the batch folder


@dataclass
class BatchPlan:
    """The request with the documents found in the batch and what the catalogue says about them.

    ``request.catalog`` is the catalogue actually used (``catalog_reused``: the previous run's);
    ``warnings`` are for the summary (a catalogue not given, an output folder left out)."""

    request: ProcessRequest
    documents: list[SourceDocument]
    description: BatchDescription
    scan: BatchScan  # what was not read and why; links followed out of the batch
    catalog_reused: bool = False
    warnings: list[str] = field(default_factory=list)


class NameCollision(BadInput):
    """Two documents would get the same name in OUT."""


# Files in BATCH that look like a catalogue (归档文件目录) when --catalog was not given.
CATALOGUE_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xls")


def plan_batch(request: ProcessRequest) -> BatchPlan:
    """Find the documents and describe them; BadInput for a batch or catalogue that cannot be used,
    NameCollision when two documents would get the same name in OUT."""
    batch, out = request.batch.resolve(), request.out.resolve()
    if out == batch or batch.is_relative_to(out):
        raise BadInput(f"--out {request.out} is the batch folder or holds it; choose an output folder outside {batch}")
    warnings: list[str] = []
    scan = discover(
        batch,
        force_text=request.settings.input.force_text_pdf,
        follow_outside_links=request.follow_outside_links,
    )
    scan.documents = [doc for doc in scan.documents if not _is_output_folder(Path(doc.source), out, warnings)]
    catalog, reused = request.catalog, False
    if catalog is None:
        catalog = _previous_catalogue(request.out)
        reused = catalog is not None
    if catalog is None:
        warnings.extend(_catalogue_not_given(batch, request.out))
    else:  # the catalogue kept in the batch folder is read, not skipped
        scan.skipped = [s for s in scan.skipped if Path(s.path).resolve() != catalog.resolve()]
    request = dataclasses.replace(request, catalog=catalog)
    description = describe_batch(scan.documents, catalog, request.settings)
    for problem in description.catalog.problems if description.catalog else []:
        where = f"{problem.file}: row {problem.row}" if problem.row is not None else problem.file
        warnings.append(f"{where}: {problem.message}")
    check_unique_names(scan.documents, description.descriptions, request.out)
    return BatchPlan(request, scan.documents, description, scan, reused, warnings)


def _is_output_folder(source: Path, out: Path, warnings: list[str]) -> bool:
    """Whether a batch entry is this run's OUT, holds it, or is another output folder (a journal in it)."""
    if not source.is_dir():
        return False
    if out == source:
        warnings.append(f"{source}: the output folder (--out) is inside the batch; not processed as a document")
        return True
    if out.is_relative_to(source):
        raise BadInput(f"--out {out} is inside the document folder {source}; choose an output folder outside it")
    if (source / JOURNAL).is_file():
        warnings.append(f"{source}: an output folder of digitize ({JOURNAL} in it); not processed as a document")
        return True
    return False


def _previous_catalogue(out: Path) -> Path | None:
    """The catalogue the last run into OUT used, when it is still there."""
    journal = OutLayout(out).journal
    if not journal.is_file():
        return None
    with JournalReader(journal) as reader:  # the runs only: not every event of a large journal
        runs = reader.runs()
    for run in reversed(runs):
        if run.catalog:
            return Path(run.catalog) if Path(run.catalog).is_file() else None
    return None


def _catalogue_not_given(batch: Path, out: Path) -> list[str]:
    found = sorted(p for p in batch.iterdir() if p.is_file() and p.suffix.lower() in CATALOGUE_SUFFIXES)
    return [
        f"{path} looks like a catalogue (归档文件目录) but --catalog was not given: documents are named by "
        f"their folders and have no 题名; to link them, run `digitize process {batch} --catalog {path} --out {out}` "
        "(nothing is OCRed again)"
        for path in found
    ]


def name_key(name: str) -> str:
    """What makes two names the same on some file system: Unicode form (NFC/NFD) and case."""
    return unicodedata.normalize("NFC", name).casefold()


def check_unique_names(docs: list[SourceDocument], descriptions: dict[str, Description], out: Path) -> None:
    """Refuse, before any work, two documents that would share a folder in OUT, or a document that
    would replace another one processed into OUT earlier.

    A document's folder is its 档号 made a file name (`archival_code_filename`: NFC, characters
    Windows forbids as "_"); its staging folder is its folder or file name in the batch. Names
    that differ only in case or Unicode form count as the same: on Windows and macOS (where a
    hand-off package is unpacked) they are one folder.
    """
    seen_names: dict[str, SourceDocument] = {}
    seen_keys: dict[str, SourceDocument] = {}
    clashes = []
    for doc in docs:
        code = descriptions[doc.key].archival_code if doc.key in descriptions else doc.key
        try:
            name = archival_code_filename(code)
        except ValueError:
            continue  # the document fails with its reason when it is processed
        for seen, key, what in (
            (seen_names, name_key(name), f"the output folder {document_dir(name)}"),
            (seen_keys, name_key(doc.key), f"the name {doc.key!r}"),
        ):
            other = seen.setdefault(key, doc)
            if other is not doc:
                clashes.append(f"{other.source} and {doc.source} would both get {what}{_how_alike(other.key, doc.key)}")
    if clashes:
        raise NameCollision(
            "two documents would overwrite each other: "
            + "; ".join(clashes)
            + ". Rename one of them (or correct its 档号 in the catalogue); nothing was processed"
        )
    _check_against_journal(seen_names, out)


def _how_alike(a: str, b: str) -> str:
    """Why two names that look alike are the same name on some file system."""
    if a != b and unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b):
        return " (the same name written in different Unicode forms, NFC and NFD)"
    if a != b and a.casefold() == b.casefold():
        return " (names that differ only in case are one folder on Windows and macOS)"
    return ""


def _check_against_journal(names: dict[str, SourceDocument], out: Path) -> None:
    journal = OutLayout(out).journal
    if not journal.is_file():
        return
    with JournalReader(journal) as reader:  # the documents only: not every event of a large journal
        documents = reader.documents()
    earlier = {name_key(Path(d.output_dir).name): d for d in documents if d.output_dir}
    for key, doc in names.items():
        other = earlier.get(key)
        if other is not None and other.doc_key != doc.key:
            raise NameCollision(
                f"{doc.source} would replace {other.output_dir} in {out}, the output of {other.source or other.doc_key} "
                "processed earlier; rename one of them (or correct its 档号), or use another OUT; nothing was processed"
            )
