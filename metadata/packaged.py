"""The metadata a package carries, read back from OUT: the DA/T 46 records and the DA/T 93
目录文件 that `export` wrote, parsed through `digitize.xmlsafe`.

DA/T 70-2018 checks metadata twice: "a) 对数据库中…元数据项进行检测; b) 对归档信息包中元数据项
进行检测" (1-2 … 1-7, likewise 1-8). The catalogue is the database side; this module gives the
package side. Each DA/T 46 record and each 目录文件 item becomes a `CatalogRecord` with the
catalogue's field names, so that the rules of `metadata.validation` judge both alike.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from digitize.layout import CATALOG_DIR, CATALOGUE_NAME, DOCUMENTS_DIR, xml_schema
from digitize.settings import Settings
from digitize.xmlsafe import parse_file
from metadata.catalog import Catalog, CatalogRecord
from metadata.validation import Finding, validate_catalog

# DA/T 46 element (path below 文件实体) -> catalogue field it carries (as `export` writes it).
DAT46_FIELDS = {
    "来源/档案馆代码": "archives_code",
    "来源/全宗名称": "fonds_name",
    "档号/全宗号": "fonds",
    "档号/年度": "year",
    "档号/保管期限": "retention",
    "档号/机构或问题": "org",
    "档号/类别号": "category",
    "档号/室编案卷号": "volume",
    "档号/室编件号": "item",
    "内容描述/题名": "title",
    "内容描述/主题词": "subject",
    "内容描述/人名": "personal_name",
    "内容描述/摘要": "abstract",
    "内容描述/分类号": "class_code",
    "内容描述/文件编号": "document_number",
    "内容描述/责任者": "author",
    "内容描述/日期": "date",
    "内容描述/文种": "doc_type",
    "内容描述/密级": "security",
    "内容描述/保密期限": "secrecy_period",
    "形式特征/页数": "pages",
    "形式特征/稿本": "manuscript",
    "权限管理/控制标识": "open_status",
    "附注": "remarks",
}
# DA/T 93 目录文件 <文件> child -> catalogue field.
CATALOGUE_FIELDS = {
    "顺序号": "sequence",
    "档号": "archival_code",
    "责任者": "author",
    "题名": "title",
    "日期": "date",
    "保管期限": "retention",
    "密级": "security",
    "页数": "pages",
    "备注": "remarks",
}
# The catalogue rules that judge values (DA/T 70 1-2 … 1-8); completeness has its own checks.
VALUE_ITEMS = ("1-2", "1-3", "1-4", "1-5", "1-6", "1-7", "1-8")


@dataclass
class PackagedMetadata:
    """The metadata files `export` wrote into OUT, parsed (OUT-relative path -> tree)."""

    records: dict[str, etree._ElementTree] = field(default_factory=dict)  # DA/T 46, documents/<name>/<name>.xml
    catalogues: dict[str, etree._ElementTree] = field(default_factory=dict)  # 目录文件 in each encoding
    unreadable: dict[str, str] = field(default_factory=dict)  # path -> why (QC's 3-1 reports it)

    @property
    def exported(self) -> bool:
        return bool(self.records or self.catalogues)


def read_packaged(out: Path) -> PackagedMetadata:
    """Parse every DA/T 46 record and 目录文件 under OUT with the safe parser."""
    found = PackagedMetadata()
    candidates = [
        *sorted((out / DOCUMENTS_DIR).glob("*/*.xml")),
        *sorted((out / CATALOG_DIR).glob(f"{CATALOGUE_NAME}*.xml")),
    ]
    for path in candidates:
        rel = path.relative_to(out).as_posix()
        kind = xml_schema(rel)
        if kind not in ("dat46", "dat93"):
            continue
        try:
            tree = parse_file(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable file is reported, not raised
            found.unreadable[rel] = str(exc)
            continue
        (found.records if kind == "dat46" else found.catalogues)[rel] = tree
    return found


def record_fields(tree: etree._ElementTree) -> dict[str, str]:
    """A DA/T 46 record's values by catalogue field name; repeated elements joined by a space."""
    root = tree.getroot()
    entity = root.find("文件实体")
    fields = {"archival_code": root.get("档号", "")}
    for path, name in DAT46_FIELDS.items():
        values = [el.text or "" for el in entity.iterfind(path)] if entity is not None else []
        if values:
            fields[name] = " ".join(values)
    return fields


def catalogue_items(tree: etree._ElementTree) -> list[dict[str, str]]:
    """The 目录文件's items by catalogue field name."""
    return [
        {CATALOGUE_FIELDS[child.tag]: child.text or "" for child in item if child.tag in CATALOGUE_FIELDS}
        for item in tree.getroot().iterfind("文件")
    ]


def packaged_findings(found: PackagedMetadata, settings: Settings) -> list[Finding]:
    """What the catalogue rules 1-2 … 1-8 find in the package's metadata: the DA/T 46 records
    judged together (so that 1-8 sees repeats across records), each 目录文件 on its own. Each
    finding names its file; "row N" in a message becomes the file (DA/T 46) or 顺序号 N (目录文件)."""
    findings: list[Finding] = []
    paths = sorted(found.records)
    rows = [record_fields(found.records[path]) for path in paths]
    columns = {name: path.split("/")[-1] for path, name in DAT46_FIELDS.items()} | {"archival_code": "档号"}
    places = {n: path for n, path in enumerate(paths, start=1)}
    findings += _judge(Catalog("DA/T 46 records", "xml", columns, _records(rows)), settings, places)
    for path, tree in sorted(found.catalogues.items()):
        items = catalogue_items(tree)
        columns = {name: tag for tag, name in CATALOGUE_FIELDS.items()}
        places = {n: f"{path} 顺序号 {item.get('sequence') or n}" for n, item in enumerate(items, start=1)}
        findings += _judge(Catalog(path, "xml", columns, _records(items)), settings, places)
    return findings


def _records(rows: list[dict[str, str]]) -> list[CatalogRecord]:
    return [CatalogRecord(n, row) for n, row in enumerate(rows, start=1)]


def _judge(catalog: Catalog, settings: Settings, places: dict[int, str]) -> list[Finding]:
    if not catalog.records:
        return []
    found = []
    for finding in validate_catalog(catalog, settings):
        if finding.item_id not in VALUE_ITEMS:
            continue
        message = re.sub(r"\brow (\d+)\b", lambda m: places.get(int(m.group(1)), m.group(0)), finding.message)
        place = places.get(finding.row or 0, catalog.file)
        found.append(dataclasses.replace(finding, message=message, file=place.split(" 顺序号 ")[0], row=None))
    return found
