"""What a batch holds and what each document is: the plan of a `digitize process` run.

`plan_batch` finds the documents (`digitize.batch.discover`) and links them to their catalogue
rows (数据挂接): every document gets its 档号 (from its row, else its folder name), title and
catalogue fields, and the catalogue's validation and linking findings come with their DA/T 70
item IDs (stage GD: archiving), for the process summary and the journal. Bad input (a batch
folder or catalogue that cannot be used) is raised here, before any worker starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.batch import SourceDocument, discover
from digitize.settings import Settings
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


@dataclass
class BatchPlan:
    """The request with the documents found in the batch and what the catalogue says about them."""

    request: ProcessRequest
    documents: list[SourceDocument]
    description: BatchDescription


def plan_batch(request: ProcessRequest) -> BatchPlan:
    """Find the documents and describe them; BadInput for a batch or catalogue that cannot be used."""
    docs = discover(request.batch, force_text=request.settings.input.force_text_pdf)
    return BatchPlan(request, docs, describe_batch(docs, request.catalog, request.settings))
