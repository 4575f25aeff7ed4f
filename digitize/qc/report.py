"""The QC report as one self-contained HTML page (inline CSS, thumbnails as base64 JPEG).

Order: the verdict first (automated checks and the sampling verdict, with the reasons), then
one line per check, then the findings, then each document with small thumbnails of its
flagged pages, then the inspection sample with its decisions, and last the sign-off block
(检查人, 复核人, 日期) to sign on paper. Labels are Chinese and English; times are local time
with their UTC offset. Printed, it fits A4 (print CSS: A4 margins, smaller type and
thumbnails, no table row or sign-off block split across pages).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections import defaultdict
from pathlib import Path
from typing import Any

from digitize.batch import PageRef
from digitize.journal import DocumentRecord, PageRecord, PageState
from digitize.layout import QC_SAMPLE
from digitize.loader import load_page
from digitize.qc.decisions import DecisionRecord, SignOff
from digitize.qc.results import CheckStatus

MAX_THUMBNAILS = 300
THUMBNAIL_WIDTH = 300

_VERDICT_WORDS = {"pass": ("PASS", "合格"), "fail": ("FAIL", "不合格"), "pending": ("PENDING", "待人工抽检")}
_STATUS_WORDS = {"pass": "pass 通过", "warn": "warn 注意", "fail": "fail 不通过", "not checked": "not checked 未检"}
_LOT_WORDS = {
    "accept": "accepted 接收",
    "reject": "rejected 拒收",
    "incomplete": "incomplete 未完成",
    "not recorded": "no decisions recorded 未录入抽检结果",
    "no documents": "no documents 无文件",
}

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",Arial,sans-serif;margin:24px;color:#111;
background:#fff;font-size:14px;line-height:1.45}
h1{font-size:24px;margin:0 0 12px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #ccc;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}
.verdict{font-size:34px;font-weight:700;padding:14px 20px;margin:8px 0;border-radius:6px;border:3px solid #000;
background:#fff;color:#000;letter-spacing:1px}
.verdict.pass{border-color:#1b7f2a}.verdict.fail{border-color:#b00020}.verdict.pending{border-color:#b26a00}
.verdict-zh{font-size:22px;font-weight:700;margin:4px 0 10px}
.summary td,.summary th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
table.grid{border-collapse:collapse;width:100%;margin:6px 0}
table.grid th,table.grid td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
table.grid th{background:#f0f0f0}
.s-pass{color:#1b7f2a;font-weight:600}.s-fail{color:#b00020;font-weight:700}.s-warn{color:#9a5b00;font-weight:600}
.s-not-checked{color:#555;font-style:italic}
.doc{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:10px 0}
.thumbs{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;width:300px}figure img{width:300px;border:1px solid #999;display:block}
figcaption{font-size:12px;color:#333}
.muted{color:#555;font-size:12px}
ul.reasons{margin:4px 0 8px 18px;padding:0}
.signoff{margin-top:28px;border:1px solid #999;padding:10px 14px;break-inside:avoid}
.signoff table{width:100%;border-collapse:collapse}
.signoff td{padding:14px 8px 4px 0;vertical-align:bottom;width:25%}
.signoff .line{border-bottom:1px solid #000;min-height:1.4em}
@page{size:A4;margin:14mm 12mm}
@media print{
body{margin:0;font-size:9.5pt;line-height:1.3}
h1{font-size:16pt}h2{font-size:12.5pt;margin:14px 0 6px;break-after:avoid}h3{font-size:11pt;break-after:avoid}
.verdict{font-size:18pt;padding:6px 10px;border-width:2px}.verdict-zh{font-size:14pt}
table.grid{font-size:8.5pt}table.grid th,table.grid td{padding:2px 4px}
tr,figure,.signoff{break-inside:avoid}
table.grid td{word-break:break-all}
.doc{padding:4px 8px;margin:6px 0}
figure{width:52mm}figure img{width:52mm}
.muted{font-size:8pt}
}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def local_time(iso: str) -> str:
    """An ISO timestamp as local time for people: 2024-05-01 14:30 (UTC+08:00)."""
    try:
        moment = dt.datetime.fromisoformat(iso).astimezone()
    except (TypeError, ValueError):
        return iso
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def _signoff(verdict_zh: str, signed: SignOff | None) -> str:
    """The block inspectors sign on paper: 检查人, 复核人, each with a date; filled in with the
    sign-off of the decision record (`digitize.qc.decisions`, e.g. from the web review) when there is one."""

    def cell(text: str = "") -> str:
        return f'<div class="line">{_e(text) or "&nbsp;"}</div>'

    inspector, reviewer, date = (signed.inspector, signed.reviewer, signed.date) if signed else ("", "", "")
    recorded = f"<p>已录入 Recorded: {_e(signed.date)} {_e(signed.time)}</p>" if signed else ""
    return (
        '<div class="signoff" id="signoff"><h2>签字确认 Sign-off</h2>'
        f"<p>质检结论 QC verdict：{_e(verdict_zh)}</p>{recorded}<table>"
        f"<tr><td>检查人 Inspector</td><td>{cell(inspector)}</td><td>日期 Date</td><td>{cell(date)}</td></tr>"
        f"<tr><td>复核人 Reviewer</td><td>{cell(reviewer)}</td><td>日期 Date</td><td>{cell(date)}</td></tr>"
        f"<tr><td>签名 Signature</td><td>{cell()}</td><td>签名 Signature</td><td>{cell()}</td></tr>"
        "</table></div>"
    )


def _status(status: str) -> str:
    css = "s-" + status.replace(" ", "-")
    return f'<span class="{css}">{_e(_STATUS_WORDS.get(status, status))}</span>'


class _Thumbnails:
    """Page thumbnails from the layout file (what the archive keeps: the PDF/A, else the OFD), else from the master."""

    def __init__(self, outcome):
        self.outcome = outcome
        self.data = outcome.checks.data
        self.count = 0
        self._layouts: dict[str, Any] = {}

    def close(self) -> None:
        for layout in self._layouts.values():
            if layout is not None:
                layout.close()

    def _layout(self, doc: DocumentRecord) -> Any:
        from digitize.qc.data import layout_path
        from digitize.qc.measure import LayoutPages

        key = doc.doc_key
        if key not in self._layouts:
            path = layout_path(self.data, doc)
            try:
                self._layouts[key] = LayoutPages(str(path)) if path and path.is_file() else None
            except Exception:  # noqa: BLE001 - no thumbnail then
                self._layouts[key] = None
        return self._layouts[key]

    def image(self, doc: DocumentRecord, page: PageRecord) -> str | None:
        from digitize.qc.imagequality import thumbnail_jpeg

        if self.count >= MAX_THUMBNAILS:
            return None
        array = None
        layout = self._layout(doc)
        if layout is not None and page.page_no <= layout.count:
            try:
                array, _ = layout.image(page.page_no - 1)
            except Exception:  # noqa: BLE001
                array = None
        if array is None:
            master = self.data.master_path(page)
            if master is not None and page.state != PageState.FAILED:
                ref = PageRef(
                    doc.doc_key,
                    page.page_no,
                    str(master),
                    int(page.frame or 0),
                    page.container or "image",
                    page.slot,
                )
                try:
                    array = load_page(ref, self.data.settings.input).image
                except Exception:  # noqa: BLE001
                    array = None
        if array is None:
            return None
        self.count += 1
        return base64.b64encode(thumbnail_jpeg(array, THUMBNAIL_WIDTH)).decode("ascii")


def render_html(outcome, data: dict[str, Any], thumbnails: bool = True) -> str:
    verdict = data["verdict"]
    en, zh = _VERDICT_WORDS.get(verdict, (verdict.upper(), verdict))
    automated = data["automated"]
    sampling = data["sampling"]
    parts: list[str] = []
    add = parts.append
    add('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">')
    add(f"<title>QC report 质量检查报告 — {_e(Path(data['out']).name)}</title><style>{CSS}</style></head><body>")
    add("<h1>QC report 质量检查报告</h1>")
    add(f'<div class="verdict {_e(verdict)}" id="verdict">QC verdict: {en}</div>')
    add(f'<div class="verdict-zh">质检结论：{_e(zh)}</div>')
    add('<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in data["verdict_reasons"]) + "</ul>")
    add('<table class="summary">')
    add(
        f"<tr><th>Automated checks 自动检查</th><td>{_status(automated['status'])} — {automated['fail']} failed 不通过, "
        f"{automated['warn']} warnings 注意, {automated['not_checked']} not checked 未检, {automated['pass']} passed 通过</td></tr>"
    )
    add(
        f"<tr><th>Sampling 抽样检查</th><td>{_e(_LOT_WORDS.get(sampling['status'], sampling['status']))}"
        + (f" — {_e(data['plan'])}" if data.get("plan") else "")
        + "</td></tr>"
    )
    add(f"<tr><th>Output folder 成果目录</th><td>{_e(data['out'])}</td></tr>")
    add(f"<tr><th>Stage 检测环节</th><td>{_e(data['stage'])} (DA/T 70-2018)</td></tr>")
    add(f"<tr><th>Catalogue 目录</th><td>{_e(data['catalogue'])}</td></tr>")
    add(f"<tr><th>Generated 生成时间</th><td>{_e(local_time(data['generated']))} — {_e(data['software'])}</td></tr>")
    add("</table>")

    add("<h2>Checks 检查项</h2>")
    add(
        '<table class="grid"><tr><th>Item 检测项</th><th>Check 内容</th><th>Status 结果</th><th>Fail</th><th>Warn</th>'
        "<th>Evidence 依据</th></tr>"
    )
    for check in data["checks"]:
        add(
            f"<tr><td>{_e(check['item'])}</td><td>{_e(check['title'])}</td><td>{_status(check['status'])}</td>"
            f"<td>{check['fail'] or ''}</td><td>{check['warn'] or ''}</td><td>{_e(check['evidence'])}</td></tr>"
        )
    add("</table>")

    flagged = [r for r in outcome.checks.results if r.status in (CheckStatus.FAIL, CheckStatus.WARN)]
    add(f"<h2>Findings 问题清单 ({len(flagged)})</h2>")
    if flagged:
        add('<table class="grid"><tr><th>Status</th><th>Item</th><th>Object 对象</th><th>Evidence 依据</th></tr>')
        for r in sorted(flagged, key=lambda r: (r.status != CheckStatus.FAIL, r.object)):
            add(
                f"<tr><td>{_status(r.status)}</td><td>{_e(r.check_id)}</td><td>{_e(r.object)}</td><td>{_e(r.evidence)}</td></tr>"
            )
        add("</table>")
    else:
        add("<p>None. 无。</p>")

    add(f"<h2>Documents 文件 ({len(data['documents'])})</h2>")
    add(
        '<table class="grid"><tr><th>档号</th><th>Title 题名</th><th>Pages 页数</th><th>State 状态</th><th>Status 结果</th>'
        "<th>Findings 问题</th></tr>"
    )
    for item in data["documents"]:
        add(
            f"<tr><td>{_e(item['archival_code'])}</td><td>{_e(item['title'])}</td><td>{item['pages']}</td>"
            f"<td>{_e(item['state'])}</td><td>{_status(item['status'])}</td><td>{item['findings'] or ''}</td></tr>"
        )
    add("</table>")
    add("<h2>Flagged documents and pages 问题文件与页面</h2>")
    thumbs = _Thumbnails(outcome) if thumbnails else None
    results_by_doc: dict[str, list] = defaultdict(list)
    for r in outcome.checks.results:
        if r.document:
            results_by_doc[r.document].append(r)
    pages_by_key = outcome.checks.data.pages
    try:
        for item in data["documents"]:
            doc = next(d for d in outcome.checks.data.documents if d.doc_key == item["doc_key"])
            results = [
                r
                for r in results_by_doc.get(item["archival_code"], [])
                if r.status in (CheckStatus.FAIL, CheckStatus.WARN)
            ]
            if not results:
                continue
            add('<div class="doc">')
            add(f"<h3>{_e(item['archival_code'])} — {_e(item['title'])}</h3>")
            add(
                f'<p class="muted">{item["pages"]} pages 页 · state {_e(item["state"])} · {_status(item["status"])}</p>'
            )
            if results:
                add(
                    "<ul>"
                    + "".join(
                        f"<li>{_status(r.status)} [{_e(r.check_id)}] {_e(r.object)}: {_e(r.evidence)}</li>"
                        for r in results
                    )
                    + "</ul>"
                )
            flagged_pages = sorted({r.page_no for r in results if r.page_no is not None})
            if thumbs is not None and flagged_pages:
                add('<div class="thumbs">')
                for page_no in flagged_pages:
                    page = next((p for p in pages_by_key.get(doc.doc_key, []) if p.page_no == page_no), None)
                    if page is None:
                        continue
                    encoded = thumbs.image(doc, page)
                    why = ", ".join(sorted({r.defect or r.check for r in results if r.page_no == page_no}))
                    caption = f"{_e(item['archival_code'])}/{int(page.slot) if page.slot is not None else page_no:04d} — {_e(why)}"
                    if encoded:
                        add(
                            f'<figure><img alt="page {page_no}" src="data:image/jpeg;base64,{encoded}">'
                            f"<figcaption>{caption}</figcaption></figure>"
                        )
                    else:
                        add(f"<figure><figcaption>{caption} (no image 无图像)</figcaption></figure>")
                add("</div>")
            add("</div>")
    finally:
        if thumbs is not None:
            thumbs.close()

    add("<h2>Inspection sample 抽样清单</h2>")
    if sampling.get("description"):
        add(
            f"<p>{_e(sampling['description'])}; seed {_e(sampling.get('seed'))}. Documents with critical findings are "
            "inspected in full in addition (100%). 关键问题文件全部检查。</p>"
        )
        decisions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in sampling.get("decisions", []):
            decisions[d["item_id"]].append(d)
        add(
            '<table class="grid"><tr><th>Item 档号</th><th>Selected 抽取方式</th><th>Decision 结论</th><th>Defect 缺陷</th>'
            "<th>Class 等级</th><th>Inspector 检查人</th><th>Note 备注</th></tr>"
        )
        random = set(sampling.get("random", []))
        items = sorted(random | set(sampling.get("critical", {})))
        for item in items:
            selected = ("random 随机" if item in random else "") + (
                " critical 关键" if item in sampling.get("critical", {}) else ""
            )
            rows = decisions.get(item) or [{}]
            for d in rows:
                add(
                    f"<tr><td>{_e(item)}</td><td>{_e(selected.strip())}</td><td>{_e(d.get('decision', ''))}</td>"
                    f"<td>{_e(d.get('defect_type', ''))}</td><td>{_e(d.get('defect_class', ''))}</td>"
                    f"<td>{_e(d.get('inspector', ''))}</td><td>{_e(d.get('note', ''))}</td></tr>"
                )
        add("</table>")
        if sampling.get("status") == "not recorded":
            add(
                f"<p>Fill {QC_SAMPLE} (decision pass/fail, defect_type, defect_class critical/major/minor, inspector) and "
                f"run <code>digitize qc OUT --record {QC_SAMPLE}</code>. 填写抽检结果后重新运行。</p>"
            )
    else:
        add("<p>No documents. 无文件。</p>")
    add(_signoff(zh, DecisionRecord(outcome.out).signoff()))
    timings = ", ".join(f"{k} {v} s" for k, v in data.get("timings", {}).items())
    add(f'<p class="muted">Timings 用时: {_e(timings)}</p></body></html>')
    return "\n".join(parts)
