"""可用性 (DA/T 70 items 3-x, DA/T 31 §9.5): XML that parses and validates, allowed formats, readable
masters and PDFs, PDF/A that is archival.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import pikepdf

from digitize.journal import DocumentRecord, DocumentState, PageState
from digitize.layout import (
    QC_DIR,
    WORK_DIR,
    dat46_file,
    xml_schema,
)
from digitize.ofd import check_ofd
from digitize.pdfa import validate_pdfa
from digitize.qc.data import QcData, layout_rel, where_doc, where_page
from digitize.qc.results import CheckStatus, Results
from digitize.xmlsafe import parse_file
from metadata.technical import creating_application

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
                f"{rel} 无法解析：{exc}",
                object=rel,
                file=rel,
                defect="xml_unreadable",
            )
            continue
        if errors:
            r.add(
                "metadata_readable",
                CheckStatus.FAIL,
                f"{rel} 不符合 {kind} 规范：{errors[0]}",
                object=rel,
                file=rel,
                defect="xml_invalid",
            )
        counts[kind or "xml（无模式）"] += 1
    summary = "，".join(f"{kind} {n} 个" for kind, n in sorted(counts.items())) or "无 XML 文件"
    r.finish("metadata_readable", f"均已安全解析（不展开实体）并通过模式校验：{summary}")


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
                        f"原始扫描件格式 {page.file_format} 不在允许范围（{', '.join(MASTER_FORMATS)}）",
                        defect="format_not_allowed",
                        **where_page(data, page),
                    )
    for doc in data.done:
        pdfa = doc.pdfa
        if doc.ofd_path and not (doc.ofd_path.endswith(".ofd") and doc.ofd.get("version")):
            r.add(
                "format_allowed",
                CheckStatus.FAIL,
                f"{doc.ofd_path} 未记录为 OFD（GB/T 33190）",
                defect="format_not_allowed",
                **where_doc(data, doc),
            )
        if not doc.pdf_path and doc.ofd_path:
            continue  # OFD instead of PDF/A
        if not (doc.pdf_path or "").endswith(".pdf") or not pdfa.get("flavour"):
            r.add(
                "format_allowed",
                CheckStatus.FAIL,
                f"{doc.pdf_path} 未记录为 PDF/A",
                defect="format_not_allowed",
                **where_doc(data, doc),
            )
    listed = "，".join(f"{name} {n} 个" for name, n in formats.most_common())
    layout = Counter(
        kind for doc in data.done for kind, path in (("PDF/A", doc.pdf_path), ("OFD", doc.ofd_path)) if path
    )
    outputs = "，".join(f"{kind} {n} 个" for kind, n in layout.items()) or "无"
    r.finish("format_allowed", f"原始扫描件：{listed or '无'}；成果文件：{outputs}")
    if len(formats) > 1:
        r.add(
            "storage_format",
            CheckStatus.WARN,
            f"DA/T 31 §9.5 要求同一批次采用同一存储格式；原始扫描件使用了 {listed}",
            defect="mixed_formats",
        )
    r.finish("storage_format", f"原始扫描件均为 {listed}" if listed else "未记录原始扫描件")


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
                f"{data.master_rel(page)}（{size} 字节）无法读取：{page.error}",
                defect=defect,
                **where_page(data, page),
            )
        if doc.state == DocumentState.FAILED and not failed_pages:
            r.add(
                "unreadable",
                CheckStatus.FAIL,
                f"处理失败：{doc.error}",
                defect="document_failed",
                **where_doc(data, doc),
            )
        elif doc.state == DocumentState.PENDING:
            r.add(
                "unreadable",
                CheckStatus.FAIL,
                f"文件状态为 {doc.state}：处理尚未完成",
                defect="document_unfinished",
                **where_doc(data, doc),
            )
    for doc_key, measure in data.measures.items():
        doc = next(d for d in data.documents if d.doc_key == doc_key)
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
                    f"原始扫描件现在无法解码：{pm.master_error}",
                    defect="corrupt_image",
                    **where_page(data, page),
                )
            if pm.layout_error:
                r.add(
                    "unreadable",
                    CheckStatus.FAIL,
                    f"{layout_rel(doc)} 第 {pm.page_no} 页图像无法解码：{pm.layout_error}",
                    defect=f"{_kind(doc)}_page_unreadable",
                    **where_page(data, page),
                )
        if measure.layout_error:
            r.add(
                "unreadable",
                CheckStatus.FAIL,
                f"{layout_rel(doc)} 无法打开：{measure.layout_error}",
                defect=f"{_kind(doc)}_unreadable",
                **where_doc(data, doc),
            )
    pages = sum(len(v) for v in data.pages.values())
    r.finish(
        "unreadable",
        f"{len(data.documents)} 件文件的全部 {pages} 幅页面图像均可读取，版式文件的页面图像均可解码",
    )


def _kind(doc: DocumentRecord) -> str:
    """ "pdf" or "ofd": the kind of layout file QC measured for a document."""
    return "pdf" if doc.pdf_path else "ofd"


# Layout formats that need no particular software or hardware (GB/T 18894-2016 §8.3: open,
# independent of software and hardware): 格式信息 of a DA/T 46 电子属性 starts with one of these.
OPEN_LAYOUT_FORMATS = ("PDF/A-", "OFD ")


def check_environment(data: QcData, r: Results) -> None:
    """3-6: the software and hardware environment recorded in each 电子属性 of a document's DA/T 46
    record meets the archiving requirements: 文档创建程序 and 信息系统描述 are recorded, 文档创建程序
    is the software the journal says made the document, and the 格式信息 is an open layout format
    that needs no particular software or hardware (PDF/A, OFD)."""
    runs = {run.id: run for run in data.runs}
    last = data.runs[-1] if data.runs else None
    software: set[str] = set()
    for record in data.records:
        tree = record.tree
        if tree is None:
            continue  # 2-3 reports it
        made_by = creating_application(runs.get(record.document.run_id or 0, last))
        problems = []
        for attributes in tree.getroot().iterfind("文件实体/电子属性"):
            name = attributes.findtext("计算机文件名") or "?"
            application = (attributes.findtext("文档创建程序") or "").strip()
            fmt = (attributes.findtext("格式信息") or "").strip()
            if not application:
                problems.append(f"{name}：缺少文档创建程序")
            elif application != made_by:
                problems.append(f"{name}：文档创建程序为 {application!r}，但日志记录由 {made_by!r} 生成")
            if not (attributes.findtext("信息系统描述") or "").strip():
                problems.append(f"{name}：缺少信息系统描述")
            if not fmt.startswith(OPEN_LAYOUT_FORMATS):
                problems.append(f"{name}：格式信息 {fmt!r} 不是开放的版式格式（PDF/A、OFD）")
            if application:
                software.add(application)
        if problems:
            r.add(
                "environment",
                CheckStatus.FAIL,
                f"{record.where}：" + "；".join(problems),
                defect="environment",
                **{**where_doc(data, record.document), "file": record.path},
            )
    r.finish(
        "environment",
        f"{len(data.records)} 条记录：每个电子属性都写明与日志一致的文档创建程序（{'；'.join(sorted(software)) or '无'}）"
        "和信息系统描述；版式格式 PDF/A 和 OFD 是开放标准，不依赖特定软硬件（GB/T 18894-2016 §8.3）",
    )


# DA/T 70 BC items no automated check can decide: why each is left to people.
MANUAL_BC_ITEMS = {
    "package_schema": "本工具不制作 DA/T 48 封装包；文件的元数据为 DA/T 46 XML",
    "package_signature": "成果不带电子签名",
    "environment_change": "人工检查：与上次检测比较存储环境",
    "backup_restore": "人工检查：恢复一份备份并核验（digitize verify）",
    "vulnerabilities": "人工检查：扫描系统软件漏洞",
    "storage_environment": "人工检查：查看载体存放环境",
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
                f"{doc.archival_code} 没有 DA/T 46 元数据文件（请运行 `digitize export`）",
                defect="metadata_missing",
                **where_doc(data, doc),
            )
        if doc.pdf_path and not doc.pdfa.get("flavour"):
            r.add("format_longevity", CheckStatus.FAIL, f"{doc.pdf_path} 不是 PDF/A", **where_doc(data, doc))
    r.finish("package_metadata", f"全部 {len(data.done)} 件文件均有 DA/T 46 元数据文件")
    for pages in data.pages.values():
        for page in pages:
            if page.file_format and page.file_format not in LONG_TERM_MASTERS:
                r.add(
                    "format_longevity",
                    CheckStatus.WARN,
                    f"原始扫描件格式 {page.file_format} 不是长期保存格式（{', '.join(LONG_TERM_MASTERS)}）",
                    **where_page(data, page),
                )
    r.finish("format_longevity", "原始扫描件为 TIFF/JPEG/JPEG 2000/PNG；版式文件为 PDF/A 和/或 OFD（GB/T 33190）")
    for key, reason in MANUAL_BC_ITEMS.items():
        r.add(key, CheckStatus.NOT_CHECKED, reason)


def _pdf_problems(path: Path, flavour: str) -> list[tuple[str, str]]:
    """(defect, text) for everything that keeps a PDF from being an archival PDF/A."""
    problems: list[tuple[str, str]] = []
    try:
        violations, _ = validate_pdfa(path, flavour)  # pikepdf's validator, extension schemas read
        if violations:
            problems.append(("pdfa_invalid", f"不符合 PDF/A-{flavour}：{'; '.join(violations[:3])}"))
    except Exception as exc:  # noqa: BLE001
        problems.append(("pdfa_invalid", f"PDF/A 校验无法运行：{exc}"))
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return problems + [("encrypted", "PDF 已加密")]
    except Exception as exc:  # noqa: BLE001
        return problems + [("pdf_unreadable", f"无法打开：{exc}")]
    with pdf:
        if pdf.is_encrypted:
            problems.append(("encrypted", "PDF 已加密"))
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
            problems.append(("javascript", "PDF 含有 JavaScript"))
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
                    problems.append(("font_not_embedded", f"第 {number} 页：字体 {name} 未嵌入"))
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
                        problems.append(("compression_not_allowed", f"第 {number} 页：图像 {name} 使用 {f} 压缩"))
        meta = pdf.open_metadata()
        part, conformance = meta.get("pdfaid:part"), meta.get("pdfaid:conformance")
        if part is None or conformance is None:
            problems.append(("pdfa_invalid", "XMP 中没有 pdfaid:part / pdfaid:conformance"))
        elif f"{part}{conformance}".lower() != flavour.lower():
            problems.append(("pdfa_invalid", f"XMP 声明 PDF/A-{part}{conformance}，日志记录 PDF/A-{flavour}"))
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
                    f"{doc.ofd_path}：不符合 OFD 规范：{problem}",
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
    found = []
    if checked:
        found.append(
            f"{checked} 个 PDF 通过 pikepdf 的 PDF/A 校验：未加密、无 JavaScript、字体已嵌入、"
            "图像采用开放的压缩方式、XMP 声明 pdfaid"
        )
    if ofds:
        found.append(f"{ofds} 个 OFD 通过 GB/T 33190 模式校验")
    r.finish("pdfa", "；".join(found) or "无版式文件")
