"""可用性 (DA/T 70 items 3-x, DA/T 31 §9.5): XML that parses and validates, allowed formats, readable
masters and PDFs, PDF/A that is archival.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import pikepdf

from digitize.journal import DocumentState, PageState
from digitize.layout import (
    QC_DIR,
    WORK_DIR,
    dat46_file,
    xml_schema,
)
from digitize.ofd import check_ofd
from digitize.pdfa import validate_pdfa
from digitize.qc.data import QcData, where_doc, where_page
from digitize.qc.results import CheckStatus, Results
from digitize.xmlsafe import parse_file

# DA/T 31 §9.5 names TIFF, JPEG and JPEG 2000 for masters ("等通用格式"); GB/T 18894-2016 adds
# PNG, and image-only PDFs are what some scanners deliver. Anything else is not an open format.
MASTER_FORMATS = ("TIFF", "JPEG", "JPEG 2000", "PNG", "PDF")
PDF_IMAGE_FILTERS = ("/DCTDecode", "/CCITTFaxDecode", "/FlateDecode", "/JPXDecode")


def check_metadata_readable(data: QcData, r: Results) -> None:
    """3-1: every XML file under OUT (ALTO, exports) parses with the safe parser and validates."""
    from metadata.export.validate import validate

    counts: Counter[str] = Counter()
    for path in sorted(data.out.rglob("*.xml")):
        rel = path.relative_to(data.out).as_posix()
        if rel.startswith((QC_DIR + "/", WORK_DIR + "/")):
            continue
        kind = xml_schema(rel)
        try:
            tree = parse_file(path)
            errors = validate(kind, tree) if kind else []
        except Exception as exc:  # noqa: BLE001 - unreadable XML is the finding
            r.add(
                "metadata_readable",
                CheckStatus.FAIL,
                f"{rel} cannot be parsed: {exc}",
                object=rel,
                file=rel,
                defect="xml_unreadable",
            )
            continue
        if errors:
            r.add(
                "metadata_readable",
                CheckStatus.FAIL,
                f"{rel} is not valid {kind}: {errors[0]}",
                object=rel,
                file=rel,
                defect="xml_invalid",
            )
        counts[kind or "xml (no schema)"] += 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no XML files"
    r.finish("metadata_readable", f"parsed without entities and validated: {summary}")


def check_formats(data: QcData, r: Results) -> None:
    """3-3 (allowed formats) and DA/T 31 §9.5 (one master format per batch)."""
    formats: Counter[str] = Counter()
    for doc_pages in data.pages.values():
        for page in doc_pages:
            if page.file_format:
                formats[page.file_format] += 1
                if page.file_format not in MASTER_FORMATS:
                    r.add(
                        "format_allowed",
                        CheckStatus.FAIL,
                        f"master format {page.file_format} is not one of {', '.join(MASTER_FORMATS)}",
                        defect="format_not_allowed",
                        **where_page(data, page),
                    )
    for doc in data.done:
        pdfa = doc.pdfa
        if doc.ofd_path and not (doc.ofd_path.endswith(".ofd") and doc.ofd.get("version")):
            r.add(
                "format_allowed",
                CheckStatus.FAIL,
                f"{doc.ofd_path} is not recorded as OFD (GB/T 33190)",
                defect="format_not_allowed",
                **where_doc(data, doc),
            )
        if not doc.pdf_path and doc.ofd_path:
            continue  # OFD instead of PDF/A
        if not (doc.pdf_path or "").endswith(".pdf") or not pdfa.get("flavour"):
            r.add(
                "format_allowed",
                CheckStatus.FAIL,
                f"{doc.pdf_path} is not recorded as PDF/A",
                defect="format_not_allowed",
                **where_doc(data, doc),
            )
    listed = ", ".join(f"{n} {name}" for name, n in formats.most_common())
    layout = Counter(
        kind for doc in data.done for kind, path in (("PDF/A", doc.pdf_path), ("OFD", doc.ofd_path)) if path
    )
    outputs = ", ".join(f"{n} {kind}" for kind, n in layout.items()) or "none"
    r.finish("format_allowed", f"masters: {listed or 'none'}; outputs: {outputs} files")
    if len(formats) > 1:
        r.add(
            "storage_format",
            CheckStatus.WARN,
            f"DA/T 31 §9.5 asks for one storage format per batch; the masters use {listed}",
            defect="mixed_formats",
        )
    r.finish("storage_format", f"all masters are {listed}" if listed else "no masters recorded")


def check_unreadable(data: QcData, r: Results) -> None:
    """3-4 / DA/T 31 §11: masters that could not be opened (from the journal) and documents that failed."""
    for doc in data.documents:
        doc_pages = data.pages.get(doc.doc_key, [])
        failed_pages = [p for p in doc_pages if p.state == PageState.FAILED]
        for page in failed_pages:
            size = page.master_bytes
            defect = "zero_byte" if size == 0 else "corrupt_image"
            r.add(
                "unreadable",
                CheckStatus.FAIL,
                f"{data.master_rel(page)} ({size} bytes) cannot be read: {page.error}",
                defect=defect,
                **where_page(data, page),
            )
        if doc.state == DocumentState.FAILED and not failed_pages:
            r.add(
                "unreadable",
                CheckStatus.FAIL,
                f"processing failed: {doc.error}",
                defect="document_failed",
                **where_doc(data, doc),
            )
        elif doc.state == DocumentState.PENDING:
            r.add(
                "unreadable",
                CheckStatus.FAIL,
                f"the document is {doc.state}: processing has not finished",
                defect="document_unfinished",
                **where_doc(data, doc),
            )
    for doc_key, measure in data.measures.items():
        for pm in measure.pages:
            page = next(p for p in data.pages[doc_key] if p.page_no == pm.page_no)
            if page.state == PageState.FAILED:
                continue
            if pm.master_error == "master file not found":
                continue  # capture fixity says the masters are out of reach
            if pm.master_error:
                r.add(
                    "unreadable",
                    CheckStatus.FAIL,
                    f"master cannot be decoded now: {pm.master_error}",
                    defect="corrupt_image",
                    **where_page(data, page),
                )
            if pm.pdf_error:
                r.add(
                    "unreadable",
                    CheckStatus.FAIL,
                    f"PDF page {pm.page_no} image cannot be decoded: {pm.pdf_error}",
                    defect="pdf_page_unreadable",
                    **where_page(data, page),
                )
        if measure.pdf_error:
            doc = next(d for d in data.documents if d.doc_key == doc_key)
            r.add(
                "unreadable",
                CheckStatus.FAIL,
                f"{doc.pdf_path} cannot be opened: {measure.pdf_error}",
                defect="pdf_unreadable",
                **where_doc(data, doc),
            )
    pages = sum(len(v) for v in data.pages.values())
    r.finish(
        "unreadable",
        f"all {pages} page images of {len(data.documents)} documents were read and every PDF page image decodes",
    )


# DA/T 70 BC items no automated check can decide: why each is left to people.
MANUAL_BC_ITEMS = {
    "package_schema": "no DA/T 48 encapsulation packages are made here; the records' metadata is DA/T 46 XML",
    "package_signature": "the output carries no electronic signatures",
    "environment_change": "manual: compare the storage environment with the last check",
    "backup_restore": "manual: restore a backup copy and verify it (digitize verify)",
    "vulnerabilities": "manual: scan the system software for vulnerabilities",
    "storage_environment": "manual: inspect where the carriers are kept",
}
LONG_TERM_MASTERS = ("TIFF", "JPEG", "JPEG 2000", "PNG")


def check_long_term(data: QcData, r: Results) -> None:
    """The BC-only items (DA/T 70 Annex A): 2-10 every record has its DA/T 46 metadata, 3-5 the
    masters and layout files are long-term formats (GB/T 18894, GB/T 33190, DA/T 47); the others
    are reported as not checked, with the reason. `Results` drops them at GD and YJ."""
    for doc in data.done:
        name = PurePosixPath(doc.output_dir or "").name
        if name and not (data.out / dat46_file(name)).is_file():
            r.add(
                "package_metadata",
                CheckStatus.FAIL,
                f"{doc.archival_code} has no DA/T 46 metadata file (run `digitize export`)",
                defect="metadata_missing",
                **where_doc(data, doc),
            )
        if doc.pdf_path and not doc.pdfa.get("flavour"):
            r.add("format_longevity", CheckStatus.FAIL, f"{doc.pdf_path} is not PDF/A", **where_doc(data, doc))
    r.finish("package_metadata", f"every one of {len(data.done)} records has its DA/T 46 metadata file")
    for pages in data.pages.values():
        for page in pages:
            if page.file_format and page.file_format not in LONG_TERM_MASTERS:
                r.add(
                    "format_longevity",
                    CheckStatus.WARN,
                    f"master format {page.file_format} is not a long-term image format ({', '.join(LONG_TERM_MASTERS)})",
                    **where_page(data, page),
                )
    r.finish("format_longevity", "masters TIFF/JPEG/JPEG 2000/PNG; layout files PDF/A and/or OFD (GB/T 33190)")
    for key, reason in MANUAL_BC_ITEMS.items():
        r.add(key, CheckStatus.NOT_CHECKED, reason)


def _pdf_problems(path: Path, flavour: str) -> list[tuple[str, str]]:
    """(defect, text) for everything that keeps a PDF from being an archival PDF/A."""
    problems: list[tuple[str, str]] = []
    try:
        violations, _ = validate_pdfa(path, flavour)  # pikepdf's validator, extension schemas read
        if violations:
            problems.append(("pdfa_invalid", f"not valid PDF/A-{flavour}: {'; '.join(violations[:3])}"))
    except Exception as exc:  # noqa: BLE001
        problems.append(("pdfa_invalid", f"PDF/A validation could not run: {exc}"))
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return problems + [("encrypted", "the PDF is encrypted")]
    except Exception as exc:  # noqa: BLE001
        return problems + [("pdf_unreadable", f"cannot be opened: {exc}")]
    with pdf:
        if pdf.is_encrypted:
            problems.append(("encrypted", "the PDF is encrypted"))
        javascript = False
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) or isinstance(obj, pikepdf.Stream):
                try:
                    if "/JS" in obj or obj.get("/S") == pikepdf.Name.JavaScript:
                        javascript = True
                        break
                except Exception:  # noqa: BLE001 - odd objects are not JavaScript
                    continue
        names = pdf.Root.get("/Names")
        if names is not None and "/JavaScript" in names:
            javascript = True
        if javascript:
            problems.append(("javascript", "the PDF contains JavaScript"))
        for number, page in enumerate(pdf.pages, start=1):
            resources: Any = page.get("/Resources") or {}
            fonts = resources.get("/Font") or {}
            for name, font in fonts.items():
                descendants = font.get("/DescendantFonts")
                target = descendants[0] if descendants is not None and len(descendants) else font
                descriptor = target.get("/FontDescriptor")
                embedded = descriptor is not None and any(
                    k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
                )
                if not embedded:
                    problems.append(("font_not_embedded", f"page {number}: font {name} is not embedded"))
            images = page.get_images() if hasattr(page, "get_images") else page.images
            for name, image in images.items():
                declared = image.get("/Filter")
                filters = (
                    [str(f) for f in (declared if isinstance(declared, pikepdf.Array) else [declared])]
                    if declared is not None
                    else []
                )
                for f in filters:
                    if f not in PDF_IMAGE_FILTERS:
                        problems.append(("compression_not_allowed", f"page {number}: image {name} uses {f}"))
        meta = pdf.open_metadata()
        part, conformance = meta.get("pdfaid:part"), meta.get("pdfaid:conformance")
        if part is None or conformance is None:
            problems.append(("pdfa_invalid", "XMP has no pdfaid:part / pdfaid:conformance"))
        elif f"{part}{conformance}".lower() != flavour.lower():
            problems.append(("pdfa_invalid", f"XMP says PDF/A-{part}{conformance}, the journal PDF/A-{flavour}"))
    return problems


def check_pdfa(data: QcData, r: Results) -> None:
    """3-8: the layout files are what they claim: PDF/A (pikepdf's validator and the archival
    rules) and OFD (every XML part against the GB/T 33190 schemas)."""
    checked = ofds = 0
    for doc in data.done:
        if doc.ofd_path and (data.out / doc.ofd_path).is_file():
            ofds += 1
            for problem in check_ofd(data.out / doc.ofd_path)[1]:
                r.add(
                    "pdfa",
                    CheckStatus.FAIL,
                    f"{doc.ofd_path}: not valid OFD: {problem}",
                    defect="ofd_invalid",
                    file=doc.ofd_path,
                    **where_doc(data, doc),
                )
        path = data.out / (doc.pdf_path or "")
        if not doc.pdf_path or not path.is_file():
            continue
        checked += 1
        flavour = (doc.pdfa).get("flavour") or data.settings.pdf.pdfa_flavour
        for defect, text in _pdf_problems(path, flavour):
            r.add(
                "pdfa",
                CheckStatus.FAIL,
                f"{doc.pdf_path}: {text}",
                defect=defect,
                file=doc.pdf_path,
                **where_doc(data, doc),
            )
    r.finish(
        "pdfa",
        f"{checked} PDFs pass pikepdf's PDF/A validator, are not encrypted, carry no JavaScript, embed "
        "their fonts, use open image compression and declare pdfaid in XMP"
        + (f"; {ofds} OFDs validate against the GB/T 33190 schemas" if ofds else ""),
    )
