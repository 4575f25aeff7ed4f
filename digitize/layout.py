"""The layout of an output folder (OUT): the one module that spells where things are.

    OUT/
      journal.sqlite                             JOURNAL (+ its -wal / -shm files: JOURNAL_FILES)
      .lock                                      LOCK_FILE: who writes to OUT now (digitize.outlock)
      .work/<doc_key>/0001.img .hocr .txt        staged pages of an unfinished document (stage_dir)
      .work/<doc_key>/0001.page.json             a staged page's result (staged_page_record): a retry reuses it
      .work/<doc_key>/commit/                    the finished document folder before its rename
      .work/<doc_key>/manifest.json              what a worker committed (manifest): a rerun adopts it
      documents/<name>/<name>.pdf                document_dir(name) / pdf_file(name)
      documents/<name>/<name>.ofd                ofd_file(name), when [output] formats has "ofd"
      protected/<name>/…                         protected_dir(name): a classified record's folder, when
                                                 [access] classified = "separate"; never exported or handed off
      documents/<name>/<name>.xml                dat46_file(name): DA/T 46 record (export)
      documents/<name>/ocr/<name>-0001.hocr      page_file(name, 1, "hocr"); also "text" (.txt), "alto" (.alto.xml)
      documents/<name>/pages/<name>-0001.json    page_file(name, 1, "json"): the page's measurements
      catalog/目录文件.xml                        catalogue_file(): DA/T 93 (+ 目录文件.<encoding>.xml)
      catalog/ead3.xml, catalog/mets/<name>.xml, catalog/dc/<name>.xml, catalog/归档文件目录.xlsx
      qc/report.json report.html checks.csv checks.xlsx sample.csv decisions.csv decisions.jsonl measurements.json
      logs/digitize.log

<name> is the file-name form of the document's 档号
(`metadata.archival_code.archival_code_filename`); <doc_key> its folder or file name in the
batch. Paths the journal records are OUT-relative POSIX strings, as the functions here return
them; `OutLayout` turns them into paths on disk.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from digitize.errors import BadInput

JOURNAL = "journal.sqlite"
JOURNAL_FILES = (JOURNAL, f"{JOURNAL}-wal", f"{JOURNAL}-shm", f"{JOURNAL}-journal")
LOCK_FILE = ".lock"
WORK_DIR = ".work"
COMMIT_DIR = "commit"
DOCUMENTS_DIR = "documents"
PROTECTED_DIR = "protected"  # classified records under [access] classified = "separate" (owner-only)
CATALOG_DIR = "catalog"
QC_DIR = "qc"
LOGS_DIR = "logs"
LOG_FILE = f"{LOGS_DIR}/digitize.log"

# Per-page outputs of a document: role -> (folder inside the document folder, suffix).
PAGE_FILES = {
    "hocr": ("ocr", ".hocr"),
    "text": ("ocr", ".txt"),
    "alto": ("ocr", ".alto.xml"),
    "json": ("pages", ".json"),
}
OCR_ROLES = ("hocr", "text", "alto")
# Staged page files under .work/<doc_key>/: role -> suffix.
STAGED_FILES = {"image": ".img", "hocr": ".hocr", "text": ".txt"}
STAGED_RECORD_SUFFIX = ".page.json"
MANIFEST_FILE = "manifest.json"

CATALOGUE_NAME = "目录文件"
CATALOGUE_WORKBOOK = f"{CATALOG_DIR}/归档文件目录.xlsx"  # the catalogue as a spreadsheet (export -f xlsx)
EAD3_FILE = f"{CATALOG_DIR}/ead3.xml"
METS_DIR = f"{CATALOG_DIR}/mets"
DC_DIR = f"{CATALOG_DIR}/dc"

QC_REPORT = f"{QC_DIR}/report.json"
QC_REPORT_HTML = f"{QC_DIR}/report.html"
QC_CHECKS = f"{QC_DIR}/checks.csv"
QC_WORKBOOK = f"{QC_DIR}/checks.xlsx"  # checks, findings and the sample as a spreadsheet
QC_SAMPLE = f"{QC_DIR}/sample.csv"
QC_DECISIONS = f"{QC_DIR}/decisions.csv"
QC_DECISION_RECORD = (
    f"{QC_DIR}/decisions.jsonl"  # inspectors' decisions and sign-offs, appended (digitize.qc.decisions)
)
QC_MEASUREMENTS = f"{QC_DIR}/measurements.json"  # page measurements kept between qc runs
# Files digitize writes for people to fill in: recorded, but a change to them is not damage.
WORKING_COPIES = (QC_SAMPLE,)
# Files that grow line by line (the log, the inspectors' decisions): known, no checksum to hold.
APPENDED = (LOG_FILE, QC_DECISION_RECORD)
# The folders OUT always may have, even empty.
TOP_LEVEL = (WORK_DIR, DOCUMENTS_DIR, PROTECTED_DIR, CATALOG_DIR, QC_DIR, LOGS_DIR)

# Files the metadata exports write under catalog/ (the DA/T 46 records go into the document folders).
CATALOG_EXPORTS = (
    re.compile(rf"{CATALOG_DIR}/{CATALOGUE_NAME}(\.[a-z0-9]+)?\.xml"),
    re.compile(re.escape(EAD3_FILE)),
    re.compile(re.escape(CATALOGUE_WORKBOOK)),
    re.compile(rf"{METS_DIR}/[^/]+\.xml"),
    re.compile(rf"{DC_DIR}/[^/]+\.xml"),
)


class JournalMissing(BadInput):
    """OUT has no journal: it was never processed (or is not an output folder)."""


# ------------------------------------------------------------------------- OUT-relative paths
def document_dir(name: str) -> str:
    """documents/<name>"""
    return f"{DOCUMENTS_DIR}/{name}"


def protected_dir(name: str) -> str:
    """protected/<name>: a classified record's folder (same contents as under documents/)."""
    return f"{PROTECTED_DIR}/{name}"


