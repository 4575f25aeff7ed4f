"""Catalogue validation, each rule named by its DA/T 70-2018 check item.

A `Finding` carries the bare item number ("1-7"); whoever reports it adds the stage prefix
(GD 归档, YJ 移交与接收, BC 长期保存). Every rule has a stable machine code (`RULES`) and a
default severity; the profile's ``catalog.severities`` maps a code or an item number to
"error", "warning" or "off".

Items covered here: 1-2 length, 1-3 type/format, 1-4 value domains, 1-5 plausibility,
1-6 special characters, 1-7 档号 conformity, 1-8 duplicates, 2-4 required fields,
2-6 件号 continuity. The 数据挂接 items (1-11, 2-11) are produced by `metadata.linking`
and registered here so one severity table covers both.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digitize.settings import CatalogSettings, Settings
from metadata.archival_code import (
    ArchivalCode,
    ArchivalCodeError,
    CodeTemplate,
    normalize_lookalikes,
    retention_code_for,
)
from metadata.catalog import LABELS, Catalog, CatalogRecord
from metadata.dates import parse_date

SEVERITIES = ("error", "warning", "off")


@dataclass(frozen=True)
class Rule:
    item_id: str  # DA/T 70 item, without the GD/YJ/BC stage prefix
    severity: str  # default: error | warning
    summary: str


RULES: dict[str, Rule] = {
    "field_too_long": Rule("1-2", "warning", "value longer than the field's limit"),
    "date_format": Rule("1-3", "error", "日期 is not a YYYYMMDD calendar date"),
    "pages_format": Rule("1-3", "error", "页数 is not a positive integer"),
    "year_format": Rule("1-3", "error", "年度 is not four digits"),
    "sequence_format": Rule("1-3", "error", "序号 is not a positive integer"),
    "surrounding_whitespace": Rule("1-3", "warning", "value starts or ends with whitespace"),
    "retention_value": Rule("1-4", "error", "保管期限 outside the vocabulary"),
    "security_value": Rule("1-4", "error", "密级 outside the vocabulary"),
    "open_status_value": Rule("1-4", "error", "开放标识 outside the vocabulary"),
    "retention_code_value": Rule("1-4", "error", "档号 retention code matches no 保管期限 value"),
    "date_year_mismatch": Rule("1-5", "warning", "日期 year differs from the 档号 年度"),
    "date_in_future": Rule("1-5", "error", "日期 lies in the future"),
    "retention_mismatch": Rule("1-5", "error", "保管期限 differs from the 档号 retention code"),
    "code_field_mismatch": Rule("1-5", "error", "a column differs from the same component of the 档号"),
    "unprintable_char": Rule("1-6", "error", "control, invisible, private-use or replacement character"),
    "special_char": Rule("1-6", "warning", "character from the special-character list"),
    "lookalike_character": Rule("1-6", "error", "档号 has a lookalike separator or full-width character"),
    "unexpected_whitespace": Rule("1-6", "error", "档号 contains whitespace"),
    "invisible_character": Rule("1-6", "error", "档号 contains an invisible character"),
    "archival_code_template": Rule("1-7", "error", "档号 does not follow the template"),
    "archival_code_component": Rule("1-7", "error", "档号 component breaks its rule"),
    "duplicate_archival_code": Rule("1-8", "error", "档号 used by more than one row"),
    "duplicate_document_number": Rule("1-8", "warning", "文号 used by more than one row"),
    "duplicate_title": Rule("1-8", "warning", "题名 used by more than one row"),
    "required_missing": Rule("2-4", "error", "required (必著) field is empty"),
    "open_status_missing": Rule(
        "2-4", "error", "开放标识 (DA/T 18-2022 必著) is empty and the profile sets no default"
    ),
    "open_status_default": Rule("2-4", "warning", "开放标识 taken from the profile's default"),
    "item_gap": Rule("2-6", "warning", "件号 sequence has a gap or starts late"),
    "item_duplicate": Rule("2-6", "error", "件号 used twice in one group"),
    # 数据挂接, produced by metadata.linking
    "row_without_scan": Rule("1-11", "error", "catalogue row has no scanned document"),
    "scan_without_row": Rule("1-11", "error", "scanned document has no catalogue row"),
    "ambiguous_link": Rule("1-11", "error", "one 档号 matches several rows or documents"),
    "linked_after_normalising": Rule("1-11", "warning", "linked only after fixing lookalike characters"),
    "missing_page": Rule("2-11", "error", "gap in the page image numbering"),
    "page_count_mismatch": Rule("2-11", "error", "页数 differs from the number of page images"),
    "duplicate_slot": Rule("2-11", "error", "two page images with the same number"),
}

# Character limits when the profile sets none (local practice; no standard fixes them).
DEFAULT_MAX_LENGTHS = {"*": 500, "archival_code": 50, "document_number": 50, "author": 200}
DATE_FIELDS = ("date", "description_date")
SECRET_LEVELS = ("秘密", "机密", "绝密")  # GB/T 7156: these carry a period mark, e.g. 机密★10年
# Catalogue columns that repeat a 档号 component (1-5 plausibility).
CODE_COLUMNS = ("fonds", "category", "year", "org", "volume", "item")


@dataclass(frozen=True)
class Finding:
    item_id: str  # DA/T 70 item, e.g. "1-7"
    severity: str  # error | warning
    code: str  # stable machine code, a key of RULES
    message: str
    file: str = ""
    row: int | None = None  # spreadsheet row; the header is row 1
    column: str = ""  # header as written in the catalogue
    archival_code: str = ""
    document: str = ""  # scanned document key (数据挂接 findings)


class Reporter:
    """Collects findings, applying the profile's severities (and dropping rules set to off)."""

    def __init__(self, settings: CatalogSettings, file: str = ""):
        self.file = file
        self.findings: list[Finding] = []
        self._overrides = _checked_overrides(settings.severities)

    def severity(self, code: str) -> str:
        rule = RULES[code]
        return self._overrides.get(code) or self._overrides.get(rule.item_id) or rule.severity

    def add(
        self,
        code: str,
        message: str,
        *,
        row: int | None = None,
        column: str = "",
        archival_code: str = "",
        document: str = "",
    ) -> None:
        severity = self.severity(code)
        if severity == "off":
            return
        self.findings.append(
            Finding(
                RULES[code].item_id,
                severity,
                code,
                message,
                self.file,
                row,
                column,
                archival_code,
                document,
            )
        )


