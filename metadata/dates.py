"""Catalogue dates (日期, DA/T 22-2015 and DA/T 18-2022: YYYYMMDD): the one parser for them.

"20110305" is a calendar date. "20110300" (day unknown) and "20110000" (month and day unknown)
are partial dates: the exports write them as "2011-03" and "2011"; validation accepts them only
where the archives allow it (`CatalogSettings.unknown_date_parts`). Anything else (other
separators, full-width digits, 20110230, 20110005) is not a catalogue date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_YYYYMMDD = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")


@dataclass(frozen=True)
class CatalogueDate:
    year: int
    month: int | None = None  # None: unknown ("00")
    day: int | None = None  # None: unknown ("00")

    @property
    def complete(self) -> bool:
        return self.day is not None

    def as_date(self) -> dt.date | None:
        """The calendar date; None for a partial date."""
        return dt.date(self.year, self.month, self.day) if self.month and self.day else None

    def iso(self) -> str:
        """ISO 8601 at the precision known: 2011-03-05, 2011-03 or 2011."""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def parse_date(value: str) -> CatalogueDate | None:
    """A catalogue date from YYYYMMDD (00 for an unknown month or day); None for anything else."""
    match = _YYYYMMDD.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    if year == 0:
        return None
    if month == 0:
        return CatalogueDate(year) if day == 0 else None
    if day == 0:
        return CatalogueDate(year, month) if month <= 12 else None
    try:
        dt.date(year, month, day)
    except ValueError:
        return None
    return CatalogueDate(year, month, day)
