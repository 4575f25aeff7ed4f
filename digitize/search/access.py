"""Graded access: which records a caller may find and open, by 密级 and 开放标识.

密级 levels, lowest first: 公开 < 内部 < 秘密 < 机密 < 绝密 (限制 is DA/T 46's name for 内部;
"机密★10年" counts as 机密; the order is `metadata.export.access.SECURITY_ORDER`, shared with
the exports). An empty 密级 is an unmarked record and ranks as 公开. A 密级 outside the order
is shown to nobody (fail closed) until the catalogue is corrected.

开放标识: only the value 开放 opens a record to the public; 控制, 延期开放, 未审核 or an empty
field keep it closed.

A caller has one clearance, a 密级 level:
* 公开 -- a reader from outside the archive: sees records that are 开放 *and* whose 密级 is
  公开 or unmarked;
* 内部 and above -- the archive's own staff: sees every record up to that 密级, open or not.

Each record is indexed with the lowest clearance that may see it (`required_clearance`), and
the index holds one filter term per clearance that may see it (`clearance_terms`), so a search
asks the full-text index itself for visible records only: nothing above the caller's clearance
is read, shown or counted.

Catalogue filters (年度, 保管期限, 全宗号) are joined with the clearance into one term per page
for every combination (`combined_terms`): a page of 2019, 永久, J022 that 内部 may see carries
"§yrf§2019§永久§j022§1", "§y§2019§1", "§rf§永久§j022§1" and so on, for each of the 7 non-empty
sets of those fields and each clearance that may see it. A filtered search then intersects its
text terms with one short list (`combined_term`) instead of three filter lists and the long
clearance list, which FTS5 would otherwise step through page by page.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from digitize.errors import BadInput
from digitize.search.text import FACET_MARK, facet_term, fold
from metadata.export.access import OPEN, SECURITY_ORDER, AccessPolicy

LEVELS: tuple[str, ...] = tuple(spellings[0] for spellings in SECURITY_ORDER)  # 公开 … 绝密
PUBLIC = 0
NOBODY = len(LEVELS)  # a record with an unknown 密级
_RANKS = AccessPolicy(max_security=None)


class AccessError(BadInput):
    """A clearance that is not one of the levels."""


def clearance_rank(clearance: str) -> int:
    """0 for 公开 … 4 for 绝密; the spellings of the export's order are accepted (限制 = 内部)."""
    rank = _RANKS.rank(clearance) if clearance.strip() else None
    if rank is None:
        raise AccessError(f"clearance {clearance!r} is not one of {', '.join(LEVELS)}")
    return rank


def required_clearance(catalogue: Mapping[str, str]) -> int:
    """The lowest clearance rank that may see a record with these catalogue fields."""
    security = (catalogue.get("密级") or "").strip()
    rank = _RANKS.rank(security)
    if rank is None:
        return NOBODY
    if rank == PUBLIC and (catalogue.get("开放标识") or "").strip() == OPEN:
        return PUBLIC
    return max(rank, PUBLIC + 1)


def clearance_terms(required: int) -> list[str]:
    """The filter terms of a record: one per clearance rank that may see it."""
    return [facet_term("a", str(rank)) for rank in range(required, len(LEVELS))]


def visible_term(clearance: str) -> str:
    """The filter term every record visible at this clearance carries."""
    return facet_term("a", str(clearance_rank(clearance)))


COMBINED_FIELDS = (("y", "年度"), ("r", "保管期限"), ("f", "全宗号"))  # filters joined with the clearance


def combined_term(values: Sequence[tuple[str, str]], rank: int) -> str:
    """The term of pages with these (field letter, value) pairs, in `COMBINED_FIELDS` order,
    visible at clearance `rank`: combined_term([("y", "2019"), ("f", "J022")], 1) -> "§yf§2019§j022§1"."""
    names = "".join(name for name, _ in values)
    return FACET_MARK.join([FACET_MARK + names, *(fold(value) for _, value in values), str(rank)])


def combined_terms(catalogue: Mapping[str, str], required: int) -> list[str]:
    """A record's terms for every non-empty set of the combined fields it has, at every
    clearance rank that may see it."""
    present = [
        (name, value) for name, field_name in COMBINED_FIELDS if (value := (catalogue.get(field_name) or "").strip())
    ]
    subsets = [c for size in range(1, len(present) + 1) for c in itertools.combinations(present, size)]
    return [combined_term(subset, rank) for subset in subsets for rank in range(required, len(LEVELS))]