def _checked_overrides(overrides: Mapping[str, str]) -> dict[str, str]:
    items = {rule.item_id for rule in RULES.values()}
    for key, value in overrides.items():
        if key not in RULES and key not in items:
            raise ValueError(f"catalog.severities: unknown rule {key!r} (a rule code or DA/T 70 item)")
        if value not in SEVERITIES:
            raise ValueError(f"catalog.severities: {key} must be error, warning or off, not {value!r}")
    return dict(overrides)


def validate_catalog(catalog: Catalog, settings: Settings, today: dt.date | None = None) -> list[Finding]:
    """All findings for a catalogue, in row order."""
    config = settings.catalog
    template = CodeTemplate(settings.archival_code)
    report = Reporter(config, catalog.file)
    today = today or dt.date.today()
    parsed: dict[int, ArchivalCode] = {}
    for record in catalog.records:
        code = parse_normalised(template, record.get("archival_code"))
        if code is not None:
            parsed[record.row] = code
        _check_lengths(record, catalog, config, report)
        _check_formats(record, catalog, config, report)
        _check_domains(record, catalog, config, code, report)
        _check_plausibility(record, catalog, config, code, today, report)
        _check_characters(record, catalog, config, report)
        _check_archival_code(record, catalog, template, report)
        _check_required(record, catalog, config, report)
        _check_open_status(record, catalog, config, report)
    _check_duplicates(catalog, template, report)
    _check_continuity(catalog, template, config, parsed, report)
    return sorted(report.findings, key=lambda f: f.row or 0)


