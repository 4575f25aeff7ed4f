"""A finished document described anew from its catalogue row, without OCR.

A batch processed without its catalogue (or with another one) is linked to it by running
`process` again with `--catalog`: a document whose checksums still hold is not processed
again, but when its catalogue row is new or changed, the journal's document row gets the row
(题名, catalogue fields), the PDF's XMP gets 题名, 责任者, 日期 and 密级
(`digitize.pdfa.relabel_pdf`, validated as PDF/A again) and the OFD's DocInfo its title, author
and CustomDatas (`digitize.ofd.relabel_ofd`, validated against GB/T 33190 again). Pages and
text are untouched; the document's layout files are described anew all together or not at all.
Each new checksum is recorded as a "creation" event of the file, as its
first packaging was, listing the file (`digitize.journal.ledger`) and vouching for the
document's rows as they are now, so `verify`, QC and the hand-off check the files and rows as
they are now. A document the catalogue does not list keeps its description.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from digitize.describe import Description
from digitize.fsutil import sha256_file
from digitize.journal import AGENT, DocumentState, EventType, Journal, Outcome
from digitize.journal.ledger import written
from digitize.ofd import OfdError, relabel_ofd
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
    PdfAError, OfdError or OSError when a layout file cannot be rewritten (the document then stays as it was)."""
    row = journal.document(doc_key)
    if row is None or not desc.fields or (row.title, row.catalog) == (desc.title, desc.fields):
        return False
    meta = document_meta(desc, settings, template)
    layout: dict[str, Any] = {}
    created = []  # (step, OUT-relative path, sha256, bytes) of each layout file rewritten
    with _put_back_on_failure([out / rel for rel in (row.pdf_path, row.ofd_path) if rel]):
        if row.pdf_path:
            pdf = out / row.pdf_path
            report = relabel_pdf(pdf, meta, row.pdfa.get("flavour") or "2b")
            digest, size = sha256_file(pdf), os.path.getsize(pdf)
            layout.update(pdf_sha256=digest, pdf_bytes=size)
            layout["pdfa"] = {
                "flavour": report.flavour,
                "validated": report.validated,
                "findings": list(report.findings),
            }
            created.append(("PDF/A packaging", row.pdf_path, digest, size))
        if row.ofd_path:
            ofd = out / row.ofd_path
            try:
                parts = relabel_ofd(ofd, meta).parts
            except ValueError as exc:  # text XML cannot hold, such as a control character in the row
                raise OfdError(f"{ofd}: the catalogue row cannot be written into the OFD ({exc})") from None
            digest, size = sha256_file(ofd), os.path.getsize(ofd)
            layout.update(ofd_sha256=digest, ofd_bytes=size, ofd={**(row.ofd or {}), "validated": True, "parts": parts})
            created.append(("OFD packaging", row.ofd_path, digest, size))
    journal.upsert_document(
        doc_key,
        archival_code=desc.archival_code,
        state=DocumentState.DONE,
        title=desc.title,
        catalog=desc.fields,
        **layout,
    )
    for step, rel, digest, size in created:
        journal.record_event(
            EventType.CREATION,
            doc_key,
            Outcome.SUCCESS,
            {
                "step": step,
                "reason": "described anew from the catalogue: 题名, 责任者, 日期, 密级 and the catalogue fields; "
                "pages and text unchanged",
                "catalog": catalog,
                "file": rel,
                "sha256": digest,
                "bytes": size,
                **written({rel: (digest, size)}),
            },
            rows_of=doc_key,
        )
    return True


@contextlib.contextmanager
def _put_back_on_failure(paths: list[Path]) -> Iterator[None]:
    """Keep each file as it is now (a hard link: OUT is on a local disk) and put it back if anything
    inside fails, so that a document is described anew in all its layout files or in none. A kill
    leaves the links as debris (`.<name>.<8 hex>.tmp`), removed by the next writer."""
    kept: list[tuple[Path, Path]] = []
    try:
        for path in paths:
            link = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
            os.link(path, link)
            kept.append((link, path))
        yield
    except BaseException:
        for link, path in kept:
            os.replace(link, path)
        raise
    finally:
        for link, _ in kept:
            link.unlink(missing_ok=True)
