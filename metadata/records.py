"""The metadata record model: the single input of every exporter in `metadata.export`.

The pipeline fills these dataclasses from its journal (files, checksums, page metrics, events)
and from the catalogue row of each document (归档文件目录). Exporters only read them.

Conventions
- Paths are POSIX strings. Derived files (PDF, ALTO, hOCR, text) are relative to the output
  folder OUT; master images are relative to the batch folder they were scanned into.
- Date-times are ISO 8601 strings with a UTC offset, e.g. "2024-05-01T10:00:00+08:00".
- Catalogue dates are DA/T 22 `YYYYMMDD` strings; "00" marks an unknown month or day.
- Descriptive fields are keyed by the DA/T catalogue names, exactly as
  `metadata.catalog.CatalogRecord.labelled()` gives them: 档号, 题名, 责任者, 日期 (YYYYMMDD),
  密级, 保管期限, 页数, 文号, 备注, 开放标识, 全宗号, 年度, 机构或问题, 件号, 文种, 主题词,
  保密期限, 稿本, 人名, 范围和提要, 分类号, ...
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from metadata.dates import parse_date

FILE_ROLES = ("pdf", "ofd", "master", "alto", "hocr", "text")
# DA/T 46 档号 container (M9-M20), in schema order.
CODE_ELEMENTS = ("全宗号", "目录号", "年度", "保管期限", "机构或问题", "类别号", "室编案卷号", "馆编案卷号", "室编件号")
COLOUR_MODES = ("黑白二值", "灰度", "彩色")  # DA/T 46 M55 扫描色彩模式
AGENT_TYPES = ("software", "organization", "person")
UNKNOWN = "未知"
# Where a page's resolution comes from: the file's tag ("file" in older journals), the operator's
# setting (--dpi or the profile), an estimate from the page, or nowhere ("default": a fallback
# value older versions assumed; "unknown").
DPI_SOURCES = ("tag", "file", "override", "profile", "estimated", "default", "unknown")
UNKNOWN_DPI_SOURCES = ("default", "unknown")

# PRONOM identifiers for the formats this toolkit reads or writes: (format name, version) -> PUID.
PRONOM_PUIDS = {
    ("PDF/A", "1b"): "fmt/354",
    ("PDF/A", "2b"): "fmt/477",  # fmt/476 is PDF/A-2a
    ("PDF/A", "3b"): "fmt/480",
    ("TIFF", "6.0"): "fmt/353",  # PRONOM has one entry for baseline TIFF
    ("JPEG", "1.00"): "fmt/42",
    ("JPEG", "1.01"): "fmt/43",
    ("JPEG", "1.02"): "fmt/44",
    ("PNG", "1.0"): "fmt/11",
    ("PNG", "1.1"): "fmt/12",
    ("PNG", "1.2"): "fmt/13",
    ("JPEG 2000", "JP2"): "x-fmt/392",
}

# PREMIS event types used by the pipeline: term of the Library of Congress vocabulary
# http://id.loc.gov/vocabulary/preservation/eventType -> its URI.
PREMIS_EVENT_TYPES = {
    "capture": "http://id.loc.gov/vocabulary/preservation/eventType/cap",
    "creation": "http://id.loc.gov/vocabulary/preservation/eventType/cre",
    "message digest calculation": "http://id.loc.gov/vocabulary/preservation/eventType/mes",
    "fixity check": "http://id.loc.gov/vocabulary/preservation/eventType/fix",
    "validation": "http://id.loc.gov/vocabulary/preservation/eventType/val",
    "format identification": "http://id.loc.gov/vocabulary/preservation/eventType/for",
    "modification": "http://id.loc.gov/vocabulary/preservation/eventType/mod",
    "normalization": "http://id.loc.gov/vocabulary/preservation/eventType/nor",
    "migration": "http://id.loc.gov/vocabulary/preservation/eventType/mig",
    "virus check": "http://id.loc.gov/vocabulary/preservation/eventType/vir",
}

_TERM_SEPARATORS = re.compile(r"[\s;；,，、]+")


def pronom_puid(format_name: str, format_version: str | None) -> str | None:
    """The PRONOM PUID of a format this toolkit knows, else None."""
    return PRONOM_PUIDS.get((format_name, format_version or ""))


def iso_date(yyyymmdd: str) -> str | None:
    """DA/T 22 date "20110305" -> "2011-03-05"; "20110300" -> "2011-03"; "20110000" -> "2011".

    Returns None for an empty value; raises ValueError for anything else that is not a catalogue date.
    """
    value = (yyyymmdd or "").strip()
    if not value:
        return None
    date = parse_date(value)
    if date is None:
        raise ValueError(f"日期 {value!r} is not YYYYMMDD")
    return date.iso()


def identifier_type(identifier: str) -> str:
    """PREMIS identifier type for an id from the journal: "UUID" when it is one, else "local"."""
    try:
        uuid.UUID(identifier)
    except ValueError:
        return "local"
    return "UUID"


@dataclass(frozen=True)
class FileInfo:
    """One file of a document: the PDF, a master image, or an OCR output of one page."""

    role: str  # one of FILE_ROLES
    path: str  # POSIX; relative to OUT, or (masters) relative to the batch folder
    size: int  # bytes
    sha256: str  # lower-case hex
    mime_type: str  # IANA media type: "application/pdf", "image/tiff", "application/xml" (ALTO)
    format_name: str  # "PDF/A", "TIFF", "JPEG", "ALTO", "hOCR", "Text"
    format_version: str | None = None  # "2b", "6.0", "1.01", "4.4"
    puid: str | None = None  # PRONOM PUID when known (see `pronom_puid`)
    created: str | None = None  # ISO 8601 date-time the file was written (masters: scan time)
    page_no: int | None = None  # None for whole-document files

    def __post_init__(self) -> None:
        if self.role not in FILE_ROLES:
            raise ValueError(f"unknown file role {self.role!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError(f"{self.path}: sha256 must be 64 lower-case hex digits")

    @property
    def name(self) -> str:
        """The file name without folders (DA/T 46 M48 计算机文件名)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def format_label(self) -> str:
        """Format name and version for people: "PDF/A-2b", "TIFF 6.0", "JPEG", "OFD 1.0"."""
        if not self.format_version:
            return self.format_name
        sep = "-" if self.format_name == "PDF/A" else " "
        return f"{self.format_name}{sep}{self.format_version}"

    @property
    def format_information(self) -> str:
        """DA/T 46 M47 格式信息: "PDF/A-2b (application/pdf, PRONOM fmt/477)", "OFD 1.0 (application/ofd)"."""
        extra = ", ".join(x for x in (self.mime_type, self.puid and f"PRONOM {self.puid}") if x)
        return f"{self.format_label} ({extra})"


