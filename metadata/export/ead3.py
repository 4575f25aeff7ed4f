"""EAD3 finding aid for a batch (catalog/ead3.xml).

archdesc level="fonds" (全宗) → one c level="series" per (年度, 保管期限) in order of first
appearance → one c level="item" per document (件) with did (unitid = 档号, unittitle,
unitdate normal = ISO 8601, origination = 责任者, physdescstructured = 页数,
langmaterial), accessrestrict (密级, 开放标识) and controlaccess (主题词, 文种).
EAD3 has no physdesc/extent; physdescstructured (quantity + unittype) is its replacement.
Validated against the official EAD3 1.1.1 schema.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from metadata.export.validate import assert_valid
from metadata.export.xmlbuild import XSI, serialize, sub
from metadata.records import ArchiveRecord, BatchInfo

EAD = "http://ead3.archivists.org/schema/"
SCHEMA_LOCATION = f"{EAD} https://www.loc.gov/ead/ead3.xsd"
LANGUAGE_NAMES = {
    "chi": "中文",
    "eng": "英文",
    "jpn": "日文",
    "kor": "朝鲜文",
    "rus": "俄文",
    "fre": "法文",
    "ger": "德文",
}


def _e(tag: str) -> str:
    return f"{{{EAD}}}{tag}"


def build_finding_aid(records: Sequence[ArchiveRecord], batch: BatchInfo) -> etree._ElementTree:
    """The EAD3 tree for the records of one batch (already filtered for access)."""
    root = etree.Element(_e("ead"), nsmap={None: EAD, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    _control(root, batch)

    archdesc = sub(root, _e("archdesc"), attrib={"level": "fonds"})
    did = sub(archdesc, _e("did"))
    sub(did, _e("unitid"), batch.fonds_id)
    sub(did, _e("unittitle"), batch.fonds_name)
    years = sorted({r.year for r in records if r.year})
    if years:
        span = years[0] if years[0] == years[-1] else f"{years[0]}/{years[-1]}"
        sub(did, _e("unitdate"), span.replace("/", "-"), {"normal": span})
    if batch.creating_unit:
        sub(sub(sub(did, _e("origination")), _e("corpname")), _e("part"), batch.creating_unit)
    if batch.archives_name:
        sub(sub(sub(did, _e("repository")), _e("corpname")), _e("part"), batch.archives_name)

    dsc = sub(archdesc, _e("dsc"))
    series: dict[tuple[str, str], etree._Element] = {}
    for record in records:
        key = (record.year, record.get("保管期限"))
        if key not in series:
            series[key] = _series(dsc, *key)
        _item(series[key], record)
    return etree.ElementTree(root)


def finding_aid_bytes(records: Sequence[ArchiveRecord], batch: BatchInfo) -> bytes:
    """The validated EAD3 finding aid, UTF-8."""
    tree = build_finding_aid(records, batch)
    assert_valid("ead3", tree, "ead3.xml")
    return serialize(tree)


def _control(root: etree._Element, batch: BatchInfo) -> None:
    control = sub(
        root,
        _e("control"),
        attrib={
            "langencoding": "iso639-2b",
            "scriptencoding": "iso15924",
            "dateencoding": "iso8601",
        },
    )
    sub(control, _e("recordid"), batch.batch_id)
    titlestmt = sub(sub(control, _e("filedesc")), _e("titlestmt"))
    sub(titlestmt, _e("titleproper"), f"{batch.fonds_name}档案目录")
    sub(control, _e("maintenancestatus"), attrib={"value": "new"})
    agency = sub(control, _e("maintenanceagency"))
    if batch.archives_code:
        sub(agency, _e("agencycode"), batch.archives_code)
    sub(agency, _e("agencyname"), batch.archives_name or batch.creating_unit)
    declaration = sub(control, _e("languagedeclaration"))
    sub(declaration, _e("language"), LANGUAGE_NAMES.get(batch.language, batch.language), {"langcode": batch.language})
    sub(declaration, _e("script"), "简体汉字", {"scriptcode": "Hans"})
    event = sub(sub(control, _e("maintenancehistory")), _e("maintenanceevent"))
    sub(event, _e("eventtype"), attrib={"value": "created"})
    sub(event, _e("eventdatetime"), batch.created, {"standarddatetime": batch.created[:10]})
    sub(event, _e("agenttype"), attrib={"value": "machine"})
    sub(event, _e("agent"), batch.software)


def _series(dsc: etree._Element, year: str, retention: str) -> etree._Element:
    c = sub(dsc, _e("c"), attrib={"level": "series"})
    did = sub(c, _e("did"))
    sub(did, _e("unittitle"), "　".join(x for x in (f"{year}年" if year else "", retention) if x) or "未分类")
    if re.fullmatch(r"\d{4}", year):
        sub(did, _e("unitdate"), year, {"normal": year})
    return c


def _item(parent: etree._Element, record: ArchiveRecord) -> None:
    c = sub(parent, _e("c"), attrib={"level": "item"})
    did = sub(c, _e("did"))
    sub(did, _e("unitid"), record.archival_code)
    sub(did, _e("unittitle"), record.title)
    if record.date_iso:
        sub(did, _e("unitdate"), record.date_iso, {"normal": record.date_iso})
    if record.get("责任者"):
        sub(sub(sub(did, _e("origination")), _e("corpname")), _e("part"), record.get("责任者"))
    extent = sub(did, _e("physdescstructured"), attrib={"coverage": "whole", "physdescstructuredtype": "materialtype"})
    sub(extent, _e("quantity"), record.page_count)
    sub(extent, _e("unittype"), "页")
    if record.language:
        langmaterial = sub(did, _e("langmaterial"))
        for code in record.language:
            sub(langmaterial, _e("language"), LANGUAGE_NAMES.get(code, code), {"langcode": code})

    restrictions = [f"{name}：{record.get(name)}" for name in ("密级", "开放标识") if record.get(name)]
    if restrictions:
        sub(sub(c, _e("accessrestrict")), _e("p"), "；".join(restrictions))

    terms = record.terms("主题词")
    if terms or record.get("文种"):
        access = sub(c, _e("controlaccess"))
        for term in terms:
            sub(sub(access, _e("subject")), _e("part"), term)
        if record.get("文种"):
            sub(sub(access, _e("genreform")), _e("part"), record.get("文种"))
