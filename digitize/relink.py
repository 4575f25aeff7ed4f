"""A finished document described anew from its catalogue row, without OCR.

A batch processed without its catalogue (or with another one) is linked to it by running
`process` again with `--catalog`: a document whose checksums still hold is not processed
again, but when its catalogue row is new or changed, the journal's document row gets the row
(题名, catalogue fields) and the PDF's XMP gets 题名, 责任者, 日期 and 密级
(`digitize.pdfa.relabel_pdf`, validated as PDF/A again). Pages and text are untouched. The
new checksum is recorded as a "creation" event of the PDF, as its first packaging was, so
`verify` and the hand-off check the file as it is now. A document the catalogue does not
list keeps its description.
"""

from __future__ import annotations

import os
from pathlib import Path

from digitize.describe import Description
from digitize.fsutil import sha256_file
from digitize.journal import AGENT, DocumentState, EventType, Journal, Outcome
from digitize.pdfa import DocumentMeta, relabel_pdf
from digitize.settings import Settings
from metadata.archival_code import CodeTemplate, code_parts
from metadata.language import catalogue_languages, language_tag


def document_meta(desc: Description, settings: Settings, template: CodeTemplate | None) -> DocumentMeta:
    """What the PDF's XMP says about a document: its 档号, catalogue row and the 档号's parts
    (全宗号, 保管期限 ...); the language when the catalogue names it (else the text's, in assembly)."""
    fields = desc.fields
    retention_terms = settings.catalog.retention_values
    parts = code_parts(fields, desc.archival_code, template, retention_terms) if template else {}
    return DocumentMeta(
        identifier=desc.archival_code,
        title=desc.title,
        creator=fields.get("责任者") or None,
        date=fields.get("日期") or None,
        rights=fields.get("密级") or None,
        language=language_tag(catalogue_languages(fields.get("语种", ""))[0]),
        creator_tool=AGENT,
        fields=tuple((name, value) for name, value in {**parts, **fields}.items() if value),
    )


def relink_document(
    journal: Journal,
    out: Path,
    doc_key: str,
    desc: Description,
    settings: Settings,
    template: CodeTemplate | None,
    catalog: str | None,
) -> bool:
    """Give a finished document its catalogue row when the journal has another (or none); True if it did.
    PdfAError or OSError when the PDF cannot be rewritten (the document then stays as it was)."""
    row = journal.document(doc_key)
    if row is None or not desc.fields or (row.title, row.catalog) == (desc.title, desc.fields):
        return False
    pdf_rel = row.pdf_path or ""
    pdf = out / pdf_rel
    report = relabel_pdf(pdf, document_meta(desc, settings, template), row.pdfa.get("flavour") or "2b")
    digest, size = sha256_file(pdf), os.path.getsize(pdf)
    journal.upsert_document(
        doc_key,
        archival_code=desc.archival_code,
        state=DocumentState.DONE,
        title=desc.title,
        catalog=desc.fields,
        pdf_sha256=digest,
        pdf_bytes=size,
        pdfa={"flavour": report.flavour, "validated": report.validated, "findings": list(report.findings)},
    )
    journal.record_event(
        EventType.CREATION,
        doc_key,
        Outcome.SUCCESS,
        {
            "step": "PDF/A packaging",
            "reason": "described anew from the catalogue: 题名, 责任者, 日期, 密级 in the XMP; pages and text unchanged",
            "catalog": catalog,
            "file": pdf_rel,
            "sha256": digest,
            "bytes": size,
        },
    )
    return True
