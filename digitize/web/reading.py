"""Search, document pages, page images, PDF/A downloads and the usage register."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, render_template, request, send_file

from digitize.ocr.hocr import OcrPage, parse_hocr
from digitize.search.access import LEVELS
from digitize.search.highlight import PageBoxes, boxes_on
from digitize.search.index import CATALOGUE_PAGE, DocumentRow
from digitize.search.query import Filters, QueryError, SearchRequest, parse_years, search
from digitize.search.text import find_spans, fold
from digitize.settings import CatalogSettings
from digitize.web.auth import context, current_user, login_required
from digitize.web.images import CACHE_DIR, WIDTHS, PageImageError, cached_page_image
from digitize.web.usage import DOWNLOAD, VIEW, UsageNotRecorded, usage_register

reading = Blueprint("reading", __name__)
PAGE_SIZE = 20
MAX_RESULT_PAGES = 50
HOCR_CACHE = 256  # parsed hOCR pages kept (a document page parses its hOCR for the hit boxes)


def visible_document(document_id: int) -> DocumentRow:
    """The document, if this user may see it; otherwise the very same 404 as for no document."""
    user = current_user()
    document = context().index().document(document_id)
    if user is None or document is None or document.required > user.clearance_rank:
        abort(404)
    return document


def inside(base: str, relative: str | None) -> Path:
    """A file the index recorded, resolved; 404 unless it lies inside its OUT folder."""
    if not base or not relative:
        abort(404)
    root = Path(base).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        abort(404)
    return path


def _record(document: DocumentRow, action: str, page: int | None) -> None:
    user = current_user()
    assert user is not None
    try:
        context().usage.record(document.source, document.doc_key, action, user, page, request.remote_addr or "")
    except UsageNotRecorded:
        abort(503)


@reading.route("/")
@login_required()
def search_page() -> Any:
    user = current_user()
    assert user is not None
    args = request.args
    query = args.get("q", "").strip()[:200]
    form = {name: args.get(name, "").strip()[:100] for name in ("year", "retention", "fonds", "security")}
    page = max(1, min(args.get("page", 1, type=int) or 1, MAX_RESULT_PAGES))
    result, error = None, None
    if query or any(form.values()):
        try:
            filters = Filters(
                years=parse_years(form["year"]) if form["year"] else (),
                retention=(form["retention"],) if form["retention"] else (),
                fonds=(form["fonds"],) if form["fonds"] else (),
                security=(form["security"],) if form["security"] else (),
            )
            request_ = SearchRequest(query, user.clearance, filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
            result = search(context().index(), request_)
        except QueryError as exc:
            error = str(exc)
    pages = 0
    if result is not None:
        pages = min(MAX_RESULT_PAGES, (result.pages_of_hits + PAGE_SIZE - 1) // PAGE_SIZE)
    return render_template(
        "search.html",
        query=query,
        form=form,
        result=result,
        error=error,
        page=page,
        pages=pages,
        retention_values=CatalogSettings().retention_values,
        security_values=LEVELS[: user.clearance_rank + 1],
    )


@reading.route("/doc/<int:document_id>")
@login_required()
def document_page(document_id: int) -> Any:
    document = visible_document(document_id)
    query = request.args.get("q", "").strip()[:200]
    folded = fold(query)
    texts = context().index().folded_pages(document_id)
    hit_pages = [n for n in sorted(texts) if folded and n != CATALOGUE_PAGE and folded in texts[n]]
    default = hit_pages[0] if hit_pages else 1
    page_no = request.args.get("p", default, type=int) or default
    if document.pages and not 1 <= page_no <= document.pages:
        abort(404)
    _record(document, VIEW, page_no if document.pages else None)
    stored = context().index().page(document_id, page_no) if document.pages else None
    text = stored.text if stored else ""
    boxes = PageBoxes(0, 0, ())
    if stored is not None and stored.hocr and folded:
        try:
            boxes = boxes_on(_hocr_page(inside(document.source, stored.hocr)), folded)
        except ValueError:
            boxes = PageBoxes(0, 0, ())
    return render_template(
        "document.html",
        document=document,
        query=query,
        page_no=page_no,
        hit_pages=hit_pages,
        text_parts=_marked(text, folded),
        boxes=boxes,
        catalogue_hit=bool(folded and folded in texts.get(CATALOGUE_PAGE, "")),
    )


def _hocr_page(path: Path) -> OcrPage:
    stat = path.stat()
    return _parsed_hocr(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=HOCR_CACHE)
def _parsed_hocr(path: Path, mtime_ns: int, size: int) -> OcrPage:
    """A parsed hOCR file, kept while its modification time and size stay the same."""
    return parse_hocr(path.read_bytes())


def _marked(text: str, folded: str) -> list[tuple[str, bool]]:
    parts, last = [], 0
    for start, end in find_spans(text, folded):
        parts += [(text[last:start], False), (text[start:end], True)]
        last = end
    parts.append((text[last:], False))
    return [p for p in parts if p[0]]


@reading.route("/doc/<int:document_id>/page/<int:page_no>.jpg")
@login_required()
def page_image(document_id: int, page_no: int) -> Any:
    document = visible_document(document_id)
    size = request.args.get("size", "view")
    if size not in WIDTHS or not 1 <= page_no <= document.pages:
        abort(404)
    pdf = inside(document.source, document.pdf)
    try:
        path = cached_page_image(
            context().archive / CACHE_DIR, f"{document.archival_code}|{document.fingerprint}", pdf, page_no, size
        )
    except PageImageError:
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=0)


@reading.route("/doc/<int:document_id>/pdf")
@login_required()
def download_pdf(document_id: int) -> Any:
    document = visible_document(document_id)
    pdf = inside(document.source, document.pdf)
    _record(document, DOWNLOAD, None)
    return send_file(pdf, mimetype="application/pdf", as_attachment=True, download_name=f"{document.archival_code}.pdf")


@reading.route("/usage")
@login_required("admin")
def usage() -> Any:
    sources = [path for _, path, _ in context().index().sources()]
    return render_template("usage.html", events=usage_register(sources))
