"""Sampling for human inspection: ISO 2859-1 tables, DA/T 31 ratio mode, selection, verdicts.

Expected table values are typed in from /work/shared/reference/qc-sampling-and-handoff.md
(§1.2 Table 1, §1.4 Table 2-A, §1.5 Level II and S-3/S-4) independently of the module's tables.
"""

from __future__ import annotations

import random
from math import comb
from pathlib import Path

import pytest

from digitize.qc.plans import (
    AQL_COLUMNS,
    CODE_LETTERS,
    SamplingError,
    SamplingPlan,
    code_letter,
    iso_plan,
    plan_from_settings,
    ratio_plan,
    table_plan,
)
from digitize.qc.sampling import Decision, DecisionsError, Sample, draw_sample, lot_verdict, read_decisions
from digitize.settings import QcSettings

# --- Table 1 (reference §1.2) ------------------------------------------------------------------

LEVEL_ORDER = ["S-1", "S-2", "S-3", "S-4", "I", "II", "III"]

# (smallest lot, largest lot, letters for S-1 S-2 S-3 S-4 I II III)
TABLE_1 = [
    (2, 8, "A A A A A A B"),
    (9, 15, "A A A A A B C"),
    (16, 25, "A A B B B C D"),
    (26, 50, "A B B C C D E"),
    (51, 90, "B B C C C E F"),
    (91, 150, "B B C D D F G"),
    (151, 280, "B C D E E G H"),
    (281, 500, "B C D E F H J"),
    (501, 1_200, "C C E F G J K"),
    (1_201, 3_200, "C D E G H K L"),
    (3_201, 10_000, "C D F G J L M"),
    (10_001, 35_000, "C D F H K M N"),
    (35_001, 150_000, "D E G J L N P"),
    (150_001, 500_000, "D E G J M P Q"),
    (500_001, 10_000_000, "D E H K N Q R"),
]


