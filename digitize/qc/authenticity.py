"""真实性 (DA/T 70 items 1-x): fixity of masters, outputs and the journal; electronic attributes;
the links between catalogue, journal and files; the 目录文件; the layout of OUT.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf

from digitize.fsutil import sha256_file
from digitize.journal import DocumentRecord, PageState
from digitize.layout import (
    PAGE_FILES,
    catalogue_file,
    document_dir,
    ofd_file,
    page_file,
    pdf_file,
)
from digitize.ofd import page_count as ofd_page_count
from digitize.qc.data import LayoutFile, QcData, journal_outputs, layout_files, layout_rel, where_doc, where_page
from digitize.qc.results import CheckStatus, Results
from digitize.xmlsafe import UnsafeXmlError, parse_file
from metadata.archival_code import archival_code_filename

# The pipeline's creation event of each kind of layout file (its step), which records its digest.
PACKAGING_STEPS = {"pdf": "PDF/A packaging", "ofd": "OFD packaging"}


def check_capture_fixity(data: QcData, r: Results, verify_masters: bool = True) -> None:
    """1-1: the hash chain of the journal's events is intact, the digests of the layout files (PDF/A,
    OFD) recorded in the chain match the documents table, and every master still has the digest
    taken at capture."""
    for problem in data.journal.chain.problems:
        r.add(
            "capture_fixity",
            CheckStatus.FAIL,
            f"日志第 {problem.seq} 条事件：{problem.reason}",
            object=f"event {problem.seq}",
            defect="journal_chain",
        )
    packaged: dict[tuple[str, str], str | None] = {}  # (doc_key, step) -> sha256 the chain recorded
    for event in data.events:
        if event.type == "creation" and event.detail.get("step") in PACKAGING_STEPS.values():
            packaged[(event.object, event.detail["step"])] = event.detail.get("sha256")
    for doc in data.done:
        for layout in layout_files(doc):
            step = PACKAGING_STEPS[layout.kind]
            recorded = packaged.get((doc.doc_key, step))
            if recorded is None:
                r.add(
                    "capture_fixity",
                    CheckStatus.FAIL,
                    f"日志中没有 {layout.path} 的封装事件（{step}）",
                    defect="journal_event_missing",
                    **where_doc(data, doc),
                )
            elif recorded != layout.sha256:
                r.add(
                    "capture_fixity",
                    CheckStatus.FAIL,
                    f"日志文件表记录 {layout.path} 的 sha256 {layout.sha256[:16]}…，事件链记录 {recorded[:16]}…",
                    defect="journal_mismatch",
                    **where_doc(data, doc),
                )
    checked = missing = 0
    seen: set[str] = set()
    if verify_masters:
        for doc_pages in data.pages.values():
            for page in doc_pages:
                path = data.master_path(page)
                if path is None:
                    missing += 1
                    continue
                if str(path) in seen or not page.master_sha256:
                    continue
                seen.add(str(path))
                checked += 1
                digest = sha256_file(path)
                if digest != page.master_sha256:
                    r.add(
                        "capture_fixity",
                        CheckStatus.FAIL,
                        f"原始扫描件 {data.master_rel(page)} 的 sha256 为 {digest[:16]}…，"
                        f"采集时为 {page.master_sha256[:16]}…：采集后被改动",
                        defect="master_changed",
                        **where_page(data, page),
                    )
    if not verify_masters:
        r.add(
            "capture_fixity",
            CheckStatus.NOT_CHECKED,
            "未读取原始扫描件（--no-masters），采集时的摘要未核验；"
            f"事件链 {len(data.events)} 条完整，{len(packaged)} 个版式文件摘要与之相符"
            if not r.has("capture_fixity")
            else "未读取原始扫描件（--no-masters）",
        )
        masters = ""
    elif data.batch_dir is None and checked == 0:
        masters = "批次目录无法访问：原始扫描件摘要未核验"
    else:
        masters = f"{checked} 个原始扫描件与采集时的摘要一致" + (f"；{missing} 个未找到" if missing else "")
    r.finish(
        "capture_fixity",
        f"事件链 {len(data.events)} 条完整；{len(packaged)} 个版式文件摘要与事件链相符；{masters}",
    )


def check_output_fixity(data: QcData, r: Results) -> tuple[int, int, int]:
    """1-14 and 2-2: recompute every output's sha256; total the bytes."""
    ok = 0
    journal_bytes = disk_bytes = 0
    for doc, page, rel, digest, size in journal_outputs(data):
        journal_bytes += size
        path = data.out / rel
        where = where_page(data, page) if page else where_doc(data, doc)
        where["file"] = rel
        if not path.is_file():
            r.add(
                "output_fixity",
                CheckStatus.FAIL,
                f"{rel} 缺失（日志记录 sha256 {digest[:16]}…）",
                defect="file_missing",
                **where,
            )
            continue
        disk_bytes += path.stat().st_size
        actual = sha256_file(path)
        if actual != digest:
            r.add(
                "output_fixity",
                CheckStatus.FAIL,
                f"{rel}：sha256 为 {actual[:16]}…，日志记录为 {digest[:16]}…"
                f"（现 {path.stat().st_size} 字节，记录 {size} 字节）",
                defect="fixity_mismatch",
                **where,
            )
        else:
            ok += 1
    r.finish("output_fixity", f"{ok} 个成果文件（PDF/A 或 OFD、hOCR、文本、ALTO、页面记录）与日志记录的 sha256 一致")
    return ok, journal_bytes, disk_bytes


