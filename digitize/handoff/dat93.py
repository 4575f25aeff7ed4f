"""DA/T 93-2022 transfer package (电子档案移交信息包) of a batch.

    DEST/
      说明文件.xml                    carrier parameters (载体类型, 载体容量, 载体编号, 载体数量,
                                      载体制作单位, 载体检查单位), transferring and receiving unit,
                                      content, 起止档号, 档案数量, software and hardware, QC, fixity
      目录文件.xml                    the DA/T 93 catalogue of exactly the records in the package
      <全宗号>/<年度>/<保管期限代码>/<机构(问题)代码>/<档号>/   (levels: `collect.classification_levels`)
          <档号>.pdf                  content (PDF/A)
          <档号>.xml                  metadata (DA/T 46-2009 element names)
          全文/<档号>-0001.txt …       OCR text, hOCR and ALTO per page
          原始图像/…                   the preservation masters (--no-masters: absent)
      其他/
          电子档案移交清单.xml          the transfer list (normative Annex A): 序号, 档号, 题名, 文件数量,
                                      密级, 保管期限, 备注 under 移交单位 and 移交时间
          移交登记表.xml               transfer register (Annex C) with the 四性 rows filled
          固化信息.sha256              SHA-256 of every other file ("<hash>  <path>", sha256sum -c)
          规则说明.txt                 档号, naming, metadata and packaging rules used
          质检报告/…                   the QC report (report.json, report.html, checks.csv, sample.csv)
          过程记录/journal.sqlite      a consistent copy of the journal (hash-chained events)

The classification folders come from the 档号 components (`collect.classification`).

Over 500 lines because DA/T 93 asks for three documents of its own beside the records — 说明文件,
电子档案移交清单 and 移交登记表 with its 四性 rows — and this module both writes them and
verifies a package against them later; each part is short and reads the same package model.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

from digitize.handoff.collect import (
    HandoffError,
    PackageDocument,
    SourceFile,
    classification,
    classification_levels,
)
from digitize.handoff.fixity import Problem, checksum_list_bytes, files_below
from digitize.handoff.format import PackageFormat
from digitize.handoff.verifying import VerifyReport, check_journal_copy, check_listing, check_qc_report
from digitize.journal import AGENT
from digitize.layout import CATALOGUE_NAME, JOURNAL, OCR_ROLES, catalogue_file, dat46_file
from digitize.qc.results import applies
from digitize.xmlsafe import UnsafeXmlError, parse_file
from metadata.archival_code import archival_code_filename
from metadata.export.validate import validate as validate_xml
from metadata.export.xmlbuild import serialize, sub

STATEMENT = "说明文件.xml"
CATALOGUE = f"{CATALOGUE_NAME}.xml"
OTHER = "其他"
REGISTER = f"{OTHER}/移交登记表.xml"
TRANSFER_LIST = f"{OTHER}/电子档案移交清单.xml"
ONLINE = "在线移交"
FIXITY = f"{OTHER}/固化信息.sha256"
RULES = f"{OTHER}/规则说明.txt"
QC_FOLDER = f"{OTHER}/质检报告"
JOURNAL_PATH = f"{OTHER}/过程记录/{JOURNAL}"
OCR_FOLDER = "全文"
MASTERS_FOLDER = "原始图像"
PROPERTIES = {"1": "真实性", "2": "完整性", "3": "可用性", "4": "安全性"}
RESULT_WORDS = {
    "pass": "通过",
    "fail": "不通过",
    "warn": "通过（有警告）",
    "partial": "未全部检测（有未检测项，见检测项）",
    "not checked": "未检测",
}
_ITEM = re.compile(r"(?:^|[A-Z]{2}-)([1-4])-(\d{1,2})$")


def record_files(doc: PackageDocument, folder: str, include_masters: bool) -> list[tuple[SourceFile, str]]:
    """The journal-recorded files of one record folder: PDF/A and/or OFD, OCR files, masters (no page JSON)."""
    items = []
    for f in doc.outputs:
        if f.role in ("pdf", "ofd"):
            items.append((f, f"{folder}/{doc.name}.{f.role}"))
        elif f.role in OCR_ROLES:
            items.append((f, f"{folder}/{OCR_FOLDER}/{PurePosixPath(f.rel).name}"))
    if include_masters:
        items += [(f, f"{folder}/{MASTERS_FOLDER}/{f.rel}") for f in doc.masters]
    return items


class Dat93Format(PackageFormat):
    name = "dat93"
    kind = "dat93"
    journal_path = JOURNAL_PATH
    qc_folder = QC_FOLDER

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.folders = {
            doc.archival_code: "/".join([*classification(self.handoff, doc.record), doc.name])
            for doc in self.handoff.documents
        }
        if len(set(self.folders.values())) != len(self.folders):
            raise HandoffError("two records would share one folder in the transfer package")
        # the 立档单位 hands its records over; the archives (a fallback of BagIt's Source-Organization) receive them
        settings = self.handoff.settings
        self.transferring_unit = settings.archive.creating_unit or settings.handoff.source_organization
        if not self.transferring_unit:
            raise HandoffError(
                "the DA/T 93 说明文件 and 移交清单 name the 移交单位: set [archive] creating_unit "
                "(or [handoff] source_organization) in the profile"
            )

    def content(self) -> list[tuple[SourceFile, str]]:
        items = []
        for doc in self.handoff.documents:
            items += record_files(doc, self.folders[doc.archival_code], self.handoff.include_masters)
        return items

    def add_metadata(self, exported: dict[str, bytes]) -> None:
        self.packer.write(CATALOGUE, exported[catalogue_file()])
        for doc in self.handoff.documents:
            self.packer.write(f"{self.folders[doc.archival_code]}/{doc.name}.xml", exported[dat46_file(doc.name)])

    # ------------------------------------------------------------------ content totals
    def record_totals(self) -> tuple[int, int]:
        """Files and bytes inside the record folders (what 说明文件 and 登记表 count)."""
        prefixes = tuple(folder + "/" for folder in self.folders.values())
        sizes = [size for rel, (_, size) in self.packer.written.items() if rel.startswith(prefixes)]
        return len(sizes), sum(sizes)

    def finish(self, journal_head: str, journal_events: int) -> dict[str, Any]:
        files, size = self.record_totals()
        self.packer.write(RULES, rules_text(self.handoff).encode("utf-8"))
        self.packer.write(STATEMENT, serialize(self.statement(files, size, journal_head, journal_events)))
        self.packer.write(TRANSFER_LIST, serialize(self.transfer_list()))
        self.packer.write(REGISTER, serialize(self.register(files, size, journal_events)))
        listing = checksum_list_bytes((rel, digest) for rel, (digest, _) in self.packer.written.items())
        self.packer.write(FIXITY, listing)
        _check_sizes(self.packer)
        return {
            "fixity": FIXITY,
            "fixity_sha256": self.packer.written[FIXITY][0],
            "record_files": files,
            "record_bytes": size,
            "files": len(self.packer.written),
            "bytes": self.packer.total_bytes(),
        }

    # ------------------------------------------------------------------ 说明文件
    def statement(self, files: int, size: int, journal_head: str, journal_events: int) -> etree._Element:
        h = self.handoff
        first, last = h.code_range()
        root = etree.Element("说明文件")
        carrier = sub(root, "载体")
        for name, value in self.carrier_parameters().items():
            sub(carrier, name, value)
        exchange = sub(root, "交接信息")
        sub(exchange, "移交单位", self.transferring_unit)
        sub(exchange, "接收单位", h.receiving_unit() or "未填写")
        sub(exchange, "封包日期", dt.date.today().isoformat())
        content = sub(root, "内容描述")
        sub(content, "全宗号", h.fonds)
        sub(content, "全宗名称", h.info.fonds_name)
        sub(content, "年度", "、".join(sorted({d.record.year for d in h.documents if d.record.year})))
        sub(
            content,
            "保管期限",
            "、".join(sorted({d.record.get("保管期限") for d in h.documents if d.record.get("保管期限")})),
        )
        sub(
            content,
            "说明",
            f"纸质档案数字化成果：每件 {layout_formats(h.settings)} 版式文件各一（含 OCR 全文层）、"
            "DA/T 46-2009 元数据 XML、逐页 OCR 全文"
            + ("和原始扫描图像" if h.include_masters else "（未含原始扫描图像）")
            + "。",
        )
        codes = sub(root, "起止档号")
        sub(codes, "起始档号", first)
        sub(codes, "终止档号", last)
        quantity = sub(root, "档案数量")
        sub(quantity, "件数", len(h.documents))
        sub(quantity, "页数", h.page_count)
        sub(quantity, "文件数", files)
        sub(quantity, "字节数", size)
        env = sub(root, "软硬件环境")
        environment = h.environment()
        sub(env, "软件", environment["software"])
        sub(env, "操作系统", environment["os"])
        sub(env, "硬件", environment["hardware"])
        formats = sub(root, "文件格式")
        sub(formats, "内容文件", layout_formats(h.settings))
        master_formats = sorted(
            {f.source.suffix.lstrip(".").upper() for d in h.documents for f in d.masters if f.source.suffix}
        )
        if h.include_masters:
            sub(formats, "原始图像", "、".join(master_formats))
        sub(formats, "元数据", "XML（DA/T 46-2009 元数据项）；目录文件 XML（DA/T 93-2022）")
        sub(formats, "全文", "TXT、hOCR、ALTO 4.4")
        qc = sub(root, "质量检查")
        sub(qc, "结论", h.qc.label_zh)
        sub(qc, "抽样方案", h.qc.plan or "未说明")
        sub(qc, "说明", h.qc.message)
        if self.override is not None:
            sub(qc, "强制移交", self.override.text())
        fixity = sub(root, "固化信息")
        sub(fixity, "算法", "SHA-256")
        sub(fixity, "校验清单", FIXITY)
        sub(fixity, "过程记录", JOURNAL_PATH)
        sub(fixity, "过程记录事件数", journal_events)
        sub(fixity, "过程记录头哈希", journal_head)
        sub(root, "目录结构", "/".join([*classification_levels(h.settings), "档号"]))
        sub(root, "移交清单", TRANSFER_LIST)
        if h.left_out or h.failed:
            missing = sub(root, "未移交")
            for item in h.left_out:
                sub(missing, "档号", item["archival_code"], {"原因": item["reason"]})
            for code in h.failed:
                sub(missing, "档号", code, {"原因": "处理失败"})
        sub(root, "生成", f"{AGENT}；批次 {h.batch_id}")
        return root

    def carrier_parameters(self) -> dict[str, str]:
        """DA/T 93 载体参数: the profile's values; not applicable online; 未填写 when not given."""
        s = self.handoff.settings.handoff
        kind = s.carrier or "未填写"
        if kind == ONLINE:
            fields = ("载体容量", "载体编号", "载体数量", "载体制作单位", "载体检查单位")
            return {"载体类型": ONLINE, **dict.fromkeys(fields, "不适用（在线移交）")}
        return {
            "载体类型": kind,
            "载体容量": s.carrier_capacity or "未填写",
            "载体编号": s.carrier_ids or "未填写",
            "载体数量": str(s.carrier_count) if s.carrier_count else "未填写",
            "载体制作单位": s.carrier_maker or "未填写",
            "载体检查单位": s.carrier_checker or "未填写",
        }

    # ------------------------------------------------------------------ 电子档案移交清单
    def transfer_list(self) -> etree._Element:
        """DA/T 93 Annex A 电子档案移交清单: one row per record, with the files of its folder."""
        root = etree.Element("电子档案移交清单")
        sub(root, "移交单位", self.transferring_unit)
        sub(root, "移交时间", dt.date.today().isoformat())
        for seq, doc in enumerate(self.handoff.documents, start=1):
            prefix = self.folders[doc.archival_code] + "/"
            row = sub(root, "文件")
            sub(row, "序号", seq)
            sub(row, "档号", doc.archival_code)
            sub(row, "题名", doc.record.title)
            sub(row, "文件数量", sum(1 for rel in self.packer.written if rel.startswith(prefix)))
            sub(row, "密级", doc.record.get("密级"))
            sub(row, "保管期限", doc.record.get("保管期限"))
            sub(row, "备注", doc.record.get("备注"))
        return root

    # ------------------------------------------------------------------ 移交登记表
    def register(self, files: int, size: int, journal_events: int) -> etree._Element:
        h = self.handoff
        root = etree.Element("电子档案移交接收登记表")
        sub(root, "交接工作名称", f"{h.info.fonds_name or h.fonds} 数字化档案移交")
        first, last = h.code_range()
        sub(root, "内容描述", f"{h.fonds} 全宗 {first} 至 {last}，{len(h.documents)} 件 {h.page_count} 页")
        sub(root, "移交电子档案数量", len(h.documents), {"单位": "件"})
        sub(root, "移交数据量", size, {"单位": "字节"})
        sub(root, "载体起止顺序号", "")
        sub(root, "移交载体类型规格", h.settings.handoff.carrier or "未填写")
        checks = sub(root, "检验内容")
        for prop, (result, rows) in four_properties(self, journal_events, size).items():
            item = sub(checks, "检验项目", attrib={"名称": f"{prop}检测"})
            sub(item, "移交单位检验结果", RESULT_WORDS[result])
            for row in rows:
                sub(
                    item,
                    "检测项",
                    row["detail"],
                    {"编号": row["item"], "名称": row["name"], "结果": RESULT_WORDS.get(row["result"], row["result"])},
                )
            sub(item, "接收单位检验结果", "")
        notes = [f"质量检查：{h.qc.label_zh}" + (f"（{h.qc.plan}）" if h.qc.plan else "")]
        if self.override is not None:
            notes.append(f"强制移交，原因：{self.override.reason}")
        if h.left_out:
            notes.append("未移交：" + "；".join(f"{d['archival_code']}（{d['reason']}）" for d in h.left_out))
        if h.failed:
            notes.append("处理失败未移交：" + "、".join(h.failed))
        sub(root, "备注", "。".join(notes))
        for side, unit in (
            ("移交单位", self.transferring_unit),
            ("接收单位", h.receiving_unit()),
        ):
            party = sub(root, side)
            sub(party, "单位名称", unit)
            sub(party, "填表人", "")
            sub(party, "审核人", "")
            sub(party, "日期", dt.date.today().isoformat() if side == "移交单位" else "")
        return root

    @classmethod
    def recognises(cls, path: Path) -> bool:
        return (path / STATEMENT).is_file() or (path / FIXITY).is_file()

    @classmethod
    def verify(cls, root: Path, report: VerifyReport, workers: int) -> None:
        """说明文件 and 目录文件 (YJ-1-12), folder structure (YJ-1-13), the fixity list (YJ-1-1,
        YJ-1-14), 件数 and 字节数 against 说明文件 (YJ-2-1, YJ-2-2), and the journal copy's chain."""
        statement = catalogue = None
        for name in (STATEMENT, CATALOGUE):
            try:
                tree = parse_file(root / name)
            except FileNotFoundError:
                report.add([Problem("missing", name)])
                continue
            except (OSError, ValueError, UnsafeXmlError) as exc:  # lxml's XMLSyntaxError is a ValueError
                report.add([Problem("structure", name, f"cannot be read: {exc}")])
                continue
            if name == STATEMENT:
                statement = tree.getroot()
            else:
                catalogue = tree
                errors = validate_xml("dat93", tree)
                report.add(Problem("structure", name, e) for e in errors[:5])
        report.check(
            "YJ-1-12",
            "说明文件和目录文件规范性检测",
            statement is not None
            and catalogue is not None
            and not any(p.path in (STATEMENT, CATALOGUE) for p in report.problems),
        )
        everything = [p for p in files_below(root) if p != FIXITY]
        fixity_ok, _ = check_listing(report, root, root / FIXITY, everything, workers)
        report.check("YJ-1-1", "固化信息有效性检测", fixity_ok, FIXITY)
        report.check("YJ-1-14", "信息包一致性检测", fixity_ok, f"{report.files_checked} files")
        # record folders: a folder holding <its name>.pdf or .ofd, at the depth the 说明文件's 目录结构 states
        folders: dict[str, str] = {}
        for rel in everything:
            parts = PurePosixPath(rel).parts
            if len(parts) >= 2 and parts[-1] in (f"{parts[-2]}.pdf", f"{parts[-2]}.ofd"):
                folders[parts[-2]] = PurePosixPath(*parts[:-1]).as_posix()
        codes = [el.text or "" for el in catalogue.getroot().iter("档号")] if catalogue is not None else []
        stated = statement.findtext("目录结构") if statement is not None else None
        levels = (stated or "全宗号/年度/保管期限/档号").split("/")  # packages before 目录结构 had four levels
        structure_ok = True
        for code in codes:
            name = archival_code_filename(code)
            folder = folders.get(name)
            if folder is None:
                structure_ok = False
                report.add([Problem("missing", name, f"no record folder for {code} in 目录文件")])
                continue
            if len(PurePosixPath(folder).parts) != len(levels):
                structure_ok = False
                report.add([Problem("structure", folder, f"a record folder belongs at {'/'.join(levels)}")])
            if not (root / folder / f"{name}.xml").is_file():
                structure_ok = False
                report.add([Problem("missing", f"{folder}/{name}.xml", "the record's metadata")])
        for name, folder in sorted(folders.items()):
            if codes and name not in {archival_code_filename(c) for c in codes}:
                structure_ok = False
                report.add([Problem("extra", folder, "record folder not in 目录文件")])
        for required in (REGISTER, FIXITY):
            if not (root / required).is_file():
                structure_ok = False
        report.check("YJ-1-13", "信息包目录结构规范性检测", structure_ok)
        if statement is not None:
            stated_count = statement.findtext("档案数量/件数") or statement.findtext("数量/件数")
            stated_bytes = statement.findtext("档案数量/字节数") or statement.findtext("数量/字节数")
            count_ok = stated_count == str(len(codes)) == str(len(folders))
            report.check(
                "YJ-2-1",
                "总件数相符性检测",
                count_ok,
                f"说明文件 {stated_count}, 目录文件 {len(codes)}, record folders {len(folders)}",
            )
            if not count_ok:
                report.add(
                    [
                        Problem(
                            "count",
                            STATEMENT,
                            f"件数 {stated_count}, 目录文件 lists {len(codes)}, {len(folders)} record folders",
                        )
                    ]
                )
            actual = sum(
                (root / rel).stat().st_size
                for rel in everything
                if any(rel.startswith(f + "/") for f in folders.values())
            )
            bytes_ok = stated_bytes == str(actual)
            report.check("YJ-2-2", "总字节数相符性检测", bytes_ok, f"说明文件 {stated_bytes}, found {actual}")
            if not bytes_ok:
                report.add([Problem("count", STATEMENT, f"字节数 {stated_bytes}, the record folders hold {actual}")])
            head = statement.findtext("固化信息/过程记录头哈希")
            events = statement.findtext("固化信息/过程记录事件数")
        else:
            head = events = None
        journal = check_journal_copy(report, root / JOURNAL_PATH, head, events)
        if journal is not None:
            check_qc_report(report, journal.events, root, f"{QC_FOLDER}/report.json")


