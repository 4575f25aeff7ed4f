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
import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from digitize.qc.plans import SamplingError, SamplingPlan

DEFECT_CLASSES = ("critical", "major", "minor")
DECISIONS = ("pass", "fail")


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
    """Read an inspectors' CSV (UTF-8, with or without BOM; header row required).

    Columns: item_id, decision (pass|fail), defect_type, defect_class (critical|major|minor,
    required for fail), inspector, and optionally note; other columns are ignored. A row whose
    decision is blank is an item not decided yet and is skipped. Row numbers in errors count the
    header as row 1, as a spreadsheet does.
    """
    path = Path(path)
    known = set(sample.items)
    decisions: list[Decision] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
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
    except UnicodeDecodeError as exc:
        raise DecisionsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DecisionsError(f"{path}: not a readable CSV file: {exc}") from None
    return decisions


def _read_row(cells: dict[str, str], known: set[str], where: str) -> Decision | None:
    item = cells["item_id"]
    if not item:
        raise DecisionsError(f"{where}: column item_id: empty")
    if item not in known:
        raise DecisionsError(f"{where}: column item_id: {item!r} is not in the sample")
    value = cells["decision"].lower()
    if not value:
        return None
    if value not in DECISIONS:
        raise DecisionsError(f"{where}: column decision: {cells['decision']!r} is not pass or fail")
    defect_class = cells["defect_class"].lower()
    if defect_class and defect_class not in DEFECT_CLASSES:
        raise DecisionsError(
            f"{where}: column defect_class: {cells['defect_class']!r} is not one of {', '.join(DEFECT_CLASSES)}"
        )
    if value == "fail" and not defect_class:
        raise DecisionsError(f"{where}: column defect_class: a fail needs critical, major or minor")
    return Decision(
        item_id=item,
        decision=value,
        defect_type=cells["defect_type"],
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
