"""Write every metadata export of a batch into OUT, validated, atomically, with a report.

    report = run_exports(records, batch, out_dir)            # all formats, default policies
    report = run_exports(records, batch, out_dir, ["dc"], AccessPolicy("公开", open_only=True))

Output paths (relative to OUT; <档号> is `metadata.archival_code.archival_code_filename`, the
same folder and file name the pipeline gives the document):

    catalog/目录文件.xml              dat93  DA/T 93 目录文件, first encoding (UTF-8 by default)
    catalog/目录文件.gb18030.xml      dat93  the same in each further encoding
    catalog/ead3.xml                  ead3   EAD3 finding aid of the batch
    catalog/mets/<档号>.xml           mets   METS + MODS + PREMIS per document
    catalog/dc/<档号>.xml             dc     OAI-DC per document
    documents/<档号>/<档号>.xml       dat46  DA/T 46 element record per document

Each file is validated against its schema before it is written; a file that does not
validate is not written and the report says why. Records an access policy leaves out are
listed in the report; a per-document file left over from an earlier run for such a record is
removed, so that tightening a policy takes effect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from digitize.fsutil import atomic_write_bytes, sha256_bytes
from digitize.layout import EAD3_FILE, catalogue_file, dat46_file, dc_file, mets_file
from metadata.archival_code import archival_code_filename
from metadata.export import dat46, dat93, dublincore, ead3, mets
from metadata.export.access import AccessPolicy, Exclusion, apply_policy, default_policy
from metadata.export.validate import ExportValidationError
from metadata.records import ArchiveRecord, BatchInfo

FORMATS = ("dat93", "dat46", "ead3", "mets", "dc")


@dataclass(frozen=True)
class ValidationResult:
    format: str
    path: str  # relative to OUT
    errors: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)  # paths relative to OUT
    removed: list[str] = field(default_factory=list)  # stale files of records now left out
    excluded: list[Exclusion] = field(default_factory=list)
    validations: list[ValidationResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # records whose data could not be exported
    warnings: list[str] = field(default_factory=list)  # written, but something a standard asks for is unknown
    digests: dict[str, tuple[str, int]] = field(default_factory=dict)  # written path -> (sha256, bytes)

    @property
    def ok(self) -> bool:
        return not self.errors and all(v.valid for v in self.validations)

    def excluded_counts(self) -> dict[str, int]:
        """Number of records left out, per format."""
        return dict(Counter(e.format for e in self.excluded))

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["digests"]
        data["ok"] = self.ok
        data["excluded_counts"] = self.excluded_counts()
        return data


def run_exports(
    records: Sequence[ArchiveRecord],
    batch: BatchInfo,
    out_dir: str | Path,
    formats: Iterable[str] = FORMATS,
    policy: AccessPolicy | None = None,
    catalogue_encodings: Sequence[str] = ("UTF-8", "GB18030"),
    master_paths: Mapping[str, str] | None = None,
) -> ExportReport:
    """Write the requested exports of `records` into `out_dir`.

    policy: None applies each format's default (`access.default_policy`: public formats EAD3
    and DC only 开放 records up to 公开; the others every record up to 内部); a policy given
    here applies to every requested format.
    master_paths: where a hand-off package puts each master (batch-relative path -> path in the
    package's mirror of OUT), so that METS points at them there.
    """
    out = Path(out_dir)
    formats = list(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown export format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
    report = ExportReport()
    for fmt in FORMATS:
        if fmt not in formats:
            continue
        kept, excluded = apply_policy(records, policy or default_policy(fmt), fmt)
        report.excluded.extend(excluded)
        if fmt == "dat46":
            report.warnings.extend(_unknown_provenance(kept, batch))
        if fmt == "dat93":
            for n, encoding in enumerate(catalogue_encodings):
                rel = catalogue_file(None if n == 0 else encoding)
                _emit(report, out, fmt, rel, partial(dat93.catalogue_bytes, kept, encoding))
        elif fmt == "ead3":
            _emit(report, out, fmt, EAD3_FILE, partial(ead3.finding_aid_bytes, kept, batch))
        else:
            _per_document(report, out, fmt, kept, excluded, records, batch, master_paths or {})
    return report


_DOCUMENT_PATHS: dict[str, Callable[[str], str]] = {"dat46": dat46_file, "mets": mets_file, "dc": dc_file}


def _per_document(
    report: ExportReport,
    out: Path,
    fmt: str,
    kept: list[ArchiveRecord],
    excluded: list[Exclusion],
    records: Sequence[ArchiveRecord],
    batch: BatchInfo,
    master_paths: Mapping[str, str],
) -> None:
    builders: dict[str, Callable[[ArchiveRecord], bytes]] = {
        "dat46": lambda r: dat46.record_bytes(r, batch),
        "mets": lambda r: mets.mets_bytes(r, batch, mets.METS_DIR, master_paths),
        "dc": lambda r: dublincore.dc_bytes(r, batch),
    }
    names = _file_names(records, report, fmt)
    for record in kept:
        if record.archival_code in names:
            rel = _DOCUMENT_PATHS[fmt](names[record.archival_code])
            _emit(report, out, fmt, rel, partial(builders[fmt], record))
    for exclusion in excluded:
        if exclusion.archival_code in names:
            stale = out / _DOCUMENT_PATHS[fmt](names[exclusion.archival_code])
            if stale.is_file():
                stale.unlink()
                report.removed.append(stale.relative_to(out).as_posix())


def _unknown_provenance(records: Sequence[ArchiveRecord], batch: BatchInfo) -> list[str]:
    """DA/T 46 来源 (M2) values nobody gave: the profile's [archive] section fills them."""
    missing = sorted(
        {
            name
            for r in records
            for name in ("档案馆名称", "全宗名称", "立档单位名称")
            if name not in dat46.source_of(r, batch)
        }
    )
    if not missing:
        return []
    return [f"dat46: 来源 lacks {'、'.join(missing)}; set them in the profile's [archive] section"]


def _file_names(records: Sequence[ArchiveRecord], report: ExportReport, fmt: str) -> dict[str, str]:
    """档号 -> file name, for every 档号 that has a usable name of its own.

    Two records whose 档号 give the same file name (a repeated 档号, or codes that differ only
    in characters a file name cannot hold) get none: one file must not silently replace the other.
    """
    names: dict[str, str] = {}
    uses: Counter[str] = Counter()
    for record in records:
        try:
            name = archival_code_filename(record.archival_code)
        except ValueError as exc:
            report.errors.append(f"{fmt}: {exc}")
            continue
        names[record.archival_code] = name
        uses[name] += 1
    for name, count in uses.items():
        if count > 1:
            codes = sorted(code for code, n in names.items() if n == name)
            report.errors.append(
                f"{fmt}: {count} records ({'、'.join(codes)}) share the file name {name!r}; none written"
            )
    return {code: name for code, name in names.items() if uses[name] == 1}


def _emit(report: ExportReport, out: Path, fmt: str, rel: str, make: Callable[[], bytes]) -> None:
    try:
        data = make()
    except ExportValidationError as exc:
        report.validations.append(ValidationResult(fmt, rel, tuple(exc.errors)))
        return
    except ValueError as exc:  # record data that cannot be expressed (e.g. a malformed 日期)
        report.errors.append(f"{rel}: {exc}")
        return
    atomic_write_bytes(out / rel, data)
    report.validations.append(ValidationResult(fmt, rel))
    report.written.append(rel)
    report.digests[rel] = (sha256_bytes(data), len(data))
