"""DA/T 31-2017 image checks: colour mode, resolution, residual skew, blur, blank pages, re-scans
and page order. They measure the pixels again (`digitize.qc.measure`) rather than trusting the
processing step's own estimates.
"""

from __future__ import annotations

from collections import Counter

from digitize.qc.data import QcData, measure_of, page_label, where_doc, where_page
from digitize.qc.results import CheckStatus, Results
from metadata.records import UNKNOWN_DPI_SOURCES

# Skew estimates whose best angle scores less than this over the median angle are not judged
# Calibrated on two eval-kit holdouts (166 pages with 60+ characters): text pages scored 1.64 to
# 3.5; a speckled empty reverse side 1.54; signature-and-seal-only pages 1.2-1.3 (left unjudged).
MIN_SKEW_CONFIDENCE = 1.6


def check_resolution(data: QcData, r: Results) -> None:
    qc = data.settings.qc
    dpis: Counter[int] = Counter()
    unknown = 0
    for doc_pages in data.pages.values():
        for page in doc_pages:
            dpi = page.dpi
            if dpi is None or page.dpi_source in UNKNOWN_DPI_SOURCES:
                # no resolution tag, nothing estimated: an assumed value is no measurement
                unknown += 1
                r.add(
                    "resolution",
                    CheckStatus.NOT_CHECKED,
                    "the master carries no resolution and none was estimated; DA/T 31 §9.4 cannot be judged "
                    "(give it with --dpi or [input] dpi_override)",
                    defect="unknown_dpi",
                    **where_page(data, page),
                )
                continue
            dpis[int(round(dpi))] += 1
            source = f" ({page.dpi_source})" if page.dpi_source and page.dpi_source != "file" else ""
            if dpi < qc.fail_dpi:
                r.add(
                    "resolution",
                    CheckStatus.FAIL,
                    f"scanned at {dpi:g} dpi{source}; DA/T 31 §9.4 requires at least {qc.fail_dpi}",
                    defect="low_dpi",
                    **where_page(data, page),
                )
            elif dpi < qc.min_dpi:
                r.add(
                    "resolution",
                    CheckStatus.WARN,
                    f"scanned at {dpi:g} dpi{source}; the profile asks for {qc.min_dpi}",
                    defect="low_dpi",
                    **where_page(data, page),
                )
    listed = ", ".join(f"{n} pages at {d} dpi" for d, n in sorted(dpis.items())) + (
        f", {unknown} pages of unknown resolution" if unknown else ""
    )
    r.finish("resolution", f"{listed or 'no pages'}; minimum {qc.min_dpi} dpi (below {qc.fail_dpi} fails)")


def check_colour_mode(data: QcData, r: Results) -> None:
    """DA/T 31 §9.3: red headers and seals must be kept in colour (fail); other colour content
    (coloured writing, pictures) stored grey is a warning. Grey masters cannot be judged."""
    colour_pages = red_pages = other_pages = not_colour = 0
    for doc_pages in data.pages.values():
        for page in doc_pages:
            pm = measure_of(data, page)
            if pm is None or pm.master_mode is None:
                continue
            if pm.master_mode != "colour":
                not_colour += 1
                continue
            colour_pages += 1
            content = pm.colour or {}
            stored = (pm.pdf_image or {}).get("colour_space")
            kept = stored in ("/DeviceRGB", "/ICCBased", "/CalRGB", "/Lab")
            kind = "bitonal" if (pm.pdf_image or {}).get("bits") == 1 else "grey"
            if content.get("needs_colour"):
                red_pages += 1
                if stored is not None and not kept:
                    r.add(
                        "colour_mode",
                        CheckStatus.FAIL,
                        f"the master has red content (red region {content['largest_red_mm']} mm, "
                        f"{content['red_fraction'] * 100:.2f}% red pixels: a seal or red header) but the PDF stores "
                        f"the page {kind} ({stored})",
                        defect="colour_lost",
                        **where_page(data, page),
                    )
            elif content.get("other_colour"):
                other_pages += 1
                if stored is not None and not kept:
                    r.add(
                        "colour_mode",
                        CheckStatus.WARN,
                        f"the master has coloured content (region {content['largest_region_mm']} mm, "
                        f"not red: coloured ink or a picture) and the PDF stores it {kind}; DA/T 31 §9.3 asks for "
                        "colour where writing is multi-coloured or pictures are coloured",
                        defect="colour_reduced",
                        **where_page(data, page),
                    )
    if not data.masters_read:
        r.finish("colour_mode", "masters were not read (--no-masters)", CheckStatus.NOT_CHECKED)
    r.finish(
        "colour_mode",
        f"{colour_pages} colour masters: {red_pages} with red seals or headers, all kept in colour, "
        f"{other_pages} with other colour content",
    )
    if not_colour:  # a grey or bitonal master cannot show a red seal: not checked, never passed
        r.add(
            "colour_mode",
            CheckStatus.NOT_CHECKED,
            f"{not_colour} grey or bitonal masters: whether the paper had red headers, seals or other colour "
            "cannot be seen in them; DA/T 31 §9.3 needs a look at the paper or a colour rescan",
        )


