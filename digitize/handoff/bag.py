"""BagIt (RFC 8493) package of a batch, made with the `bagit` library.

    DEST/
      bagit.txt                      BagIt-Version: 1.0
      bag-info.txt                   see `bag_info`
      manifest-sha256.txt, manifest-sha512.txt
      tagmanifest-sha256.txt, tagmanifest-sha512.txt
      data/
        masters/<档号>/…              the preservation masters, as scanned (--no-masters: absent)
        documents/<档号>/<档号>.pdf    PDF/A
        documents/<档号>/<档号>.xml    DA/T 46 record
        documents/<档号>/ocr/…         hOCR, text and ALTO per page
        documents/<档号>/pages/…       page measurements (JSON)
        catalog/                      目录文件.xml (+ .gb18030.xml), ead3.xml, mets/, dc/
        qc/                           the QC report
        journal.sqlite                a consistent copy of the journal (hash-chained events)

data/ mirrors OUT, so METS files in data/catalog/mets resolve their "../../documents/…" links.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import bagit

from digitize.fsutil import sha256_file
from digitize.handoff.collect import Handoff, HandoffError, SourceFile
from digitize.handoff.format import Override, PackageFormat
from digitize.journal import AGENT
from digitize.layout import JOURNAL, QC_DIR, document_dir

CHECKSUMS = ("sha256", "sha512")
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
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
            f"PDF/A-{h.settings.pdf.pdfa_flavour} with OCR, DA/T 46 records, "
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
    if qc.state not in ("pass",):
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
    journal_path = JOURNAL_PATH
    qc_folder = QC_DIR

    def content(self) -> list[tuple[SourceFile, str]]:
        items = []
        for doc in self.handoff.documents:
            items += [(f, payload_path(f.role, doc.name, f.rel)) for f in doc.outputs]
            if self.handoff.include_masters:
                items += [(f, payload_path("master", doc.name, f.rel)) for f in doc.masters]
        return items

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
