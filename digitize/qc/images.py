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
# How a layout file stores a page that is not in colour (`digitize.qc.measure.image_mode`).
STORED_MODE = {"grey": "灰度 grey", "bitonal": "黑白 bitonal"}


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
                    "原始扫描件未记录分辨率，也无估计值；无法按 DA/T 31 §9.4 判断"
                    "（用 --dpi 或配置 [input] dpi_override 给出）",
                    defect="unknown_dpi",
                    **where_page(data, page),
                )
                continue
            dpis[int(round(dpi))] += 1
            source = f" ({page.dpi_source})" if page.dpi_source not in (None, "file", "tag") else ""
            if dpi < qc.fail_dpi:
                r.add(
                    "resolution",
                    CheckStatus.FAIL,
                    f"扫描分辨率 {dpi:g} dpi{source}；DA/T 31 §9.4 要求不低于 {qc.fail_dpi} dpi",
                    defect="low_dpi",
                    **where_page(data, page),
                )
            elif dpi < qc.min_dpi:
                r.add(
                    "resolution",
                    CheckStatus.WARN,
                    f"扫描分辨率 {dpi:g} dpi{source}；配置要求 {qc.min_dpi} dpi",
                    defect="low_dpi",
                    **where_page(data, page),
                )
    listed = "，".join(f"{d} dpi {n} 页" for d, n in sorted(dpis.items())) + (
        f"，{unknown} 页分辨率未知" if unknown else ""
    )
    r.finish("resolution", f"{listed or '无页面'}；最低 {qc.min_dpi} dpi（低于 {qc.fail_dpi} dpi 不通过）")


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
            stored = (pm.layout_image or {}).get("mode")  # colour | grey | bitonal; None: not measured
            kept = stored == "colour"
            kind = STORED_MODE.get(stored or "", stored)
            if content.get("needs_colour"):
                red_pages += 1
                if stored is not None and not kept:
                    r.add(
                        "colour_mode",
                        CheckStatus.FAIL,
                        f"原始扫描件有红色内容（红色区域 {content['largest_red_mm']} mm，"
                        f"红色像素 {content['red_fraction'] * 100:.2f}%：印章或红头 seal），但版式文件以"
                        f"{kind}保存该页",
                        defect="colour_lost",
                        **where_page(data, page),
                    )
            elif content.get("other_colour"):
                other_pages += 1
                if stored is not None and not kept:
                    r.add(
                        "colour_mode",
                        CheckStatus.WARN,
                        f"原始扫描件有彩色内容（区域 {content['largest_region_mm']} mm，"
                        f"非红色：彩色字迹或图片），版式文件以{kind}保存；DA/T 31 §9.3 要求多色字迹或彩色图片"
                        "采用彩色模式",
                        defect="colour_reduced",
                        **where_page(data, page),
                    )
    if not data.masters_read:
        r.finish("colour_mode", "未读取原始扫描件（--no-masters）", CheckStatus.NOT_CHECKED)
    r.finish(
        "colour_mode",
        f"彩色原始扫描件 {colour_pages} 页：{red_pages} 页有红色印章或红头，均以彩色保存；"
        f"{other_pages} 页有其他彩色内容",
    )
    if not_colour:  # a grey or bitonal master cannot show a red seal: not checked, never passed
        r.add(
            "colour_mode",
            CheckStatus.NOT_CHECKED,
            f"{not_colour} 页灰度或黑白原始扫描件：看不出原件有无红头、印章或其他颜色；"
            "DA/T 31 §9.3 需查看原件或彩色重扫",
        )


