"""Metadata exports: every format validated against its XSD, negative controls, access policy."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest
from lxml import etree

from digitize.settings import Settings
from digitize.xmlsafe import parse_file
from metadata.archival_code import CodeTemplate, code_parts
from metadata.export import FORMATS, run_exports
from metadata.export.access import AccessPolicy, apply_policy, default_policy
from metadata.export.dat46 import build_record
from metadata.export.dat93 import build_catalogue, catalogue_bytes
from metadata.export.dublincore import DC, METADATA_CSV_COLUMNS, build_dc, metadata_csv_row
from metadata.export.ead3 import EAD, build_finding_aid
from metadata.export.mets import METS, MODS, PREMIS, build_mets
from metadata.export.validate import validate
from metadata.language import languages_from_tesseract
from metadata.records import (
    Agent,
    ArchiveRecord,
    BatchInfo,
    Event,
    FileInfo,
    PageInfo,
    iso_date,
    pronom_puid,
)

CREATED = "2024-05-01T10:00:00+08:00"
TEMPLATE = CodeTemplate(Settings().archival_code)
SPECIAL_TITLE = "关于A&B公司<养老保险>缴费基数 \"调整\" 与 '核定' 的通知"
LONG_TITLE = "关于" + "城镇职工基本养老保险关系转移接续、" * 40 + "有关问题的请示"
BATCH = BatchInfo(
    batch_id="SB-2024-001",
    fonds_id="Z109",
    fonds_name="某市社会保险事业管理局",
    archives_name="某市档案馆",
    archives_code="433001",
    creating_unit="某市社会保险事业管理局",
    created=CREATED,
    software_name="digitize",
    software_version="0.1.0",
)


def _file(role: str, path: str, page_no: int | None = None, *, size: int = 4096) -> FileInfo:
    kinds = {
        "pdf": ("application/pdf", "PDF/A", "2b"),
        "master": ("image/tiff", "TIFF", "6.0"),
        "alto": ("application/xml", "ALTO", "4.4"),
    }
    mime, name, version = kinds[role]
    return FileInfo(
        role=role,
        path=path,
        size=size,
        sha256=hashlib.sha256(path.encode()).hexdigest(),
        mime_type=mime,
        format_name=name,
        format_version=version,
        puid=pronom_puid(name, version),
        created=CREATED,
        page_no=page_no,
    )


def _page(code: str, n: int, colour: str, compression: str, *, blank: bool = False) -> PageInfo:
    return PageInfo(
        page_no=n,
        master=_file("master", f"{code}/{n:04d}.tif", n),
        alto=_file("alto", f"documents/{code}/ocr/{code}-{n:04d}.alto.xml", n),
        dpi=300,
        colour_mode=colour,
        compression=compression,
        width_px=2480,
        height_px=3508,
        is_blank=blank,
        skew_deg=0.6,
        orientation_deg=0,
        ocr_confidence=None if blank else 91.5,
        pdf_page=n,
    )


def _catalogue(code: str, title: str, date: str, security: str, status: str, retention: str = "永久") -> dict:
    fonds, rest = code.split("-", 1)
    return {
        "档号": code,
        "题名": title,
        "责任者": "某市人力资源和社会保障局",
        "日期": date,
        "密级": security,
        "保管期限": retention,
        "开放标识": status,
        "全宗号": fonds,
        "年度": date[:4],
        "机构或问题": "BGS",
        "件号": code[-4:],
        "文号": f"某人社发〔{date[:4]}〕{int(code[-4:])}号",
        "文种": "通知",
        "主题词": "养老保险；缴费基数",
        "备注": "",
    }


def make_records() -> list[ArchiveRecord]:
    """Five documents covering the cases the exports must handle."""
    agents = [
        Agent("digitize-0.1.0", "digitize", "software", "0.1.0"),
        Agent("tesseract-5.3.4", "Tesseract", "software", "5.3.4"),
        Agent("org-433001", "某市档案馆数字化加工组", "organization"),
    ]
    records = []

    code = "Z109-WS·2011-Y-BGS-0001"  # special characters; colour page with a seal, bitonal page, blank back
    pages = [
        _page(code, 1, "彩色", "JPEG"),
        _page(code, 2, "黑白二值", "CCITT Group 4"),
        _page(code, 3, "灰度", "LZW", blank=True),
    ]
    pdf = _file("pdf", f"documents/{code}/{code}.pdf", size=812_345)
    catalogue = _catalogue(code, SPECIAL_TITLE, "20110305", "公开", "开放")
    del catalogue["备注"]
    events = [
        Event(
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            "capture",
            "2024-04-30T09:00:00+08:00",
            "扫描 300dpi",
            "success",
            ("org-433001",),
            tuple(p.master.path for p in pages),
        ),
        Event(
            "ev-2",
            "message digest calculation",
            "2024-05-01T09:00:00+08:00",
            "SHA-256",
            "success",
            ("digitize-0.1.0",),
            tuple(p.master.path for p in pages),
        ),
        Event(
            "ev-3",
            "modification",
            "2024-05-01T09:01:00+08:00",
            "deskew 0.6°, working copy only",
            "success",
            ("digitize-0.1.0",),
            (pages[0].master.path,),
            (pdf.path,),
        ),
        Event(
            "ev-4",
            "creation",
            "2024-05-01T09:02:00+08:00",
            "OCR chi_sim+eng",
            "success",
            ("tesseract-5.3.4",),
            (pages[0].master.path,),
            (pages[0].alto.path,),
        ),
        Event(
            "ev-5",
            "creation",
            "2024-05-01T09:03:00+08:00",
            "PDF/A-2b",
            "success",
            ("digitize-0.1.0",),
            tuple(p.master.path for p in pages),
            (pdf.path,),
        ),
        Event(
            "ev-6", "validation", "2024-05-01T09:04:00+08:00", "PDF/A-2b", "warning", ("digitize-0.1.0",), (pdf.path,)
        ),
    ]
    records.append(
        ArchiveRecord(
            code,
            catalogue,
            pdf,
            pages,
            languages_from_tesseract("chi_sim+eng"),
            events,
            agents,
            "digitize 0.1.0 (Tesseract 5.3.4)",
            "纸质 A4",
        )
    )

    code = "Z109-WS·2011-Y-BGS-0002"  # very long title, 内部, 控制
    pages = [_page(code, 1, "灰度", "LZW")]
    records.append(
        ArchiveRecord(
            code,
            _catalogue(code, LONG_TITLE, "20110412", "内部", "控制"),
            _file("pdf", f"documents/{code}/{code}.pdf"),
            pages,
            ["chi"],
        )
    )

    code = "Z109-WS·2011-D30-BGS-0003"  # catalogue-only: not scanned yet; day unknown
    catalogue = _catalogue(code, "2011年3月养老保险待遇核定表", "20110300", "公开", "开放", "30年")
    catalogue["页数"] = "4"
    records.append(ArchiveRecord(code, catalogue))

    code = "Z109-WS·2012-Y-BGS-0001"  # classified
    records.append(
        ArchiveRecord(
            code,
            _catalogue(code, "某专项稽核情况报告", "20120918", "机密★10年", "控制"),
            _file("pdf", f"documents/{code}/{code}.pdf"),
            [_page(code, 1, "黑白二值", "CCITT Group 4")],
        )
    )

    code = "Z109-WS·2012-Y-BGS-0002"  # no 密级 marking, open
    records.append(
        ArchiveRecord(
            code,
            _catalogue(code, "关于2012年缴费工资基数的公告", "20120105", "", "开放"),
            _file("pdf", f"documents/{code}/{code}.pdf"),
            [_page(code, 1, "黑白二值", "CCITT Group 4")],
        )
    )
    for record in records:  # as metadata.technical.load_records fills them
        record.code_parts = code_parts(
            record.catalogue, record.archival_code, TEMPLATE, Settings().catalog.retention_values
        )
    return records


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("out")
    return out, run_exports(make_records(), BATCH, out)


KIND_BY_DIR = {"mets": "mets", "dc": "oai_dc"}


def _kind(rel: str) -> str:
    if rel.startswith("catalog/目录文件"):
        return "dat93"
    if rel == "catalog/ead3.xml":
        return "ead3"
    if rel.startswith("documents/"):
        return "dat46"
    return KIND_BY_DIR[rel.split("/")[1]]


def test_every_format_is_written_and_valid_on_disk(exported):
    out, report = exported
    assert report.ok, report.to_dict()
    internal = [
        "Z109-WS·2011-Y-BGS-0001",
        "Z109-WS·2011-Y-BGS-0002",
        "Z109-WS·2011-D30-BGS-0003",
        "Z109-WS·2012-Y-BGS-0002",
    ]
    public = ["Z109-WS·2011-Y-BGS-0001", "Z109-WS·2011-D30-BGS-0003", "Z109-WS·2012-Y-BGS-0002"]
    expected = {"catalog/目录文件.xml", "catalog/目录文件.gb18030.xml", "catalog/ead3.xml"}
    expected |= {f"documents/{c}/{c}.xml" for c in internal}
    expected |= {f"catalog/mets/{c}.xml" for c in internal}
    expected |= {f"catalog/dc/{c}.xml" for c in public}
    assert set(report.written) == expected
    for rel in report.written:
        assert validate(_kind(rel), out / rel) == [], rel
    assert not list(out.rglob("*.tmp")), "atomic writes must not leave temporary files"


def test_default_access_policy_counts_and_reasons(exported):
    _, report = exported
    assert report.excluded_counts() == {"dat93": 1, "dat46": 1, "mets": 1, "ead3": 2, "dc": 2}
    reasons = {(e.format, e.archival_code): e.reason for e in report.excluded}
    assert "机密" in reasons[("dat93", "Z109-WS·2012-Y-BGS-0001")]
    assert "内部" in reasons[("dc", "Z109-WS·2011-Y-BGS-0002")]  # 密级 checked before 开放标识
    open_only = AccessPolicy(max_security=None, open_only=True)
    assert "开放标识 控制" in open_only.reason_to_exclude(make_records()[1])
    ead = parse_file(exported[0] / "catalog/ead3.xml")
    unitids = [el.text for el in ead.iter(f"{{{EAD}}}unitid")]
    assert "Z109-WS·2012-Y-BGS-0001" not in unitids and "Z109-WS·2011-Y-BGS-0002" not in unitids


def test_access_policy_rules():
    records = {r.archival_code: r for r in make_records()}
    policy = AccessPolicy(max_security="秘密")
    assert policy.rank("机密★10年") == 3
    assert policy.rank("限制") == policy.rank("内部") == 1
    assert policy.rank("") == 0
    assert policy.reason_to_exclude(records["Z109-WS·2011-Y-BGS-0002"]) is None
    assert "机密" in policy.reason_to_exclude(records["Z109-WS·2012-Y-BGS-0001"])
    assert AccessPolicy(max_security=None).reason_to_exclude(records["Z109-WS·2012-Y-BGS-0001"]) is None
    odd = ArchiveRecord("X001-WS·2011-Y-BGS-0001", {"题名": "t", "密级": "保密"})
    assert "not a known level" in AccessPolicy().reason_to_exclude(odd)  # fail closed
    kept, excluded = apply_policy(records.values(), AccessPolicy(max_security=None, open_only=True), "dc")
    assert [r.archival_code for r in kept] == [
        "Z109-WS·2011-Y-BGS-0001",
        "Z109-WS·2011-D30-BGS-0003",
        "Z109-WS·2012-Y-BGS-0002",
    ]
    assert len(excluded) == 2
    assert default_policy("ead3").open_only and not default_policy("mets").open_only
    custom = AccessPolicy(max_security="B", security_order=(("A",), ("B",), ("C",)))
    assert custom.rank("C") == 2
    with pytest.raises(ValueError):
        AccessPolicy(max_security="顶级")


def test_explicit_policy_applies_to_every_format(tmp_path):
    report = run_exports(make_records(), BATCH, tmp_path, ["dat93", "dc"], AccessPolicy("公开", open_only=True))
    assert report.excluded_counts() == {"dat93": 2, "dc": 2}
    catalogue = parse_file(tmp_path / "catalog/目录文件.xml")
    assert [el.text for el in catalogue.iter("档号")] == [
        "Z109-WS·2011-Y-BGS-0001",
        "Z109-WS·2011-D30-BGS-0003",
        "Z109-WS·2012-Y-BGS-0002",
    ]
    assert [el.text for el in catalogue.iter("顺序号")] == ["1", "2", "3"]


def test_tightened_policy_removes_stale_per_document_files(tmp_path):
    records = make_records()
    run_exports(records, BATCH, tmp_path, ["mets"], AccessPolicy(max_security=None))
    stale = tmp_path / "catalog/mets/Z109-WS·2012-Y-BGS-0001.xml"
    assert stale.is_file()
    report = run_exports(records, BATCH, tmp_path, ["mets"])
    assert not stale.exists()
    assert "catalog/mets/Z109-WS·2012-Y-BGS-0001.xml" in report.removed


def test_classified_records_never_in_a_public_format(tmp_path):
    """Whatever policy the export is given, EAD3 and DC never describe a 秘密-and-above record."""
    report = run_exports(make_records(), BATCH, tmp_path, ["dc", "ead3"], AccessPolicy(max_security=None))
    assert not (tmp_path / "catalog/dc/Z109-WS·2012-Y-BGS-0001.xml").exists()
    assert "Z109-WS·2012-Y-BGS-0001" not in (tmp_path / "catalog/ead3.xml").read_text(encoding="utf-8")
    assert {e.format for e in report.excluded if e.archival_code == "Z109-WS·2012-Y-BGS-0001"} == {"dc", "ead3"}


def test_gb18030_catalogue_round_trips(exported):
    out, _ = exported
    raw = (out / "catalog/目录文件.gb18030.xml").read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="GB18030"?>')
    text = raw.decode("gb18030")  # Python's codec agrees with what libxml2 wrote
    assert "<题名>关于A&amp;B公司&lt;养老保险&gt;缴费基数" in text
    gb = parse_file(out / "catalog/目录文件.gb18030.xml")
    utf8 = parse_file(out / "catalog/目录文件.xml")
    assert gb.docinfo.encoding == "GB18030"
    assert [(e.tag, e.text) for e in gb.iter()] == [(e.tag, e.text) for e in utf8.iter()]
    titles = [el.text for el in gb.iter("题名")]
    assert SPECIAL_TITLE in titles and LONG_TITLE in titles


def test_rare_characters_survive_gb18030():
    record = make_records()[2]
    record.catalogue["题名"] = "𠀀𪚥䶮龘 社保档案"  # CJK extension B and A: 4-byte GB18030
    data = catalogue_bytes([record], "GB18030")
    assert data.decode("gb18030").count("𠀀𪚥䶮龘") == 1
    with pytest.raises(ValueError):
        catalogue_bytes([record], "GB2312")


def test_special_characters_are_escaped_not_lost(exported):
    out, _ = exported
    code = "Z109-WS·2011-Y-BGS-0001"
    mets = parse_file(out / f"catalog/mets/{code}.xml")
    assert mets.getroot().get("LABEL") == SPECIAL_TITLE
    assert mets.find(f".//{{{MODS}}}title").text == SPECIAL_TITLE
    assert parse_file(out / f"catalog/dc/{code}.xml").find(f"{{{DC}}}title").text == SPECIAL_TITLE
    assert parse_file(out / f"documents/{code}/{code}.xml").find(".//题名").text == SPECIAL_TITLE
    long_code = "Z109-WS·2011-Y-BGS-0002"
    assert parse_file(out / f"documents/{long_code}/{long_code}.xml").find(".//题名").text == LONG_TITLE


def test_dat46_technical_and_digitization_elements(exported):
    out, _ = exported
    code = "Z109-WS·2011-Y-BGS-0001"
    root = parse_file(out / f"documents/{code}/{code}.xml").getroot()
    assert root.get("档号") == code
    assert root.findtext("文件实体/形式特征/页数") == "2"  # blank back page not counted (DA/T 22)
    assert [e.text for e in root.iterfind("文件实体/形式特征/语种")] == ["chi", "eng"]
    assert root.findtext("文件实体/电子属性/格式信息") == "PDF/A-2b (application/pdf, PRONOM fmt/477)"
    assert root.findtext("文件实体/电子属性/计算机文件大小") == "812345"
    assert [e.text for e in root.iterfind("文件实体/数字化属性/扫描色彩模式")] == ["彩色", "黑白二值", "灰度"]
    assert root.findtext("文件实体/档号/室编件号") == "0001"
    assert [e.text for e in root.iterfind("文件实体/内容描述/主题词")] == ["养老保险", "缴费基数"]
    assert [e.findtext("业务行为") for e in root.iterfind("业务实体")] == [
        "扫描",
        "计算摘要值",
        "图像处理",
        "生成",
        "生成",
        "格式验证",
    ]
    agents = {e.findtext("机构人员标识符"): e for e in root.iterfind("机构人员实体")}
    assert {k: e.findtext("机构人员类型") for k, e in agents.items()} == {
        "digitize-0.1.0": "信息系统",
        "tesseract-5.3.4": "信息系统",
        "org-433001": "单位",
    }
    assert agents["tesseract-5.3.4"].findtext("机构人员名称") == "Tesseract 5.3.4"
    # every step names who did it (GB/T 18894-2016 §6.2.2), software included
    assert all(e.find("机构人员标识符") is not None for e in root.iterfind("业务实体"))
    parts = root.find("文件实体/档号")
    assert [(e.tag, e.text) for e in parts] == [
        ("全宗号", "Z109"),
        ("年度", "2011"),
        ("保管期限", "永久"),
        ("机构或问题", "BGS"),
        ("类别号", "WS"),
        ("室编件号", "0001"),
    ]
    classified = build_record(make_records()[3], BATCH).getroot()
    assert classified.findtext("文件实体/内容描述/密级") == "机密"
    assert classified.findtext("文件实体/内容描述/保密期限") == "10年"


def test_catalogue_only_record(exported):
    out, _ = exported
    code = "Z109-WS·2011-D30-BGS-0003"
    dat46 = parse_file(out / f"documents/{code}/{code}.xml").getroot()
    assert dat46.find("文件实体/电子属性") is None and dat46.find("文件实体/数字化属性") is None
    assert dat46.findtext("文件实体/形式特征/页数") == "4"
    mets = parse_file(out / f"catalog/mets/{code}.xml").getroot()
    assert mets.find(f"{{{METS}}}fileSec") is None
    assert mets.find(f".//{{{MODS}}}dateIssued").text == "2011-03"
    assert mets.find(f".//{{{MODS}}}digitalOrigin") is None
    dc = parse_file(out / f"catalog/dc/{code}.xml").getroot()
    assert dc.find(f"{{{DC}}}format") is None and dc.findtext(f"{{{DC}}}date") == "2011-03"


def test_mets_links_pages_files_and_provenance(exported):
    out, _ = exported
    code = "Z109-WS·2011-Y-BGS-0001"
    root = parse_file(out / f"catalog/mets/{code}.xml").getroot()
    m = f"{{{METS}}}"
    groups = {g.get("USE"): [f.get("ID") for f in g] for g in root.iter(f"{m}fileGrp")}
    assert groups == {
        "preservation": ["master-0001", "master-0002", "master-0003"],
        "access": ["pdf"],
        "fulltext": ["alto-0001", "alto-0002", "alto-0003"],
    }
    pdf = root.find(f".//{m}file[@ID='pdf']")
    assert pdf.get("CHECKSUMTYPE") == "SHA-256" and len(pdf.get("CHECKSUM")) == 64
    href = pdf.find(f"{m}FLocat").get("{http://www.w3.org/1999/xlink}href")
    assert href == f"../../documents/{code}/{code}.pdf"  # relative to catalog/mets/
    pages = root.findall(f".//{m}structMap/{m}div/{m}div")
    assert [p.get("ORDER") for p in pages] == ["1", "2", "3"] and "空白页" in pages[2].get("LABEL")
    first = pages[0]
    # the master on its own; the ALTO together with the PDF page whose pixels it describes
    assert [f.get("FILEID") for f in first.findall(f"{m}fptr") if f.get("FILEID")] == ["master-0001"]
    areas = [(a.get("FILEID"), a.get("BEGIN"), a.get("END")) for a in first.findall(f"{m}fptr/{m}par/{m}area")]
    assert areas == [("pdf", "1", "1"), ("alto-0001", None, None)]
    p = f"{{{PREMIS}}}"
    assert len(root.findall(f".//{p}object")) == 7  # PDF + 3 masters + 3 ALTO
    types = [e.text for e in root.iter(f"{p}eventType")]
    assert types == ["capture", "message digest calculation", "modification", "creation", "creation", "validation"]
    assert root.find(f".//{p}eventIdentifierType").text == "UUID"
    assert root.findtext(f".//{p}formatRegistryKey") == "fmt/477"
    master = root.find(f".//{m}file[@ID='master-0001']")
    assert master.get("ADMID").split() == ["tech-master-0001", "event-1", "event-2", "event-3", "event-4", "event-5"]
    roles = {
        e.findtext(f"{p}eventIdentifier/{p}eventIdentifierValue"): [
            (link.findtext(f"{p}linkingObjectIdentifierValue"), link.findtext(f"{p}linkingObjectRole"))
            for link in e.iter(f"{p}linkingObjectIdentifier")
        ]
        for e in root.iter(f"{p}event")
    }
    assert roles["ev-3"] == [(f"{code}/0001.tif", "source"), (f"documents/{code}/{code}.pdf", "outcome")]
    assert roles["ev-4"] == [(f"{code}/0001.tif", "source"), (f"documents/{code}/ocr/{code}-0001.alto.xml", "outcome")]
    derived = {
        o.findtext(f"{p}objectIdentifier/{p}objectIdentifierValue"): (
            o.findtext(f"{p}relationship/{p}relationshipType"),
            o.findtext(f"{p}relationship/{p}relationshipSubType"),
            [r.text for r in o.iterfind(f"{p}relationship/{p}relatedObjectIdentifier/{p}relatedObjectIdentifierValue")],
        )
        for o in root.iter(f"{p}object")
        if o.find(f"{p}relationship") is not None
    }
    assert derived == {
        f"documents/{code}/{code}.pdf": ("derivation", "has source", [f"{code}/{n:04d}.tif" for n in (1, 2, 3)]),
        f"documents/{code}/ocr/{code}-0001.alto.xml": ("derivation", "has source", [f"{code}/0001.tif"]),
    }


# Negative controls: each corruption must be rejected by the schema the exporter uses.
def _tree(kind: str):
    records = make_records()
    if kind == "dat93":
        return build_catalogue(records)
    if kind == "dat46":
        return build_record(records[0], BATCH)
    if kind == "ead3":
        return build_finding_aid(records, BATCH)
    if kind == "mets":
        return build_mets(records[0], BATCH)
    return build_dc(records[0], BATCH)


def _drop(tree, path):
    el = tree.find(path)
    el.getparent().remove(el)


def _set_text(tree, path, text):
    tree.find(path).text = text


CORRUPTIONS = {
    "dat93": [
        lambda t: _drop(t, "文件/题名"),
        lambda t: _set_text(t, "文件/日期", "2011-03-05"),
        lambda t: etree.SubElement(t.find("文件"), "附件"),
    ],
    "dat46": [
        lambda t: _set_text(t, ".//扫描色彩模式", "全彩"),
        lambda t: _drop(t, "文件实体/内容描述/题名"),
        lambda t: _set_text(t, ".//业务实体/机构人员标识符", "nobody"),
    ],
    "ead3": [
        lambda t: etree.SubElement(t.getroot(), f"{{{EAD}}}notDeclared"),
        lambda t: t.find(f".//{{{EAD}}}archdesc").attrib.pop("level"),
    ],
    "mets": [
        lambda t: etree.SubElement(t.find(f".//{{{MODS}}}mods"), f"{{{MODS}}}notAModsElement"),
        lambda t: _set_text(t, f".//{{{PREMIS}}}size", "big"),
        lambda t: _drop(t, f".//{{{METS}}}structMap"),
    ],
    "oai_dc": [lambda t: etree.SubElement(t.getroot(), f"{{{DC}}}notDublinCore")],
}


@pytest.mark.parametrize("kind,n", [(k, i) for k, fs in CORRUPTIONS.items() for i in range(len(fs))])
def test_negative_controls(kind, n):
    tree = _tree(kind)
    assert validate(kind, tree) == []
    bad = copy.deepcopy(tree)
    CORRUPTIONS[kind][n](bad)
    assert validate(kind, bad), f"corruption {n} of {kind} was accepted"


def test_duplicate_archival_code_rejected_by_catalogue_schema():
    records = make_records()
    assert validate("dat93", build_catalogue([records[0], records[0]]))


def test_invalid_data_is_reported_not_written(tmp_path):
    records = make_records()
    records[0].catalogue["日期"] = "2011-03-05"  # not YYYYMMDD
    report = run_exports(records, BATCH, tmp_path, ["dat93", "ead3", "dc"])
    assert not report.ok
    assert not (tmp_path / "catalog/目录文件.xml").exists()  # schema rejected it
    assert any(v.path == "catalog/目录文件.xml" and not v.valid for v in report.validations)
    assert not (tmp_path / "catalog/ead3.xml").exists()  # 日期 cannot be converted to ISO
    assert any("日期" in e for e in report.errors)
    assert (tmp_path / "catalog/dc/Z109-WS·2012-Y-BGS-0002.xml").exists()  # other documents still written


def test_file_names_follow_the_pipeline_and_never_clash(tmp_path):
    def record(code):
        return ArchiveRecord(code, {"题名": "t", "密级": "公开", "开放标识": "开放"})

    report = run_exports(
        [record("Z109/WS-0001"), record("Z109:WS-0001"), record("Z109-WS·2011-Y-BGS-0009")], BATCH, tmp_path, ["dc"]
    )
    assert report.written == ["catalog/dc/Z109-WS·2011-Y-BGS-0009.xml"]  # "·" kept
    assert len(report.errors) == 1 and "share the file name 'Z109_WS-0001'" in report.errors[0]
    assert not report.ok


def test_unknown_format_rejected(tmp_path):
    with pytest.raises(ValueError):
        run_exports([], BATCH, tmp_path, ["marc"])
    assert set(FORMATS) == {"dat93", "dat46", "ead3", "mets", "dc"}


def test_metadata_csv_row():
    records = make_records()
    row = metadata_csv_row(records[0], "objects/Z109-WS·2011-Y-BGS-0001.pdf")
    assert tuple(row) == METADATA_CSV_COLUMNS
    assert row["dc.identifier"] == "Z109-WS·2011-Y-BGS-0001"
    assert row["dc.date"] == "2011-03-05" and row["dc.language"] == "chi; eng"
    assert row["dc.rights"] == "密级：公开；开放标识：开放" and row["dc.format"] == "application/pdf"
    assert metadata_csv_row(records[2], "x")["dc.format"] == ""


def test_record_helpers():
    assert languages_from_tesseract("chi_sim+eng") == ["chi", "eng"]
    assert languages_from_tesseract("chi_sim+chi_tra+deu+osd") == ["chi", "ger"]
    assert iso_date("20110305") == "2011-03-05" and iso_date("20110000") == "2011" and iso_date("") is None
    with pytest.raises(ValueError):
        iso_date("2011-3-5")
    assert pronom_puid("PDF/A", "2b") == "fmt/477" and pronom_puid("TIFF", "6.0") == "fmt/353"
    with pytest.raises(ValueError):
        PageInfo(1, _file("master", "a.tif", 1), None, 300, "RGB", "JPEG", 1, 1)
    with pytest.raises(ValueError):
        Event("e", "deskewing", CREATED)


def test_one_reading_of_catalogue_dates():
    from metadata.dates import parse_date

    assert parse_date("20110305").iso() == "2011-03-05" and parse_date("20110305").complete
    assert parse_date("20110300").iso() == "2011-03" and parse_date("20110000").iso() == "2011"
    for bad in ("20110230", "20110005", "20111300", "00000000", "2011-3-5", "２０１１０３０５", ""):
        assert parse_date(bad) is None, bad
    with pytest.raises(ValueError):
        iso_date("20110230")  # the exports, validation and the PDF's XMP read dates alike


@pytest.mark.parametrize(
    ("dpi", "source", "written"),
    [
        (300, "tag", "300dpi"),
        (300, "file", "300dpi"),
        (400, "override", "400dpi"),
        (400, "profile", "400dpi"),
        (148, "estimated", "约148dpi（估算）"),
        (300, "default", "未知"),  # older journals: the assumed fallback value
        (None, "unknown", "未知"),
    ],
)
def test_scanning_resolution_says_what_was_measured(dpi, source, written):
    record = make_records()[1]
    page = record.pages[0]
    record.pages = [PageInfo(**{**page.__dict__, "dpi": dpi, "dpi_source": source})]
    tree = build_record(record, BATCH)
    assert [e.text for e in tree.getroot().iterfind("文件实体/数字化属性/扫描分辨率")] == [written]
    assert validate("dat46", tree) == []


def test_mets_in_a_package_points_at_the_packed_masters():
    """Masters outside OUT: a package that packs them gets relative URLs that resolve in it."""
    record = make_records()[0]
    code = record.archival_code
    packed = {p.master.path: f"masters/{code}/{p.page_no:04d}.tif" for p in record.pages}
    root = build_mets(record, BATCH, "catalog/mets", packed).getroot()
    m = f"{{{METS}}}"
    location = root.find(f".//{m}file[@ID='master-0002']/{m}FLocat")
    assert location.get("LOCTYPE") == "URL"
    assert location.get("{http://www.w3.org/1999/xlink}href") == f"../../masters/{code}/0002.tif"
    assert validate("mets", root) == []
    unpacked = build_mets(record, BATCH).getroot().find(f".//{m}file[@ID='master-0002']/{m}FLocat")
    assert (unpacked.get("LOCTYPE"), unpacked.get("OTHERLOCTYPE")) == ("OTHER", "BATCH")


def test_an_event_links_each_object_once():
    record = make_records()[0]
    master = record.pages[0].master.path
    record.events = [Event("ev-9", "fixity check", CREATED, "", "success", (), (master, master, master, master))]
    root = build_mets(record, BATCH).getroot()
    values = [e.text for e in root.iter(f"{{{PREMIS}}}linkingObjectIdentifierValue")]
    assert values == [master]