def four_properties(
    package: Dat93Format, journal_events: int, size: int
) -> dict[str, tuple[str, list[dict[str, str]]]]:
    """The 四性 rows: this hand-off's own checks plus the QC report's results by DA/T 70 item.

    The QC report's items are given under their YJ numbers where DA/T 70 Annex A applies them
    at transfer (an item it does not, such as GD-2-9, is left out). Each property's result:
    fail when any row failed (4-1 without a virus scanner is one: not installed is 不通过);
    pass when every row passed; warn when the others passed with warnings; partial when some
    rows were not checked; "not checked" without rows.
    """
    h = package.handoff
    checked = sum(1 for f, _ in package.content())
    rows: dict[str, list[dict[str, str]]] = {p: [] for p in PROPERTIES.values()}
    rows["真实性"].append(
        {
            "item": "YJ-1-1",
            "name": "固化信息有效性检测",
            "result": "pass",
            "detail": f"封包前按过程记录重新计算并核对 {checked} 个文件的 SHA-256，全部一致",
        }
    )
    rows["真实性"].append(
        {
            "item": "YJ-1-14",
            "name": "信息包一致性检测",
            "result": "pass",
            "detail": f"信息包内全部文件的 SHA-256 记录于 {FIXITY}，接收方可用 sha256sum -c 核对",
        }
    )
    rows["完整性"].append(
        {
            "item": "YJ-2-1",
            "name": "总件数相符性检测",
            "result": "pass",
            "detail": f"目录文件、说明文件和档号文件夹均为 {len(h.documents)} 件",
        }
    )
    rows["完整性"].append(
        {
            "item": "YJ-2-2",
            "name": "总字节数相符性检测",
            "result": "pass",
            "detail": f"档号文件夹共 {size} 字节，与说明文件一致",
        }
    )
    rows["完整性"].append(
        {
            "item": "YJ-2-5",
            "name": "过程信息完整性检测",
            "result": "pass",
            "detail": f"过程记录 {journal_events} 条事件，哈希链完整",
        }
    )
    validated = sum(1 for d in h.documents if d.layout_validated)
    formats = "、".join(h.layout_formats())
    rows["可用性"].append(
        {
            "item": "YJ-3-3",
            "name": "内容数据格式检测",
            "result": "pass" if validated == len(h.documents) else "not checked",
            "detail": f"{validated}/{len(h.documents)} 件的版式文件（{formats}）经格式校验",
        }
    )
    own = {row["item"] for found in rows.values() for row in found}
    for item in h.qc.items:
        m = _ITEM.search(item["item"])
        if not m or not applies(f"{m.group(1)}-{m.group(2)}", "YJ") or f"YJ-{m.group(1)}-{m.group(2)}" in own:
            continue
        result = {"pass": "pass", "warn": "warn", "fail": "fail"}.get(item["result"], "not checked")
        if f"{m.group(1)}-{m.group(2)}" == "4-1" and result == "warn":
            result = "fail"  # 系统是否安装杀毒软件: QC warns that none is installed; the item is not passed
        rows[PROPERTIES[m.group(1)]].append(
            {
                "item": f"YJ-{m.group(1)}-{m.group(2)}",
                "name": item.get("name", ""),
                "result": result,
                "detail": f"质量检查报告（{item['item']}，移交前检测）",
            }
        )
    summary: dict[str, tuple[str, list[dict[str, str]]]] = {}
    for prop, found in rows.items():
        results = {r["result"] for r in found}
        if "fail" in results:
            overall = "fail"
        elif results <= {"pass", "warn"} and results:
            overall = "pass" if results == {"pass"} else "warn"
        else:
            overall = "partial" if results & {"pass", "warn"} else "not checked"
        summary[prop] = (overall, found)
    return summary