def check_residual_skew(data: QcData, r: Results) -> None:
    """DA/T 31 §10.2: re-measure the skew of each PDF page image. A page whose ink shows no clear
    line structure (confidence below MIN_SKEW_CONFIDENCE: a signature-only page, speckle on an
    empty reverse side) cannot be judged and is only counted."""
    qc = data.settings.qc
    measured = unclear = 0
    worst = 0.0
    for doc_pages in data.pages.values():
        for page in doc_pages:
            pm = measure_of(data, page)
            if pm is None or pm.residual_skew_deg is None:
                continue
            if (pm.residual_skew_confidence or 0) < MIN_SKEW_CONFIDENCE:
                unclear += 1
                continue
            measured += 1
            angle = abs(pm.residual_skew_deg)
            worst = max(worst, angle)
            recorded = page.skew_deg
            corrected = f"; processing corrected {recorded:+.2f}°" if recorded else ""
            text = (
                f"residual skew {pm.residual_skew_deg:+.2f}° on the PDF page image (confidence "
                f"{pm.residual_skew_confidence}){corrected}"
            )
            if angle > qc.max_raw_skew_deg:
                r.add(
                    "residual_skew",
                    CheckStatus.FAIL,
                    text + f"; more than {qc.max_raw_skew_deg}°",
                    defect="residual_skew",
                    **where_page(data, page),
                )
            elif angle > qc.max_residual_skew_deg:
                r.add(
                    "residual_skew",
                    CheckStatus.WARN,
                    text + f"; more than {qc.max_residual_skew_deg}°",
                    defect="residual_skew",
                    **where_page(data, page),
                )
    r.finish(
        "residual_skew",
        f"{measured} PDF page images re-measured; largest residual skew {worst:.2f}° "
        f"(warn above {qc.max_residual_skew_deg}°, fail above {qc.max_raw_skew_deg}°); {unclear} pages with too "
        "little text to measure",
    )


def check_blur(data: QcData, r: Results) -> None:
    qc = data.settings.qc
    measured = 0
    widths = []
    for doc_pages in data.pages.values():
        for page in doc_pages:
            pm = measure_of(data, page)
            if pm is None or pm.edge_width_px is None:
                continue  # bitonal, unreadable, or too little ink to judge (an empty page)
            measured += 1
            widths.append(pm.edge_width_px)
            text = (
                f"edges {pm.edge_width_px:.1f} px wide at 300 dpi (median of {pm.edge_tiles} text tiles of the master; "
                f"sharp scans measure 2–4 px)"
            )
            if page.is_blank:
                text += "; processing took the page for blank, so it has no OCR text"
            if pm.edge_width_px > qc.blur_fail_edge_px:
                r.add(
                    "blur",
                    CheckStatus.FAIL,
                    text + f"; above {qc.blur_fail_edge_px} px: out of focus, re-scan",
                    defect="strong_blur",
                    **where_page(data, page),
                )
            elif pm.edge_width_px > qc.blur_warn_edge_px:
                r.add(
                    "blur",
                    CheckStatus.WARN,
                    text + f"; above {qc.blur_warn_edge_px} px: look at it",
                    defect="blur",
                    **where_page(data, page),
                )
    if not data.masters_read:
        r.finish("blur", "masters were not read (--no-masters)", CheckStatus.NOT_CHECKED)
    median = sorted(widths)[len(widths) // 2] if widths else None
    r.finish(
        "blur",
        f"{measured} masters with text measured; median edge width {median} px, largest "
        f"{max(widths) if widths else None} px (warn above {qc.blur_warn_edge_px}, fail above {qc.blur_fail_edge_px})",
    )


def check_blank_pages(data: QcData, r: Results) -> None:
    blank = 0
    for doc_pages in data.pages.values():
        for page in doc_pages:
            if page.is_blank:
                blank += 1
                score = page.metrics.get("blank_score")
                r.add(
                    "blank_page",
                    CheckStatus.WARN,
                    "blank page kept in the PDF (counted in 页数); confirm it is an empty reverse "
                    "side" + (f" (blank score {score:.3f})" if isinstance(score, (int, float)) else ""),
                    defect="blank_page",
                    **where_page(data, page),
                )
    r.finish("blank_page", "no blank pages")


def check_duplicates(data: QcData, r: Results) -> None:
    compared = 0
    for doc_key, measure in data.measures.items():
        compared += len([p for p in measure.pages if p.pdf_image])
        for pair in measure.duplicates:
            pages = {p.page_no: p for p in data.pages[doc_key]}
            page, original = pages[pair.page_no], pages[pair.duplicate_of]
            text = "" if pair.text_similarity is None else f", OCR text similarity {pair.text_similarity:.2f}"
            r.add(
                "duplicate_page",
                CheckStatus.FAIL,
                f"same sheet as page image {page_label(original)} (picture correlation "
                f"{pair.global_score:.3f}, worst regions {pair.cell_score:.3f}{text})",
                defect="duplicate_page",
                **where_page(data, page),
            )
    r.finish(
        "duplicate_page", f"{compared} non-blank page images compared within their documents; no sheet scanned twice"
    )


def check_page_order(data: QcData, r: Results) -> None:
    for doc in data.documents:
        doc_pages = data.pages.get(doc.doc_key, [])
        slots = [p.slot for p in doc_pages if p.slot is not None]
        if slots != sorted(slots):
            r.add(
                "page_order",
                CheckStatus.FAIL,
                f"page image numbers in PDF order: {', '.join(f'{s:04d}' for s in slots)}",
                defect="page_order",
                **where_doc(data, doc),
            )
        numbers = [p.page_no for p in doc_pages]
        if numbers != list(range(1, len(numbers) + 1)):
            r.add(
                "page_order",
                CheckStatus.FAIL,
                f"journal page numbers {numbers} are not 1..{len(numbers)}",
                defect="page_order",
                **where_doc(data, doc),
            )
    r.finish(
        "page_order",
        "every document's pages follow the numbers of their image files (or frames), without gaps in the PDF",
    )