def check_electronic_attributes(data: QcData, r: Results) -> None:
    """1-10: size on disk, format, name and page count of each layout file (PDF/A, OFD) and the
    size of the page images the measured one holds; size and format of masters."""
    checked = 0
    for doc in data.done:
        measure = data.measures.get(doc.doc_key)
        doc_pages = data.pages.get(doc.doc_key, [])
        for layout in layout_files(doc):
            on_disk = data.out / layout.path
            if not on_disk.is_file():
                continue  # 1-11 and 1-14 report it
            checked += 1
            problems = _layout_problems(data, doc, layout, on_disk)
            if measure is not None and layout.path == layout_rel(doc):  # the file whose pages QC measured
                for pm, page in zip(measure.pages, doc_pages):
                    facts = pm.layout_image or {}
                    metrics = page.metrics or {}
                    want = (metrics.get("output_width"), metrics.get("output_height"))
                    if facts and None not in want and (facts["width"], facts["height"]) != tuple(want):
                        problems.append(
                            f"第 {page.page_no} 页：图像 {facts['width']}×{facts['height']} 像素，元数据记录 "
                            f"{want[0]}×{want[1]}"
                        )
            for text in problems:
                r.add(
                    "electronic_attributes",
                    CheckStatus.FAIL,
                    f"{layout.path}: {text}",
                    defect="attributes_mismatch",
                    file=layout.path,
                    **where_doc(data, doc),
                )
    masters = 0
    for doc_key, doc_pages in data.pages.items():
        for page in doc_pages:
            path = data.master_path(page)
            if path is None or page.state == PageState.FAILED:
                continue
            masters += 1
            size = path.stat().st_size
            if page.master_bytes is not None and size != page.master_bytes:
                r.add(
                    "electronic_attributes",
                    CheckStatus.FAIL,
                    f"原始扫描件 {data.master_rel(page)}：{size:,} 字节，元数据记录 {page.master_bytes:,} 字节",
                    defect="attributes_mismatch",
                    **where_page(data, page),
                )
            measure = data.measures.get(doc_key)
            measured = next((m for m in measure.pages if m.page_no == page.page_no), None) if measure else None
            if (
                measured is not None
                and measured.master_format
                and page.file_format
                and measured.master_format != page.file_format
            ):
                r.add(
                    "electronic_attributes",
                    CheckStatus.FAIL,
                    f"原始扫描件 {data.master_rel(page)} 为 {measured.master_format} 格式，元数据记录为 {page.file_format}",
                    defect="attributes_mismatch",
                    **where_page(data, page),
                )
    r.finish(
        "electronic_attributes",
        f"{checked} 个版式文件（PDF/A、OFD）的大小、页数、页面图像尺寸、格式和文件名与日志一致；"
        f"{masters} 个原始扫描页的大小和格式一致",
    )


# What a layout file starts with: PDF "%PDF-", OFD a ZIP package.
MAGIC = {"pdf": (b"%PDF-", "PDF 文件"), "ofd": (b"PK\x03\x04", "OFD（ZIP）文件包")}


def _layout_problems(data: QcData, doc: DocumentRecord, layout: LayoutFile, path: Path) -> list[str]:
    """Size, name, format and page count of one layout file against the journal."""
    problems = []
    size = path.stat().st_size
    if size != layout.bytes:
        problems.append(f"大小 {size:,} 字节，元数据记录 {layout.bytes:,} 字节")
    try:
        expected_name = (pdf_file if layout.kind == "pdf" else ofd_file)(archival_code_filename(doc.archival_code))
    except ValueError:
        expected_name = None
    if expected_name and path.name != expected_name:
        problems.append(f"文件名 {path.name}，按档号应为 {expected_name}")
    magic, what = MAGIC[layout.kind]
    with open(path, "rb") as fh:
        head = fh.read(len(magic))
    if head != magic:
        problems.append(f"不是{what}（开头为 {head!r}）")
        return problems
    pages = len(data.pages.get(doc.doc_key, []))
    found = _page_count(path, layout.kind)
    if isinstance(found, str):
        problems.append(f"无法统计页数：{found}")
    elif found != pages:
        problems.append(f"有 {found} 页，元数据记录 {pages} 页")
    return problems


def _page_count(path: Path, kind: str) -> int | str:
    """The layout file's page count, or why it cannot be read."""
    try:
        if kind == "ofd":
            return ofd_page_count(path)
        with pikepdf.open(path) as pdf:
            return len(pdf.pages)
    except Exception as exc:  # noqa: BLE001 - an unreadable file is the finding
        return f"{exc.__class__.__name__}: {exc}"


