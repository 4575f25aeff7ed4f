"""档号 templates (DA/T 22-2015 and DA/T 13-2022 styles), component rules, lookalikes, file names."""

from __future__ import annotations

import unicodedata

import pytest

from digitize.settings import ArchivalCodeSettings
from metadata.archival_code import (
    ArchivalCodeError,
    CodeTemplate,
    archival_code_filename,
    find_lookalikes,
    normalize_lookalikes,
)

DAT22 = CodeTemplate(ArchivalCodeSettings())
DAT13 = CodeTemplate(ArchivalCodeSettings(template="{fonds}-{category}·{year}·{retention}·{org}-{item}"))
DAT13_3 = CodeTemplate(
    ArchivalCodeSettings(template="{fonds}-{category}·{year}·{retention}·{org}-{item}", item_digits=3)
)


def codes(issues):
    return [issue.code for issue in issues]


def test_dat22_parse_and_format_round_trip():
    code = DAT22.parse("Z109-WS·2011-Y-BGS-0001")
    assert code.parts == {
        "fonds": "Z109",
        "category": "WS",
        "year": "2011",
        "retention": "Y",
        "org": "BGS",
        "item": "0001",
    }
    assert code.item == 1
    assert DAT22.check(code.text) == []
    assert DAT22.format(**{**code.parts, "item": 1}) == "Z109-WS·2011-Y-BGS-0001"


def test_dat13_styles():
    code = DAT13.parse("Z109-WS·2011·Y·办公室-0001")
    assert code.get("org") == "办公室" and code.get("retention") == "Y"
    assert DAT13.check(code.text) == []
    code = DAT13_3.parse("A439-WS·2015·D30·003-005")
    assert code.get("org") == "003" and code.item == 5
    assert DAT13_3.check(code.text) == []
    assert DAT13_3.format(fonds="A439", category="WS", year=2015, retention="D30", org="003", item=5) == code.text


DAT13_VOLUME = CodeTemplate(
    ArchivalCodeSettings(template="{fonds}-{category}·{year}·{retention}-{volume}-{item}", item_digits=3)
)


def test_dat13_multi_level_category():
    """DA/T 13-2022: a 门类代码 with lower class levels, joined by the same "·" as the 类别号."""
    code = DAT13.parse("J019-ZY·JC·CC·2019·D30·BGS-0001")
    assert code.parts["category"] == "ZY·JC·CC"
    assert (code.get("year"), code.get("retention"), code.get("org")) == ("2019", "D30", "BGS")
    assert DAT13.check(code.text) == []
    assert DAT22.parse("J019-ZY·JC·2019-D30-BGS-0001").get("category") == "ZY·JC"
    assert DAT22.check("J019-ZY·JC·2019-D30-BGS-0001") == []
    assert codes(DAT22.check("J019-ZY·jc·2019-D30-BGS-0001")) == ["archival_code_component"]


def test_dat13_volume_code():
    """DA/T 13-2022 按卷: 全宗号-类别号-案卷号-件号."""
    code = DAT13_VOLUME.parse("J019-ZY·JC·CC·2019·D30-001-001")
    assert code.parts == {
        "fonds": "J019",
        "category": "ZY·JC·CC",
        "year": "2019",
        "retention": "D30",
        "volume": "001",
        "item": "001",
    }
    assert DAT13_VOLUME.check(code.text) == []
    issues = DAT13_VOLUME.check("J019-ZY·JC·CC·2019·D30-1-001")
    assert [i.component for i in issues] == ["volume"]


@pytest.mark.parametrize("template", [DAT22, DAT13_VOLUME])
def test_item_zero_is_refused(template):
    code = template.format(**{**template.parse(template.example()).parts, "item": 0})
    issues = template.check(code)
    assert [i.component for i in issues] == ["item"]


def test_numeric_fonds_is_accepted_by_default():
    assert DAT22.check("0194-WS·2016-D30-BGS-0001") == []
    assert [i.component for i in DAT22.check("194-WS·2016-D30-BGS-0001")] == ["fonds"]


def test_other_style_does_not_match_template():
    issues = DAT22.check("Z109-WS·2011·Y·办公室-0001")
    assert codes(issues) == ["archival_code_template"]
    assert "Z109-WS·2011-Y-BGS-0001" in issues[0].message  # shows an example of the expected form
    with pytest.raises(ArchivalCodeError):
        DAT22.parse("Z109-WS·2011·Y·办公室-0001")


@pytest.mark.parametrize(
    "code",
    ["J022-SB·2019-D100-ZJ-0001", "J022-SB·2019-D50-ZJ-0001", "J022-SB·2019-D10-ZJ-0001", "J022-SB·2019-Y-123-0001"],
)
def test_social_insurance_retention_codes_and_org_forms_pass(code):
    assert DAT22.check(code) == []


@pytest.mark.parametrize(
    ("code", "component"),
    [
        ("J22-SB·2019-Y-ZJ-0001", "fonds"),
        ("J022-SBX·2019-Y-ZJ-0001", "category"),
        ("J022-SB·19-Y-ZJ-0001", "year"),
        ("J022-SB·2019-C-ZJ-0001", "retention"),
        ("J022-SB·2019-D1000-ZJ-0001", "retention"),
        ("J022-SB·2019-Y-Z_J-0001", "org"),
        ("J022-SB·2019-Y-ZJ-00001", "item"),
    ],
)
def test_component_rules(code, component):
    issues = DAT22.check(code)
    assert codes(issues) == ["archival_code_component"]
    assert issues[0].component == component


