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
"""

from __future__ import annotations

from collections.abc import Mapping

from digitize.errors import BadInput
from digitize.search.text import facet_term
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