def check_metadata_link(data: QcData, r: Results) -> None:
    """1-11 beyond the catalogue link: every path the journal stores names an existing file."""
    for doc in data.done:
        for layout in (doc.pdf_path, doc.ofd_path):
            if layout and not (data.out / layout).is_file():
                r.add(
                    "metadata_link",
                    CheckStatus.FAIL,
                    f"日志指向的 {layout} 不存在",
                    defect="file_missing",
                    file=layout,
                    **where_doc(data, doc),
                )
    if data.catalog is None:
        r.finish(
            "metadata_link",
            f"日志中 {len(data.done)} 条记录指向的 PDF 均存在；未检查与目录的挂接（{data.catalog_note}）",
            CheckStatus.NOT_CHECKED if not data.done else CheckStatus.PASS,
        )
    else:
        r.finish(
            "metadata_link",
            f"每条目录均挂接一件扫描文件，反之亦然（目录 {len(data.catalog.records)} 条，"
            f"文件 {len(data.documents)} 件）；日志中的路径均存在",
        )


def check_catalogue_file(data: QcData, r: Results) -> None:
    """1-12: the DA/T 93 目录文件 exists, is valid and lists every document."""
    from metadata.export.validate import validate

    rel = catalogue_file()
    path = data.out / rel
    if not path.is_file():
        r.add(
            "catalogue_file",
            CheckStatus.WARN,
            f"OUT 中尚无 {rel}：移交前请运行 `digitize export OUT`",
            object=rel,
            file=rel,
            defect="catalogue_file_missing",
        )
        return
    try:
        tree = parse_file(path)
        errors = validate("dat93", tree)
    except (UnsafeXmlError, Exception) as exc:  # noqa: BLE001 - any parse problem is the finding
        r.add(
            "catalogue_file",
            CheckStatus.FAIL,
            f"无法读取：{exc}",
            object=rel,
            file=rel,
            defect="catalogue_file_invalid",
        )
        return
    if errors:
        r.add(
            "catalogue_file",
            CheckStatus.FAIL,
            f"不符合 DA/T 93：{errors[0]}",
            object=rel,
            file=rel,
            defect="catalogue_file_invalid",
        )
        return
    listed = {(el.text or "").strip() for el in tree.getroot().iter("档号")}
    missing = sorted(d.archival_code for d in data.done if d.archival_code not in listed)
    if missing:
        r.add(
            "catalogue_file",
            CheckStatus.FAIL,
            "目录文件未列出 " + "、".join(missing) + "（请重新运行 `digitize export`）",
            object=rel,
            file=rel,
            defect="catalogue_file_incomplete",
        )
    r.finish(
        "catalogue_file",
        f"{rel} 符合 DA/T 93，列出 {len(listed)} 件，包括全部已处理文件",
    )


def check_package_structure(data: QcData, r: Results) -> None:
    """1-13: OUT/documents/<档号>/ holds <档号>.pdf and/or <档号>.ofd (as the journal records them),
    ocr/<档号>-NNNN.{hocr,txt,alto.xml} and pages/<档号>-NNNN.json."""
    checked = 0
    for doc in data.done:
        try:
            name = archival_code_filename(doc.archival_code)
        except ValueError as exc:
            r.add("package_structure", CheckStatus.FAIL, str(exc), defect="bad_name", **where_doc(data, doc))
            continue
        folder = document_dir(name)
        layout_names = {"pdf": pdf_file(name), "ofd": ofd_file(name)}
        expected = [f"{folder}/{layout_names[layout.kind]}" for layout in layout_files(doc)]
        for layout, rel in zip(layout_files(doc), expected):
            if layout.path != rel:
                r.add(
                    "package_structure",
                    CheckStatus.FAIL,
                    f"日志记录的 {layout.kind.upper()} 为 {layout.path}，应为 {rel}",
                    defect="bad_layout",
                    **where_doc(data, doc),
                )
        for page in data.pages.get(doc.doc_key, []):
            expected += [f"{folder}/{page_file(name, page.page_no, role)}" for role in PAGE_FILES]
        if doc.output_dir != folder:
            r.add(
                "package_structure",
                CheckStatus.FAIL,
                f"日志记录的文件夹为 {doc.output_dir}，应为 {folder}",
                defect="bad_layout",
                **where_doc(data, doc),
            )
        absent = [rel for rel in expected if not (data.out / rel).is_file()]
        if absent:
            r.add(
                "package_structure",
                CheckStatus.FAIL,
                f"缺少 {len(absent)} 个应有文件：" + ", ".join(absent[:5]) + (" …" if len(absent) > 5 else ""),
                defect="file_missing",
                **where_doc(data, doc),
            )
        checked += 1
    r.finish(
        "package_structure",
        f"{checked} 个文件夹均按档号命名，含 PDF/A 和/或 OFD、逐页 OCR 文件（hOCR、文本、ALTO）和页面记录",
    )
