"""Sampling plans for human inspection of a delivered batch (a "lot"): how many documents to inspect, when to accept.

Two schemes, chosen by `QcSettings.sampling_scheme`:

* ``iso2859-1`` -- ISO 2859-1 (= GB/T 2828.1 = ANSI/ASQ Z1.4 central tables) single sampling:
  Table 1 gives the sample size code letter for the lot size and inspection level; Table 2-A /
  2-B / 2-C give the plan (n, Ac, Re) for normal / tightened / reduced inspection. The tables are
  typed in below as printed (arrows included) and the arrows are followed at look-up time: the
  plan used is the first plan below (``v``) or above (``^``) the arrow in the same AQL column, and
  its sample size is that of the row where the plan is printed, not the row of the code letter.
  If the sample size equals or exceeds the lot size, every item is inspected (Ac/Re unchanged).
* ``dat31-ratio`` -- the ratio practice around DA/T 31-2017 §12: inspect a share of the documents
  (default 5 %, at least 1) and accept when at least ``pass_rate`` (default 95 %) of them pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from digitize.errors import BadInput
from digitize.settings import QcSettings

ISO = "iso2859-1"
RATIO = "dat31-ratio"
SEVERITIES = ("normal", "tightened", "reduced")
LEVELS = ("S-1", "S-2", "S-3", "S-4", "I", "II", "III")


class SamplingError(BadInput, ValueError):
    """A plan, sample or decision set that cannot be used as asked."""


# ---------------------------------------------------------------------------------------------
# ISO 2859-1 tables
# ---------------------------------------------------------------------------------------------

CODE_LETTERS = "ABCDEFGHJKLMNPQR"

# Table 1, sample size code letters. Each row: largest lot size of the row, then the letters for
# S-1, S-2, S-3, S-4, I, II, III. Verified reference: qc-sampling-and-handoff.md §1.2.
_TABLE_1: tuple[tuple[int | None, str], ...] = (
    (8, "AAAAAAB"),
    (15, "AAAAABC"),
    (25, "AABBBCD"),
    (50, "ABBCCDE"),
    (90, "BBCCCEF"),
    (150, "BBCDDFG"),
    (280, "BCDEEGH"),
    (500, "BCDEFHJ"),
    (1_200, "CCEFGJK"),
    (3_200, "CDEGHKL"),
    (10_000, "CDFGJLM"),
    (35_000, "CDFHKMN"),
    (150_000, "DEGJLNP"),
    (500_000, "DEGJMPQ"),
    (None, "DEHKNQR"),  # 500 001 and over
)

# Sample size of each code letter row. Normal and tightened: reference §1.3. Reduced (Table 2-C
# has its own sample size column): GB/T 2828.1-2012 Table 2-C as transcribed from the standard
# (see the note above _TABLE_2C); it agrees with the reduced sample sizes of ANSI/ASQ Z1.4.
_SAMPLE_SIZE: dict[str, tuple[int, ...]] = {
    "normal": (2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800, 1250, 2000),
    "tightened": (2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800, 1250, 2000),
    "reduced": (2, 2, 2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800),
}

# AQL columns of the master tables, as printed. (The standard goes on from 0.010 to 1000; the
# columns below 0.065 and the "nonconformities per 100 items" columns above 10 are not needed.)
AQL_COLUMNS: tuple[str, ...] = (
    "0.065",
    "0.10",
    "0.15",
    "0.25",
    "0.40",
    "0.65",
    "1.0",
    "1.5",
    "2.5",
    "4.0",
    "6.5",
    "10",
)

# Master tables, one string per code letter row, one cell per AQL column above:
# "Ac/Re" = plan, "v" = use the first plan below the arrow, "^" = use the first plan above.
#
# Where the cells come from:
# * Table 2-A, columns 0.65, 1.0, 2.5 and 4.0: the verified reference (qc-sampling-and-handoff.md
#   §1.4, cross-checked there between a published chart and the AQLSchemes tables).
# * Table 2-A, other columns; all of Table 2-B and Table 2-C: the standard's tables as known
#   from the diagonal layout, checked cell by cell (after following the arrows) against a public
#   transcription of GB/T 2828.1-2012 Tables 2-A/2-B/2-C checked against the standard's PDF (code
#   index ids 55344373602 and 55256468532) and, for 2-A and 2-B, against the ANSI/ASQ Z1.4 arrays
#   of the CRAN package AQLSchemes (reference [S3]). Not checked against a copy of ISO 2859-1.
# * Known differences between editions, resolved here the ISO 2859-1:1999 / GB/T 2828.1 way:
#   - 2-A, code A, AQL 10: a MIL-STD-105E transcription prints an up arrow with no plan above
#     it; GB/T 2828.1 and the AQL Inspector's Rule manual both use code letter C (n=5, 1/2).
#   - 2-B, code A, AQL 10: GB/T 2828.1 has the plan 0/1 (n=2); MIL-STD-105E / Z1.4 sources
#     point down to code letter D (n=8, 1/2).
#   - 2-C: ISO 2859-1:1999 removed the gap between Ac and Re of the reduced plans (Re = Ac + 1);
#     MIL-STD-105E and Z1.4 still print 0/2, 1/3, 1/4, 2/5, 3/6, 5/8, 7/10, 10/13 there.
_TABLE_2A: dict[str, str] = {
    #     0.065  0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5    10
    "A": "    v     v     v     v     v     v     v     v     v     v   0/1     v",
    "B": "    v     v     v     v     v     v     v     v     v   0/1     ^     v",
    "C": "    v     v     v     v     v     v     v     v   0/1     ^     v   1/2",
    "D": "    v     v     v     v     v     v     v   0/1     ^     v   1/2   2/3",
    "E": "    v     v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4",
    "F": "    v     v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6",
    "G": "    v     v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8",
    "H": "    v     v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11",
    "J": "    v     v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15",
    "K": "    v   0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22",
    "L": "  0/1     ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^",
    "M": "    ^     v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^",
    "N": "    v   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^",
    "P": "  1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^",
    "Q": "  2/3   3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^",
    "R": "  3/4   5/6   7/8 10/11 14/15 21/22     ^     ^     ^     ^     ^     ^",
}

_TABLE_2B: dict[str, str] = {
    #     0.065  0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5    10
    "A": "    v     v     v     v     v     v     v     v     v     v     v   0/1",
    "B": "    v     v     v     v     v     v     v     v     v     v   0/1     v",
    "C": "    v     v     v     v     v     v     v     v     v   0/1     v     v",
    "D": "    v     v     v     v     v     v     v     v   0/1     v     v   1/2",
    "E": "    v     v     v     v     v     v     v   0/1     v     v   1/2   2/3",
    "F": "    v     v     v     v     v     v   0/1     v     v   1/2   2/3   3/4",
    "G": "    v     v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6",
    "H": "    v     v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9",
    "J": "    v     v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13",
    "K": "    v     v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19",
    "L": "    v   0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^",
    "M": "  0/1     v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^",
    "N": "    v     v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^",
    "P": "    v   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^",
    "Q": "  1/2   2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^",
    "R": "  2/3   3/4   5/6   8/9 12/13 18/19     ^     ^     ^     ^     ^     ^",
}

_TABLE_2C: dict[str, str] = {
    #     0.065  0.10  0.15  0.25  0.40  0.65   1.0   1.5   2.5   4.0   6.5    10
    "A": "    v     v     v     v     v     v     v     v     v     v   0/1     v",
    "B": "    v     v     v     v     v     v     v     v     v   0/1     ^     v",
    "C": "    v     v     v     v     v     v     v     v   0/1     ^     v     v",
    "D": "    v     v     v     v     v     v     v   0/1     ^     v     v   1/2",
    "E": "    v     v     v     v     v     v   0/1     ^     v     v   1/2   2/3",
    "F": "    v     v     v     v     v   0/1     ^     v     v   1/2   2/3   3/4",
    "G": "    v     v     v     v   0/1     ^     v     v   1/2   2/3   3/4   5/6",
    "H": "    v     v     v   0/1     ^     v     v   1/2   2/3   3/4   5/6   6/7",
    "J": "    v     v   0/1     ^     v     v   1/2   2/3   3/4   5/6   6/7   8/9",
    "K": "    v   0/1     ^     v     v   1/2   2/3   3/4   5/6   6/7   8/9 10/11",
    "L": "  0/1     ^     v     v   1/2   2/3   3/4   5/6   6/7   8/9 10/11     ^",
    "M": "    ^     v     v   1/2   2/3   3/4   5/6   6/7   8/9 10/11     ^     ^",
    "N": "    v     v   1/2   2/3   3/4   5/6   6/7   8/9 10/11     ^     ^     ^",
    "P": "    v   1/2   2/3   3/4   5/6   6/7   8/9 10/11     ^     ^     ^     ^",
    "Q": "  1/2   2/3   3/4   5/6   6/7   8/9 10/11     ^     ^     ^     ^     ^",
    "R": "  2/3   3/4   5/6   6/7   8/9 10/11     ^     ^     ^     ^     ^     ^",
}

_MASTER_TABLES: dict[str, dict[str, list[str]]] = {
    severity: {letter: row.split() for letter, row in table.items()}
    for severity, table in (("normal", _TABLE_2A), ("tightened", _TABLE_2B), ("reduced", _TABLE_2C))
}


@dataclass(frozen=True)
class SamplingPlan:
    """What to inspect in one lot and when to accept it.

    ``n`` is the number of items to inspect (the lot size when ``full_inspection``); the lot is
    accepted when at most ``ac`` inspected items are nonconforming and rejected from ``re`` on.
    """

    scheme: str  # "iso2859-1" or "dat31-ratio"
    lot_size: int
    n: int
    ac: int
    re: int
    full_inspection: bool
    description: str
    severity: str | None = None  # iso2859-1: normal / tightened / reduced
    level: str | None = None  # iso2859-1: S-1 ... III
    aql: str | None = None  # iso2859-1: the AQL column label, e.g. "1.0"
    code_letter: str | None = None  # iso2859-1: letter from Table 1
    plan_letter: str | None = None  # iso2859-1: row of the plan used after following arrows
    ratio: float | None = None  # dat31-ratio: share of the lot to inspect
    pass_rate: float | None = None  # dat31-ratio: least share of passes to accept


def code_letter(lot_size: int, level: str) -> str:
    """ISO 2859-1 Table 1. A lot of 1 item uses the first row (it is inspected 100 % anyway)."""
    if lot_size < 1:
        raise SamplingError(f"lot size must be at least 1, not {lot_size}")
    column = LEVELS.index(_normal_level(level))
    for upper, letters in _TABLE_1:
        if upper is None or lot_size <= upper:
            return letters[column]
    raise AssertionError("Table 1 ends with an open row")


def aql_label(aql: float | str) -> str:
    """The AQL column label for a value: 1 -> "1.0", 0.1 -> "0.10", "10" -> "10"."""
    try:
        value = float(aql)
    except ValueError:
        raise SamplingError(f"AQL {aql!r} is not a number") from None
    for label in AQL_COLUMNS:
        if math.isclose(float(label), value, rel_tol=1e-9):
            return label
    raise SamplingError(f"AQL {aql} is not a column of the tables; use one of {', '.join(AQL_COLUMNS)}")


@dataclass(frozen=True)
class TablePlan:
    """A plan as printed in Table 2-A/2-B/2-C: its row, sample size, Ac and Re."""

    letter: str
    n: int
    ac: int
    re: int


def table_plan(letter: str, aql: float | str, severity: str = "normal") -> TablePlan:
    """Look up (code letter, AQL) in the master table of a severity, following the arrows."""
    if severity not in SEVERITIES:
        raise SamplingError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    if len(letter) != 1 or letter not in CODE_LETTERS:
        raise SamplingError(f"code letter must be one of {CODE_LETTERS}, not {letter!r}")
    table = _MASTER_TABLES[severity]
    column = AQL_COLUMNS.index(aql_label(aql))
    row = CODE_LETTERS.index(letter)
    step = {"v": 1, "^": -1}.get(table[letter][column], 0)
    while table[CODE_LETTERS[row]][column] in ("v", "^"):
        row += step
        if not 0 <= row < len(CODE_LETTERS):
            raise AssertionError(f"{severity} table, {letter}/{aql}: arrow points out of the table")
    ac, re = table[CODE_LETTERS[row]][column].split("/")
    return TablePlan(CODE_LETTERS[row], _SAMPLE_SIZE[severity][row], int(ac), int(re))


def iso_plan(lot_size: int, level: str = "II", aql: float | str = 1.0, severity: str = "normal") -> SamplingPlan:
    """ISO 2859-1 single sampling plan for one lot."""
    level = _normal_level(level)
    label = aql_label(aql)
    letter = code_letter(lot_size, level)
    printed = table_plan(letter, label, severity)
    full = printed.n >= lot_size
    n = lot_size if full else printed.n
    head = f"ISO 2859-1 single, {severity}, level {level}, AQL {label}: "
    if full:
        text = f"n={printed.n} >= lot of {lot_size}: inspect all {lot_size} items, Ac={printed.ac} Re={printed.re}"
    else:
        text = f"n={n} Ac={printed.ac} Re={printed.re}"
    return SamplingPlan(
        scheme=ISO,
        lot_size=lot_size,
        n=n,
        ac=printed.ac,
        re=printed.re,
        full_inspection=full,
        description=head + text,
        severity=severity,
        level=level,
        aql=label,
        code_letter=letter,
        plan_letter=printed.letter,
    )


def ratio_plan(lot_size: int, ratio: float = 0.05, pass_rate: float = 0.95) -> SamplingPlan:
    """DA/T 31 ratio mode: inspect ceil(ratio x lot) items (at least 1), accept when the share of
    passes among them is at least ``pass_rate``; Ac is the largest failure count that allows it."""
    if lot_size < 1:
        raise SamplingError(f"lot size must be at least 1, not {lot_size}")
    if not 0 < ratio <= 1:
        raise SamplingError(f"sample ratio must be in (0, 1], not {ratio}")
    if not 0 < pass_rate <= 1:
        raise SamplingError(f"pass rate must be in (0, 1], not {pass_rate}")
    n = min(lot_size, max(1, math.ceil(_exact(ratio) * lot_size)))
    ac = math.floor(n * (1 - _exact(pass_rate)))
    description = (
        f"DA/T 31 ratio {ratio * 100:g}% of {lot_size} items: n={n}, accept when at least "
        f"{pass_rate * 100:g}% pass (Ac={ac} Re={ac + 1})"
    )
    return SamplingPlan(
        scheme=RATIO,
        lot_size=lot_size,
        n=n,
        ac=ac,
        re=ac + 1,
        full_inspection=n == lot_size,
        description=description,
        ratio=ratio,
        pass_rate=pass_rate,
    )


def plan_from_settings(qc: QcSettings, lot_size: int, severity: str = "normal") -> SamplingPlan:
    """The plan the settings ask for; ``severity`` only applies to ISO 2859-1."""
    if qc.sampling_scheme == ISO:
        return iso_plan(lot_size, qc.inspection_level, qc.aql, severity)
    if qc.sampling_scheme == RATIO:
        return ratio_plan(lot_size, qc.sample_ratio, qc.pass_rate)
    raise SamplingError(f"[qc] sampling_scheme must be {ISO!r} or {RATIO!r}, not {qc.sampling_scheme!r}")


def _normal_level(level: str) -> str:
    name = level.strip().upper()
    if name not in LEVELS:
        raise SamplingError(f"inspection level must be one of {', '.join(LEVELS)}, not {level!r}")
    return name


def _exact(value: float) -> Fraction:
    """0.95 as 19/20, not as the nearest binary float (so 20 x 5 % is exactly 1)."""
    return Fraction(repr(value))
