"""What a check says: its specification (DA/T 70 item or DA/T 31 clause), its results, the collector.

Every check gives one or more `CheckResult`s: a check id (a DA/T 70-2018 item with its stage
prefix, e.g. ``GD-1-14``, or a DA/T 31-2017 clause, e.g. ``DA/T 31 §9.4``), a title, a
status (pass | warn | fail | not checked), the evidence (what was measured) and the object it
is about (档号, 档号/page, or a file relative to OUT). A check that finds nothing wrong gives
one ``pass`` result for the batch saying what it looked at; otherwise one result per problem.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CheckStatus(StrEnum):
    """What a check found, from best to worst (warnings do not fail the batch)."""

    PASS = "pass"
    NOT_CHECKED = "not checked"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """0 for pass up to 3 for fail: the worst of several results has the highest rank."""
        return list(CheckStatus).index(self)


STAGES = ("GD", "YJ", "BC")
BATCH = "batch"
# DA/T 70-2018 Annex A: the stages at which each item applies (GD 归档, YJ 移交与接收, BC 长期保存).
APPLIES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("1-1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7", "1-10", "1-11", "1-14"), STAGES),
    **dict.fromkeys(("1-8", "1-12", "1-13"), ("GD", "YJ")),
    "1-9": ("YJ",),
    **dict.fromkeys(("1-15", "1-16", "2-10", "3-5", "3-7", "3-9", "4-8", "4-9"), ("BC",)),
    **dict.fromkeys(("2-1", "2-2", "2-4", "2-6", "2-7", "2-8", "2-11"), STAGES),
    **dict.fromkeys(("2-3", "2-5"), ("GD", "YJ")),
    "2-9": ("GD",),
    **dict.fromkeys(("3-1", "3-2", "3-4"), STAGES),
    **dict.fromkeys(("3-3", "3-6", "3-8"), ("GD", "YJ")),
    **dict.fromkeys(("4-1", "4-2", "4-4", "4-5"), STAGES),
    **dict.fromkeys(("4-3", "4-7"), ("GD", "YJ")),
    "4-6": ("GD",),
}


def applies(ref: str, stage: str) -> bool:
    """Whether a DA/T 70 item ("1-8") applies at a stage; DA/T 31 clauses apply at every stage."""
    return stage in APPLIES.get(ref, STAGES)


@dataclass(frozen=True)
class CheckSpec:
    key: str  # stable machine name of the check
    ref: str  # DA/T 70 item ("1-14") or a full reference ("DA/T 31 §9.4")
    title: str

    def check_id(self, stage: str) -> str:
        return f"{stage}-{self.ref}" if re.fullmatch(r"\d-\d+", self.ref) else self.ref


_SPECS = (
    CheckSpec("capture_fixity", "1-1", "固化信息有效性 — master digests and the journal's event chain"),
    CheckSpec("field_length", "1-2", "元数据项数据长度 — catalogue field lengths"),
    CheckSpec("field_format", "1-3", "元数据项数据类型、格式 — catalogue value formats"),
    CheckSpec("value_domain", "1-4", "元数据项值域符合度 — catalogue vocabularies"),
    CheckSpec("plausibility", "1-5", "元数据项数据值合理性 — catalogue values agree with each other"),
    CheckSpec("special_characters", "1-6", "元数据项特殊字符 — catalogue characters"),
    CheckSpec("archival_code", "1-7", "档号规范性 — 档号 follows the template"),
    CheckSpec("duplicates", "1-8", "元数据项数据重复性 — repeated 档号 / 文号 / 题名"),
    CheckSpec("archives_codes", "1-9", "全宗号、目录号、分类号与档案馆要求一致性 — 全宗号 and 门类 codes"),
    CheckSpec("electronic_attributes", "1-10", "内容数据的电子属性一致性 — file size, page count, format vs metadata"),
    CheckSpec("metadata_link", "1-11", "元数据是否关联内容数据 — catalogue ↔ scans ↔ files (数据挂接)"),
    CheckSpec("catalogue_file", "1-12", "说明文件和目录文件规范性 — 目录文件 present, valid, complete"),
    CheckSpec("package_structure", "1-13", "信息包目录结构规范性 — layout of OUT/documents"),
    CheckSpec("output_fixity", "1-14", "信息包一致性 — every output file against its journal checksum"),
    CheckSpec("item_count", "2-1", "总件数相符性 — catalogue items vs documents"),
    CheckSpec("byte_count", "2-2", "总字节数相符性 — bytes on disk vs the journal"),
    CheckSpec("element_completeness", "2-3", "元数据项完整性 — every DA/T 46 record has its elements"),
    CheckSpec("required_fields", "2-4", "元数据必填著录项目 — required catalogue fields"),
    CheckSpec("process_information", "2-5", "过程信息完整性 — every processing step in the journal and the record"),
    CheckSpec("item_continuity", "2-6", "连续性元数据项 — 件号 sequence"),
    CheckSpec("retention_schedule", "2-9", "归档范围 — 保管期限 against the profile's retention schedule"),
    CheckSpec("content_count", "2-11", "信息包内容数据完整性 — page images vs 页数"),
    CheckSpec("metadata_readable", "3-1", "元数据的可读性 — every XML parses safely and validates"),
    CheckSpec("format_allowed", "3-3", "内容数据格式 — masters and outputs in allowed formats"),
    CheckSpec("unreadable", "3-4", "内容数据的可读性 — every master and page opens"),
    CheckSpec("environment", "3-6", "软硬件环境合规性 — the software and system recorded in each 电子属性"),
    CheckSpec(
        "pdfa", "3-8", "内容数据格式合规性 — PDF/A valid, no encryption, no JavaScript, fonts embedded; OFD valid"
    ),
    CheckSpec("antivirus", "4-1", "杀毒软件 — a virus scanner is installed"),
    CheckSpec("virus", "4-2", "病毒感染检测 — virus scan of OUT"),
    CheckSpec("extra_files", "4-3", "载体中多余文件 — files the journal and exports do not account for"),
    CheckSpec("operation_security", "4-7", "操作过程安全性 — every operation in the journal's intact hash chain"),
    CheckSpec("colour_mode", "DA/T 31 §9.3", "扫描色彩模式 — colour content kept in colour"),
    CheckSpec("resolution", "DA/T 31 §9.4", "扫描分辨率 — resolution of each page"),
    CheckSpec("storage_format", "DA/T 31 §9.5", "存储格式 — one master format per batch"),
    CheckSpec("residual_skew", "DA/T 31 §10.2", "纠偏 — residual skew measured on the PDF page image"),
    CheckSpec("blur", "DA/T 31 §10.5", "图像质量 — blur (edge width of the master)"),
    CheckSpec("blank_page", "DA/T 31 §10.5", "空白页 — blank pages (reported for review, not a defect)"),
    CheckSpec("duplicate_page", "DA/T 31 §10.5", "重扫 — the same sheet scanned twice"),
    CheckSpec("page_order", "DA/T 31 §10.5", "图像顺序 — page images in the order of their numbers"),
    # BC (长期保存) only: what a long-term check of this output can and cannot say
    CheckSpec("package_schema", "1-15", "电子档案封装包规范性 — DA/T 48 encapsulation packages"),
    CheckSpec("package_signature", "1-16", "电子档案封装包电子签名有效性 — signatures of DA/T 48 packages"),
    CheckSpec("package_metadata", "2-10", "信息包元数据完整性 — every record has its DA/T 46 metadata"),
    CheckSpec("format_longevity", "3-5", "内容数据格式长期可用性 — long-term formats only"),
    CheckSpec("environment_change", "3-7", "保存环境变化情况"),
    CheckSpec("backup_restore", "3-9", "备份数据可恢复性"),
    CheckSpec("vulnerabilities", "4-8", "软件系统安全漏洞检测"),
    CheckSpec("storage_environment", "4-9", "载体保管环境安全性"),
)
SPECS: dict[str, CheckSpec] = {spec.key: spec for spec in _SPECS}


@dataclass
class CheckResult:
    check_id: str  # "GD-1-14", "DA/T 31 §9.4"
    check: str  # the check's key in SPECS
    title: str
    status: CheckStatus
    evidence: str  # what was measured
    object: str = BATCH  # 档号, 档号/NNNN (page image number), a file relative to OUT, or "batch"
    document: str | None = None  # 档号 of the document concerned
    doc_key: str | None = None  # its folder or file name in the batch
    page_no: int | None = None  # position in the document (PDF page)
    page: str | None = None  # page image number as in the file name (0003), or frame + 1
    file: str | None = None  # master file relative to the batch folder, or output relative to OUT
    defect: str | None = None  # machine code (eval-kit names where they exist: low_dpi, ...)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Results:
    """Collects results; `finish` adds the pass line of a check that found nothing."""

    def __init__(self, stage: str):
        self.stage = stage
        self.items: list[CheckResult] = []

    def add(self, key: str, status: CheckStatus, evidence: str, **where: Any) -> CheckResult | None:
        """Add a result; None (nothing added) for a DA/T 70 item Annex A does not apply at this stage."""
        spec = SPECS[key]
        if not applies(spec.ref, self.stage):
            return None
        result = CheckResult(spec.check_id(self.stage), key, spec.title, CheckStatus(status), evidence, **where)
        self.items.append(result)
        return result

    def has(self, key: str) -> bool:
        return any(r.check == key for r in self.items)

    def finish(self, key: str, evidence: str, status: CheckStatus = CheckStatus.PASS) -> None:
        if not self.has(key):
            self.add(key, status, evidence)