@dataclass(frozen=True)
class PageInfo:
    """One scanned page: its master image, its ALTO and the measurements taken from it."""

    page_no: int  # 1-based image number within the document (DA/T 31 图像流水号)
    master: FileInfo
    alto: FileInfo | None
    dpi: int | None  # None: nobody knows the scanning resolution
    colour_mode: str  # one of COLOUR_MODES (DA/T 46 M55)
    compression: str  # of the master: "CCITT Group 4", "JPEG", "LZW", "Deflate", "None"
    width_px: int
    height_px: int
    is_blank: bool = False
    skew_deg: float = 0.0  # skew measured on the scan (the correction applied to the working copy)
    orientation_deg: int = 0  # rotation applied to reach reading direction: 0, 90, 180, 270
    ocr_confidence: float | None = None  # mean word confidence 0..100, None without OCR
    pdf_page: int | None = None  # 1-based page index in the document's layout files (PDF/A, OFD); None if absent
    dpi_source: str = "tag"  # where `dpi` comes from: one of DPI_SOURCES

    def __post_init__(self) -> None:
        if self.colour_mode not in COLOUR_MODES:
            raise ValueError(f"page {self.page_no}: colour mode {self.colour_mode!r} is not one of {COLOUR_MODES}")
        if self.dpi_source not in DPI_SOURCES:
            raise ValueError(f"page {self.page_no}: dpi source {self.dpi_source!r} is not one of {DPI_SOURCES}")

    @property
    def resolution(self) -> str:
        """M54 扫描分辨率 as known: "300dpi" from the file's tag or the operator's setting,
        "约150dpi（估算）" estimated from the page, "未知" when nobody measured it."""
        if self.dpi is None or self.dpi_source in UNKNOWN_DPI_SOURCES:
            return UNKNOWN
        if self.dpi_source == "estimated":
            return f"约{self.dpi}dpi（估算）"
        return f"{self.dpi}dpi"


@dataclass(frozen=True)
class Agent:
    """A PREMIS agent: the software, organisation or person behind events."""

    identifier: str
    name: str
    type: str  # one of AGENT_TYPES
    version: str | None = None  # software version

    def __post_init__(self) -> None:
        if self.type not in AGENT_TYPES:
            raise ValueError(f"agent {self.identifier}: type {self.type!r} is not one of {AGENT_TYPES}")


@dataclass(frozen=True)
class Event:
    """A PREMIS event from the journal. `type` is a term of PREMIS_EVENT_TYPES."""

    identifier: str  # journal id or UUID
    type: str
    datetime: str  # ISO 8601
    detail: str = ""
    outcome: str = "success"  # success | failure | warning
    agent_ids: tuple[str, ...] = ()  # Agent.identifier values
    object_ids: tuple[str, ...] = ()  # FileInfo.path of the files it examined or acted on (PREMIS "source")
    outcome_ids: tuple[str, ...] = ()  # FileInfo.path of the files it made (PREMIS "outcome")

    def __post_init__(self) -> None:
        if self.type not in PREMIS_EVENT_TYPES:
            raise ValueError(f"event {self.identifier}: {self.type!r} is not a PREMIS event type we use")