def check_residual_skew(data: QcData, r: Results) -> None:
    """DA/T 31 §10.2: re-measure the skew of each layout file's page image. A page whose ink shows no clear
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
            corrected = f"；处理时已纠正 {recorded:+.2f}°" if recorded else ""
            text = (
                f"版式文件页面图像残余歪斜 {pm.residual_skew_deg:+.2f}°（置信度 {pm.residual_skew_confidence}）"
                f"{corrected}"
            )
            if angle > qc.max_raw_skew_deg:
                r.add(
                    "residual_skew",
                    CheckStatus.FAIL,
                    text + f"；超过 {qc.max_raw_skew_deg}°",
                    defect="residual_skew",
                    **where_page(data, page),
                )
            elif angle > qc.max_residual_skew_deg:
                r.add(
                    "residual_skew",
                    CheckStatus.WARN,
                    text + f"；超过 {qc.max_residual_skew_deg}°",
                    defect="residual_skew",
                    **where_page(data, page),
                )
    r.finish(
        "residual_skew",
        f"重新测量 {measured} 幅版式文件页面图像；最大残余歪斜 {worst:.2f}°"
        f"（超过 {qc.max_residual_skew_deg}° 提示，超过 {qc.max_raw_skew_deg}° 不通过）；{unclear} 页文字过少"
        "无法测量",
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
                f"笔画边缘宽 {pm.edge_width_px:.1f} 像素（按 300 dpi，原始扫描件 {pm.edge_tiles} 个文字区块的"
                f"中位数；清晰的扫描为 2–4 像素）"
            )
            if page.is_blank:
                text += "；处理时判为空白页，因此没有 OCR 文字"
            if pm.edge_width_px > qc.blur_fail_edge_px:
                r.add(
                    "blur",
                    CheckStatus.FAIL,
                    text + f"；超过 {qc.blur_fail_edge_px} 像素：图像模糊，请重扫",
                    defect="strong_blur",
                    **where_page(data, page),
                )
            elif pm.edge_width_px > qc.blur_warn_edge_px:
                r.add(
                    "blur",
                    CheckStatus.WARN,
                    text + f"；超过 {qc.blur_warn_edge_px} 像素：请人工查看",
                    defect="blur",
                    **where_page(data, page),
                )
    if not data.masters_read:
        r.finish("blur", "未读取原始扫描件（--no-masters）", CheckStatus.NOT_CHECKED)
    median = sorted(widths)[len(widths) // 2] if widths else None
    r.finish(
        "blur",
        f"测量 {measured} 页有文字的原始扫描件；边缘宽度中位数 {median} 像素，最大 "
        f"{max(widths) if widths else None} 像素（超过 {qc.blur_warn_edge_px} 提示，超过 {qc.blur_fail_edge_px} 不通过）",
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
                    "空白页保留在版式文件中（计入页数）；请确认是空白背面"
                    + (f"（空白评分 {score:.3f}）" if isinstance(score, (int, float)) else ""),
                    defect="blank_page",
                    **where_page(data, page),
                )
    r.finish("blank_page", "无空白页")


def check_duplicates(data: QcData, r: Results) -> None:
    compared = 0
    for doc_key, measure in data.measures.items():
        compared += len([p for p in measure.pages if p.layout_image])
        for pair in measure.duplicates:
            pages = {p.page_no: p for p in data.pages[doc_key]}
            page, original = pages[pair.page_no], pages[pair.duplicate_of]
            text = "" if pair.text_similarity is None else f"，OCR 文本相似度 {pair.text_similarity:.2f}"
            r.add(
                "duplicate_page",
                CheckStatus.FAIL,
                f"与第 {page_label(original)} 幅页面图像为同一张纸，重复扫描（图像相关 "
                f"{pair.global_score:.3f}，最差区域 {pair.cell_score:.3f}{text}）",
                defect="duplicate_page",
                **where_page(data, page),
            )
    r.finish("duplicate_page", f"在各自文件内比较了 {compared} 幅非空白页面图像；未发现重复扫描")


def check_page_order(data: QcData, r: Results) -> None:
    for doc in data.documents:
        doc_pages = data.pages.get(doc.doc_key, [])
        slots = [p.slot for p in doc_pages if p.slot is not None]
        if slots != sorted(slots):
            r.add(
                "page_order",
                CheckStatus.FAIL,
                f"按版式文件页序的页面图像编号：{', '.join(f'{s:04d}' for s in slots)}",
                defect="page_order",
                **where_doc(data, doc),
            )
        numbers = [p.page_no for p in doc_pages]
        if numbers != list(range(1, len(numbers) + 1)):
            r.add(
                "page_order",
                CheckStatus.FAIL,
                f"日志页号 {numbers} 不是 1..{len(numbers)}",
                defect="page_order",
                **where_doc(data, doc),
            )
    r.finish(
        "page_order",
        "各文件页面均按图像文件编号（或帧序）排列，版式文件中无缺页",
    )
