"""QC review in the browser: the drawn sample with every page of each sampled document, a
decision form per document, the sign-off block, and the lot verdict as it stands.

Decisions and sign-offs go into the lot's decision record (`digitize.qc.decisions`), the same
record `digitize qc --record` adds to; the verdict shown is `digitize.qc.review`'s, judged by
the same rules as `digitize qc`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from digitize.qc.decisions import CLASS_LABELS, DECISION_LABELS, DecisionRecord, SignOff
from digitize.qc.review import LotReview, ReviewError, review
from digitize.qc.sampling import DEFECT_TYPES, Decision, SamplingError
from digitize.web.auth import context, current_user, login_required

qc = Blueprint("qc", __name__, url_prefix="/qc")
CLASS_CODES = {"A": "critical", "B": "major", "C": "minor"}
NOTE_CHARS = 500


def _source(source_id: int) -> str:
    for sid, path, _ in context().index().sources():
        if sid == source_id:
            return path
    abort(404)


def _lot(source_id: int) -> tuple[str, LotReview]:
    path = _source(source_id)
    try:
        return path, review(path)
    except ReviewError:
        abort(404)


@qc.route("/")
@login_required("inspector")
def lots() -> Any:
    rows = []
    for source_id, path, indexed in context().index().sources():
        try:
            lot: LotReview | None = review(path)
            problem = ""
        except ReviewError as exc:
            lot, problem = None, str(exc)
        rows.append({"id": source_id, "path": path, "indexed": indexed, "lot": lot, "problem": problem})
    return render_template("qc_lots.html", rows=rows)


@qc.route("/<int:source_id>")
@login_required("inspector")
def lot_page(source_id: int) -> Any:
    user = current_user()
    assert user is not None
    path, lot = _lot(source_id)
    index = context().index()
    items = []
    sample = lot.sample
    for item in sample.items if sample is not None else ():
        document = index.document_by_code(item)
        if document is not None and document.source != path:
            document = None  # the 档号 is now indexed from another lot
        visible = document is not None and document.required <= user.clearance_rank
        items.append(
            {
                "id": item,
                "info": lot.documents.get(item, {}),
                "document": document if visible else None,
                "hidden": document is not None and not visible,
                "random": sample is not None and item in sample.random,
                "critical": lot.critical.get(item, []),
                "decisions": lot.decisions_of(item),
            }
        )
    now = dt.datetime.now().astimezone()
    return render_template(
        "qc_lot.html",
        source_id=source_id,
        path=path,
        lot=lot,
        items=items,
        defect_types=DEFECT_TYPES,
        class_labels=CLASS_LABELS,
        class_codes={v: k for k, v in CLASS_CODES.items()},
        decision_labels=DECISION_LABELS,
        today=now.date().isoformat(),
        now=now.strftime("%H:%M"),
    )


@qc.route("/<int:source_id>/decision", methods=["POST"])
@login_required("inspector")
def decide(source_id: int) -> Any:
    user = current_user()
    assert user is not None
    path, lot = _lot(source_id)
    form = request.form
    item = form.get("item", "")
    if lot.sample is None or item not in lot.sample.items:
        abort(400)
    decision = form.get("decision", "")
    fail = decision == "fail"
    defect_type = form.get("defect_type", "") if fail else ""
    defect_class = CLASS_CODES.get(form.get("defect_class", ""), "") if fail else ""
    if decision not in DECISION_LABELS or (fail and (defect_type not in DEFECT_TYPES or not defect_class)):
        flash(f"{item}：请选择结论；不合格时须选缺陷类型和等级（A/B/C 类）。", "error")
        return redirect(url_for("qc.lot_page", source_id=source_id, _anchor=f"item-{item}"))
    inspector = (form.get("inspector", "").strip() or user.label)[:64]
    note = form.get("note", "").strip()[:NOTE_CHARS]
    try:
        DecisionRecord(path).add_decisions(
            [Decision(item, decision, defect_type, defect_class, inspector, note)], "web", user.name
        )
    except SamplingError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{item}：已记录为{DECISION_LABELS[decision]}。", "ok")
    return redirect(url_for("qc.lot_page", source_id=source_id, _anchor=f"item-{item}"))


@qc.route("/<int:source_id>/signoff", methods=["POST"])
@login_required("inspector")
def signoff(source_id: int) -> Any:
    user = current_user()
    assert user is not None
    path, _ = _lot(source_id)
    form = request.form
    try:
        date = dt.date.fromisoformat(form.get("date", "")).isoformat()
        time = dt.time.fromisoformat(form.get("time", "")).strftime("%H:%M")
    except ValueError:
        flash("签字日期或时间格式不正确。", "error")
        return redirect(url_for("qc.lot_page", source_id=source_id, _anchor="signoff"))
    inspector, reviewer = form.get("inspector", "").strip()[:64], form.get("reviewer", "").strip()[:64]
    if inspector and inspector == reviewer:
        flash("复核人不能与检查人为同一人。", "error")
        return redirect(url_for("qc.lot_page", source_id=source_id, _anchor="signoff"))
    try:
        DecisionRecord(path).add_signoff(SignOff(inspector, reviewer, date, time), "web", user.name)
    except SamplingError:
        flash("请填写检查人和复核人。", "error")
    else:
        flash("签字已记录。", "ok")
    return redirect(url_for("qc.lot_page", source_id=source_id, _anchor="signoff"))
