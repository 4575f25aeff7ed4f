"""The profile's retention schedule (保管期限表) against a record: DA/T 70 2-9 归档范围检测,
"依据单位归档范围和保管期限表对归档信息包中的元数据和内容数据进行检测，判断其是否存在遗漏或错误情况".

`covering_rule` finds the schedule item that covers a record (the first rule whose conditions
hold, `digitize.settings.RetentionRule`); the record's 保管期限 must be one that item allows.
"""

from __future__ import annotations

from collections.abc import Iterable

from digitize.settings import RetentionRule

LEVEL_SEPARATOR = "·"  # between the levels of a 门类 / 类别 code (DA/T 13-2022: ZY·JC·CC)


def covers(rule: RetentionRule, category: str, org: str, title: str) -> bool:
    """Whether the rule covers a record with this 门类/类别 code, 机构或问题 and 题名."""
    if rule.category and not (category == rule.category or category.startswith(rule.category + LEVEL_SEPARATOR)):
        return False
    if rule.org and org != rule.org:
        return False
    return not rule.keywords or any(keyword in title for keyword in rule.keywords)


def covering_rule(rules: Iterable[RetentionRule], category: str, org: str, title: str) -> RetentionRule | None:
    """The first rule that covers the record, None when the schedule has no item for it."""
    return next((rule for rule in rules if covers(rule, category, org, title)), None)