def test_component_fixes_are_suggested():
    issues = DAT22.check("j022-sb·2019-Y-ZJ-1")
    assert sorted(i.component for i in issues) == ["category", "fonds", "item"]
    assert {i.fix for i in issues} == {"J022-SB·2019-Y-ZJ-0001"}


def test_component_patterns_are_configurable():
    template = CodeTemplate(ArchivalCodeSettings(fonds_pattern=r"[0-9]{4}"))
    assert template.check("0194-WS·2016-D30-BGS-0001") == []
    assert codes(template.check("Z109-WS·2011-Y-BGS-0001")) == ["archival_code_component"]
    letter_first = CodeTemplate(ArchivalCodeSettings(fonds_pattern=r"[A-Z]\d{3}"))
    assert codes(letter_first.check("0194-WS·2016-D30-BGS-0001")) == ["archival_code_component"]


@pytest.mark.parametrize("wrong", ["\u30fb", "\u2022", "\uff65", "\u2027", "\u2219", "\u22c5", ".", "\uff0e"])
def test_lookalike_middle_dots(wrong):
    text = f"J022-SB{wrong}2019-Y-ZJ-0005"
    issues = DAT22.check(text)
    assert codes(issues) == ["lookalike_character"]
    assert issues[0].position == 8
    assert f"U+{ord(wrong):04X}" in issues[0].message
    assert issues[0].fix == "J022-SB·2019-Y-ZJ-0005"


@pytest.mark.parametrize("wrong", ["\uff0d", "\u2014", "\u2013", "\u2010", "\u2212"])
def test_lookalike_hyphens(wrong):
    text = f"J022{wrong}SB·2019-Y-ZJ-0005"
    issues = DAT22.check(text)
    assert codes(issues) == ["lookalike_character"]
    assert issues[0].position == 5
    assert issues[0].fix == "J022-SB·2019-Y-ZJ-0005"


def test_full_width_whitespace_and_invisible_characters():
    text = " Ｊ０２２-SB·2019-Y-ZJ-0005\u200b\u3000"
    issues = DAT22.check(text)
    assert codes(issues) == [
        "unexpected_whitespace",
        *["lookalike_character"] * 4,
        "invisible_character",
        "unexpected_whitespace",
    ]
    assert [i.position for i in issues] == [1, 2, 3, 4, 5, 24, 25]
    assert {i.fix for i in issues} == {"J022-SB·2019-Y-ZJ-0005"}


def test_lookalikes_are_normalised_only_on_request():
    text = "J022-SB・2019－Y-ZJ-0005"
    with pytest.raises(ArchivalCodeError):
        DAT22.parse(text)
    assert normalize_lookalikes(text) == "J022-SB·2019-Y-ZJ-0005"
    assert len(find_lookalikes(text)) == 2
    assert find_lookalikes("J022-SB·2019-Y-ZJ-0005") == []


def test_template_separator_is_not_a_lookalike():
    dotted = CodeTemplate(ArchivalCodeSettings(template="{fonds}.{category}.{year}-{retention}-{org}-{item}"))
    assert dotted.check("J022.SB.2019-Y-ZJ-0005") == []


@pytest.mark.parametrize(
    ("template", "digits", "words"),
    [
        ("{fonds}-{box}-{item}", 4, "unknown component"),
        ("{fonds}-{category}·{year}-{retention}-{org}-{item:03d}", 4, "item_digits"),
        ("{fonds}{category}-{item}", 4, "separated"),
        ("{fonds}-{category}·{year}", 4, "{item}"),
        ("{fonds}-{fonds}-{item}", 4, "twice"),
        ("{fonds:>4}-{item}", 4, "only {item}"),
    ],
)
def test_bad_templates(template, digits, words):
    with pytest.raises(ArchivalCodeError, match=words.replace("{", r"\{").replace("}", r"\}")):
        CodeTemplate(ArchivalCodeSettings(template=template, item_digits=digits))


def test_format_requires_every_component():
    with pytest.raises(ArchivalCodeError, match="org"):
        DAT22.format(fonds="J022", category="SB", year="2019", retention="Y", item=1)


def test_filename_keeps_middle_dot_and_chinese():
    assert archival_code_filename("J022-SB·2019-Y-ZJ-0005") == "J022-SB·2019-Y-ZJ-0005"
    assert archival_code_filename("Z109-WS·2011·Y·办公室-0001") == "Z109-WS·2011·Y·办公室-0001"


def test_filename_replaces_what_some_platform_forbids():
    assert archival_code_filename('A/B\\C:D*E?F"G<H>I|J\x01K') == "A_B_C_D_E_F_G_H_I_J_K"
    assert archival_code_filename("J022-SB·2019. ") == "J022-SB·2019"
    assert archival_code_filename("CON") == "_CON"
    assert archival_code_filename("com1.2019") == "_com1.2019"
    decomposed = unicodedata.normalize("NFD", "J022-办公室-é")
    assert archival_code_filename(decomposed) == unicodedata.normalize("NFC", decomposed)


@pytest.mark.parametrize("code", ["", "  ", "...", "///", "档" * 90])
def test_filename_refuses_unusable_names(code):
    with pytest.raises(ValueError):
        archival_code_filename(code)
