"""Hand-off packages of a processed batch, and their verification at any later time.

    from digitize.handoff import make_package, verify
    result = make_package(HandoffRequest(OUT, DEST, "bagit", settings))   # or "dat93", "archivematica"
    report = verify(DEST)                                         # or an OUT folder

Modules: collect (what goes in, checked against the journal), package (the steps every format
shares), format (what a format provides), bag / dat93 / archivematica (the formats: how each is
made and verified), formats (the formats by name), verify (what a folder is; an OUT folder's
own check), verifying (what verification shares), fixity (checksums and lists), qcstatus
(reading the QC verdict).
"""

from digitize.handoff.collect import HandoffError, HandoffRefused
from digitize.handoff.fixity import Problem
from digitize.handoff.formats import FORMATS
from digitize.handoff.package import HandoffRequest, PackageResult, make_package
from digitize.handoff.verify import verify
from digitize.handoff.verifying import VerifyError, VerifyReport

__all__ = [
    "FORMATS",
    "HandoffError",
    "HandoffRefused",
    "HandoffRequest",
    "PackageResult",
    "Problem",
    "VerifyError",
    "VerifyReport",
    "make_package",
    "verify",
]