@pytest.mark.parametrize("low, high, letters", TABLE_1)
def test_table_1_every_row_and_level(low: int, high: int, letters: str) -> None:
    for level, expected in zip(LEVEL_ORDER, letters.split()):
        for lot in (low, (low + high) // 2, high):
            assert code_letter(lot, level) == expected, (lot, level)


def test_table_1_level_names_and_bad_lot() -> None:
    assert code_letter(1000, "ii") == "J"
    assert code_letter(1, "II") == "A"
    with pytest.raises(SamplingError, match="inspection level"):
        code_letter(100, "IV")
    with pytest.raises(SamplingError, match="at least 1"):
        code_letter(0, "II")


# S-3 and S-4 letter lists (reference §1.5)
S3 = [
    (2, 15, "A"),
    (16, 50, "B"),
    (51, 150, "C"),
    (151, 500, "D"),
    (501, 3_200, "E"),
    (3_201, 35_000, "F"),
    (35_001, 500_000, "G"),
    (500_001, 2_000_000, "H"),
]
S4 = [
    (2, 15, "A"),
    (16, 25, "B"),
    (26, 90, "C"),
    (91, 150, "D"),
    (151, 500, "E"),
    (501, 1_200, "F"),
    (1_201, 10_000, "G"),
    (10_001, 35_000, "H"),
    (35_001, 500_000, "J"),
    (500_001, 2_000_000, "K"),
]


@pytest.mark.parametrize("level, ranges", [("S-3", S3), ("S-4", S4)])
def test_special_level_letter_lists(level: str, ranges: list[tuple[int, int, str]]) -> None:
    for low, high, letter in ranges:
        assert code_letter(low, level) == letter
        assert code_letter(high, level) == letter


def test_s4_example_plans() -> None:
    # reference §1.5: lot 1 201-3 200 at S-4
    assert _nar(iso_plan(2000, "S-4", 1.0)) == (50, 1, 2)
    assert _nar(iso_plan(2000, "S-4", 2.5)) == (32, 2, 3)
    assert _nar(iso_plan(2000, "S-4", 4.0)) == (32, 3, 4)


# --- Table 2-A (reference §1.4) ----------------------------------------------------------------

# code letter: (n, Ac, Re) after following arrows, for AQL 0.65, 1.0, 2.5, 4.0
TABLE_2A = {
    "A": [(20, 0, 1), (13, 0, 1), (5, 0, 1), (3, 0, 1)],
    "B": [(20, 0, 1), (13, 0, 1), (5, 0, 1), (3, 0, 1)],
    "C": [(20, 0, 1), (13, 0, 1), (5, 0, 1), (3, 0, 1)],
    "D": [(20, 0, 1), (13, 0, 1), (5, 0, 1), (13, 1, 2)],
    "E": [(20, 0, 1), (13, 0, 1), (20, 1, 2), (13, 1, 2)],
    "F": [(20, 0, 1), (13, 0, 1), (20, 1, 2), (20, 2, 3)],
    "G": [(20, 0, 1), (50, 1, 2), (32, 2, 3), (32, 3, 4)],
    "H": [(80, 1, 2), (50, 1, 2), (50, 3, 4), (50, 5, 6)],
    "J": [(80, 1, 2), (80, 2, 3), (80, 5, 6), (80, 7, 8)],
    "K": [(125, 2, 3), (125, 3, 4), (125, 7, 8), (125, 10, 11)],
    "L": [(200, 3, 4), (200, 5, 6), (200, 10, 11), (200, 14, 15)],
    "M": [(315, 5, 6), (315, 7, 8), (315, 14, 15), (315, 21, 22)],
    "N": [(500, 7, 8), (500, 10, 11), (500, 21, 22), (315, 21, 22)],
    "P": [(800, 10, 11), (800, 14, 15), (500, 21, 22), (315, 21, 22)],
    "Q": [(1250, 14, 15), (1250, 21, 22), (500, 21, 22), (315, 21, 22)],
    "R": [(2000, 21, 22), (1250, 21, 22), (500, 21, 22), (315, 21, 22)],
}
REFERENCE_AQLS = [0.65, 1.0, 2.5, 4.0]


@pytest.mark.parametrize("letter", sorted(TABLE_2A))
def test_table_2a_reference_columns(letter: str) -> None:
    for aql, expected in zip(REFERENCE_AQLS, TABLE_2A[letter]):
        plan = table_plan(letter, aql, "normal")
        assert (plan.n, plan.ac, plan.re) == expected, (letter, aql)


# Level II, lot-size rows (reference §1.5): (low, high, letter, [(n, Ac, Re) for 0.65 1.0 2.5 4.0])
LEVEL_II = [
    (2, 8, "A", [(20, 0, 1), (13, 0, 1), (5, 0, 1), (3, 0, 1)]),
    (9, 15, "B", [(20, 0, 1), (13, 0, 1), (5, 0, 1), (3, 0, 1)]),
    (16, 25, "C", [(20, 0, 1), (13, 0, 1), (5, 0, 1), (3, 0, 1)]),
    (26, 50, "D", [(20, 0, 1), (13, 0, 1), (5, 0, 1), (13, 1, 2)]),
    (51, 90, "E", [(20, 0, 1), (13, 0, 1), (20, 1, 2), (13, 1, 2)]),
    (91, 150, "F", [(20, 0, 1), (13, 0, 1), (20, 1, 2), (20, 2, 3)]),
    (151, 280, "G", [(20, 0, 1), (50, 1, 2), (32, 2, 3), (32, 3, 4)]),
    (281, 500, "H", [(80, 1, 2), (50, 1, 2), (50, 3, 4), (50, 5, 6)]),
    (501, 1_200, "J", [(80, 1, 2), (80, 2, 3), (80, 5, 6), (80, 7, 8)]),
    (1_201, 3_200, "K", [(125, 2, 3), (125, 3, 4), (125, 7, 8), (125, 10, 11)]),
    (3_201, 10_000, "L", [(200, 3, 4), (200, 5, 6), (200, 10, 11), (200, 14, 15)]),
    (10_001, 35_000, "M", [(315, 5, 6), (315, 7, 8), (315, 14, 15), (315, 21, 22)]),
    (35_001, 150_000, "N", [(500, 7, 8), (500, 10, 11), (500, 21, 22), (315, 21, 22)]),
    (150_001, 500_000, "P", [(800, 10, 11), (800, 14, 15), (500, 21, 22), (315, 21, 22)]),
    (500_001, 900_000, "Q", [(1250, 14, 15), (1250, 21, 22), (500, 21, 22), (315, 21, 22)]),
]


@pytest.mark.parametrize("low, high, letter, plans", LEVEL_II)
def test_level_ii_resolved_rows(low: int, high: int, letter: str, plans: list[tuple[int, int, int]]) -> None:
    for lot in (low, high):
        for aql, (n, ac, re) in zip(REFERENCE_AQLS, plans):
            plan = iso_plan(lot, "II", aql)
            assert plan.code_letter == letter
            assert (plan.ac, plan.re) == (ac, re), (lot, aql)
            if n >= lot:  # "100 % if lot <= n"
                assert plan.full_inspection and plan.n == lot, (lot, aql)
            else:
                assert not plan.full_inspection and plan.n == n, (lot, aql)


def test_plan_description_and_fields() -> None:
    plan = iso_plan(1000, "II", 1.0)
    assert plan.description == "ISO 2859-1 single, normal, level II, AQL 1.0: n=80 Ac=2 Re=3"
    assert (plan.scheme, plan.severity, plan.level, plan.aql) == ("iso2859-1", "normal", "II", "1.0")
    assert (plan.code_letter, plan.plan_letter, plan.lot_size) == ("J", "J", 1000)
    # arrow: letter G at AQL 1.0 points down to H (n=50)
    assert (iso_plan(200, "II", 1).code_letter, iso_plan(200, "II", 1).plan_letter) == ("G", "H")


def test_full_inspection_boundary() -> None:
    # lot 9..15 -> B; AQL 1.0 points down to E, n=13
    at_13 = iso_plan(13, "II", 1.0)
    assert at_13.full_inspection and at_13.n == 13 and (at_13.ac, at_13.re) == (0, 1)
    assert "inspect all 13 items" in at_13.description
    at_14 = iso_plan(14, "II", 1.0)
    assert not at_14.full_inspection and at_14.n == 13


def test_aql_columns_supported_and_refused() -> None:
    assert AQL_COLUMNS == ("0.065", "0.10", "0.15", "0.25", "0.40", "0.65", "1.0", "1.5", "2.5", "4.0", "6.5", "10")
    assert iso_plan(5000, "II", 0.1).aql == "0.10"
    assert iso_plan(5000, "II", "10").aql == "10"
    for bad in (0.04, 15, 2.0, "x"):
        with pytest.raises(SamplingError, match="AQL"):
            iso_plan(5000, "II", bad)
    with pytest.raises(SamplingError, match="severity"):
        iso_plan(5000, "II", 1.0, "lenient")


# --- Tables 2-B and 2-C ------------------------------------------------------------------------

# Tightened: values on which GB/T 2828.1 and ANSI/ASQ Z1.4 (AQLSchemes) agree.
TIGHTENED = [
    ("A", 1.0, ("F", 20, 0, 1)),
    ("F", 1.0, ("F", 20, 0, 1)),
    ("G", 1.0, ("J", 80, 1, 2)),
    ("J", 1.0, ("J", 80, 1, 2)),
    ("K", 1.0, ("K", 125, 2, 3)),
    ("M", 1.0, ("M", 315, 5, 6)),
    ("R", 1.0, ("Q", 1250, 18, 19)),
    ("N", 0.65, ("N", 500, 5, 6)),
    ("L", 2.5, ("L", 200, 8, 9)),
    ("C", 4.0, ("C", 5, 0, 1)),
    ("D", 4.0, ("F", 20, 1, 2)),
    ("M", 0.065, ("M", 315, 0, 1)),
    ("N", 0.065, ("Q", 1250, 1, 2)),
]
# Reduced (ISO 2859-1:1999, Re = Ac + 1), from a transcription of GB/T 2828.1-2012 Table 2-C.
REDUCED = [
    ("F", 1.0, ("E", 5, 0, 1)),
    ("G", 1.0, ("J", 32, 1, 2)),
    ("J", 1.0, ("J", 32, 1, 2)),
    ("K", 1.0, ("K", 50, 2, 3)),
    ("N", 1.0, ("N", 200, 6, 7)),
    ("P", 1.0, ("P", 315, 8, 9)),
    ("R", 1.0, ("Q", 500, 10, 11)),
    ("D", 4.0, ("F", 8, 1, 2)),
    ("K", 4.0, ("K", 50, 6, 7)),
    ("A", 10, ("D", 3, 1, 2)),
]


@pytest.mark.parametrize("letter, aql, expected", TIGHTENED)
def test_tightened_spot_checks(letter: str, aql: float, expected: tuple[str, int, int, int]) -> None:
    plan = table_plan(letter, aql, "tightened")
    assert (plan.letter, plan.n, plan.ac, plan.re) == expected


@pytest.mark.parametrize("letter, aql, expected", REDUCED)
def test_reduced_spot_checks(letter: str, aql: float, expected: tuple[str, int, int, int]) -> None:
    plan = table_plan(letter, aql, "reduced")
    assert (plan.letter, plan.n, plan.ac, plan.re) == expected


# The default AQL column, every code letter: (row used, n, Ac) -- tightened values agree between
# GB/T 2828.1 and Z1.4; reduced values are GB/T 2828.1 (ISO 2859-1:1999) only.
AQL_1_0 = {
    "tightened": "F20/0 F20/0 F20/0 F20/0 F20/0 F20/0 J80/1 J80/1 J80/1 K125/2 L200/3 M315/5 N500/8 "
    "P800/12 Q1250/18 Q1250/18",
    "reduced": "E5/0 E5/0 E5/0 E5/0 E5/0 E5/0 J32/1 J32/1 J32/1 K50/2 L80/3 M125/5 N200/6 P315/8 Q500/10 Q500/10",
}


@pytest.mark.parametrize("severity", sorted(AQL_1_0))
def test_aql_1_0_column(severity: str) -> None:
    for letter, cell in zip(CODE_LETTERS, AQL_1_0[severity].split()):
        plan = table_plan(letter, 1.0, severity)
        assert f"{plan.letter}{plan.n}/{plan.ac}" == cell, letter


# The acceptance numbers each table steps through down an AQL column (after the arrows).
AC_SERIES = {
    "normal": [0, 1, 2, 3, 5, 7, 10, 14, 21],
    "tightened": [0, 1, 2, 3, 5, 8, 12, 18],
    "reduced": [0, 1, 2, 3, 5, 6, 8, 10],
}


@pytest.mark.parametrize("severity", sorted(AC_SERIES))
def test_columns_step_through_the_acceptance_series(severity: str) -> None:
    series = AC_SERIES[severity]
    for aql in AQL_COLUMNS:
        steps: list[int] = []
        for letter in CODE_LETTERS:
            ac = table_plan(letter, aql, severity).ac
            if not steps or steps[-1] != ac:
                steps.append(ac)
        start = series.index(steps[0])
        assert steps == series[start : start + len(steps)], (aql, steps)


def test_code_a_aql_10_edition_differences() -> None:
    # 2-A: GB/T 2828.1 (and the AQL Inspector's Rule) use letter C; 2-B: GB/T 2828.1 prints 0/1.
    normal = table_plan("A", 10, "normal")
    assert (normal.letter, normal.n, normal.ac, normal.re) == ("C", 5, 1, 2)
    tightened = table_plan("A", 10, "tightened")
    assert (tightened.letter, tightened.n, tightened.ac, tightened.re) == ("A", 2, 0, 1)


def _accept_probability(n: int, ac: int, p: float) -> float:
    return sum(comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(ac + 1))


def test_structure_of_all_three_tables() -> None:
    normal_n = dict(zip(CODE_LETTERS, (2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800, 1250, 2000)))
    for letter in CODE_LETTERS:
        for aql in AQL_COLUMNS:
            plans = {severity: table_plan(letter, aql, severity) for severity in ("normal", "tightened", "reduced")}
            for severity, plan in plans.items():
                assert plan.ac < plan.re == plan.ac + 1, (severity, letter, aql)
            normal, tightened, reduced = plans["normal"], plans["tightened"], plans["reduced"]
            assert normal.n == normal_n[normal.letter]
            assert tightened.n == normal_n[tightened.letter]
            if tightened.n == normal.n:
                assert tightened.ac <= normal.ac, (letter, aql)
            # tightened never accepts more often than normal at quality levels up to 30 %
            for p in (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3):
                assert _accept_probability(tightened.n, tightened.ac, p) <= (
                    _accept_probability(normal.n, normal.ac, p) + 1e-12
                ), (letter, aql, p)
            ratio = reduced.n / normal_n[reduced.letter]
            if reduced.letter in "AB":
                assert reduced.n == 2
            else:
                assert 0.35 <= ratio <= 0.42, (letter, aql, ratio)


def test_bad_code_letter() -> None:
    for bad in ("I", "O", "S", "", "AB"):
        with pytest.raises(SamplingError, match="code letter"):
            table_plan(bad, 1.0)


# --- DA/T 31 ratio mode ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lot, ratio, pass_rate, n, ac",
    [
        (1, 0.05, 0.95, 1, 0),
        (7, 0.05, 0.95, 1, 0),
        (20, 0.05, 0.95, 1, 0),
        (21, 0.05, 0.95, 2, 0),
        (200, 0.05, 0.95, 10, 0),
        (399, 0.05, 0.95, 20, 1),
        (400, 0.05, 0.95, 20, 1),
        (200, 0.10, 0.90, 20, 2),
        (10, 1.0, 0.95, 10, 0),
    ],
)
def test_ratio_plan(lot: int, ratio: float, pass_rate: float, n: int, ac: int) -> None:
    plan = ratio_plan(lot, ratio, pass_rate)
    assert (plan.scheme, plan.n, plan.ac, plan.re) == ("dat31-ratio", n, ac, ac + 1)
    assert plan.full_inspection == (n == lot)


