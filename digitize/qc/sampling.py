"""The inspection sample of a lot, the inspectors' decisions and the lot verdict.

The plan (how many, Ac/Re) comes from `digitize.qc.plans`. Items flagged critical by the
machine checks (missing page, 档号 problem, ...) are inspected in addition to the random sample
and reported apart from it; the lot verdict follows the plan and counts only the random sample,
critical failures are listed next to it.

Selection is reproducible: ``random.Random(seed).sample(sorted(set(item_ids)), n)``, so the
same ids and seed give the same sample whatever order the ids come in.
"""

from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from digitize.qc.plans import SamplingError, SamplingPlan
from metadata.catalog import CatalogError, decode_csv_bytes

DEFECT_CLASSES = ("critical", "major", "minor")
DECISIONS = ("pass", "fail")

# What inspectors write, in Chinese or English, for a decision and a defect class (GB/T 2828.1
# classes of nonconformity: A类 critical, B类 major, C类 minor). Compared after NFKC, case
# folding and without spaces; a class also without a 类 / 缺陷 / 不合格 suffix or a note in brackets.
DECISION_WORDS = {
    "pass": ("pass", "passed", "ok", "合格", "通过", "是", "√", "✓"),
    "fail": ("fail", "failed", "不合格", "不通过", "否", "×", "✗"),
}
CLASS_WORDS = {
    "critical": ("critical", "a", "致命", "致命缺陷"),
    "major": ("major", "b", "严重", "严重缺陷"),
    "minor": ("minor", "c", "轻微", "轻", "轻微缺陷", "轻缺陷", "一般"),
}
# Defect types an inspector chooses from (DA/T 31-2017 §12 checks of the digitised copy); the
# decision record, the web review and `qc --interactive` offer the same list.
DEFECT_TYPES = {
    "missing_page": "漏扫、缺页",
    "duplicate_page": "重复扫描",
    "page_order": "页面顺序错误",
    "illegible": "图像模糊、不清晰",
    "skew": "图像歪斜",
    "orientation": "图像方向错误",
    "crop": "裁切不当、黑边",
    "colour": "色彩模式不当",
    "resolution": "分辨率不足",
    "ocr_text": "文字识别错误",
    "description": "著录错误",
    "archival_code": "档号错误",
    "other": "其他",
}
# Header names of a decisions file besides the English ones of qc/sample.csv.
COLUMN_WORDS = {
    "item_id": ("item_id", "档号"),
    "decision": ("decision", "结论", "检查结论", "判定"),
    "defect_type": ("defect_type", "缺陷类型", "问题类型"),
    "defect_class": ("defect_class", "缺陷等级", "缺陷类别", "不合格类别"),
    "inspector": ("inspector", "检查人", "检验员"),
    "note": ("note", "备注", "说明"),
}


