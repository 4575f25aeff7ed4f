"""Metadata findings (DA/T 70 items 1-2 … 1-9, 1-11, 2-4, 2-6, 2-11) as check results: what
`metadata.validation` and `metadata.linking` found when the catalogue was read (the database
side), and what the same rules find in the metadata exported into OUT (the package side:
DA/T 46 records and 目录文件, `metadata.packaged`) for items 1-2 … 1-8; the 全宗号 and 门类
codes against the receiving archives' requirements (1-9, at transfer only).

The evidence leads with what the finding is, in Chinese (`FINDING_LABELS`), then the detail as
the catalogue reader wrote it and where it is (目录第 N 行，列; the file in OUT).
"""

from __future__ import annotations

import re

from digitize.qc.data import QcData, where_doc
from digitize.qc.results import CheckStatus, Results
from metadata.packaged import VALUE_ITEMS, packaged_findings, record_fields
from metadata.retention import LEVEL_SEPARATOR

SEVERITY_STATUS = {"error": CheckStatus.FAIL, "warning": CheckStatus.WARN}


# What each catalogue finding is, for the people who read the QC report.
FINDING_LABELS = {
    "field_too_long": "著录项超长",
    "date_format": "日期格式不符（应为 YYYYMMDD）",
    "pages_format": "页数不是正整数",
    "year_format": "年度不是四位数字",
    "sequence_format": "序号不是正整数",
    "surrounding_whitespace": "首尾有空格",
    "retention_value": "保管期限不在值域内",
    "security_value": "密级不在值域内",
    "open_status_value": "开放标识不在值域内",
    "retention_code_value": "档号中的保管期限代码无对应值",
    "date_year_mismatch": "日期年份与档号年度不一致",
    "date_in_future": "日期晚于今天",
    "retention_mismatch": "保管期限与档号不一致",
    "code_field_mismatch": "著录项与档号对应部分不一致",
    "unprintable_char": "含控制、不可见或替换字符",
    "special_char": "含特殊字符",
    "lookalike_character": "档号含形近分隔符或全角字符",
    "unexpected_whitespace": "档号含空格",
    "invisible_character": "档号含不可见字符",
    "archival_code_template": "档号不符合编制规则",
    "archival_code_component": "档号组成部分不符合规则",
    "duplicate_archival_code": "档号重复",
    "duplicate_document_number": "文号重复",
    "duplicate_title": "题名重复",
    "required_missing": "必著项为空",
    "item_gap": "件号不连续",
    "item_duplicate": "件号重复",
    "row_without_scan": "目录条目无扫描文件",
    "scan_without_row": "扫描文件无目录条目",
    "ambiguous_link": "档号对应多条目录或多件文件",
    "linked_after_normalising": "修正形近字符后才挂接",
    "missing_page": "漏页（图像编号缺号）",
    "page_count_mismatch": "页数与页面图像数不符",
    "duplicate_slot": "两幅页面图像编号相同",
}

# Catalogue validation findings: DA/T 70 item -> check key.
_ITEM_TO_KEY = {
    "1-2": "field_length",
    "1-3": "field_format",
    "1-4": "value_domain",
    "1-5": "plausibility",
    "1-6": "special_characters",
    "1-7": "archival_code",
    "1-8": "duplicates",
    "1-11": "metadata_link",
    "2-4": "required_fields",
    "2-6": "item_continuity",
    "2-11": "content_count",
}
# Checks that only the catalogue's findings answer (the others also look at the journal and files).
CATALOGUE_ONLY_CHECKS = (
    "field_length",
    "field_format",
    "value_domain",
    "plausibility",
    "special_characters",
    "archival_code",
    "duplicates",
    "required_fields",
    "item_continuity",
)


def check_catalogue_findings(data: QcData, r: Results) -> None:
    codes_by_key = {doc.doc_key: doc.archival_code for doc in data.documents}
    for finding in data.findings:
        key = _ITEM_TO_KEY.get(finding.item_id)
        if key is None:
            continue
        where = finding.archival_code or finding.document or "catalogue"
        place = f"目录第 {finding.row} 行" + (f"，{finding.column} 列" if finding.column else "") if finding.row else ""
        label = FINDING_LABELS.get(finding.code)
        doc_key = finding.document or None
        if doc_key is None and finding.archival_code:
            doc_key = next((k for k, c in codes_by_key.items() if c == finding.archival_code), None)
        document = codes_by_key.get(doc_key) if doc_key else None
        defect = finding.code
        if finding.code == "row_without_scan":
            defect = "catalog_row_no_folder"
        elif finding.code == "scan_without_row":
            defect = "folder_no_catalog_row"
        r.add(
            key,
            SEVERITY_STATUS[finding.severity],
            (f"{label}：" if label else "") + finding.message + (f"（{place}）" if place else ""),
            object=where,
            document=document or finding.archival_code or None,
            doc_key=doc_key,
            defect=defect,
        )
    if data.catalog is None:
        for key in CATALOGUE_ONLY_CHECKS:
            r.finish(key, data.catalog_note, CheckStatus.NOT_CHECKED)
    else:
        checked = f"已检查目录 {data.catalog_path} 的 {len(data.catalog.records)} 条"
        for key in CATALOGUE_ONLY_CHECKS:
            r.finish(key, checked)
    check_packaged_values(data, r)


