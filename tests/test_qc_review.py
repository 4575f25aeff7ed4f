"""The shared decision record: `qc --record`, the web review and later `qc` runs all keep it."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from digitize.qc.data import QcRequest
from digitize.qc.decisions import RECORD, DecisionRecord, SignOff
from digitize.qc.plans import SamplingError
from digitize.qc.review import ReviewError, review
from digitize.qc.run import judge_recorded, prepare, write_outputs
from digitize.qc.sampling import Decision
from digitize.settings import load_settings
from tests.conftest import QC_PROFILE


@pytest.fixture(scope="module")
def checked(clean_lot, tmp_path_factory) -> Path:
    """The clean sample lot after a `qc` run, no decisions yet."""
    out = tmp_path_factory.mktemp("checked") / "out"
    shutil.copytree(clean_lot, out)
    outcome = prepare(QcRequest(out, load_settings(QC_PROFILE), jobs=2, verify_masters=False))
    judge_recorded(outcome)
    write_outputs(outcome, thumbnails=False)
    return out


@pytest.fixture()
def lot(checked, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(checked, out)
    return out


def test_review_verdict_follows_each_saved_decision(lot):
    first = review(lot)
    assert first.sample is not None and first.lot is None
    items = first.sample.items
    assert items and first.verdict == "pending"  # the automated checks of the clean lot pass
    record = DecisionRecord(lot)
    random_item = first.sample.random[0]
    record.add_decisions([Decision(random_item, "fail", "illegible", "major", "王芳", "第2页模糊")], "web", "wang")
    failed = review(lot)
    assert failed.lot is not None and failed.lot.status == "reject" and failed.verdict == "fail"
    record.add_decisions([Decision(random_item, "pass", inspector="王芳")], "web", "wang")
    again = review(lot)
    assert again.decisions_of(random_item) == [Decision(random_item, "pass", inspector="王芳")]
    assert again.lot is not None and again.lot.status == "accept" and again.verdict == "pass"
    assert [e["decision"] for e in record.entries() if e["kind"] == "decision"] == ["fail", "pass"]  # history kept


def test_a_later_qc_run_keeps_every_decision(lot):
    items = review(lot).sample.items
    DecisionRecord(lot).add_decisions([Decision(i, "pass", inspector="李明") for i in items], "web", "li")
    outcome = prepare(QcRequest(lot, load_settings(QC_PROFILE), jobs=2, verify_masters=False))  # the next `qc` run
    judge_recorded(outcome)
    write_outputs(outcome, thumbnails=False)
    assert outcome.lot is not None and outcome.lot.status == "accept"
    assert outcome.decisions_source == RECORD
    with (lot / "qc" / "sample.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["item_id"]: row["decision"] for row in rows} == {item: "pass" for item in items}
    report = json.loads((lot / "qc" / "report.json").read_text(encoding="utf-8"))
    assert report["sampling"]["status"] == "accept"
    assert review(lot).verdict == outcome.verdict


def test_qc_record_adds_to_the_same_record(lot, tmp_path):
    items = review(lot).sample.items
    filled = tmp_path / "filled.csv"
    with filled.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "decision", "defect_type", "defect_class", "inspector", "note"])
        writer.writerows([item, "pass", "", "", "赵六", ""] for item in items)
    result = CliRunner().invoke(
        main,
        [
            "qc",
            str(lot),
            "--record",
            str(filled),
            "--no-masters",
            "--jobs",
            "2",
            "--json",
            "--profile",
            str(QC_PROFILE),
        ],
    )
    assert json.loads(result.output)["sampling"]["status"] == "accept"
    entries = DecisionRecord(lot).entries()
    assert {e["item_id"] for e in entries} == set(items) and entries[0]["source"] == f"file {filled}"
    assert review(lot).lot.status == "accept"


def test_signoff_and_bad_input(lot, tmp_path):
    record = DecisionRecord(lot)
    record.add_signoff(SignOff("王芳", "李明", "2024-05-01", "14:30"), "web", "wang")
    signed = review(lot).signoff
    assert signed is not None and (signed.inspector, signed.reviewer, signed.time) == ("王芳", "李明", "14:30")
    with pytest.raises(SamplingError):
        record.add_decisions([Decision("x", "fail", "illegible", "", "王芳")], "web", "wang")
    with pytest.raises(SamplingError):
        record.add_signoff(SignOff("王芳", " ", "2024-05-01", "14:30"), "web", "wang")
    with pytest.raises(ReviewError):
        review(tmp_path)