def _folded(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def parse_decision(text: str) -> str | None:
    """pass or fail from what an inspector wrote (合格/不合格, 通过/不通过, pass/fail, √/×); None if neither."""
    folded = _folded(text)
    return next((d for d, words in DECISION_WORDS.items() if folded in words), None)


def parse_defect_class(text: str) -> str | None:
    """critical, major or minor from A类/B类/C类, A/B/C, 致命/严重/轻微 or the English; None if none of them."""
    folded = re.sub(r"\(.*\)$", "", _folded(text))
    for suffix in ("不合格", "缺陷", "类"):
        folded = folded.removesuffix(suffix)
    return next((c for c, words in CLASS_WORDS.items() if folded in words), None)


def parse_defect_type(text: str) -> str | None:
    """A key of DEFECT_TYPES from the key or its Chinese label; None if it is neither."""
    folded = _folded(text)
    return next((key for key, label in DEFECT_TYPES.items() if folded in (key, _folded(label))), None)


class LotStatus(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    INCOMPLETE = "incomplete"  # random-sample items still undecided and the outcome still open


# ---------------------------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The items to inspect: ``random`` is the plan's sample, ``critical`` the flagged items
    (all of them, whether or not the draw also picked them); ``extra_critical`` are the flagged
    items the draw did not pick, inspected in addition."""

    seed: int
    random: tuple[str, ...]
    critical: tuple[str, ...]

    @property
    def extra_critical(self) -> tuple[str, ...]:
        drawn = set(self.random)
        return tuple(item for item in self.critical if item not in drawn)

    @property
    def items(self) -> tuple[str, ...]:
        """Everything an inspector has to look at, sorted."""
        return tuple(sorted(set(self.random) | set(self.critical)))


def draw_sample(plan: SamplingPlan, item_ids: Iterable[str], seed: int, critical_ids: Iterable[str] = ()) -> Sample:
    """Draw ``plan.n`` items at random from the lot, plus every critical item.

    The draw is ``random.Random(seed).sample(sorted(ids), plan.n)``: the same ids and seed give
    the same sample whatever order the ids come in. The random sample is drawn from the whole lot
    (critical items included) so that it stays a random sample of the lot.
    """
    ids = list(item_ids)
    pool = sorted(set(ids))
    if len(pool) != len(ids):
        duplicates = sorted({item for item in ids if ids.count(item) > 1})
        raise SamplingError(f"item ids are not unique: {', '.join(duplicates[:10])}")
    if len(pool) != plan.lot_size:
        raise SamplingError(f"the plan is for a lot of {plan.lot_size} items, but {len(pool)} ids were given")
    critical = sorted(set(critical_ids))
    unknown = sorted(set(critical) - set(pool))
    if unknown:
        raise SamplingError(f"critical items not in the lot: {', '.join(unknown[:10])}")
    drawn = random.Random(seed).sample(pool, plan.n)
    return Sample(seed=seed, random=tuple(sorted(drawn)), critical=tuple(critical))


# ---------------------------------------------------------------------------------------------
# Decisions and verdict
# ---------------------------------------------------------------------------------------------

REQUIRED_COLUMNS = ("item_id", "decision", "defect_type", "defect_class", "inspector")


@dataclass(frozen=True)
class Decision:
    """One inspector's finding on one sampled item (one row per defect type if several)."""

    item_id: str
    decision: str  # pass | fail
    defect_type: str = ""
    defect_class: str = ""  # critical | major | minor; required when decision is fail
    inspector: str = ""
    note: str = ""


class DecisionsError(SamplingError):
    """A decisions file that cannot be used; the message names file, row and column."""


def read_decisions(path: str | Path, sample: Sample) -> list[Decision]:
    """Read an inspectors' CSV (UTF-8 with or without BOM, or GB18030/GBK as spreadsheet programs
    save it on Chinese systems; header row required).

    Columns (English as in qc/sample.csv, or Chinese: 档号, 结论, 缺陷类型, 缺陷等级, 检查人,
    备注): item_id, decision (pass/fail, 合格/不合格, 通过/不通过, √/×), defect_type (a key or
    label of DEFECT_TYPES becomes the key; other text is kept), defect_class (critical/major/
    minor, A类/B类/C类, 致命/严重/轻微; required for a fail), inspector, and optionally note;
    other columns are ignored. A row whose decision is blank is an item not decided yet and is
    skipped. Row numbers in errors count the header as row 1, as a spreadsheet does.
    """
    path = Path(path)
    known = set(sample.items)
    decisions: list[Decision] = []
    try:
        text, _ = decode_csv_bytes(path.read_bytes(), str(path))
    except CatalogError as exc:
        raise DecisionsError(f"{exc} (decisions are read as UTF-8 or GB18030/GBK text)") from None
    except OSError as exc:
        raise DecisionsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [_column(name) for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise DecisionsError(f"{path}: row 1: missing column(s) {', '.join(missing)}")
        reader.fieldnames = header
        for row_number, row in enumerate(reader, start=2):
            if None in row:
                raise DecisionsError(f"{path}: row {row_number}: more cells than header columns")
            cells = {key: (value or "").strip() for key, value in row.items()}
            if not any(cells.values()):
                continue
            decision = _read_row(cells, known, f"{path}: row {row_number}")
            if decision is not None:
                decisions.append(decision)
    except csv.Error as exc:
        raise DecisionsError(f"{path}: not a readable CSV file: {exc}") from None
    return decisions


def _column(header: str) -> str:
    """The column a header names: an English name, a Chinese one, or a bilingual "结论 decision"."""
    for word in [header, *header.split()]:
        folded = _folded(word)
        for name, words in COLUMN_WORDS.items():
            if folded in words:
                return name
    return header.strip()


def _read_row(cells: dict[str, str], known: set[str], where: str) -> Decision | None:
    item = cells["item_id"]
    if not item:
        raise DecisionsError(f"{where}: column item_id: empty")
    if item not in known:
        raise DecisionsError(f"{where}: column item_id: {item!r} is not in the sample")
    if not cells["decision"]:
        return None
    value = parse_decision(cells["decision"])
    if value is None:
        raise DecisionsError(
            f"{where}: column decision: {cells['decision']!r} is not pass or fail (合格/不合格, 通过/不通过)"
        )
    defect_class = parse_defect_class(cells["defect_class"]) if cells["defect_class"] else ""
    if defect_class is None:
        raise DecisionsError(
            f"{where}: column defect_class: {cells['defect_class']!r} is not one of {', '.join(DEFECT_CLASSES)} "
            "(A类, B类, C类)"
        )
    if value == "fail" and not defect_class:
        raise DecisionsError(f"{where}: column defect_class: a fail needs critical, major or minor (A类, B类, C类)")
    return Decision(
        item_id=item,
        decision=value,
        defect_type=parse_defect_type(cells["defect_type"]) or cells["defect_type"],
        defect_class=defect_class,
        inspector=cells["inspector"],
        note=cells.get("note", ""),
    )


@dataclass(frozen=True)
class LotVerdict:
    """``status``: accept, reject, or incomplete (random-sample items still undecided and the
    outcome still open). Rejection is final as soon as ``re`` items have failed, even with items
    undecided; acceptance needs every random-sample item decided."""

    status: LotStatus
    plan: SamplingPlan
    nonconforming: tuple[str, ...]  # random-sample items with a counted failure
    undecided: tuple[str, ...]  # random-sample items without a decision
    critical_failed: tuple[str, ...]  # critical items (drawn or extra) with any failure
    critical_undecided: tuple[str, ...]


def lot_verdict(
    plan: SamplingPlan,
    sample: Sample,
    decisions: Iterable[Decision],
    defect_classes: Collection[str] | None = None,
) -> LotVerdict:
    """Judge the lot from the random sample: at most Ac nonconforming items accept it, Re or
    more reject it. For the DA/T 31 ratio plan this is the same as "share of passes >= pass rate".

    An item is nonconforming when one of its rows is a fail whose class is in ``defect_classes``
    (all classes when None) -- ISO 2859-1 applies a plan to each defect class separately.
    """
    if len(sample.random) != plan.n:
        raise SamplingError(f"the sample has {len(sample.random)} random items but the plan needs {plan.n}")
    if defect_classes is not None:
        unknown_classes = sorted(set(defect_classes) - set(DEFECT_CLASSES))
        if unknown_classes:
            raise SamplingError(f"unknown defect class(es): {', '.join(unknown_classes)}")
    counted = set(DEFECT_CLASSES if defect_classes is None else defect_classes)
    known = set(sample.items)
    decided: set[str] = set()
    failed: set[str] = set()
    failed_counted: set[str] = set()
    for decision in decisions:
        if decision.item_id not in known:
            raise SamplingError(f"decision for {decision.item_id!r}, which is not in the sample")
        if decision.decision not in DECISIONS:
            raise SamplingError(f"decision for {decision.item_id!r} is {decision.decision!r}, not pass or fail")
        decided.add(decision.item_id)
        if decision.decision == "fail":
            failed.add(decision.item_id)
            if decision.defect_class in counted:
                failed_counted.add(decision.item_id)
    nonconforming = tuple(item for item in sample.random if item in failed_counted)
    undecided = tuple(item for item in sample.random if item not in decided)
    if len(nonconforming) >= plan.re:
        status = LotStatus.REJECT
    elif undecided:
        status = LotStatus.INCOMPLETE
    else:
        status = LotStatus.ACCEPT
    return LotVerdict(
        status=status,
        plan=plan,
        nonconforming=nonconforming,
        undecided=undecided,
        critical_failed=tuple(item for item in sample.critical if item in failed),
        critical_undecided=tuple(item for item in sample.critical if item not in decided),
    )
