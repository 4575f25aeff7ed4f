"""Archivematica standard transfer of a batch.

    DEST/
      objects/<档号>/<档号>.pdf, .ofd     PDF/A and/or OFD (PDF/A is identified as such, so not normalised again)
      objects/<档号>/<档号>.xml           DA/T 46 record
      objects/<档号>/ocr/…                hOCR, text and ALTO per page
      objects/<档号>/masters/…            the preservation masters (--no-masters: absent)
      metadata/metadata.csv               filename + dc.* columns, one row per record (its PDF/A, else its OFD)
      metadata/checksum.sha256            "<sha256>  objects/…" for every file below objects/
      metadata/submissionDocumentation/
          目录文件.xml                     DA/T 93 catalogue of the records in the transfer
          qc/…                            the QC report
          journal.sqlite                  a consistent copy of the journal (hash-chained events)
          transfer-info.json              the facts a bag would carry in bag-info.txt (batch,
                                          全宗号, 起止档号, counts, QC result, override, journal head)

Archivematica's "Verify transfer checksums" runs `sha256sum -c --strict metadata/checksum.sha256`
from the transfer folder and requires one line per file below objects/, so the paths start
with "objects/" and nothing else is listed.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from digitize.handoff.bag import bag_info
from digitize.handoff.collect import SourceFile
from digitize.handoff.fixity import Problem, checksum_list_bytes, files_below
from digitize.handoff.format import PackageFormat
from digitize.handoff.verifying import VerifyReport, check_journal_copy, check_listing, check_qc_report
from digitize.journal import AGENT
from digitize.layout import CATALOGUE_NAME, JOURNAL, OCR_ROLES, QC_DIR, catalogue_file, dat46_file
from metadata.export.dublincore import METADATA_CSV_COLUMNS, metadata_csv_row

OBJECTS = "objects"
METADATA_CSV = "metadata/metadata.csv"
CHECKSUMS = "metadata/checksum.sha256"
SUBMISSION = "metadata/submissionDocumentation"
JOURNAL_PATH = f"{SUBMISSION}/{JOURNAL}"
QC_FOLDER = f"{SUBMISSION}/{QC_DIR}"
TRANSFER_INFO = f"{SUBMISSION}/transfer-info.json"


def object_path(role: str, name: str, rel: str) -> str | None:
    """Where a journal-recorded file sits in the transfer; None for files it does not carry."""
    if role == "master":
        return f"{OBJECTS}/{name}/masters/{rel}"
    if role in ("pdf", "ofd") or role in OCR_ROLES:
        return f"{OBJECTS}/{name}/{rel}"
    return None  # page measurements stay in the journal


class ArchivematicaFormat(PackageFormat):
    name = "archivematica"
    kind = "archivematica"
    journal_path = JOURNAL_PATH
    qc_folder = QC_FOLDER

    def content(self) -> list[tuple[SourceFile, str]]:
        items = []
        for doc in self.handoff.documents:
            files = doc.outputs + (doc.masters if self.handoff.include_masters else [])
            for f in files:
                path = object_path(f.role, doc.name, f.rel)
                if path:
                    items.append((f, path))
        return items

    def add_metadata(self, exported: dict[str, bytes]) -> None:
        self.packer.write(f"{SUBMISSION}/{CATALOGUE_NAME}.xml", exported[catalogue_file()])
        for doc in self.handoff.documents:
            self.packer.write(f"{OBJECTS}/{doc.name}/{doc.name}.xml", exported[dat46_file(doc.name)])

    def finish(self, journal_head: str, journal_events: int) -> dict[str, Any]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(METADATA_CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for doc in self.handoff.documents:
            writer.writerow(metadata_csv_row(doc.record, f"{OBJECTS}/{doc.name}/{doc.layout.rel}"))
        self.packer.write(METADATA_CSV, buffer.getvalue().encode("utf-8"))
        info = bag_info(self.handoff, self.override, self.packer.total_bytes(), journal_head, journal_events)
        renamed = {"Bagging-Date": "Date", "Bag-Size": "Size", "Bag-Group-Identifier": "Group-Identifier"}
        info = {renamed.get(k, k): v for k, v in info.items() if k not in ("Bag-Count", "Bag-Software-Agent")}
        info["Software-Agent"] = AGENT
        self.packer.write(TRANSFER_INFO, (json.dumps(info, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        objects = [(rel, digest) for rel, (digest, _) in self.packer.written.items() if rel.startswith(OBJECTS + "/")]
        self.packer.write(CHECKSUMS, checksum_list_bytes(objects))
        return {
            "fixity": CHECKSUMS,
            "fixity_sha256": self.packer.written[CHECKSUMS][0],
            "objects": len(objects),
            "files": len(self.packer.written),
            "bytes": self.packer.total_bytes(),
        }

    @classmethod
    def recognises(cls, path: Path) -> bool:
        return (path / CHECKSUMS).is_file() or ((path / OBJECTS).is_dir() and (path / "metadata").is_dir())

    @classmethod
    def verify(cls, root: Path, report: VerifyReport, workers: int) -> None:
        """metadata/checksum.sha256 against objects/ (one line per file), the metadata.csv file names,
        and the journal copy's chain."""
        objects = [f"{OBJECTS}/{p}" for p in files_below(root / OBJECTS)] if (root / OBJECTS).is_dir() else []
        fixity_ok, listed = check_listing(report, root, root / CHECKSUMS, objects, workers)
        outside = [name for name in listed if not name.startswith(OBJECTS + "/")]
        report.add(Problem("structure", name, "checksum.sha256 may only list files below objects/") for name in outside)
        report.check("YJ-1-14", "信息包一致性检测", fixity_ok and not outside, CHECKSUMS)
        csv_path = root / METADATA_CSV
        if not csv_path.is_file():
            report.add([Problem("missing", METADATA_CSV)])
        else:
            with open(csv_path, encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader, [])
                if not header or header[0] != "filename":
                    report.add([Problem("structure", METADATA_CSV, "the first column must be 'filename'")])
                for row in reader:
                    if row and (not row[0].startswith(OBJECTS + "/") or not (root / row[0]).exists()):
                        report.add(
                            [Problem("structure", METADATA_CSV, f"filename {row[0]!r} is not a file below objects/")]
                        )
        info: dict[str, Any] = {}
        if (root / TRANSFER_INFO).is_file():
            try:
                info = json.loads((root / TRANSFER_INFO).read_text(encoding="utf-8"))
            except ValueError as exc:
                report.add([Problem("structure", TRANSFER_INFO, f"cannot be read: {exc}")])
        journal = check_journal_copy(
            report, root / JOURNAL_PATH, info.get("Journal-Head-Hash"), info.get("Journal-Events")
        )
        if journal is not None:
            check_qc_report(report, journal.events, root, f"{QC_FOLDER}/report.json")
