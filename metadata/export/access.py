"""Access control on export: which records a file may describe, by 密级 and 开放标识.

Records that a policy does not allow are LEFT OUT of the file entirely, not redacted. A
redacted entry (档号 only) would still disclose that the record exists and how many there are,
and would break the schemas that require a title. Every exporter reports what it left out and
why (see `Exclusion`), so counts can be reconciled with the catalogue.

Defaults (see `default_policy`):
- public-facing formats (EAD3 finding aid, Dublin Core): only records whose 开放标识 is 开放
  and whose 密级 is 公开 or unmarked.
- internal formats (DA/T 93 目录文件, DA/T 46 record, METS): every record up to 内部; records
  marked 秘密, 机密 or 绝密 are left out everywhere, because classified (涉密) material must
  only be handled in approved classified systems, not written by this tool.
A record with a 密级 outside the configured order is left out (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from metadata.records import ArchiveRecord

# Security levels from lowest to highest; each entry lists the spellings of one level.
# 限制 is the DA/T 46 name for the level most catalogues call 内部.
SECURITY_ORDER: tuple[tuple[str, ...], ...] = (("公开",), ("内部", "限制"), ("秘密",), ("机密",), ("绝密",))
OPEN = "开放"
CLASSIFIED_RANK = 2  # index of 秘密 in SECURITY_ORDER
PUBLIC_FORMATS = frozenset({"ead3", "dc"})


@dataclass(frozen=True)
class AccessPolicy:
    """What an export may contain.

    max_security: highest 密级 allowed (a spelling from `security_order`); None allows all.
    open_only: only records whose 开放标识 is 开放 (empty or any other value is excluded).
    security_order: the levels from lowest to highest, each a tuple of equivalent spellings.
    An empty 密级 means the document carries no marking and ranks as the lowest level.
    """

    max_security: str | None = "内部"
    open_only: bool = False
    security_order: tuple[tuple[str, ...], ...] = SECURITY_ORDER

    def __post_init__(self) -> None:
        if self.max_security is not None and self.rank(self.max_security) is None:
            raise ValueError(f"max_security {self.max_security!r} is not in the security order")

    def rank(self, security: str) -> int | None:
        """Rank of a 密级 value (0 = lowest); a period after ★ is ignored ("机密★10年")."""
        level = security.split("★", 1)[0].strip()
        if not level:
            return 0
        for rank, spellings in enumerate(self.security_order):
            if level in spellings:
                return rank
        return None

    def reason_to_exclude(self, record: ArchiveRecord) -> str | None:
        """Why this policy leaves the record out, or None when it may be exported."""
        security = record.get("密级")
        if self.max_security is not None:
            rank = self.rank(security)
            if rank is None:
                return f"密级 {security!r} is not a known level"
            if rank > (self.rank(self.max_security) or 0):  # the highest level is known (__post_init__)
                return f"密级 {security} is above {self.max_security}"
        if self.open_only and record.get("开放标识") != OPEN:
            status = record.get("开放标识") or "(empty)"
            return f"开放标识 {status} is not {OPEN}"
        return None


PUBLIC_POLICY = AccessPolicy(max_security="公开", open_only=True)
INTERNAL_POLICY = AccessPolicy(max_security="内部", open_only=False)


def classified_reason(security: str) -> str | None:
    """Why a 密级 makes a record classified (秘密 and above, or a level nobody knows), else None."""
    rank = INTERNAL_POLICY.rank(security)
    if rank is None:
        return f"密级 {security!r} is not a known level"
    if rank >= CLASSIFIED_RANK:
        return f"密级 {security} is classified (秘密 and above)"
    return None


def default_policy(fmt: str) -> AccessPolicy:
    """The policy used for a format when the caller gives none."""
    return PUBLIC_POLICY if fmt in PUBLIC_FORMATS else INTERNAL_POLICY


@dataclass(frozen=True)
class Exclusion:
    """A record an export left out, and why."""

    format: str
    archival_code: str
    reason: str


def apply_policy(
    records: Iterable[ArchiveRecord], policy: AccessPolicy, fmt: str
) -> tuple[list[ArchiveRecord], list[Exclusion]]:
    """Split records into those `fmt` may contain and the exclusions (in input order)."""
    kept: list[ArchiveRecord] = []
    excluded: list[Exclusion] = []
    for record in records:
        reason = policy.reason_to_exclude(record)
        if reason is None and fmt in PUBLIC_FORMATS:  # whatever the policy: never in a public file
            reason = classified_reason(record.get("密级"))
        if reason is None:
            kept.append(record)
        else:
            excluded.append(Exclusion(fmt, record.archival_code, reason))
    return kept, excluded
