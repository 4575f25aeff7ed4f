"""Per-document metadata XML with DA/T 46-2009 element names (documents/<档号>/<档号>.xml).

Element names and nesting follow the DA/T 46 element table (文件实体 → 来源, 档号, 内容描述,
形式特征, 电子属性, 数字化属性, 存储位置, 权限管理, 附注), followed by 机构人员实体 for the
organisations, people and software that acted on the record and 业务实体 for the events of the
journal, each naming its 机构人员 (GB/T 18894-2016 §6.2.2 process metadata). Validated against our
schema `schemas/dat46/dat46-record.xsd` (see its README for what is ours).
"""

from __future__ import annotations

from lxml import etree

from metadata.export.validate import assert_valid
from metadata.export.xmlbuild import serialize, sub
from metadata.records import CODE_ELEMENTS, Agent, ArchiveRecord, BatchInfo, Event

# 内容描述 elements after 题名, in schema order: (DA/T 46 element, catalogue field, repeatable).
_CONTENT = (
    ("主题词", "主题词", True),
    ("人名", "人名", True),
    ("摘要", "范围和提要", False),
    ("分类号", "分类号", False),
    ("文件编号", "文号", False),
    ("责任者", "责任者", False),
    ("日期", "日期", False),
    ("文种", "文种", False),
)

# 业务行为 (M81) wording for the PREMIS event types of `metadata.records`.
EVENT_ACTIONS = {
    "capture": "扫描",
    "creation": "生成",
    "message digest calculation": "计算摘要值",
    "fixity check": "固定性检查",
    "validation": "格式验证",
    "format identification": "格式识别",
    "modification": "图像处理",
    "normalization": "格式规范化",
    "migration": "格式迁移",
    "virus check": "病毒检测",
}
# M76 机构人员类型. DA/T 46 names 单位, 内设机构 and 个人; software that acted on the record is
# recorded as 信息系统 (our value, see schemas/dat46/README.md), so that every 业务实体 names who acted.
AGENT_TYPES = {"organization": "单位", "person": "个人", "software": "信息系统"}


def build_record(record: ArchiveRecord, batch: BatchInfo) -> etree._ElementTree:
    """The DA/T 46 metadata tree of one document."""
    root = etree.Element("电子文件元数据", {"档号": record.archival_code})
    entity = sub(root, "文件实体")
    sub(entity, "聚合层次", "文件")

    provenance = source_of(record, batch)
    if provenance:
        source = sub(entity, "来源")
        for name, value in provenance.items():
            sub(source, name, value)

    parts = [(name, record.code_parts[name]) for name in CODE_ELEMENTS if record.code_parts.get(name)]
    if parts:
        code = sub(entity, "档号")
        for name, value in parts:
            sub(code, name, value)

    _content(sub(entity, "内容描述"), record)

    form = sub(entity, "形式特征")
    sub(form, "页数", record.page_count)
    for lang in record.language:
        sub(form, "语种", lang)
    if record.get("稿本"):
        sub(form, "稿本", record.get("稿本"))

    for layout in record.layout_files:  # the PDF/A and/or the OFD, one 电子属性 each
        attrs = sub(entity, "电子属性")
        sub(attrs, "格式信息", layout.format_information)
        sub(attrs, "计算机文件名", layout.name)
        sub(attrs, "计算机文件大小", layout.size)
        if record.creating_application:
            sub(attrs, "文档创建程序", record.creating_application)
        if record.information_system:
            sub(attrs, "信息系统描述", record.information_system)

    if record.pages:
        digit = sub(entity, "数字化属性")
        if record.physical_form:
            sub(digit, "数字化对象形态", record.physical_form)
        for value in record.scanning_resolutions:
            sub(digit, "扫描分辨率", value)
        for value in record.colour_modes:
            sub(digit, "扫描色彩模式", value)
        for value in record.compression_schemes:
            sub(digit, "图像压缩方案", value)

    if record.layout_files:
        sub(sub(entity, "存储位置"), "当前位置", record.layout_files[0].path)
    if record.get("开放标识"):
        sub(sub(entity, "权限管理"), "控制标识", record.get("开放标识"))
    if record.get("备注"):
        sub(entity, "附注", record.get("备注"))

    people = {a.identifier: a for a in record.agents}
    for agent in people.values():
        el = sub(root, "机构人员实体")
        sub(el, "机构人员标识符", agent.identifier)
        sub(el, "机构人员类型", AGENT_TYPES[agent.type])
        sub(el, "机构人员名称", f"{agent.name} {agent.version}" if agent.version else agent.name)
    for event in record.events:
        _business(sub(root, "业务实体"), event, record, people)
    return etree.ElementTree(root)


def source_of(record: ArchiveRecord, batch: BatchInfo) -> dict[str, str]:
    """来源 (M3-M6) as known: the profile's [archive] values, else the catalogue's columns."""
    values = {
        "档案馆名称": batch.archives_name,
        "档案馆代码": batch.archives_code or record.get("档案馆代码"),
        "全宗名称": batch.fonds_name or record.get("全宗名称"),
        "立档单位名称": batch.creating_unit,
    }
    return {name: value for name, value in values.items() if value}


def record_bytes(record: ArchiveRecord, batch: BatchInfo) -> bytes:
    """The validated DA/T 46 record of one document, UTF-8."""
    tree = build_record(record, batch)
    assert_valid("dat46", tree, f"{record.archival_code}.xml")
    return serialize(tree)


def _content(el: etree._Element, record: ArchiveRecord) -> None:
    sub(el, "题名", record.title)
    for name, key, repeatable in _CONTENT:
        for value in record.terms(key) if repeatable else [record.get(key)]:
            if value:
                sub(el, name, value)
    security = record.get("密级")
    level, _, period = security.partition("★")  # GB/T 7156 marking: 机密★10年
    if level.strip():
        sub(el, "密级", level.strip())
    period = record.get("保密期限") or period.strip()
    if period:
        sub(el, "保密期限", period)


def _business(el: etree._Element, event: Event, record: ArchiveRecord, people: dict[str, Agent]) -> None:
    sub(el, "业务标识符", event.identifier)
    for agent_id in event.agent_ids:
        if agent_id in people:
            sub(el, "机构人员标识符", agent_id)
    sub(el, "业务行为", EVENT_ACTIONS[event.type])
    sub(el, "行为时间", event.datetime)
    notes = [event.detail] if event.detail else []
    if event.outcome != "success":
        notes.append(f"结果：{event.outcome}")
    if notes:
        sub(el, "行为描述", "；".join(notes))