def parse_normalised(template: CodeTemplate, text: str) -> ArchivalCode | None:
    """The 档号's components as meant (lookalikes fixed), or None when it has no structure.
    Conformity itself is reported by the 1-6/1-7 rules; this only feeds the other rules."""
    try:
        return template.parse(normalize_lookalikes(text, allowed=template.separators))
    except ArchivalCodeError:
        return None


def _values(record: CatalogRecord) -> list[tuple[str, str, str]]:
    """(field name or header, column label, value) for every cell of the row."""
    return [
        *((name, name, value) for name, value in record.fields.items()),
        *((header, header, value) for header, value in record.extra.items()),
    ]


def _check_lengths(record: CatalogRecord, catalog: Catalog, config: CatalogSettings, report: Reporter) -> None:
    limits = {**DEFAULT_MAX_LENGTHS, **config.max_lengths}
    for name, _, value in _values(record):
        limit = limits.get(name, limits["*"])
        if len(value) > limit:
            report.add(
                "field_too_long",
                f"{_label(name)} has {len(value)} characters; the limit is {limit}",
                row=record.row,
                column=catalog.column(name),
                archival_code=record.get("archival_code"),
            )


def _check_formats(record: CatalogRecord, catalog: Catalog, config: CatalogSettings, report: Reporter) -> None:
    where: dict[str, Any] = {"row": record.row, "archival_code": record.get("archival_code")}
    for name, _, value in _values(record):
        if name != "archival_code" and value != value.strip() and value.strip():
            report.add(
                "surrounding_whitespace",
                f"{_label(name)} {value!r} starts or ends with whitespace",
                column=catalog.column(name),
                **where,
            )
    for name in DATE_FIELDS:
        value = record.get(name).strip()
        date = parse_date(value) if value else None
        if value and not (date and (date.complete or config.unknown_date_parts)):
            reason = "is not a calendar date" if re.fullmatch(r"\d{8}", value) else "is not YYYYMMDD (e.g. 20191016)"
            report.add("date_format", f"{_label(name)} {value!r} {reason}", column=catalog.column(name), **where)
    for name, code in (("pages", "pages_format"), ("sequence", "sequence_format")):
        value = record.get(name).strip()
        if value and not (value.isascii() and value.isdigit() and int(value) > 0):
            report.add(
                code, f"{_label(name)} {value!r} is not a positive whole number", column=catalog.column(name), **where
            )
    year = record.get("year").strip()
    if year and not re.fullmatch(r"[0-9]{4}", year):
        report.add("year_format", f"年度 {year!r} is not four digits", column=catalog.column("year"), **where)


def _check_domains(
    record: CatalogRecord, catalog: Catalog, config: CatalogSettings, code: ArchivalCode | None, report: Reporter
) -> None:
    where: dict[str, Any] = {"row": record.row, "archival_code": record.get("archival_code")}
    retention = record.get("retention").strip()
    if retention and retention not in config.retention_values:
        report.add(
            "retention_value",
            f"保管期限 {retention!r} is not one of {'/'.join(config.retention_values)}",
            column=catalog.column("retention"),
            **where,
        )
    security = record.get("security").strip()
    if security and not _security_ok(security, config.security_values):
        report.add(
            "security_value",
            f"密级 {security!r} is not one of {'/'.join(config.security_values)} (a period is written 机密★10年)",
            column=catalog.column("security"),
            **where,
        )
    status = record.get("open_status").strip()
    if status and status not in config.open_status_values:
        report.add(
            "open_status_value",
            f"开放标识 {status!r} is not one of {'/'.join(config.open_status_values)}",
            column=catalog.column("open_status"),
            **where,
        )
    retention_code = code.get("retention") if code else None
    if retention_code and re.fullmatch(r"Y|D[0-9]+", retention_code):
        if not any(retention_code_for(term) == retention_code for term in config.retention_values):
            report.add(
                "retention_code_value",
                f"档号 retention code {retention_code!r} matches no 保管期限 value "
                f"({'/'.join(config.retention_values)})",
                column=catalog.column("archival_code"),
                **where,
            )