@dataclass
class ArchiveRecord:
    """One document (件): its catalogue row plus everything the pipeline knows about its files.

    The DA/T 46 technical values are properties derived from `pdf` and `pages`, so they cannot
    disagree with the files; only values no file can tell are fields.
    """

    archival_code: str  # 档号
    catalogue: dict[str, str]  # CatalogRecord.labelled(): keyed by DA/T names (题名, 日期, 密级, ...)
    pdf: FileInfo | None = None  # the PDF/A; None without one (catalogue-only, or an OFD-only profile)
    pages: list[PageInfo] = field(default_factory=list)
    # M44 语种, ISO 639-2/B: the catalogue's, else what the document's OCR text shows; [] unknown
    language: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)
    creating_application: str = ""  # M50 文档创建程序, e.g. "digitize 0.1.0; OCR tesseract 5.3.0 (tesserocr 2.7.1)"
    information_system: str = ""  # M51 信息系统描述: the system the layout files were made in
    physical_form: str = "纸质"  # M53 数字化对象形态 (carrier / size of the original, e.g. "纸质 A4")
    ofd: FileInfo | None = None  # the OFD (GB/T 33190) when the profile asks for one
    # M9-M20, the components of the 档号 by DA/T 46 element name (全宗号, 年度, 保管期限, 机构或问题,
    # 类别号, 室编案卷号, 室编件号), from the parsed 档号 and the catalogue (`CODE_ELEMENTS`)
    code_parts: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        """A catalogue value, stripped; "" when missing."""
        return (self.catalogue.get(name) or "").strip()

    def terms(self, name: str) -> list[str]:
        """A list-valued catalogue field (主题词, 关键词, 人名) split at spaces and ;；,，、."""
        return [t for t in _TERM_SEPARATORS.split(self.get(name)) if t]

    @property
    def title(self) -> str:
        return self.get("题名")

    @property
    def date_iso(self) -> str | None:
        """日期 as an ISO 8601 date (year, year-month or full date)."""
        return iso_date(self.get("日期"))

    @property
    def year(self) -> str:
        """年度, falling back to the year of 日期."""
        return self.get("年度") or self.get("日期")[:4]

    @property
    def page_count(self) -> int:
        """M43 页数: the catalogue value, else the number of non-blank scanned pages (DA/T 22)."""
        value = self.get("页数")
        if value:
            return int(value)
        return sum(1 for p in self.pages if not p.is_blank)

    @property
    def layout_files(self) -> list[FileInfo]:
        """The document's layout files (PDF/A, OFD): its 电子文件 (DA/T 46 M46-M51). None: not scanned yet."""
        return [f for f in (self.pdf, self.ofd) if f is not None]

    @property
    def scanned(self) -> bool:
        """True once the document was processed (it has a layout file); False for a catalogue-only row."""
        return bool(self.layout_files)

    @property
    def files(self) -> list[FileInfo]:
        """Every file of the record: PDF and OFD first, then each page's master and ALTO."""
        out = list(self.layout_files)
        for page in self.pages:
            if page.master not in out:  # pages of one multi-page TIFF or PDF share their master
                out.append(page.master)
            if page.alto:
                out.append(page.alto)
        return out

    # DA/T 46 M54-M56: pages of one document may differ, so these are lists of distinct values.
    @property
    def scanning_resolutions(self) -> list[str]:
        """M54 扫描分辨率, e.g. ["300dpi"], ["300dpi", "未知"] (see `PageInfo.resolution`)."""
        return _distinct(p.resolution for p in self.pages)

    @property
    def colour_modes(self) -> list[str]:
        """M55 扫描色彩模式, e.g. ["黑白二值", "彩色"]."""
        return _distinct(p.colour_mode for p in self.pages)

    @property
    def compression_schemes(self) -> list[str]:
        """M56 图像压缩方案 of the masters, e.g. ["CCITT Group 4", "JPEG"]."""
        return _distinct(p.compression for p in self.pages)


@dataclass(frozen=True)
class BatchInfo:
    """The batch (one delivery of scans) and the archives it belongs to."""

    batch_id: str
    fonds_id: str  # 全宗号
    fonds_name: str  # 全宗名称
    archives_name: str  # 档案馆名称
    archives_code: str  # 档案馆代码
    creating_unit: str  # 立档单位名称
    created: str  # ISO 8601 date-time of the export / batch
    software_name: str = "digitize"
    software_version: str = ""
    language: str = "chi"  # ISO 639-2/B of the descriptions (catalogue language)

    @property
    def software(self) -> str:
        return f"{self.software_name} {self.software_version}".strip()


def _distinct(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return out