def test_ratio_plan_description_and_errors() -> None:
    assert ratio_plan(200).description == (
        "DA/T 31 ratio 5% of 200 items: n=10, accept when at least 95% pass (Ac=0 Re=1)"
    )
    for kwargs in ({"ratio": 0}, {"ratio": 1.5}, {"pass_rate": 0}, {"pass_rate": 1.2}):
        with pytest.raises(SamplingError):
            ratio_plan(100, **kwargs)
    with pytest.raises(SamplingError, match="at least 1"):
        ratio_plan(0)


def test_plan_from_settings() -> None:
    qc = QcSettings()
    assert plan_from_settings(qc, 200).scheme == "dat31-ratio"
    iso = QcSettings(sampling_scheme="iso2859-1", aql=2.5, inspection_level="I")
    plan = plan_from_settings(iso, 1000, "tightened")
    assert (plan.scheme, plan.severity, plan.level, plan.aql, plan.code_letter) == (
        "iso2859-1",
        "tightened",
        "I",
        "2.5",
        "G",
    )
    with pytest.raises(SamplingError, match="sampling_scheme"):
        plan_from_settings(QcSettings(sampling_scheme="dat31"), 100)


# --- Selection ---------------------------------------------------------------------------------

IDS = [f"doc-{i:04d}" for i in range(1, 1001)]