def _security_ok(value: str, vocabulary: tuple[str, ...]) -> bool:
    level, star, period = value.partition("★")
    if level not in vocabulary:
        return False
    return not star or (level in SECRET_LEVELS and re.fullmatch(r"[0-9]+年|长期", period) is not None)


def _check_plausibility(
    record: CatalogRecord,
    catalog: Catalog,
    config: CatalogSettings,
    code: ArchivalCode | None,
    today: dt.date,
    report: Reporter,
) -> None:
    where: dict[str, Any] = {"row": record.row, "archival_code": record.get("archival_code")}
    value = record.get("date").strip()
    parsed = parse_date(value)
    date = parsed.as_date() if parsed else None
    if date is not None and date > today:
        report.add(
            "date_in_future", f"日期 {value} is after today ({today:%Y%m%d})", column=catalog.column("date"), **where
        )
    if code is None:
        return
    known_year = parsed is not None and (parsed.complete or config.unknown_date_parts)
    if known_year and code.get("year") and value[:4] != code.get("year"):
        report.add(
            "date_year_mismatch",
            f"日期 {value} is not in the 档号 年度 {code.get('year')}",
            column=catalog.column("date"),
            **where,
        )
    term = record.get("retention").strip()
    expected = retention_code_for(term)
    if expected and code.get("retention") and expected != code.get("retention"):
        report.add(
            "retention_mismatch",
            f"保管期限 {term!r} needs retention code {expected} but the 档号 has {code.get('retention')}",
            column=catalog.column("retention"),
            **where,
        )
    for name in CODE_COLUMNS:
        value = record.get(name).strip()
        in_code = code.get(name)
        if not value or in_code is None or _same_component(name, value, in_code):
            continue
        report.add(
            "code_field_mismatch",
            f"{_label(name)} column says {value!r} but the 档号 has {in_code!r}",
            column=catalog.column(name),
            **where,
        )


def _same_component(name: str, value: str, in_code: str) -> bool:
    if name in ("item", "volume") and value.isdigit() and in_code.isdigit():
        return int(value) == int(in_code)
    if name == "org" and not re.fullmatch(r"[A-Za-z0-9]+", value):
        return True  # 机构或问题 written as a name (办公室) while the 档号 has its code (BGS)
    return value == in_code


def _check_characters(record: CatalogRecord, catalog: Catalog, config: CatalogSettings, report: Reporter) -> None:
    for name, _, value in _values(record):
        if name == "archival_code":
            continue  # judged character by character in _check_archival_code
        where: dict[str, Any] = {
            "row": record.row,
            "column": catalog.column(name),
            "archival_code": record.get("archival_code"),
        }
        bad = [(i + 1, ch) for i, ch in enumerate(value) if _unprintable(ch)]
        if bad:
            report.add("unprintable_char", f"{_label(name)} has {_list_chars(bad)}", **where)
        if name == "security":
            continue  # ★ belongs in 密级 (机密★10年); its vocabulary rule judges it
        special = [(i + 1, ch) for i, ch in enumerate(value) if ch in config.special_characters]
        if special:
            report.add("special_char", f"{_label(name)} has special {_list_chars(special)}", **where)


def _unprintable(ch: str) -> bool:
    return ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn")


