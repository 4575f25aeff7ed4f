"""BagIt (RFC 8493) package of a batch, made with the `bagit` library.

    DEST/
      bagit.txt                      BagIt-Version: 1.0
      bag-info.txt                   see `bag_info`
      manifest-sha256.txt, manifest-sha512.txt
      tagmanifest-sha256.txt, tagmanifest-sha512.txt
      data/
        masters/<档号>/…              the preservation masters, as scanned (--no-masters: absent)
        documents/<档号>/<档号>.pdf    PDF/A and/or documents/<档号>/<档号>.ofd (OFD)
        documents/<档号>/<档号>.xml    DA/T 46 record
        documents/<档号>/ocr/…         hOCR, text and ALTO per page
        documents/<档号>/pages/…       page measurements (JSON)
        catalog/                      目录文件.xml (+ .gb18030.xml), ead3.xml, mets/, dc/
        qc/                           the QC report
        journal.sqlite                a consistent copy of the journal (hash-chained events)

data/ mirrors OUT, so METS files in data/catalog/mets resolve their "../../documents/…" links,
and their masters' "../../masters/<档号>/…" links (made for the bag).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from pathlib import Path
from typing import Any

import bagit

from digitize.fsutil import sha256_file
from digitize.handoff.collect import Handoff, HandoffError, SourceFile
from digitize.handoff.fixity import Problem
from digitize.handoff.format import Override, PackageFormat
from digitize.handoff.verifying import VerifyReport, as_list, check_journal_copy, check_qc_report, recorded_paths
from digitize.journal import AGENT
from digitize.layout import DOCUMENTS_DIR, JOURNAL, QC_DIR, QC_REPORT, document_dir

CHECKSUMS = ("sha256", "sha512")
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
# What a bag of ours holds at its root; anything else there is extra.
ROOT_ENTRY = re.compile(r"bagit\.txt|bag-info\.txt|data|(tag)?manifest-(sha256|sha512)\.txt")
JOURNAL_PATH = JOURNAL  # inside data/, as in OUT


def payload_path(role: str, name: str, rel: str) -> str:
    """Where a journal-recorded file of document `name` sits in the payload (without "data/")."""
    return f"masters/{name}/{rel}" if role == "master" else f"{document_dir(name)}/{rel}"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


def bag_info(
    h: Handoff, override: Override | None, payload_bytes: int, journal_head: str, journal_events: int
) -> dict[str, Any]:
    """bag-info.txt fields: the reserved ones we can fill, and ours (全宗号, 起止档号, QC, journal head)."""
    settings = h.settings.handoff
    first, last = h.code_range()
    qc = h.qc
    info: dict[str, Any] = {
        "Bagging-Date": dt.date.today().isoformat(),
        "External-Identifier": h.batch_id,
        "External-Description": f"数字化档案移交：{h.info.fonds_name or h.fonds} {len(h.documents)} 件 {h.page_count} 页"
        + (f"（{h.info.archives_name}）" if h.info.archives_name else ""),
        "Bag-Group-Identifier": settings.bag_group_identifier or h.fonds or h.batch_id,
        "Bag-Count": "1 of 1",
        "Bag-Size": human_size(payload_bytes),
        "Internal-Sender-Identifier": str(h.out.resolve()),
        "Internal-Sender-Description": (
            f"digitize hand-off of batch {h.batch_id}: {len(h.documents)} documents, {h.page_count} pages, "
            f"{' and '.join(h.layout_formats())} with OCR, DA/T 46 records, "
            + ("preservation masters" if h.include_masters else "no masters (left out on request)")
        ),
        "Bag-Software-Agent": f"{AGENT} (bagit.py {bagit.VERSION})",
        "全宗号": h.fonds,
        "起止档号": f"{first} 至 {last}",
        "Document-Count": str(len(h.documents)),
        "Page-Count": str(h.page_count),
        "Masters-Included": "yes" if h.include_masters else "no",
        "QC-Lot-Result": qc.label,
        "QC-Sampling-Plan": qc.plan or "not stated",
        "Journal-Head-Hash": journal_head,
        "Journal-Events": str(journal_events),
    }
    optional = {
        "Source-Organization": h.source_organization(),
        "Organization-Address": settings.organization_address,
        "Contact-Name": settings.contact_name,
        "Contact-Phone": settings.contact_phone,
        "Contact-Email": settings.contact_email,
        "全宗名称": h.info.fonds_name,
    }
    info.update({k: v for k, v in optional.items() if v})
    if not qc.passed:
        info["QC-Status"] = qc.message
    if override is not None:
        info["QC-Override"] = override.text()
    if h.left_out:
        info["Documents-Left-Out"] = [f"{d['archival_code']}: {d['reason']}" for d in h.left_out]
    if h.failed:
        info["Documents-Failed"] = list(h.failed)
    return info


class BagFormat(PackageFormat):
    name = "bagit"
    kind = "bag"
    journal_path = JOURNAL_PATH
    qc_folder = QC_DIR

    def content(self) -> list[tuple[SourceFile, str]]:
        items = []
        for doc in self.handoff.documents:
            items += [(f, payload_path(f.role, doc.name, f.rel)) for f in doc.outputs]
            if self.handoff.include_masters:
                items += [(f, payload_path("master", doc.name, f.rel)) for f in doc.masters]
        return items

    def master_paths(self) -> dict[str, str]:
        if not self.handoff.include_masters:
            return {}
        return {
            f.batch_rel: payload_path("master", doc.name, f.rel)
            for doc in self.handoff.documents
            for f in doc.masters
            if f.batch_rel
        }

    def add_metadata(self, exported: dict[str, bytes]) -> None:
        for rel, data in sorted(exported.items()):
            self.packer.write(rel, data)

    def finish(self, journal_head: str, journal_events: int) -> dict[str, Any]:
        root = self.packer.root
        info = bag_info(self.handoff, self.override, self.packer.total_bytes(), journal_head, journal_events)
        workers = max(1, min(self.packer.workers, os.cpu_count() or 1))
        try:
            bagit.make_bag(str(root), info, processes=workers, checksums=list(CHECKSUMS))
            (root / "bagit.txt").write_text(BAGIT_TXT, encoding="utf-8")  # bagit.py writes 0.97
            bag = bagit.Bag(str(root))
            bag.save()  # rewrites the tag manifests over the new bagit.txt
            bag = bagit.Bag(str(root))
            bag.validate(completeness_only=True)
        except (bagit.BagError, OSError) as exc:
            raise HandoffError(f"the bag could not be made: {exc}") from exc
        mismatched = []
        for rel, (digest, _size) in self.packer.written.items():
            entry = bag.entries.get(f"data/{rel}")
            if entry is None or entry.get("sha256") != digest:
                mismatched.append(rel)
        if mismatched:
            raise HandoffError(f"bag manifest differs from the bytes copied for {', '.join(mismatched[:5])}")
        oxum = bag.info["Payload-Oxum"]
        return {
            "payload_oxum": oxum,
            "files": int(oxum.split(".")[1]),
            "bytes": int(oxum.split(".")[0]),
            "fixity": "manifest-sha256.txt",
            "fixity_sha256": sha256_file(root / "manifest-sha256.txt"),
            "bag_info": {k: v for k, v in bag.info.items()},
        }

    @classmethod
    def recognises(cls, path: Path) -> bool:
        return (path / "bagit.txt").is_file()

    @classmethod
    def verify(cls, path: Path, report: VerifyReport, workers: int) -> None:
        """Full bagit validation naming every changed, missing or extra file; then the journal copy:
        its chain, its head against bag-info, and its checksums against the manifest."""
        logging.getLogger("bagit").setLevel(logging.ERROR)  # every finding is reported here, by name
        try:
            bag = bagit.Bag(str(path))
        except (bagit.BagError, OSError) as exc:
            report.add([Problem("structure", ".", f"not a readable bag: {exc}")])
            return
        missing, extra = bag.compare_manifests_with_fs()
        report.add(
            Problem(
                "extra",
                entry.name,
                "not part of the bag: its root holds only bagit.txt, bag-info.txt, manifests and data/",
            )
            for entry in sorted(path.iterdir())
            if not ROOT_ENTRY.fullmatch(entry.name)
        )
        report.add(Problem("missing", p) for p in sorted(missing))
        report.add(Problem("extra", p, "not listed in the manifests") for p in sorted(extra))
        changed: dict[str, str] = {}
        oxum_message = ""
        try:
            bag.validate(processes=max(1, workers))
        except bagit.BagValidationError as exc:
            mismatches = [d for d in (exc.details or []) if isinstance(d, bagit.ChecksumMismatch)]
            if not mismatches:
                oxum_message = str(exc) if "Oxum" in str(exc) else ""
                try:
                    bag._validate_entries(max(1, workers))  # fixity of every file still present
                except bagit.BagValidationError as exc2:
                    mismatches = [d for d in (exc2.details or []) if isinstance(d, bagit.ChecksumMismatch)]
            for d in mismatches:
                if d.path not in missing and (d.path not in changed or d.algorithm == "sha256"):
                    changed[d.path] = f"{d.algorithm} is {d.found}, the manifest says {d.expected}"
        except bagit.BagError as exc:
            report.add([Problem("structure", ".", str(exc))])
        report.add(Problem("changed", p, detail) for p, detail in sorted(changed.items()))
        if oxum_message and not (missing or extra or changed):
            report.add([Problem("count", "bag-info.txt", oxum_message)])
        payload = [p for p in bag.entries if p.startswith("data/")]
        report.files_checked = len(bag.entries)
        report.bytes_checked = sum((path / p).stat().st_size for p in payload if (path / p).is_file())
        report.check(
            "YJ-1-14", "信息包一致性检测", not (missing or extra or changed), "manifest-sha256/sha512, tagmanifest"
        )
        report.check(
            "YJ-2-2",
            "总字节数相符性检测",
            not oxum_message and not (missing or extra),
            f"Payload-Oxum {bag.info.get('Payload-Oxum')}",
        )
        documents = path / "data" / DOCUMENTS_DIR
        found = sum(1 for p in documents.iterdir() if p.is_dir()) if documents.is_dir() else 0
        stated = bag.info.get("Document-Count")
        if stated is not None:
            report.check(
                "YJ-2-1",
                "总件数相符性检测",
                str(found) == str(stated),
                f"{found} document folders, bag-info says {stated}",
            )
            if str(found) != str(stated):
                report.add(
                    [
                        Problem(
                            "count", "data/documents", f"{found} document folders, bag-info Document-Count is {stated}"
                        )
                    ]
                )
        journal = check_journal_copy(
            report, path / "data" / JOURNAL_PATH, bag.info.get("Journal-Head-Hash"), bag.info.get("Journal-Events")
        )
        if journal is not None:
            check_qc_report(report, journal.events, path, f"data/{QC_REPORT}")
            left_out = as_list(bag.info.get("Documents-Left-Out"))
            masters = bag.info.get("Masters-Included", "yes") != "no"
            expected = recorded_paths(
                journal,
                {v.split(": ", 1)[0] for v in left_out},
                masters,
                lambda role, name, rel: "data/" + payload_path(role, name, rel),
            )
            for rel, (digest, label) in sorted(expected.items()):
                entry = bag.entries.get(rel)
                if entry is None:
                    if rel not in missing:
                        report.add([Problem("missing", rel, f"{label} is recorded in the journal but not in the bag")])
                elif entry.get("sha256") != digest:
                    report.add(
                        [Problem("journal", rel, f"the manifest's SHA-256 differs from the journal's ({label})")]
                    )
            report.check(
                "YJ-1-1",
                "固化信息有效性检测",
                not any(p.kind in ("chain", "journal") for p in report.problems),
                "journal event chain and journal checksums against the manifest",
            )