def test_sample_reproducible_and_order_independent() -> None:
    plan = iso_plan(1000, "II", 1.0)
    first = draw_sample(plan, IDS, seed=2018)
    shuffled = IDS[:]
    random.Random(5).shuffle(shuffled)
    again = draw_sample(plan, shuffled, seed=2018)
    assert first == again
    assert len(first.random) == 80 and len(set(first.random)) == 80
    assert list(first.random) == sorted(first.random)
    # the documented procedure, done here with the standard library
    assert sorted(random.Random(2018).sample(sorted(IDS), 80)) == list(first.random)
    assert draw_sample(plan, IDS, seed=2019).random != first.random


def test_critical_items_inspected_in_addition() -> None:
    plan = iso_plan(1000, "II", 1.0)
    plain = draw_sample(plan, IDS, seed=7)
    drawn_one = plain.random[0]
    not_drawn = next(item for item in IDS if item not in plain.random)
    sample = draw_sample(plan, IDS, seed=7, critical_ids=[not_drawn, drawn_one, not_drawn])
    assert sample.random == plain.random  # flagging items does not change the draw
    assert sample.critical == tuple(sorted([not_drawn, drawn_one]))
    assert sample.extra_critical == (not_drawn,)
    assert set(sample.items) == set(plain.random) | {not_drawn}
    assert len(sample.items) == 81


