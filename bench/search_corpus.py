"""Generated archive pages for the search benchmark: the OCR text of social-insurance documents.

Each document gets catalogue fields (档号, 题名, 责任者, 日期, 年度, 保管期限, 密级, 开放标识,
全宗号) and 1–6 pages of the kinds these archives hold: contribution statements (mostly
figures and dates), registration forms (names, 18-digit ID numbers, addresses, telephone
numbers), benefit approvals, notices (running text) and short applications. Names, companies,
ID numbers and notice prose come from the eval-kit's text bank (`corpus_text.py`, read from
the shared folder at run time), so the vocabulary is the one the OCR benchmarks use.

Every page is a pure function of (seed, document number): the same call gives the same text.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def text_bank(given: str | None = None) -> ModuleType:
    """The eval-kit's corpus_text module (names, ID numbers, notice prose)."""
    for candidate in (
        given,
        os.environ.get("DIGITIZE_EVAL_KIT"),
        ROOT.parent / "shared" / "eval-kit",
        "/work/shared/eval-kit",
    ):
        if candidate and (Path(candidate) / "corpus_text.py").is_file():
            sys.path.insert(0, str(candidate))
            import corpus_text

            return corpus_text
    sys.exit("corpus_text.py (eval-kit) not found: pass --eval-kit DIR or set DIGITIZE_EVAL_KIT")


FONDS = ("J022", "J031", "J045", "J108")
RETENTION = (("永久", "Y"), ("定期30年", "D30"), ("定期10年", "D10"))
SECURITY = (("公开", 0.15), ("内部", 0.8), ("秘密", 0.05))
KINDS = (("contribution", 0.35), ("registration", 0.25), ("approval", 0.15), ("notice", 0.2), ("application", 0.05))


@dataclass
class GeneratedDocument:
    number: int
    catalogue: dict[str, str]
    pages: list[str] = field(default_factory=list)


