"""The hand-off package formats by name (`digitize handoff --format NAME`)."""

from __future__ import annotations

from digitize.errors import BadInput
from digitize.handoff.archivematica import ArchivematicaFormat
from digitize.handoff.bag import BagFormat
from digitize.handoff.dat93 import Dat93Format
from digitize.handoff.format import PackageFormat

FORMATS: dict[str, type[PackageFormat]] = {f.name: f for f in (BagFormat, Dat93Format, ArchivematicaFormat)}


def format_class(name: str) -> type[PackageFormat]:
    if name not in FORMATS:
        raise BadInput(f"unknown package format {name!r}; known: {', '.join(FORMATS)}")
    return FORMATS[name]