def test_full_inspection_sample_is_the_lot() -> None:
    plan = iso_plan(8, "II", 1.0)
    sample = draw_sample(plan, IDS[:8], seed=1)
    assert sample.random == tuple(IDS[:8])


def test_sample_errors() -> None:
    plan = iso_plan(1000, "II", 1.0)
    with pytest.raises(SamplingError, match="not unique: doc-0001"):
        draw_sample(plan, IDS + ["doc-0001"], seed=1)
    with pytest.raises(SamplingError, match="lot of 1000 items, but 999"):
        draw_sample(plan, IDS[:-1], seed=1)
    with pytest.raises(SamplingError, match="critical items not in the lot: nope"):
        draw_sample(plan, IDS, seed=1, critical_ids=["nope"])


# --- Decisions CSV -----------------------------------------------------------------------------

HEADER = "item_id,decision,defect_type,defect_class,inspector,note\n"


@pytest.fixture()
def small() -> tuple[SamplingPlan, Sample]:
    plan = ratio_plan(400)  # n=20, Ac=1, Re=2
    ids = [f"d{i:03d}" for i in range(400)]
    not_drawn = "d399" if "d399" not in draw_sample(plan, ids, seed=3).random else "d398"
    return plan, draw_sample(plan, ids, seed=3, critical_ids=[not_drawn])


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "decisions.csv"
    path.write_text(text, encoding=encoding)
    return path