def layout_formats(settings: Any) -> str:
    """The record's layout formats as 说明文件 and 规则说明 name them."""
    names = {
        "pdfa": f"PDF/A-{settings.pdf.pdfa_flavour}（GB/T 23286 / ISO 19005）",
        "ofd": "OFD（GB/T 33190-2016）",
    }
    return "、".join(names[f] for f in settings.output.formats)


def rules_text(handoff: Any) -> str:
    s = handoff.settings
    return "\n".join(
        [
            "规则说明",
            "",
            f"档号编制规则：{s.archival_code.template}（件号 {s.archival_code.item_digits} 位）",
            "文件命名：每件一个文件夹，以档号命名；内容文件 <档号>.pdf 和/或 <档号>.ofd，元数据 <档号>.xml；"
            "逐页全文 <档号>-<4 位图像流水号>.txt/.hocr/.alto.xml（DA/T 31-2017）；原始图像保留扫描时的文件名。",
            f"目录结构：{'/'.join(classification_levels(s))}/档号/（DA/T 93-2022 移交信息包，按档号逐级建立）。",
            f"电子档案移交清单：{TRANSFER_LIST}（DA/T 93-2022 附录 A 的项目，XML 格式）。",
            "元数据方案：DA/T 46-2009 文书类电子文件元数据方案（元素名称见各件 <档号>.xml）。",
            f"内容格式：{layout_formats(s)}，含不可见 OCR 文字层。",
            f"固化信息：SHA-256，清单见 {FIXITY}（每行“<哈希>  <相对路径>”）。",
            f"过程记录：{JOURNAL_PATH}（SQLite；events 表每条事件含前一事件的 SHA-256，构成哈希链）。",
            "",
        ]
    )


def _check_sizes(packer: Any) -> None:
    for rel, (_, size) in packer.written.items():
        path = packer.root / rel
        if not path.is_file() or path.stat().st_size != size:
            raise HandoffError(f"{rel} was not written completely")
