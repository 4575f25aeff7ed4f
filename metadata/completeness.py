"""Completeness of a document's DA/T 46 record: its elements (DA/T 70 2-3) and its process
information (DA/T 70 2-5).

2-3 元数据项完整性: "依据 DA/T 46…中的元数据项或自定义的元数据项进行检测，判断电子文件元数据项是否
存在缺项情况". A record of a scanned document must have the elements of `REQUIRED` (DA/T 46 and
the GB/T 18894-2016 §6.2.2 minimum for 文书: 题名, 责任者, 日期, 机构或问题, 保管期限, 格式信息,
计算机文件名, 计算机文件大小, 文档创建程序; 文件编号 and 密级 where the document has them), and
every element the record built from the database now (journal, catalogue, profile) has: a
record edited after export, or exported before the catalogue gained a value, shows what it lacks.

2-5 过程信息完整性: "逐一检查…元数据中包含的处理过程信息是否完整". Every processing event of the
journal is a 业务实体 of the record, and each 业务实体 says what was done (业务行为), when
(行为时间) and by whom (a 机构人员实体 with its 机构人员名称) — GB/T 18894-2016 §6.2.2.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree


@dataclass(frozen=True)
class Required:
    """Elements every record of a scanned document has: below 文件实体, "A/B" means every A has
    a B (and there is an A); "A/B|A/C" either of them."""

    path: str
    basis: str


REQUIRED = (
    Required("聚合层次", "DA/T 46 M1"),
    Required(
        "来源/立档单位名称|来源/全宗名称",
        "DA/T 46 M2 来源：立档单位名称（M6）或全宗名称（M5）；配置 [archive] creating_unit、fonds_name",
    ),
    Required("档号/全宗号", "DA/T 46 M9"),
    Required("档号/年度", "DA/T 46 M11"),
    Required("档号/保管期限", "DA/T 46 M12; GB/T 18894-2016 §6.2.2"),
    Required("档号/机构或问题", "DA/T 46 M13; GB/T 18894-2016 §6.2.2"),
    Required("档号/室编件号", "DA/T 46 M17 (件号)"),
    Required("内容描述/题名", "DA/T 46 M22; GB/T 18894-2016 §6.2.2"),
    Required("内容描述/责任者", "DA/T 46 M32; GB/T 18894-2016 §6.2.2"),
    Required("内容描述/日期", "DA/T 46 M33; GB/T 18894-2016 §6.2.2"),
    Required("形式特征/页数", "DA/T 46 M43"),
    Required("电子属性/格式信息", "DA/T 46 M47; GB/T 18894-2016 §6.2.2"),
    Required("电子属性/计算机文件名", "DA/T 46 M48; GB/T 18894-2016 §6.2.2"),
    Required("电子属性/计算机文件大小", "DA/T 46 M49; GB/T 18894-2016 §6.2.2"),
    Required("电子属性/文档创建程序", "DA/T 46 M50; GB/T 18894-2016 §6.2.2"),
    Required("数字化属性/扫描分辨率", "DA/T 46 M54"),
    Required("数字化属性/扫描色彩模式", "DA/T 46 M55"),
    Required("数字化属性/图像压缩方案", "DA/T 46 M56"),
    Required("存储位置/当前位置", "DA/T 46 M66 (DA/T 70 1-11 follows it to the file)"),
    Required("权限管理/控制标识", "DA/T 46 M74; DA/T 18-2022 开放标识 必著"),
)
# Process information, judged by 2-5 rather than 2-3.
PROCESS_ENTITIES = ("机构人员实体", "业务实体")


@dataclass(frozen=True)
class Missing:
    element: str  # path below the root, e.g. "文件实体/档号/机构或问题"
    basis: str  # why the record must have it

    def __str__(self) -> str:
        return f"{self.element}（{self.basis}）"


def missing_elements(record: etree._ElementTree, expected: etree._ElementTree | None = None) -> list[Missing]:
    """2-3: the elements `record` lacks: those of REQUIRED, and (given the record built from the
    database now) every element that one has more often than `record`."""
    entity = record.getroot().find("文件实体")
    if entity is None:
        return [Missing("文件实体", "DA/T 46 记录的实体")]
    missing = [Missing(_label(r.path), r.basis) for r in REQUIRED if not _present(entity, r.path)]
    if expected is not None:
        have, want = _element_counts(record), _element_counts(expected)
        reported = {m.element for m in missing}
        for path, count in want.items():
            if have[path] < count and path not in reported:
                missing.append(Missing(path, "按日志、目录和配置生成的记录有此项：请重新导出"))
    return missing


def _label(path: str) -> str:
    """ "来源/立档单位名称|来源/全宗名称" -> "文件实体/来源/立档单位名称 or 全宗名称"."""
    first, *others = path.split("|")
    return " 或 ".join([f"文件实体/{first}", *(other.rsplit("/", 1)[-1] for other in others)])


def _present(entity: etree._Element, path: str) -> bool:
    """Whether every container of `path` holds its element (one of the alternatives)."""
    choices = path.split("|")
    container = choices[0].rsplit("/", 1)[0] if "/" in choices[0] else None
    if container is None:
        return any(entity.find(choice) is not None for choice in choices)
    children = [choice.rsplit("/", 1)[1] for choice in choices]
    holders = entity.findall(container)
    return bool(holders) and all(any(h.find(child) is not None for child in children) for h in holders)


def _element_counts(tree: etree._ElementTree) -> Counter[str]:
    """How often each element path occurs below the root, process entities left out."""
    counts: Counter[str] = Counter()
    root = tree.getroot()
    for el in root.iter():
        if el is root or not isinstance(el.tag, str):
            continue
        path = tree.getpath(el)  # /电子文件元数据/文件实体[1]/电子属性[2]/格式信息
        parts = [step.split("[")[0] for step in path.split("/")[2:]]
        if parts[0] not in PROCESS_ENTITIES:
            counts["/".join(parts)] += 1
    return counts


def process_gaps(record: etree._ElementTree, event_ids: Iterable[str]) -> list[str]:
    """2-5: what the record's process information lacks: a 业务实体 for each of `event_ids` (the
    journal's processing events, "event-12"), and in each 业务实体 its 业务行为, 行为时间 and a
    机构人员 named by a 机构人员实体 with its 机构人员名称."""
    root = record.getroot()
    agents = {
        (el.findtext("机构人员标识符") or "").strip(): (el.findtext("机构人员名称") or "").strip()
        for el in root.iterfind("机构人员实体")
    }
    gaps = []
    recorded = set()
    for entity in root.iterfind("业务实体"):
        identifier = (entity.findtext("业务标识符") or "").strip()
        recorded.add(identifier)
        for name in ("业务行为", "行为时间"):
            if not (entity.findtext(name) or "").strip():
                gaps.append(f"业务实体 {identifier or '（无业务标识符）'} 缺少{name}")
        named = [agents.get((el.text or "").strip()) for el in entity.iterfind("机构人员标识符")]
        if not any(named):
            gaps.append(f"业务实体 {identifier or '（无业务标识符）'} 未署名机构人员（缺少机构人员名称）")
    absent = [event for event in event_ids if event not in recorded]
    if absent:
        gaps.append(f"日志的处理事件 {', '.join(absent)} 没有对应的业务实体")
    return gaps