def test_read_decisions(tmp_path: Path, small: tuple[SamplingPlan, Sample]) -> None:
    _, sample = small
    a, b, c = sample.random[:3]
    path = _write(
        tmp_path,
        HEADER
        + f"{a},pass,,,王芳,\n"
        + f"{b},FAIL,skew,major,王芳,页面倾斜\n"
        + f"{b},fail,blur,Minor,李强,\n"
        + f"{c},,,,,\n"
        + ",,,,,\n",
        encoding="utf-8-sig",
    )
    decisions = read_decisions(path, sample)
    assert decisions == [
        Decision(a, "pass", "", "", "王芳", ""),
        Decision(b, "fail", "skew", "major", "王芳", "页面倾斜"),
        Decision(b, "fail", "blur", "minor", "李强", ""),
    ]


@pytest.mark.parametrize(
    "rows, message",
    [
        ("{a},maybe,,,x,\n", r"row 2: column decision: 'maybe' is not pass or fail"),
        ("{a},pass,,,x,\n{unknown},pass,,,x,\n", r"row 3: column item_id: 'zzz' is not in the sample"),
        ("{a},fail,skew,,x,\n", r"row 2: column defect_class: a fail needs"),
        ("{a},fail,skew,severe,x,\n", r"row 2: column defect_class: 'severe' is not one of"),
        (",pass,,,x,\n", r"row 2: column item_id: empty"),
        ("{a},pass,,,x,,extra\n", r"row 2: more cells than header columns"),
    ],
)
def test_read_decisions_errors(tmp_path: Path, small: tuple[SamplingPlan, Sample], rows: str, message: str) -> None:
    _, sample = small
    path = _write(tmp_path, HEADER + rows.format(a=sample.random[0], unknown="zzz"))
    with pytest.raises(DecisionsError, match=message) as info:
        read_decisions(path, sample)
    assert str(path) in str(info.value)


def test_read_decisions_missing_columns_and_bad_encoding(tmp_path: Path, small: tuple[SamplingPlan, Sample]) -> None:
    _, sample = small
    path = _write(tmp_path, "item_id,decision,note\nx,pass,\n")
    with pytest.raises(DecisionsError, match="row 1: missing column.s. defect_type, defect_class, inspector"):
        read_decisions(path, sample)
    path.write_bytes(HEADER.encode() + "甲,pass,,,x,\n".encode("gb18030"))  # GBK/GB18030 is read
    with pytest.raises(DecisionsError, match="'甲' is not in the sample"):
        read_decisions(path, sample)
    path.write_text(HEADER + "x,pass,,,x,\n", encoding="utf-16")
    with pytest.raises(DecisionsError, match="UTF-16 text is not read"):
        read_decisions(path, sample)


