"""Settings: one explicit object built from defaults, an optional profile file and CLI overrides.

A profile is a TOML file whose tables mirror the dataclasses below, e.g.::

    [imaging]
    output_colour = "keep"
    [ocr]
    languages = "chi_sim+eng"
    [qc]
    min_dpi = 300

Standards choices that differ between archives (档号 template, retention vocabulary, minimum
dpi, sampling ratio, AQL, ...) live here so that nothing downstream hard-codes them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.errors import BadInput


class SettingsError(BadInput, ValueError):
    """A profile or override names an unknown setting or gives a value of the wrong type."""


@dataclass(frozen=True)
class InputSettings:
    dpi_override: int | None = None  # use this dpi instead of the file's resolution tag (and of any estimate)
    render_dpi: int = 300  # PDF pages that are not one image are rendered at this resolution
    max_image_pixels: int = 200_000_000  # decompression-bomb guard (pixels per page)
    force_text_pdf: bool = False  # process PDFs that already have a text layer


@dataclass(frozen=True)
class ImagingSettings:
    fix_orientation: bool = True
    deskew: bool = True
    min_deskew_deg: float = 0.05  # smaller estimated angles are left alone (no resampling)
    max_skew_deg: float = 15.0  # search range of the skew estimator
    crop_borders: bool = True
    crop_margin_mm: float = 2.5  # DA/T 31 §10.3: crop outside the paper edge, never into it
    output_colour: str = "auto"  # auto: grey/bitonal where colour is not needed; keep: source mode
    jpeg_quality: int = 70  # colour and greyscale page images in the PDF (see docs/benchmarks.md)
    bitonal_encoding: str = "ccitt"  # ccitt (CCITT G4) or flate


@dataclass(frozen=True)
class OcrSettings:
    languages: str = "chi_sim+eng"
    engine: str = "auto"  # auto | ppocr | tesseract; auto: PP-OCR for Chinese batches (digitize.ocr.engines)
    tesseract_api: str = "auto"  # auto | tesserocr | program; auto: tesserocr when installed
    page_timeout_s: float = 180.0
    psm: int = 4  # one column of lines of any size: CER 8 % below psm 3 on 180 pages of three sets (docs/benchmarks.md)
    tessdata_dir: str | None = None
    read_tables: bool = True  # ruled tables read cell by cell, row by row (PP-OCR and tesserocr)


@dataclass(frozen=True)
class PdfSettings:
    pdfa_flavour: str = "2b"
    validate: bool = True  # run pikepdf's PDF/A validator on every written file


LAYOUT_FORMATS = ("pdfa", "ofd")


@dataclass(frozen=True)
class OutputSettings:
    # Layout file(s) written per document: "pdfa" (PDF/A, GB/T 23286 / ISO 19005) and/or "ofd"
    # (GB/T 33190-2016), beside or instead of each other; the first is the document's primary file.
    formats: tuple[str, ...] = ("pdfa",)

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in LAYOUT_FORMATS]
        if unknown or not self.formats or len(set(self.formats)) != len(self.formats):
            raise SettingsError(
                f"[output] formats must name each of {', '.join(LAYOUT_FORMATS)} at most once, not {list(self.formats)}"
            )


@dataclass(frozen=True)
class ArchivalCodeSettings:
    # DA/T 22-2015 style by default; see metadata.archival_code for the template language.
    # DA/T 13-2022 by item: "{fonds}-{category}·{year}·{retention}·{org}-{item}";
    # by volume (按卷): "{fonds}-{category}·{year}·{retention}-{volume}-{item}" with item_digits = 3.
    template: str = "{fonds}-{category}·{year}-{retention}-{org}-{item:04d}"
    item_digits: int = 4
    # Component rules (regular expressions matched against the whole component).
    fonds_pattern: str = r"[A-Z]\d{3}|\d{4}"  # 全宗号: letter + 3 digits (J022) or 4 digits (0194)
    # 门类代码 (WS, KJ, SB, ...), optionally with up to three lower class levels joined by "·" (ZY·JC·CC)
    category_pattern: str = r"[A-Z]{2}(?:·[A-Z0-9]+){0,3}"
    retention_pattern: str = r"Y|D\d{1,3}"  # 保管期限代码: Y, D10, D30, D50, D100
    org_pattern: str = r"[A-Z0-9]+|[\u4e00-\u9fff]+"  # 机构/问题代码: BGS, 003, 办公室
    volume_pattern: str = r"\d{3}"  # 案卷号 (按卷): 3 digits, zero-padded


@dataclass(frozen=True)
class CatalogSettings:
    encoding: str = "auto"  # auto (BOM, else UTF-8, else GB18030, reported), utf-8, gb18030
    header_row: int = 1  # spreadsheet row holding the column headers
    sheet: str = ""  # XLSX worksheet name; empty: the first sheet
    # Extra header names per field, added to the built-in DA/T 22 / DA/T 18 names,
    # e.g. {"title": ["Title"], "archival_code": ["Reference code"]}.
    column_aliases: dict[str, list[str]] = field(default_factory=dict)
    # DA/T 18-2022 必著 at item level; add "open_status" (开放标识) where the archives require it.
    required_fields: tuple[str, ...] = ("archival_code", "title", "date", "author", "retention")
    # Social-insurance scale (人社部令第3号) plus the DA/T 22 定期 forms.
    retention_values: tuple[str, ...] = ("永久", "100年", "50年", "30年", "10年", "定期30年", "定期10年")
    security_values: tuple[str, ...] = ("公开", "内部", "限制", "秘密", "机密", "绝密")  # + 机密★10年
    open_status_values: tuple[str, ...] = ("开放", "控制", "延期开放", "未审核")
    # 开放标识 is 必著 (DA/T 18-2022): an empty one is an error unless the profile names the value
    # that applies to rows without one (e.g. "控制" or "未审核"); the rows it filled are reported.
    open_status_default: str = ""
    unknown_date_parts: bool = False  # accept 00 for an unknown month or day (20110300, 20110000)
    # Maximum characters per field; "*" sets the limit for fields not listed. Merged over the
    # built-in limits in metadata.validation (local practice, not fixed by a standard).
    max_lengths: dict[str, int] = field(default_factory=dict)
    # DA/T 70 1-6: GB 18030 double-byte symbols not allowed in descriptions (密级 may use ★).
    special_characters: str = "★☆○●◎◇◆□■△▲▽▼※→←↑↓〓§№"
    # Rule code (e.g. "date_year_mismatch") or DA/T 70 item ("1-8") -> "error" | "warning" | "off".
    severities: dict[str, str] = field(default_factory=dict)
    item_start: int = 1  # DA/T 70 2-6: first 件号 of each group
    # 档号 components that form a 件号 sequence (DA/T 22: the lowest class of the scheme);
    # empty: every component of the template other than the 件号.
    item_group_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class QcSettings:
    min_dpi: int = 300  # warn below this
    fail_dpi: int = 200  # fail below this (DA/T 31 §9.4 baseline)
    max_residual_skew_deg: float = 0.5
    max_raw_skew_deg: float = 3.0  # local rules (e.g. Linhai) allow at most 3° before correction
    # QC blur: median edge width of the master in px at 300 dpi (sharp scans 2-4 px, out of focus 8+)
    blur_warn_edge_px: float = 5.0
    blur_fail_edge_px: float = 6.5
    sampling_scheme: str = "dat31-ratio"  # or "iso2859-1" (AQL single sampling, qc.plans)
    sample_ratio: float = 0.05  # DA/T 31 ratio mode: share of documents to inspect
    pass_rate: float = 0.95  # DA/T 31 ratio mode: accept when at least this share passes
    aql: float = 1.0
    inspection_level: str = "II"
    sample_seed: int = 2018
    # Defect groups inspected on every affected document, outside the sample (qc.checks.CRITICAL_GROUPS)
    critical_checks: tuple[str, ...] = ("archival_code", "missing_page", "duplicate_page", "unreadable")


@dataclass(frozen=True)
class RetentionRule:
    """One item of a retention schedule: the records it covers and the 保管期限 they may have.

    A rule covers a record when each condition it gives holds: `category` is the 档号's 门类 /
    类别 code or a higher level of it ("SB" covers "SB·GS"), `org` is its 机构或问题 (code or
    name, as the record's DA/T 46 档号 element holds it), its 题名 contains one of `keywords`.
    A rule without conditions covers every record (a default, put last).
    """

    periods: tuple[str, ...]  # the 保管期限 allowed, as written in the records: ("永久",), ("30年", "定期30年")
    item: str = ""  # the schedule's item, as the QC report names it: "工伤认定材料"
    category: str = ""
    org: str = ""
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.periods or not all(isinstance(p, str) and p for p in self.periods):
            raise SettingsError(f"[retention] rule {self.item or self.label}: periods must list the 保管期限 allowed")

    @property
    def label(self) -> str:
        """How a report names the rule: its item, else its conditions."""
        if self.item:
            return self.item
        conditions = [f"{name} {value}" for name, value in (("门类", self.category), ("机构", self.org)) if value]
        if self.keywords:
            conditions.append("题名含 " + "/".join(self.keywords))
        return "、".join(conditions) or "every record"


@dataclass(frozen=True)
class RetentionSettings:
    """The unit's retention schedule (归档范围和保管期限表) for DA/T 70 2-9, as rules tried in order:
    the first rule that covers a record says which 保管期限 it may have. In a profile::

        [retention]
        schedule = "社会保险业务材料归档范围与保管期限（人社部、国家档案局令第3号）"
        [[retention.rules]]
        item = "工伤认定材料"
        keywords = ["工伤认定"]
        periods = ["50年"]
        [[retention.rules]]
        category = "SB"
        org = "ZJ"
        periods = ["永久", "100年", "30年", "定期30年"]

    Without rules 2-9 is reported "not checked"."""

    schedule: str = ""  # the schedule's name, for the report
    rules: tuple[RetentionRule, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(_retention_rule(rule) for rule in self.rules))


def _retention_rule(value: Any) -> RetentionRule:
    """A rule from a profile table (or `Settings.to_dict`), checked."""
    if isinstance(value, RetentionRule):
        return value
    if not isinstance(value, dict):
        raise SettingsError(f"[retention] rules: each rule is a table (periods = [...], ...), not {value!r}")
    known = {f.name for f in dataclasses.fields(RetentionRule)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise SettingsError(
            f"[retention] rules: unknown setting {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in value.items()}
    for name in ("periods", "keywords"):
        if name in fields and not isinstance(fields[name], tuple):
            raise SettingsError(f"[retention] rules: {name} must be a list, not {fields[name]!r}")
    if "periods" not in fields:
        raise SettingsError("[retention] rules: every rule needs periods, the 保管期限 it allows")
    return RetentionRule(**fields)


@dataclass(frozen=True)
class ArchiveSettings:
    """Who holds the archive: written into exports and hand-off packages (DA/T 46 M3–M6)."""

    archives_name: str = ""  # 档案馆名称
    archives_code: str = ""  # 档案馆代码 (6 digits)
    fonds_name: str = ""  # 全宗名称
    creating_unit: str = ""  # 立档单位名称
    physical_form: str = "纸质"  # M53 数字化对象形态, e.g. "纸质 A4"
    # What the receiving archives requires (DA/T 70 YJ-1-9); empty: not compared, reported "not checked".
    fonds_ids: tuple[str, ...] = ()  # 全宗号 the archives assigned, e.g. ["J022"]
    category_codes: tuple[str, ...] = ()  # 门类 / 分类 codes it accepts, e.g. ["WS", "SB"] ("SB" covers "SB·GS")


CLASSIFIED_POLICIES = ("refuse", "separate")


@dataclass(frozen=True)
class AccessSettings:
    """Records marked 秘密, 机密 or 绝密 (or with a 密级 this profile does not know)."""

    # refuse: not processed at all (they belong in an approved classified system); separate:
    # processed into OUT/protected/ (owner-only permissions), never into documents/, and left
    # out of every export and hand-off package.
    classified: str = "refuse"

    def __post_init__(self) -> None:
        if self.classified not in CLASSIFIED_POLICIES:
            raise SettingsError(
                f"[access] classified must be one of {', '.join(CLASSIFIED_POLICIES)}, not {self.classified!r}"
            )


@dataclass(frozen=True)
class HandoffSettings:
    """Hand-off packages (digitize.handoff): who sends them, to whom, on what carrier."""

    source_organization: str = ""  # BagIt Source-Organization; empty: [archive] creating_unit, else archives_name
    organization_address: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    bag_group_identifier: str = ""  # BagIt Bag-Group-Identifier; empty: the 全宗号
    receiving_unit: str = ""  # 接收单位 (DA/T 93 说明文件 and 登记表); empty: [archive] archives_name
    # DA/T 93 载体参数 of an offline transfer (说明文件, Annex B); "在线移交" for an online one.
    carrier: str = ""  # 载体类型、规格, e.g. "在线移交" or "DVD-R 光盘"
    carrier_capacity: str = ""  # 载体容量, e.g. "4.7 GB"
    carrier_ids: str = ""  # 载体编号, e.g. "J022-WS-2019/2019-GP1" (DA/T 93 Annex D)
    carrier_count: int = 0  # 载体数量
    carrier_maker: str = ""  # 载体制作单位
    carrier_checker: str = ""  # 载体检查单位
    workers: int = 4  # parallel copies and checksum processes


@dataclass(frozen=True)
class SearchSettings:
    """The archive index (digitize.search): `process` and `export` update it when it is named."""

    archive: str = ""  # ARCHIVE folder holding index.sqlite; empty: no automatic indexing


@dataclass(frozen=True)
class Settings:
    input: InputSettings = field(default_factory=InputSettings)
    imaging: ImagingSettings = field(default_factory=ImagingSettings)
    ocr: OcrSettings = field(default_factory=OcrSettings)
    pdf: PdfSettings = field(default_factory=PdfSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    archival_code: ArchivalCodeSettings = field(default_factory=ArchivalCodeSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    qc: QcSettings = field(default_factory=QcSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    handoff: HandoffSettings = field(default_factory=HandoffSettings)
    search: SearchSettings = field(default_factory=SearchSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, section: str, **changes: Any) -> Settings:
        """Return a copy with some values of one section changed (CLI overrides)."""
        current = getattr(self, section)
        return dataclasses.replace(self, **{section: _checked_replace(current, section, changes)})


def _checked_replace(obj: Any, section: str, changes: dict[str, Any]) -> Any:
    known = {f.name: f for f in dataclasses.fields(obj)}
    checked: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in known:
            raise SettingsError(f"unknown setting [{section}] {key}")
        default = getattr(obj, key)
        if default is not None and value is not None:
            if isinstance(default, bool) and not isinstance(value, bool):
                raise SettingsError(f"[{section}] {key} must be true or false, not {value!r}")
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise SettingsError(f"[{section}] {key} must be a number, not {value!r}")
                if isinstance(default, int) and isinstance(value, float) and not value.is_integer():
                    raise SettingsError(f"[{section}] {key} must be a whole number, not {value!r}")
                value = type(default)(value)
            if isinstance(default, tuple):
                value = tuple(value)
        checked[key] = value
    return dataclasses.replace(obj, **checked)


def load_settings(profile: str | os.PathLike[str] | None = None) -> Settings:
    """Defaults, then the profile file if given."""
    settings = Settings()
    if profile is None:
        return settings
    path = Path(profile)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"profile not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"profile {path} is not valid TOML: {exc}") from None
    for section, values in data.items():
        if not hasattr(settings, section) or not isinstance(values, dict):
            raise SettingsError(f"profile {path}: unknown section [{section}]")
        settings = settings.replace(section, **values)
    return settings


def settings_from_dict(data: dict[str, Any]) -> Settings:
    """Rebuild settings from `Settings.to_dict()` (used by worker processes and the journal)."""
    settings = Settings()
    for section, values in data.items():
        settings = settings.replace(section, **values)
    return settings
