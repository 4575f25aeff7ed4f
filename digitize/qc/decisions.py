"""The inspectors' decision record of a lot: ``OUT/qc/decisions.jsonl`` (`layout.QC_DECISION_RECORD`).

One record, shared by `digitize qc --record FILE`, `qc --interactive` and the web review
(`digitize serve`); a `qc` run reads it and never rewrites it, so no decision is lost by a
later run. Lines are only ever appended, under a file lock, one JSON object each:

    {"kind": "decision", "batch": "…", "recorded": ISO time, "source": "web" | "file PATH" |
     "interactive", "by": account, "item_id": 档号, "decision": "pass" | "fail",
     "defect_type": "…", "defect_class": "critical" | "major" | "minor", "inspector": "…", "note": "…"}
    {"kind": "signoff", "batch": "…", "recorded": …, "source": …, "by": …,
     "inspector": 检查人, "reviewer": 复核人, "date": "YYYY-MM-DD", "time": "HH:MM" (local)}

An item's current decision is what the latest batch that mentions it says (a batch can hold
several rows for one item, one per defect type); the latest sign-off is the current one.
Defect classes: A类 = critical, B类 = major, C类 = minor (GB/T 2828.1 classes of nonconformity).
"""

from __future__ import annotations

import fcntl
import json
import uuid
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from digitize.journal import now_iso
from digitize.layout import QC_DECISION_RECORD, OutLayout
from digitize.qc.plans import SamplingError
from digitize.qc.sampling import DECISIONS, DEFECT_CLASSES, Decision

RECORD = QC_DECISION_RECORD
DECISION_LABELS = {"pass": "合格", "fail": "不合格"}
CLASS_LABELS = {"critical": "A类（致命）", "major": "B类（严重）", "minor": "C类（轻微）"}


@dataclass(frozen=True)
class SignOff:
    inspector: str  # 检查人
    reviewer: str  # 复核人
    date: str  # YYYY-MM-DD
    time: str  # HH:MM, local time
    recorded: str = ""
    by: str = ""


class DecisionRecord:
    """The decision record of one OUT folder."""

    def __init__(self, out: str | Path):
        self.path = OutLayout(Path(out)).path(RECORD)

    @contextmanager
    def _locked(self, mode: str) -> Iterator[IO[str]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open(mode, encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if "a" in mode else fcntl.LOCK_SH)
            try:
                yield handle
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _append(self, lines: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n" for line in lines)
        with self._locked("a") as handle:
            handle.write(text)
            handle.flush()

    def add_decisions(self, decisions: Iterable[Decision], source: str, by: str) -> int:
        """Append one batch of decisions; returns how many rows were written."""
        rows = list(decisions)
        for row in rows:
            if row.decision not in DECISIONS:
                raise SamplingError(f"{row.item_id}: decision {row.decision!r} is not pass or fail")
            if row.defect_class and row.defect_class not in DEFECT_CLASSES:
                raise SamplingError(f"{row.item_id}: defect class {row.defect_class!r} is not one of {DEFECT_CLASSES}")
            if row.decision == "fail" and not row.defect_class:
                raise SamplingError(f"{row.item_id}: a fail needs a defect class (A, B or C)")
        if not rows:
            return 0
        head = {"kind": "decision", "batch": uuid.uuid4().hex, "recorded": now_iso(), "source": source, "by": by}
        self._append([{**head, **row.__dict__} for row in rows])
        return len(rows)

    def add_signoff(self, signoff: SignOff, source: str, by: str) -> None:
        if not signoff.inspector.strip() or not signoff.reviewer.strip():
            raise SamplingError("a sign-off needs both 检查人 and 复核人")
        line = {
            "kind": "signoff",
            "batch": uuid.uuid4().hex,
            "recorded": now_iso(),
            "source": source,
            "by": by,
            "inspector": signoff.inspector.strip(),
            "reviewer": signoff.reviewer.strip(),
            "date": signoff.date,
            "time": signoff.time,
        }
        self._append([line])

    def entries(self) -> list[dict[str, Any]]:
        """Every line ever recorded, oldest first."""
        if not self.path.is_file():
            return []
        with self._locked("r") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def current(self, items: Collection[str] | None = None) -> list[Decision]:
        """The current decisions (latest batch per item), of the given items only when given."""
        latest: dict[str, str] = {}
        entries = [e for e in self.entries() if e.get("kind") == "decision"]
        for entry in entries:
            latest[entry["item_id"]] = entry["batch"]
        fields = Decision.__dataclass_fields__
        return [
            Decision(**{k: v for k, v in entry.items() if k in fields})
            for entry in entries
            if latest[entry["item_id"]] == entry["batch"] and (items is None or entry["item_id"] in items)
        ]

    def signoff(self) -> SignOff | None:
        lines = [e for e in self.entries() if e.get("kind") == "signoff"]
        if not lines:
            return None
        last = lines[-1]
        return SignOff(last["inspector"], last["reviewer"], last["date"], last["time"], last["recorded"], last["by"])