def pdf_file(name: str) -> str:
    """<name>.pdf, inside the document folder."""
    return f"{name}.pdf"


def ofd_file(name: str) -> str:
    """The document's OFD (GB/T 33190), inside its folder."""
    return f"{name}.ofd"


def page_base(name: str, page_no: int) -> str:
    """<name>-0001: the stem of a page's files."""
    return f"{name}-{page_no:04d}"


def page_file(name: str, page_no: int, role: str) -> str:
    """A page output inside the document folder: ocr/<name>-0001.hocr, pages/<name>-0001.json, ..."""
    folder, suffix = PAGE_FILES[role]
    return f"{folder}/{page_base(name, page_no)}{suffix}"


def dat46_file(name: str) -> str:
    """documents/<name>/<name>.xml: the document's DA/T 46 record."""
    return f"{document_dir(name)}/{name}.xml"


def catalogue_file(encoding: str | None = None) -> str:
    """catalog/目录文件.xml, or catalog/目录文件.<encoding>.xml for a further encoding."""
    suffix = f".{encoding.lower()}" if encoding else ""
    return f"{CATALOG_DIR}/{CATALOGUE_NAME}{suffix}.xml"


def mets_file(name: str) -> str:
    return f"{METS_DIR}/{name}.xml"


def dc_file(name: str) -> str:
    return f"{DC_DIR}/{name}.xml"


def staged_file(page_no: int, role: str) -> str:
    """A staged page file inside .work/<doc_key>/: 0001.img, 0001.hocr, 0001.txt."""
    return f"{page_no:04d}{STAGED_FILES[role]}"


def staged_page_record(page_no: int) -> str:
    """A staged page's result inside .work/<doc_key>/: 0001.page.json."""
    return f"{page_no:04d}{STAGED_RECORD_SUFFIX}"


def is_catalog_export(rel: str) -> bool:
    """Whether an OUT-relative path is one of the batch exports under catalog/ (not a DA/T 46 record)."""
    return any(p.fullmatch(rel) for p in CATALOG_EXPORTS)


def xml_schema(rel: str) -> str | None:
    """The schema an XML file under OUT must follow (a `metadata.export.validate` kind), or None."""
    if rel.endswith(PAGE_FILES["alto"][1]):
        return "alto"
    if rel.startswith(METS_DIR + "/"):
        return "mets"
    if rel.startswith(DC_DIR + "/"):
        return "oai_dc"
    if rel == EAD3_FILE:
        return "ead3"
    if rel.startswith(f"{CATALOG_DIR}/{CATALOGUE_NAME}"):
        return "dat93"
    if re.fullmatch(rf"{DOCUMENTS_DIR}/([^/]+)/\1\.xml", rel):
        return "dat46"
    return None


# ------------------------------------------------------------------------- paths on disk
@dataclass(frozen=True)
class OutLayout:
    """The folders and files of one OUT on disk."""

    root: Path

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def work(self) -> Path:
        return self.root / WORK_DIR

    @property
    def documents(self) -> Path:
        return self.root / DOCUMENTS_DIR

    def stage_dir(self, doc_key: str) -> Path:
        return self.work / doc_key

    def commit_dir(self, doc_key: str) -> Path:
        return self.stage_dir(doc_key) / COMMIT_DIR

    def manifest(self, doc_key: str) -> Path:
        """What a worker committed for a document, kept until the journal records it."""
        return self.stage_dir(doc_key) / MANIFEST_FILE

    @property
    def qc(self) -> Path:
        return self.root / QC_DIR

    @property
    def log_file(self) -> Path:
        return self.root / LOG_FILE

    def path(self, rel: str) -> Path:
        """An OUT-relative path (as the journal records it) on disk."""
        return self.root / rel


def require_journal(out: str | os.PathLike[str]) -> OutLayout:
    """The layout of an OUT that has a journal; JournalMissing (exit 2) otherwise."""
    layout = OutLayout(Path(out))
    if not layout.journal.is_file():
        raise JournalMissing(f"{out} has no {JOURNAL}; run `digitize process` first")
    return layout


__all__ = [
    "JOURNAL",
    "JOURNAL_FILES",
    "JournalMissing",
    "OutLayout",
    "catalogue_file",
    "dat46_file",
    "dc_file",
    "document_dir",
    "is_catalog_export",
    "mets_file",
    "page_file",
    "pdf_file",
    "require_journal",
    "staged_file",
    "staged_page_record",
    "xml_schema",
]