def _weighted(r: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    return r.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


class Generator:
    def __init__(self, seed: int = 2024, eval_kit: str | None = None):
        self.seed = seed
        self.T = text_bank(eval_kit)

    def document(self, number: int) -> GeneratedDocument:
        r = random.Random(self.seed * 1_000_003 + number)
        T = self.T
        kind = _weighted(r, KINDS)
        year = r.randint(2005, 2023)
        fonds = r.choice(FONDS)
        retention, code = r.choice(RETENTION)
        security = _weighted(r, SECURITY)
        open_status = "开放" if security == "公开" and r.random() < 0.8 else "控制"
        city = T.city(r)
        person = T.person_name(r)
        unit = T.company(r, city[0])
        org = r.choice(
            [f"{city[0]}社会保险基金管理中心", f"{city[0]}社会保险事业管理局", f"{city[0]}人力资源和社会保障局"]
        )
        date = (year, r.randint(1, 12), r.randint(1, 28))
        pages: list[str]
        if kind == "contribution":
            pages = [self._contribution(r, person, unit, city, year) for _ in range(r.randint(1, 4))]
            title = f"{person}社会保险个人缴费明细表（{year - 1}01—{year}06）"
        elif kind == "registration":
            people = [T.person_name(r) for _ in range(r.randint(1, 3))]
            people[0] = person
            pages = [self._registration(r, name, unit, city) for name in people]
            title = (
                f"{unit}{person}等{len(people)}人社会保险参保登记表"
                if len(people) > 1
                else f"{unit}{person}社会保险参保登记表"
            )
        elif kind == "approval":
            pages = [self._approval(r, person, unit, city, year), self._application(r, person, unit, date)]
            title = f"{person}基本养老金待遇核定审批表"
        elif kind == "notice":
            spec = T.notice(r, year=year, ci=city)
            pages = self._notice_pages(r, spec)
            title, org = spec["title"], spec["org"]
        else:
            pages = [self._application(r, person, unit, date)]
            title = f"{person}失业保险金申领申请书"
        org_code = {"contribution": "ZJ", "registration": "ZJ", "approval": "DY", "notice": "BGS"}.get(kind, "DY")
        archival_code = f"{fonds}-SB·{year}-{code}-{org_code}-{number:07d}"
        catalogue = {
            "档号": archival_code,
            "题名": title,
            "责任者": org if kind in ("notice", "approval", "application") else unit,
            "日期": f"{date[0]:04d}{date[1]:02d}{date[2]:02d}",
            "年度": str(year),
            "保管期限": retention,
            "密级": security,
            "开放标识": open_status,
            "全宗号": fonds,
        }
        return GeneratedDocument(number, catalogue, pages)

    def documents(self, count: int, start: int = 0) -> Iterator[GeneratedDocument]:
        for number in range(start, start + count):
            yield self.document(number)

    # ------------------------------------------------------------------ page kinds
    def _id(self, r: random.Random, city: tuple) -> str:
        birth = (r.randint(1950, 2000), r.randint(1, 12), r.randint(1, 28))
        return self.T.id_number(r, city[3], birth, r.random() < 0.5)

    def _contribution(self, r: random.Random, person: str, unit: str, city: tuple, year: int) -> str:
        T = self.T
        lines = [
            "社会保险个人缴费明细表",
            f"单位名称:{unit}单位编号: {r.randint(10**11, 10**12 - 1)}",
            f"姓名:{person}公民身份号码: {self._id(r, city)}",
            f"个人编号: {r.randint(10**9, 10**10 - 1)}查询期间: {year - 1}01一{year}06",
            "序号\t费款所属期\t险种\t缴费基数\t单位缴费\t个人缴费\t小计\t到账日期",
        ]
        base = r.uniform(3000, 25000)
        row = 1
        for month in range(r.randint(4, 9)):
            period = f"{year - 1 + (month // 12)}{month % 12 + 1:02d}"
            for insurance in T.INSURANCE[:4]:
                unit_rate, own_rate = T.RATES[insurance]
                paid_unit, paid_own = base * unit_rate / 100, base * own_rate / 100
                arrived = f"{year - 1}-{month % 12 + 2:02d}-{r.randint(1, 28):02d}"
                lines.append(
                    f"{row}\t{period}\t{insurance}\t{T.money(base)}\t{T.money(paid_unit)}\t{T.money(paid_own)}"
                    f"\t{T.money(paid_unit + paid_own)}\t{arrived}"
                )
                row += 1
        return "\n".join(lines)

    def _registration(self, r: random.Random, person: str, unit: str, city: tuple) -> str:
        T = self.T
        birth_id = self._id(r, city)
        born = f"{birth_id[6:10]}年{int(birth_id[10:12])}月{int(birth_id[12:14])}日"
        start = T.rand_date(r, 2005, 2023)
        lines = [
            "社会保险参保登记表",
            f"单位名称:{unit}",
            f"姓名\t{person}\t性别\t{r.choice(['男', '女'])}\t民族\t{r.choice(T.ETHNIC)}",
            f"出生日期\t{born}\t公民身份号码\t{birth_id}",
            f"户籍性质\t{r.choice(T.HUKOU)}\t文化程度\t{r.choice(T.EDU)}\t用工形式\t{r.choice(T.EMPLOY)}",
            f"家庭住址\t{T.address(r, city)}",
            f"联系电话\t{T.phone(r)}\t参保日期\t{T.cn_date(start)}",
            "参保险种\t" + "、".join(r.sample(T.INSURANCE, r.randint(3, 5))),
            f"月缴费工资\t{T.money(r.uniform(3000, 20000))}\t经办人\t{T.person_name(r)}",
            f"单位(盖章)\t经办机构审核意见:同意参保\t审核人:{T.person_name(r)}\t{T.cn_date(start)}",
        ]
        return "\n".join(lines)

    def _approval(self, r: random.Random, person: str, unit: str, city: tuple, year: int) -> str:
        T = self.T
        years = r.randint(15, 40)
        pension = r.uniform(1800, 7000)
        lines = [
            "基本养老金待遇核定审批表",
            f"姓名\t{person}\t公民身份号码\t{self._id(r, city)}",
            f"原工作单位\t{unit}",
            f"退休类别\t{r.choice(['正常退休', '特殊工种提前退休', '因病提前退休'])}\t退休时间\t{year}年{r.randint(1, 12)}月",
            f"缴费年限\t{years}年{r.randint(0, 11)}个月\t视同缴费年限\t{r.randint(0, 10)}年",
            f"个人账户储存额\t{T.money(r.uniform(20000, 200000))}",
            f"基础养老金\t{T.money(pension * 0.55)}\t个人账户养老金\t{T.money(pension * 0.3)}\t过渡性养老金\t{T.money(pension * 0.15)}",
            f"月基本养老金合计\t{T.money(pension)}",
            f"经办人:{T.person_name(r)}\t复核人:{T.person_name(r)}\t审批人:{T.person_name(r)}",
            f"审批意见:经审核,符合按月领取基本养老金条件,同意自{year}年{r.randint(1, 12)}月起发放。",
        ]
        return "\n".join(lines)

    def _application(self, r: random.Random, person: str, unit: str, date: tuple) -> str:
        spec = self.T.application_letter(r, person, unit, r.choice(["pension", "unemp", "injury", "maternity"]), date)
        return "\n".join([spec["title"], *spec["paragraphs"], f"申请人:{person}", self.T.cn_date(date)])

    def _notice_pages(self, r: random.Random, spec: dict) -> list[str]:
        T = self.T
        head = [spec["org"] + "文件", spec["docno"], spec["title"], spec["salutation"]]
        body = spec["paragraphs"]
        tail = [spec["org"], T.cn_date(spec["date"]), spec["cc"], spec["printed"]]
        lines = head + body + tail
        if len("".join(lines)) < 1200:
            return ["\n".join(lines)]
        half = len(lines) // 2
        return ["\n".join(lines[:half]), "\n".join(lines[half:])]