def test_read_decisions_in_chinese(tmp_path: Path, small: tuple[SamplingPlan, Sample]) -> None:
    _, sample = small
    a, b, c, d = sample.random[:4]
    rows = (
        "档号,结论,缺陷类型,缺陷等级,检查人,备注\n"
        f"{a},合格,,,王芳,\n{b},不合格,图像歪斜,B类,王芳,\n{c},不通过,字迹太淡,A类（致命）,王芳,\n{d},通过,,,王芳,\n"
    )
    path = tmp_path / "decisions.csv"
    path.write_bytes(rows.encode("gbk"))
    assert read_decisions(path, sample) == [
        Decision(a, "pass", "", "", "王芳", ""),
        Decision(b, "fail", "skew", "major", "王芳", ""),
        Decision(c, "fail", "字迹太淡", "critical", "王芳", ""),
        Decision(d, "pass", "", "", "王芳", ""),
    ]


# --- Verdicts ----------------------------------------------------------------------------------


def _fails(items: tuple[str, ...] | list[str], defect_class: str = "major") -> list[Decision]:
    return [Decision(item, "fail", "skew", defect_class, "x") for item in items]


def _passes(items: tuple[str, ...] | list[str]) -> list[Decision]:
    return [Decision(item, "pass", inspector="x") for item in items]


def test_iso_verdict_at_ac_and_re() -> None:
    plan = iso_plan(1000, "II", 1.0)  # n=80, Ac=2, Re=3
    sample = draw_sample(plan, IDS, seed=11)
    items = sample.random
    at_ac = lot_verdict(plan, sample, _fails(items[:2]) + _passes(items[2:]))
    assert at_ac.status == "accept" and at_ac.nonconforming == items[:2]
    at_re = lot_verdict(plan, sample, _fails(items[:3]) + _passes(items[3:]))
    assert at_re.status == "reject"
    # rejection is final before everything is decided; acceptance is not
    assert lot_verdict(plan, sample, _fails(items[:3])).status == "reject"
    open_lot = lot_verdict(plan, sample, _fails(items[:2]) + _passes(items[2:79]))
    assert open_lot.status == "incomplete" and open_lot.undecided == (items[79],)


def test_ratio_verdict_is_the_pass_share(small: tuple[SamplingPlan, Sample]) -> None:
    plan, sample = small  # n=20, accept when >= 95 % pass
    items = sample.random
    assert lot_verdict(plan, sample, _fails(items[:1]) + _passes(items[1:])).status == "accept"  # 19/20
    assert lot_verdict(plan, sample, _fails(items[:2]) + _passes(items[2:])).status == "reject"  # 18/20


def test_verdict_reports_critical_items_apart(small: tuple[SamplingPlan, Sample]) -> None:
    plan, sample = small
    (extra,) = sample.extra_critical
    verdict = lot_verdict(plan, sample, _passes(sample.random) + _fails([extra], "critical"))
    assert verdict.status == "accept"  # the extra critical item is not part of the random sample
    assert verdict.critical_failed == (extra,) and verdict.nonconforming == ()
    pending = lot_verdict(plan, sample, _passes(sample.random))
    assert pending.critical_undecided == (extra,) and pending.status == "accept"


def test_verdict_per_defect_class(small: tuple[SamplingPlan, Sample]) -> None:
    plan, sample = small
    items = sample.random
    decisions = _fails(items[:2], "minor") + _passes(items[2:])
    assert lot_verdict(plan, sample, decisions).status == "reject"
    assert lot_verdict(plan, sample, decisions, defect_classes={"major"}).status == "accept"
    with pytest.raises(SamplingError, match="unknown defect class"):
        lot_verdict(plan, sample, decisions, defect_classes={"cosmetic"})


def test_verdict_errors(small: tuple[SamplingPlan, Sample]) -> None:
    plan, sample = small
    with pytest.raises(SamplingError, match="not in the sample"):
        lot_verdict(plan, sample, _passes(["elsewhere"]))
    with pytest.raises(SamplingError, match="not pass or fail"):
        lot_verdict(plan, sample, [Decision(sample.random[0], "ok")])
    with pytest.raises(SamplingError, match="plan needs 10"):
        lot_verdict(ratio_plan(200), sample, [])


def _nar(plan: SamplingPlan) -> tuple[int, int, int]:
    return plan.n, plan.ac, plan.re