def check_packaged_values(data: QcData, r: Results) -> None:
    """1-2 … 1-8 b): the catalogue's rules on the package's metadata: the DA/T 46 records and 目录文件
    in OUT, or before export those `export` (and a hand-off) would write. A value wrong in the
    catalogue and carried into the package is reported for both: each must be fixed."""
    keys = [_ITEM_TO_KEY[item] for item in VALUE_ITEMS]
    exported = data.packaged.exported
    packaged = data.packaged if exported else data.to_export
    where = "OUT 中" if exported else "尚未导出：按 `digitize export` 将写入的内容"
    found = {key: 0 for key in keys}
    for finding in packaged_findings(packaged, data.settings):
        key = _ITEM_TO_KEY[finding.item_id]
        found[key] += 1
        label = FINDING_LABELS.get(finding.code)
        r.add(
            key,
            SEVERITY_STATUS[finding.severity],
            (f"{label}：" if label else "") + f"{finding.message}（{finding.file}{'' if exported else '，尚未导出'}）",
            object=finding.file,
            document=finding.archival_code or None,
            file=finding.file,
            defect=finding.code,
        )
    checked = f"已检查 {len(packaged.records)} 条 DA/T 46 记录和 {len(packaged.catalogues)} 个目录文件（{where}）"
    for key, count in found.items():
        if not count:
            r.add(key, CheckStatus.PASS, checked)


def check_archives_codes(data: QcData, r: Results) -> None:
    """1-9 (YJ only): "依据 DA/T 13 和用户自定义的全宗号、目录号、分类号编制规则" — the 全宗号 and 门类
    (分类) code of every record, in the database and in its DA/T 46 record, follow the profile's 档号
    rules and are ones the receiving archives requires ([archive] fonds_ids, category_codes). The
    profile's 档号 templates have no 目录号, so there is none to compare."""
    rules = data.settings.archival_code
    archive = data.settings.archive
    wanted = (
        ("全宗号", "fonds_ids", rules.fonds_pattern, archive.fonds_ids),
        ("门类代码", "category_codes", rules.category_pattern, archive.category_codes),
    )
    seen: set[tuple[str, str, str]] = set()
    for record in data.records:
        values = []
        if record.source is not None:
            parts = record.source.code_parts
            values += [("数据库", parts.get("全宗号", ""), parts.get("类别号", ""))]
        if record.packaged is not None:
            fields = record_fields(record.packaged)
            values += [(record.path, fields.get("fonds", ""), fields.get("category", ""))]
        for source, fonds, category in values:
            for (label, _, pattern, required), value in zip(wanted, (fonds, category)):
                problem = _code_problem(value, pattern, required)
                key = (record.document.archival_code, label, value)
                if problem and key not in seen:
                    seen.add(key)
                    r.add(
                        "archives_codes",
                        CheckStatus.FAIL,
                        f"{label} {value or '（空）'}（{source}）：{problem}",
                        defect="archives_code",
                        **where_doc(data, record.document),
                    )
    unset = [f"[archive] {setting}" for _, setting, _, required in wanted if not required]
    if not r.has("archives_codes"):
        r.add(
            "archives_codes",
            CheckStatus.PASS,
            f"{len(data.records)} 条记录：数据库和 DA/T 46 记录中的全宗号和门类代码符合配置的档号规则"
            + ("" if unset else "，且是接收档案馆要求的代码"),
        )
    if unset:
        r.add(
            "archives_codes",
            CheckStatus.NOT_CHECKED,
            f"配置中没有接收档案馆要求的代码（{'、'.join(unset)}）：未与之比对",
        )


def _code_problem(value: str, pattern: str, required: tuple[str, ...]) -> str:
    """Why a 全宗号 or 门类 code does not do, "" when it does."""
    if not value:
        return "缺失"
    if not re.fullmatch(pattern, value):
        return f"不符合配置的规则 {pattern}"
    if required and not any(value == code or value.startswith(code + LEVEL_SEPARATOR) for code in required):
        return f"接收档案馆要求 {'/'.join(required)}"
    return ""