def _list_chars(found: list[tuple[int, str]]) -> str:
    shown = ", ".join(f"U+{ord(ch):04X} at position {pos}" for pos, ch in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return f"character{'s' if len(found) > 1 else ''} {shown}{more}"


def _check_archival_code(record: CatalogRecord, catalog: Catalog, template: CodeTemplate, report: Reporter) -> None:
    text = record.get("archival_code")
    if not text.strip():
        return  # required_missing reports it
    for issue in template.check(text):
        fix = f"; suggested: {issue.fix}" if issue.fix and issue.fix != text else ""
        report.add(
            issue.code,
            f"档号 {text!r}: {issue.message}{fix}",
            row=record.row,
            column=catalog.column("archival_code"),
            archival_code=text,
        )


def _check_required(record: CatalogRecord, catalog: Catalog, config: CatalogSettings, report: Reporter) -> None:
    for name in config.required_fields:
        if not record.get(name).strip():
            report.add(
                "required_missing",
                f"{_label(name)} is required (DA/T 18 必著) but empty",
                row=record.row,
                column=catalog.column(name),
                archival_code=record.get("archival_code"),
            )


def _check_open_status(record: CatalogRecord, catalog: Catalog, config: CatalogSettings, report: Reporter) -> None:
    """开放标识 is 必著: empty is an error (unless `required_fields` reports it already); a value
    the profile's default filled in is reported, so nobody takes it for the catalogue's own."""
    if record.row in catalog.defaulted.get("open_status", []):
        code, message = (
            "open_status_default",
            f"开放标识 empty; the profile's default {config.open_status_default} applies",
        )
    elif not record.get("open_status").strip() and "open_status" not in config.required_fields:
        code = "open_status_missing"
        message = "开放标识 is required (DA/T 18-2022 必著) but empty; fill it in, or set [catalog] open_status_default"
    else:
        return
    report.add(
        code,
        message,
        row=record.row,
        column=catalog.column("open_status"),
        archival_code=record.get("archival_code"),
    )


def _check_duplicates(catalog: Catalog, template: CodeTemplate, report: Reporter) -> None:
    checks = (
        ("archival_code", "duplicate_archival_code"),
        ("document_number", "duplicate_document_number"),
        ("title", "duplicate_title"),
    )
    for name, code in checks:
        first: dict[str, CatalogRecord] = {}
        for record in catalog.records:
            value = record.get(name).strip()
            key = normalize_lookalikes(value, allowed=template.separators) if name == "archival_code" else value
            if not key:
                continue
            if key not in first:
                first[key] = record
                continue
            earlier = first[key]
            note = "" if earlier.get(name).strip() == value else f" (written {earlier.get(name).strip()!r} there)"
            report.add(
                code,
                f"{_label(name)} {value!r} is also on row {earlier.row}{note}",
                row=record.row,
                column=catalog.column(name),
                archival_code=record.get("archival_code"),
            )


def _check_continuity(
    catalog: Catalog,
    template: CodeTemplate,
    config: CatalogSettings,
    parsed: dict[int, ArchivalCode],
    report: Reporter,
) -> None:
    group_by = config.item_group_by or tuple(name for name in template.fields if name != "item")
    unknown = [name for name in group_by if name not in template.fields or name == "item"]
    if unknown:
        raise ValueError(f"catalog.item_group_by: {', '.join(unknown)} not a 档号 component other than item")
    groups: dict[tuple[str, ...], list[tuple[int, int, str]]] = defaultdict(list)
    for record in catalog.records:
        code = parsed.get(record.row)
        if code is None or code.item is None:
            continue
        key = tuple(code.parts[name] for name in group_by)
        groups[key].append((code.item, record.row, record.get("archival_code")))
    width = template.item_digits
    for key, entries in groups.items():
        group = "/".join(key) or "(all)"
        expected = config.item_start
        seen: dict[int, int] = {}
        for item, row, text in sorted(entries):
            where: dict[str, Any] = {"row": row, "column": catalog.column("archival_code"), "archival_code": text}
            if item in seen:
                report.add(
                    "item_duplicate", f"件号 {item:0{width}d} in group {group} is also on row {seen[item]}", **where
                )
                continue
            seen[item] = row
            if item < config.item_start:
                report.add(
                    "item_gap",
                    f"件号 {item:0{width}d} in group {group} is below the first number {config.item_start:0{width}d}",
                    **where,
                )
            elif item > expected:
                missing = f"{expected:0{width}d}" + (f"–{item - 1:0{width}d}" if item - 1 > expected else "")
                report.add("item_gap", f"件号 {missing} missing before {item:0{width}d} in group {group}", **where)
            expected = max(expected, item + 1)


def _label(name: str) -> str:
    return LABELS.get(name, name)
