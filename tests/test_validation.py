"""Catalogue validation: every rule with a failing and a passing case, named by DA/T 70 item."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from digitize.settings import CatalogSettings, Settings
from metadata.archival_code import retention_code_for
from metadata.catalog import CatalogError, catalog_from_rows, read_catalog
from metadata.validation import RULES, validate_catalog

SAMPLE = Path(__file__).parent / "data" / "catalog" / "catalog.csv"
TODAY = dt.date(2024, 6, 1)
HEADER = [
    "序号",
    "档号",
    "文号",
    "责任者",
    "题名",
    "日期",
    "密级",
    "页数",
    "保管期限",
    "备注",
    "开放标识",
    "全宗号",
    "年度",
]
BASE = {
    "序号": "1",
    "档号": "J022-SB·2019-D100-ZJ-0001",
    "文号": "杭社保〔2019〕1号",
    "责任者": "杭州市社会保险事业管理局",
    "题名": "参保登记表",
    "日期": "20190624",
    "密级": "内部",
    "页数": "2",
    "保管期限": "100年",
    "备注": "",
    "开放标识": "控制",
    "全宗号": "J022",
    "年度": "2019",
}


def settings(**changes) -> Settings:
    return dataclasses.replace(Settings(), catalog=dataclasses.replace(CatalogSettings(), **changes))


def check(*rows: dict[str, str], config: Settings | None = None):
    """Findings for rows given as changes to BASE; row i gets 件号 i unless its 档号 is given."""
    table = [HEADER]
    for number, changes in enumerate(rows, start=1):
        row = {
            **BASE,
            "序号": str(number),
            "档号": f"J022-SB·2019-D100-ZJ-{number:04d}",
            "文号": f"杭社保〔2019〕{number}号",
            "题名": f"参保登记表{number}",
            **changes,
        }
        table.append([row[h] for h in HEADER])
    catalog = catalog_from_rows(table, config or Settings(), file="t.csv")
    return validate_catalog(catalog, config or Settings(), today=TODAY)


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def test_clean_row_passes_every_rule():
    assert check({}, {}, {}) == []


def test_every_rule_has_an_item_and_a_default_severity():
    for code, rule in RULES.items():
        assert rule.severity in ("error", "warning"), code
        assert rule.item_id.count("-") == 1, code


def test_finding_fields():
    [finding] = check({"日期": "2019-06-24"})
    assert finding.item_id == "1-3" and finding.code == "date_format" and finding.severity == "error"
    assert (finding.file, finding.row, finding.column) == ("t.csv", 2, "日期")
    assert finding.archival_code == "J022-SB·2019-D100-ZJ-0001"
    assert "YYYYMMDD" in finding.message


# 1-2 length
def test_field_length():
    assert codes(check({"题名": "长" * 501})) == ["field_too_long"]
    assert check({"题名": "长" * 500}) == []
    found = check({"题名": "长" * 11, "备注": "四个字啊"}, config=settings(max_lengths={"title": 10, "remarks": 3}))
    assert [(f.code, f.column) for f in found] == [("field_too_long", "题名"), ("field_too_long", "备注")]
    found = check({}, config=settings(max_lengths={"*": 6}))  # fields without their own limit
    assert [(f.code, f.column) for f in found] == [("field_too_long", "日期")]


# 1-3 type and format
@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"日期": "2019624"}, "date_format"),
        ({"日期": "20190230"}, "date_format"),
        ({"日期": "2019年6月24日"}, "date_format"),
        ({"页数": "0"}, "pages_format"),
        ({"页数": "2页"}, "pages_format"),
        ({"页数": "２"}, "pages_format"),
        ({"年度": "19"}, "year_format"),
        ({"序号": "一"}, "sequence_format"),
        ({"题名": "参保登记表 "}, "surrounding_whitespace"),
    ],
)
def test_format_failures(changes, code):
    assert code in codes(check(changes))


def test_format_passes():
    leap_day = {"日期": "20200229", "档号": "J022-SB·2020-D100-ZJ-0001", "年度": "2020"}
    assert check({**leap_day, "页数": "120", "序号": "7"}) == []


def test_unknown_month_or_day_only_when_configured():
    partial = settings(unknown_date_parts=True)
    for value in ("20190600", "20190000"):
        assert codes(check({"日期": value})) == ["date_format"]
        assert check({"日期": value}, config=partial) == []
    assert codes(check({"日期": "20191300"}, config=partial)) == ["date_format"]
    assert codes(check({"日期": "20180000"}, config=partial)) == ["date_year_mismatch"]


# 1-4 value domains
@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"保管期限": "长期", "档号": "J022-SB·2019-Y-ZJ-0001"}, "retention_value"),
        ({"保管期限": "20年", "档号": "J022-SB·2019-D20-ZJ-0001"}, "retention_value"),
        ({"密级": "保密"}, "security_value"),
        ({"密级": "内部★10年"}, "security_value"),
        ({"密级": "机密*10年"}, "security_value"),
        ({"开放标识": "公开"}, "open_status_value"),
    ],
)
def test_domain_failures(changes, code):
    assert code in codes(check(changes))


@pytest.mark.parametrize(
    ("retention", "code"),
    [
        ("永久", "Y"),
        ("100年", "D100"),
        ("50年", "D50"),
        ("30年", "D30"),
        ("10年", "D10"),
        ("定期30年", "D30"),
        ("定期10年", "D10"),
    ],
)
def test_social_insurance_retention_scale_passes(retention, code):
    assert retention_code_for(retention) == code
    assert check({"保管期限": retention, "档号": f"J022-SB·2019-{code}-ZJ-0001"}) == []


@pytest.mark.parametrize(
    "security", ["公开", "内部", "限制", "秘密", "机密", "绝密", "机密★10年", "秘密★5年", "绝密★长期"]
)
def test_security_values_pass(security):
    assert check({"密级": security}) == []


def test_retention_code_outside_vocabulary():
    found = check({"档号": "J022-SB·2019-D20-ZJ-0001", "保管期限": ""})
    assert "retention_code_value" in codes(found)
    legacy = settings(retention_values=("永久", "长期", "短期", "20年"))
    assert check({"档号": "J022-SB·2019-D20-ZJ-0001", "保管期限": "20年"}, config=legacy) == []


# 1-5 plausibility
def test_date_year_against_archival_code_year():
    assert codes(check({"日期": "20181231"})) == ["date_year_mismatch"]
    assert check({"日期": "20191231"}) == []


def test_date_in_future():
    assert "date_in_future" in codes(check({"日期": "20240602", "档号": "J022-SB·2024-D100-ZJ-0001", "年度": "2024"}))
    assert check({"日期": "20240601", "档号": "J022-SB·2024-D100-ZJ-0001", "年度": "2024"}) == []


def test_retention_against_archival_code():
    found = check({"保管期限": "30年"})
    assert codes(found) == ["retention_mismatch"]
    assert "D30" in found[0].message and "D100" in found[0].message
    assert check({"保管期限": "100年"}) == []


@pytest.mark.parametrize("changes", [{"全宗号": "J023"}, {"年度": "2018"}])
def test_columns_against_archival_code(changes):
    assert "code_field_mismatch" in codes(check(changes))


# 1-6 special characters
@pytest.mark.parametrize("title", ["参保\x07登记表", "参保\ue000登记表", "参保\u200b登记表", "参保\ufffd登记表"])
def test_unprintable_characters(title):
    found = check({"题名": title})
    assert codes(found) == ["unprintable_char"]
    assert "position 3" in found[0].message


def test_special_character_list():
    assert codes(check({"题名": "※参保登记表"})) == ["special_char"]
    assert check({"题名": "※参保登记表"}, config=settings(special_characters="〓")) == []


def test_xml_special_characters_are_not_special():
    assert check({"题名": '关于<社会保险>档案 & "整理"的通知'}) == []


def test_lookalike_separators_in_archival_code():
    found = check({"档号": "J022-SB・2019－D100-ZJ-0001"})
    assert codes(found) == ["lookalike_character", "lookalike_character"]
    assert {f.item_id for f in found} == {"1-6"}
    assert "position 8" in found[0].message and "J022-SB·2019-D100-ZJ-0001" in found[0].message
    assert codes(check({"档号": " J022-SB·2019-D100-ZJ-0001"})) == ["unexpected_whitespace"]


# 1-7 档号 conformity
def test_archival_code_conformity():
    assert codes(check({"档号": "J022-SB·2019·D100·ZJ-0001"})) == ["archival_code_template"]
    found = check({"档号": "J022-SB·2019-D100-ZJ-1"})
    assert codes(found) == ["archival_code_component"]
    assert found[0].item_id == "1-7" and "J022-SB·2019-D100-ZJ-0001" in found[0].message


def test_dat13_template_from_profile():
    config = dataclasses.replace(
        settings(),
        archival_code=dataclasses.replace(
            Settings().archival_code, template="{fonds}-{category}·{year}·{retention}·{org}-{item}"
        ),
    )
    assert check({"档号": "J022-SB·2019·D100·ZJ-0001"}, config=config) == []


# 1-8 duplicates
def test_duplicate_archival_code():
    found = check({}, {"档号": "J022-SB·2019-D100-ZJ-0001"})
    assert "duplicate_archival_code" in codes(found)
    assert [f.row for f in found if f.code == "duplicate_archival_code"] == [3]
    found = check({}, {"档号": "J022-SB・2019-D100-ZJ-0001"})  # same after fixing the lookalike
    assert "duplicate_archival_code" in codes(found)


def test_duplicate_document_number_and_title_are_warnings():
    found = check({}, {"文号": "杭社保〔2019〕1号", "题名": "参保登记表1"})
    assert {(f.code, f.severity, f.row) for f in found} == {
        ("duplicate_document_number", "warning", 3),
        ("duplicate_title", "warning", 3),
    }


# 2-4 required fields
@pytest.mark.parametrize("column", ["档号", "题名", "日期", "责任者", "保管期限"])
def test_required_fields(column):
    found = [f for f in check({column: " "}) if f.code == "required_missing"]
    assert [(f.item_id, f.column) for f in found] == [("2-4", column)]


def test_open_status_is_required():
    config = settings(required_fields=("archival_code", "title", "open_status"))
    assert codes(check({"开放标识": ""}, config=config)) == ["required_missing"]
    assert codes(check({"开放标识": ""})) == ["open_status_missing"]
    assert codes(check({"开放标识": ""}, config=settings(open_status_default="未审核"))) == ["open_status_default"]


# 2-6 件号 continuity
def test_item_gap_and_duplicate():
    found = check({}, {"档号": "J022-SB·2019-D100-ZJ-0004"}, {"档号": "J022-SB·2019-D100-ZJ-0004"})
    gap = [f for f in found if f.code == "item_gap"]
    assert len(gap) == 1 and "0002–0003" in gap[0].message and gap[0].item_id == "2-6"
    assert [f.row for f in found if f.code == "item_duplicate"] == [4]


def test_item_sequence_starts_at_configured_number():
    assert codes(check({"档号": "J022-SB·2019-D100-ZJ-0002"})) == ["item_gap"]
    assert check({"档号": "J022-SB·2019-D100-ZJ-0002"}, config=settings(item_start=2)) == []
    # 件号 0000 is no 件号 at all (DA/T 13-2022), not merely early in the sequence
    found = check({"档号": "J022-SB·2019-D100-ZJ-0000"})
    assert sorted(codes(found)) == ["archival_code_component", "item_gap"]
    assert [f.item_id for f in found if f.code == "archival_code_component"] == ["1-7"]


def test_volume_codes_number_items_per_volume():
    """DA/T 13-2022 按卷: 件号 restart in each volume; the default grouping follows the template."""
    volume = dataclasses.replace(
        Settings(),
        archival_code=dataclasses.replace(
            Settings().archival_code,
            template="{fonds}-{category}·{year}·{retention}-{volume}-{item}",
            item_digits=3,
        ),
    )
    rows = [
        {"档号": "J019-ZY·JC·CC·2019·D30-001-001", "保管期限": "30年", "全宗号": "J019"},
        {"档号": "J019-ZY·JC·CC·2019·D30-001-002", "保管期限": "30年", "全宗号": "J019"},
        {"档号": "J019-ZY·JC·CC·2019·D30-002-001", "保管期限": "30年", "全宗号": "J019"},
    ]
    assert check(*rows, config=volume) == []
    rows[2]["档号"] = "J019-ZY·JC·CC·2019·D30-002-002"
    assert codes(check(*rows, config=volume)) == ["item_gap"]


def test_item_groups():
    rows = ({}, {"档号": "J022-SB·2019-D100-DY-0001"})  # a second group also starting at 0001
    assert check(*rows) == []
    found = check(*rows, config=settings(item_group_by=("fonds", "category", "year")))
    assert codes(found) == ["item_duplicate"]
    with pytest.raises(ValueError, match="item_group_by"):
        check({}, config=settings(item_group_by=("box",)))


# severities from the profile
def test_severity_overrides():
    rows = ({"日期": "20181231"},)
    assert check(*rows, config=settings(severities={"date_year_mismatch": "error"}))[0].severity == "error"
    assert check(*rows, config=settings(severities={"1-5": "off"})) == []
    with pytest.raises(ValueError, match="unknown rule"):
        check(*rows, config=settings(severities={"date_years": "error"}))
    with pytest.raises(ValueError, match="error, warning or off"):
        check(*rows, config=settings(severities={"1-5": "fatal"}))


def test_sample_catalogue():
    """The sample catalogue has no 开放标识 column: every row is reported (DA/T 18-2022 必著),
    unless the profile names a default, whose use is reported too."""
    catalog = read_catalog(SAMPLE, Settings())
    found = validate_catalog(catalog, Settings(), today=TODAY)
    # the sample numbers 件号 across the year, not within retention/机构 groups
    assert set(codes(found)) == {"item_gap", "open_status_missing"}
    assert len([f for f in found if f.code == "open_status_missing" and f.severity == "error"]) == len(catalog.records)
    by_year = settings(item_group_by=("fonds", "category", "year"), open_status_default="控制")
    catalog = read_catalog(SAMPLE, by_year)
    assert {r.get("open_status") for r in catalog.records} == {"控制"}
    found = validate_catalog(catalog, by_year, today=TODAY)
    assert {(f.code, f.severity) for f in found} == {("open_status_default", "warning")}
    with pytest.raises(CatalogError, match="open_status_default"):
        read_catalog(SAMPLE, settings(open_status_default="公开"))  # not a 开放标识 value
