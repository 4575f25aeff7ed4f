"""The `digitize` command line: thin wrappers that parse options, call the library, print results.

Longer than 500 lines on purpose: every command's options, help text with examples and plain
text output stay side by side in one file, where a reader of `digitize CMD --help` finds them;
the work itself is in the library.

Each command builds a request (`ProcessRequest`, `QcRequest`, `ExportRequest`, `HandoffRequest`)
and hands it to the library; errors are mapped to exit codes once, in `_Command`, from the
class of the `digitize.errors.DigitizeError` raised.

Exit codes (stable, for scripts) follow one rule for every command, `digitize.errors.EXIT_RULE`
(shown by `digitize --help`): errors map by their class, work that ran to its end by
`digitize.errors.outcome_code` -- a command that printed an ERROR never exits 0.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import click

from digitize.errors import EXIT_RULE, DigitizeError, ExitCode, as_interrupted, outcome_code
from digitize.layout import DOCUMENTS_DIR, JOURNAL, QC_REPORT_HTML, QC_SAMPLE, OutLayout, require_journal
from digitize.leftovers import private_tempdir
from digitize.outlock import out_lock
from digitize.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


FINDINGS_LOGGER = "digitize.findings"  # what a command also prints on stdout: into the log file only


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _setup_logging(out: Path | None, verbose: int, quiet: bool) -> None:
    level = (
        logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    handlers[0].setLevel(level)
    handlers[0].addFilter(lambda record: not record.name.startswith(FINDINGS_LOGGER))  # printed on stdout
    if out is not None:
        log_file = OutLayout(out).log_file
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.INFO)
        handlers.append(file_handler)
    logging.basicConfig(
        level=logging.DEBUG, handlers=handlers, format="%(asctime)s %(levelname)s %(message)s", force=True
    )


class _Progress:
    """A progress bar on stderr when it is a terminal, else nothing (also with --no-progress, --json):
    no bar frames land in a redirected log."""

    def __init__(self, enabled: bool, unit: str, desc: str, **options: Any):
        self.enabled = enabled and sys.stderr.isatty()
        self.unit, self.desc, self.options = unit, desc, options
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, unit=self.unit, desc=self.desc, dynamic_ncols=True, file=sys.stderr, **self.options
            )
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# Commands that write into OUT hold its lock (`digitize.outlock`): a second one is refused at once.
WRITERS = ("process", "export", "qc", "handoff")


class _Command(click.Command):
    """Runs every command in its own temporary folder (`private_tempdir`) and, for writers, under
    OUT's lock (`verify` of an OUT folder: shared, so that no writer changes it meanwhile).
    Maps every `DigitizeError` to its exit code, once for all commands: bad input is a usage
    error (exit 2, with the command's usage line); anything else prints "error: …". A failure
    of the machine (disk full, no permission in OUT, out of memory) is an interruption (exit 5)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                with private_tempdir(), self._lock(ctx):
                    return super().invoke(ctx)
            except (OSError, MemoryError) as exc:
                interrupted = as_interrupted(exc, ctx.params.get("out"), ctx.params.get("dest"))
                if interrupted is None:
                    raise
                raise interrupted from exc
        except DigitizeError as exc:
            if exc.exit_code == ExitCode.USAGE:
                raise click.UsageError(str(exc), ctx) from None
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)

    def _lock(self, ctx: click.Context) -> AbstractContextManager[Any]:
        command = " ".join(["digitize", *sys.argv[1:]])
        if self.name in WRITERS:
            return out_lock(ctx.params["out"], command)
        target = ctx.params.get("target")
        if self.name == "verify" and target is not None and (Path(target) / JOURNAL).is_file():
            return out_lock(target, command, shared=True)
        return nullcontext()


class _Group(click.Group):
    command_class = _Command


# --------------------------------------------------------------------------- shared options
def out_argument(f: F) -> F:
    """OUT: a processed batch's output folder (it must have a journal)."""
    return click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path), callback=_has_journal)(
        f
    )


def _has_journal(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    try:
        require_journal(value)
    except DigitizeError as exc:  # options are parsed before _Command.invoke maps errors
        raise click.UsageError(str(exc), ctx) from None
    return value


def json_option(help: str) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help)


def profile_option(help: str = "Profile (TOML).") -> Callable[[F], F]:
    return click.option(
        "--profile", "-p", "settings", type=click.Path(exists=True, dir_okay=False), callback=_settings, help=help
    )


def _settings(ctx: click.Context, param: click.Parameter, value: str | None) -> Settings:
    try:
        return load_settings(value)
    except DigitizeError as exc:  # options are parsed before _Command.invoke maps errors
        raise click.UsageError(str(exc), ctx) from None


def catalog_option(help: str = "Catalogue (default: the one of the last run).") -> Callable[[F], F]:
    return click.option("--catalog", "-c", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help)


def jobs_option(help: str, default: int | None = None) -> Callable[[F], F]:
    return click.option(
        "--jobs", "-j", type=click.IntRange(min=1), default=default, show_default=default is not None, help=help
    )


def batch_dir_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--batch", "batch_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), help=help
    )


def xlsx_option(what: str) -> Callable[[F], F]:
    return click.option(
        "--xlsx",
        "xlsx",
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"Also write {what} as a spreadsheet (XLSX) to this file.",
    )


no_progress_option = click.option("--no-progress", is_flag=True, help="No progress bar.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog="\b\n" + EXIT_RULE)
@click.version_option(package_name="digitize")
def main() -> None:
    """Turn paper scans into a searchable, described, checked and verifiable digital archive.

    \b
    Typical session:
      digitize process BATCH --catalog BATCH/catalog.csv --out OUT
      digitize status OUT
      digitize export OUT --format all
      digitize qc OUT
      digitize handoff OUT --to DEST --format bagit
      digitize verify DEST
    """


# --------------------------------------------------------------------------- process
@main.command()
@click.argument("batch", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (created if missing).",
)
@catalog_option("Catalogue (归档文件目录) as CSV or XLSX.")
@click.option(
    "--languages",
    "-l",
    default=None,
    help="Languages as Tesseract codes, e.g. chi_sim+eng (the default); they choose the engine under auto.",
)
@jobs_option("Worker processes (default: all cores).")
@profile_option("Profile (TOML) with archive-specific settings.")
@click.option(
    "--dpi", type=click.IntRange(min=50, max=4800), default=None, help="Use this resolution instead of the files' own."
)
@click.option("--force", is_flag=True, help="OCR PDFs that already have a text layer.")
@click.option(
    "--format",
    "layout_formats",
    multiple=True,
    type=click.Choice(["pdfa", "ofd"]),
    help="Layout file per document: PDF/A and/or OFD (GB/T 33190); repeat for both, the first is primary "
    "(default: the profile's [output] formats, else pdfa).",
)
@click.option(
    "--follow-outside-links",
    is_flag=True,
    help="Read symbolic links that lead out of BATCH (refused by default; each is recorded).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "ppocr", "tesseract"]),
    default=None,
    help="OCR engine (default auto: PP-OCR for Chinese batches, Tesseract for other languages).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Run tasks on this machine or on a Dask cluster.",
)
@click.option(
    "--scheduler", default=None, help="Dask scheduler address (tcp://host:8786); without it a local Dask cluster."
)
@click.option(
    "--unit",
    "work_unit",
    type=click.Choice(["auto", "document", "page"]),
    default="auto",
    show_default=True,
    help="Unit of work: a document (or a few tiny ones) per task, or a page per task "
    "(auto: pages on the local pool for a batch of few documents, else documents).",
)
@click.option(
    "--retry-failed", is_flag=True, help="Try again the documents that failed in an earlier run (skipped otherwise)."
)
@json_option("Print the summary as JSON on stdout.")
@no_progress_option
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def process(
    batch: Path,
    out: Path,
    catalog: Path | None,
    languages: str | None,
    jobs: int | None,
    settings: Settings,
    dpi: int | None,
    force: bool,
    layout_formats: tuple[str, ...],
    follow_outside_links: bool,
    engine: str | None,
    executor: str,
    scheduler: str | None,
    work_unit: str,
    retry_failed: bool,
    as_json: bool,
    no_progress: bool,
    verbose: int,
    quiet: bool,
) -> None:
    """Process a batch of scans into searchable PDF/A and/or OFD documents.

    BATCH holds one folder per document (件) with its page images, or one multi-page TIFF or
    image-only PDF per document. Masters are only read, never changed. Outputs go to
    OUT/documents/<档号>/; OUT/journal.sqlite records every step. Running the same command
    again skips finished documents (their checksums are checked) and completes the rest;
    documents that failed stay failed unless --retry-failed. Interrupted (Ctrl-C, SIGTERM, a
    lost Dask scheduler) it exits 5, keeping everything committed: run it again to resume.
    Without --catalog the catalogue of the previous run into OUT is used; a batch processed
    without one is linked to it later by running again with --catalog (nothing is OCRed again).
    Files and folders that are not read (hidden, not pages) are listed with the reason; two
    documents that would get the same folder in OUT are refused before any work (exit 2).

    \b
    Exit codes: 0 done, nothing needs attention (warnings may be printed);
    1 some documents failed (named); 4 done, but ERROR findings were printed (a missing
    page, a catalogue row without scans, a page below the resolution floor, ...);
    2 bad batch, catalogue or option, two documents with one output folder;
    5 interrupted: run the same command again; 7 another command is writing to OUT.

    \b
    Examples:
      digitize process scans/2019 --catalog scans/2019/catalog.csv --out archive/2019
      digitize process scans/2019 --out archive/2019 -l chi_sim --jobs 4 --json
      digitize process scans/2019 --out archive/2019 --format pdfa --format ofd
      digitize process scans/2019 --out archive/2019 --catalog scans/2019/catalog.csv   # link it later
      digitize process /shared/scans/2019 --out /srv/archive/2019 --executor dask --scheduler tcp://head:8786
      digitize process scans/2019 --out archive/2019 --engine tesseract
    """
    from digitize.describe import ProcessRequest, plan_batch
    from digitize.executors import make_executor
    from digitize.pipeline import BatchSummary, process_batch

    if languages:
        settings = settings.replace("ocr", languages=languages)
    if engine:
        settings = settings.replace("ocr", engine=engine)
    if dpi:
        settings = settings.replace("input", dpi_override=dpi)
    if force:
        settings = settings.replace("input", force_text_pdf=True)
    if layout_formats:
        settings = settings.replace("output", formats=tuple(layout_formats))
    batch, out = batch.resolve(), out.resolve()  # workers elsewhere see the same absolute paths
    command = " ".join(["digitize", *sys.argv[1:]])
    plan = plan_batch(ProcessRequest(batch, out, settings, catalog, command, follow_outside_links))
    out.mkdir(parents=True, exist_ok=True)
    _setup_logging(out, verbose, quiet)
    if plan.catalog_reused and not as_json:
        click.echo(f"Catalogue: {plan.request.catalog} (the one of the previous run; --catalog to give another)")
    progress = _Progress(not no_progress and not as_json, "page", "Processing")
    progress(0, 0)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    pool = make_executor(executor, jobs or os.cpu_count() or 1, scheduler)
    summary: BatchSummary
    interrupted = True
    try:
        summary = process_batch(plan, pool, progress, retry_failed=retry_failed, work_unit=work_unit)
        interrupted = False
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        pool.close(interrupted=interrupted)
        progress.close()
    _log_summary(summary)
    result = {**summary.to_dict(), "out": str(out)}
    indexed = _index_into_profile_archive(settings, out, jobs or 1)
    if indexed is not None:
        result["archive_index"] = indexed
    if as_json:
        _emit_json(result)
    else:
        _print_summary(summary, out)
        _print_archive_update(indexed)
    errors = any(finding["severity"] == "error" for finding in summary.findings)
    index_failed = indexed is not None and not indexed["ok"]
    sys.exit(outcome_code(failed=summary.documents_failed > 0 or index_failed, attention=errors))


def _log_summary(s: Any) -> None:
    """What the summary says, in OUT/logs/digitize.log too (stdout shows it already)."""
    log = logging.getLogger(FINDINGS_LOGGER)
    log.info(
        "process: %d documents ok, %d failed, %d already done, %d described anew; %d pages processed",
        s.documents_ok,
        s.documents_failed,
        s.documents_skipped,
        s.documents_relinked,
        s.pages_processed,
    )
    for failure in s.failures:
        log.error("FAILED %s: %s", failure["document"], failure["error"])
    for finding in s.findings:
        level = logging.ERROR if finding["severity"] == "error" else logging.WARNING
        log.log(
            level, "%s [%s] %s: %s", finding["severity"].upper(), finding["item"], finding["object"], finding["message"]
        )
    for warning in s.warnings:
        log.warning("warning: %s", warning)


def _index_into_profile_archive(settings: Settings, out: Path, jobs: int = 1) -> dict[str, Any] | None:
    """Update the archive index named by the profile's [search] archive, if any."""
    if not settings.search.archive:
        return None
    from digitize.search.build import update_archive

    archive = Path(settings.search.archive)
    report = update_archive(archive, [out], settings, jobs=min(jobs, 2))
    return {"archive": str(archive), **report.to_dict()}


def _print_archive_update(indexed: dict[str, Any] | None) -> None:
    if indexed is None:
        return
    click.echo(
        f"Archive index {indexed['archive']}: {len(indexed['added'])} added, {len(indexed['replaced'])} replaced, "
        f"{indexed['unchanged']} unchanged, {len(indexed['removed'])} removed"
    )
    for failure in indexed["failed"]:
        click.echo(f"NOT INDEXED {failure['archival_code']}: {failure['error']}")


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    from digitize.errors import Interrupted

    raise Interrupted("stopped by SIGTERM")


def _print_summary(s: Any, out: Path) -> None:
    click.echo(
        f"Documents: {s.documents_ok} ok, {s.documents_failed} failed"
        + (f" ({s.documents_skipped} already done)" if s.documents_skipped else "")
        + (f", {s.documents_withheld} classified withheld" if s.documents_withheld else "")
        + (f" ({s.documents_adopted} committed before an interruption, recorded now)" if s.documents_adopted else "")
        + f" of {s.documents}"
    )
    click.echo(f"Pages: {s.pages} ({s.pages_processed} processed now, {s.pages_reused} reused), blank: {s.blank_pages}")
    if s.mean_confidence is not None:
        click.echo(f"Mean OCR confidence: {s.mean_confidence:.1f}")
    rate = f", {s.pages_per_minute:.1f} pages/min" if s.pages_per_minute else ""
    click.echo(f"Wall time: {s.wall_seconds:.1f} s{rate}")
    if s.documents_relinked:
        click.echo(
            f"Described anew from the catalogue: {s.documents_relinked} documents (no OCR redone); "
            f"run `digitize export {out}` again for their metadata files"
        )
    for failure in s.failures:
        click.echo(f"FAILED {failure['document']}: {failure['error']}")
    for finding in s.findings:
        click.echo(f"{finding['severity'].upper()} [{finding['item']}] {finding['object']}: {finding['message']}")
    for warning in s.warnings:
        click.echo(f"warning: {warning}")
    for skipped in s.skipped:
        click.echo(f"skipped {skipped['path']}: {skipped['reason']}")
    for link in s.outside_links:
        click.echo(f"followed link {link['path']} -> {link['target']} (outside the batch)")
    click.echo(f"Output: {out / DOCUMENTS_DIR}; journal: {OutLayout(out).journal}")


# --------------------------------------------------------------------------- status
@main.command()
@out_argument
@json_option("Print the status as JSON.")
@click.option("--pages", "show_pages", is_flag=True, help="List every page with its metrics.")
@xlsx_option("the documents and the open findings")
def status(out: Path, as_json: bool, show_pages: bool, xlsx: Path | None) -> None:
    """Show what the journal says about a processed batch: documents, open findings, runs, QC.

    \b
    Exit codes: 0 nothing needs attention; 1 documents failed; 4 open ERROR findings
    (from the last `process` run), a QC verdict other than pass or a broken event chain;
    5 the last run was interrupted (run it again to resume); 6 the journal is damaged.

    \b
    Examples:
      digitize status archive/2019
      digitize status archive/2019 --json | jq '.documents[] | select(.state=="failed")'
      digitize status archive/2019 --json | jq '.findings[] | select(.severity=="error")'
      digitize status archive/2019 --xlsx 2019-问题.xlsx
    """
    from digitize.status import batch_status, exit_code, status_workbook

    data = batch_status(out)
    if xlsx is not None:
        from metadata.workbook import write_workbook

        write_workbook(xlsx, status_workbook(data))
    if as_json:
        _emit_json(data)
    else:
        _print_status(data, out, show_pages)
    sys.exit(exit_code(data))


def _print_status(data: dict[str, Any], out: Path, show_pages: bool) -> None:
    totals = data["totals"]
    click.echo(
        f"{out}: {totals['documents']} documents ({totals['done']} done, {totals['failed']} failed, "
        f"{totals['pending']} pending), {totals['pages']} pages, {totals['blank_pages']} blank"
    )
    for doc in data["documents"]:
        line = f"  {doc['state']:7s} {doc['archival_code']}  {doc['pages']} pages"
        if doc.get("title"):
            line += f"  {doc['title']}"
        if doc.get("error"):
            line += f"\n          error: {doc['error']}"
        click.echo(line)
        if show_pages:
            for page in doc["page_list"]:
                click.echo(
                    f"          p{page['page_no']:>3} {page['state']:7s} dpi={page['dpi']} skew={page['skew_deg']} "
                    f"orient={page['orientation_deg']} blank={page['is_blank']} conf={page['ocr_confidence']}"
                )
    if not data["event_chain_intact"]:
        click.echo(f"EVENT CHAIN BROKEN: the journal is not as it was recorded; run `digitize verify {out}`")
    findings = data["findings"]
    if findings:
        errors = sum(1 for f in findings if f["severity"] == "error")
        click.echo(
            f"Open findings ({errors} errors, {len(findings) - errors} warnings; from run {findings[0]['run']}):"
        )
        for f in findings:
            click.echo(f"  {f['severity'].upper()} [{f['item']}] {f['object']}: {f['message']}")
    for run in data["unfinished_runs"]:
        click.echo(f"Run {run['id']} ({run['started']}, {run['status']}): {run['note']}")
    last = data["runs"][-1] if data["runs"] else None
    if last:
        click.echo(f"Last run: {last['started']} → {last['finished'] or 'unfinished'} ({last['status']})")
    qc = data["qc"]
    if qc is None:
        click.echo(f"QC: not run yet (`digitize qc {out}`)")
    else:
        counts = f"{qc['fail']} failed, {qc['warn']} warnings; lot {qc['lot']}" if qc["fail"] is not None else ""
        stale = f"; processed again since: run `digitize qc {out}` again" if qc["stale"] else ""
        click.echo(f"QC: {qc['verdict'].upper()} ({qc['when']}; {counts}) — {out / QC_REPORT_HTML}{stale}")


# --------------------------------------------------------------------------- export
EXPORT_FORMATS = ("dat93", "dat46", "ead3", "mets", "dc", "xlsx")


@main.command()
@out_argument
@click.option(
    "--format",
    "-f",
    "formats",
    multiple=True,
    type=click.Choice([*EXPORT_FORMATS, "all"]),
    default=("all",),
    show_default=True,
    help="Export format; repeat for several.",
)
@catalog_option("Catalogue to add rows without scans from (default: the one of the last run).")
@click.option(
    "--encoding",
    "encodings",
    multiple=True,
    type=click.Choice(["UTF-8", "GB18030"], case_sensitive=False),
    default=("UTF-8", "GB18030"),
    show_default=True,
    help="Encodings of the DA/T 93 目录文件 (the first is 目录文件.xml).",
)
@click.option(
    "--max-security",
    default=None,
    help="Leave out records above this 密级 (公开, 内部, 秘密, 机密, 绝密) in every format.",
)
@click.option(
    "--open-only/--not-open-only",
    default=None,
    help="Only records whose 开放标识 is 开放 (default: only for EAD3 and DC).",
)
@profile_option()
@json_option("Print the export report as JSON.")
def export(
    out: Path,
    formats: tuple[str, ...],
    catalog: Path | None,
    encodings: tuple[str, ...],
    max_security: str | None,
    open_only: bool | None,
    settings: Settings,
    as_json: bool,
) -> None:
    """Write catalogue and preservation metadata, each file validated against its schema.

    \b
    Formats and files (in OUT):
      dat93  catalog/目录文件.xml (+ .gb18030.xml)   DA/T 93-2022 catalogue file
      dat46  documents/<档号>/<档号>.xml             DA/T 46-2009 elements per document
      ead3   catalog/ead3.xml                        EAD3 finding aid: fonds → year/retention series → items
      mets   catalog/mets/<档号>.xml                  METS 1.12 + MODS 3.8 + PREMIS 3, pointing at PDF, masters, ALTO
      dc     catalog/dc/<档号>.xml                    OAI-DC record per document
      xlsx   catalog/归档文件目录.xlsx                 the catalogue as a spreadsheet, with pages scanned
    By default the public formats (ead3, dc) contain only records marked 开放 with 密级 公开 or
    none; the others every record up to 内部. Each export says how many records it left out.
    A document no catalogue row describes (no 题名) is left out of dat93 and dat46; --catalog
    describes the documents by a catalogue given now (e.g. a batch processed without one).

    \b
    Exit codes: 0 written; 1 a file did not validate; 4 written, but documents were left out
    for want of a catalogue row or because their processing failed (named); 2 usage.

    \b
    Examples:
      digitize export archive/2019
      digitize export archive/2019 -f ead3 --max-security 内部 --not-open-only
    """
    from digitize.exports import ExportRequest, export_batch

    chosen = EXPORT_FORMATS if "all" in formats else tuple(f for f in EXPORT_FORMATS if f in formats)
    outcome = export_batch(ExportRequest(out, settings, chosen, catalog, encodings, max_security, open_only))
    indexed = _index_into_profile_archive(settings, out)
    if as_json:
        _emit_json({**outcome.to_dict(), **({"archive_index": indexed} if indexed else {})})
    else:
        _print_export(outcome)
        _print_archive_update(indexed)
    index_failed = indexed is not None and not indexed["ok"]
    sys.exit(outcome_code(failed=not outcome.ok or index_failed, attention=outcome.needs_attention))


def _print_export(outcome: Any) -> None:
    report = outcome.report
    click.echo(f"{len(outcome.records)} records ({outcome.catalogue_only} catalogue-only)")
    for path in report["written"]:
        click.echo(f"  wrote {path}")
    excluded: dict[str, int] = {}
    for item in report["excluded"]:
        excluded[item["format"]] = excluded.get(item["format"], 0) + 1
    for fmt, count in excluded.items():
        reasons = sorted({e["reason"] for e in report["excluded"] if e["format"] == fmt})
        click.echo(f"  {fmt}: left out {count} record(s): {'; '.join(reasons)}")
    for validation in report["validations"]:
        if validation["errors"]:
            click.echo(f"  INVALID {validation['path']}: {validation['errors'][0]}")
    for error in report["errors"]:
        click.echo(f"  error: {error}")
    for warning in report["warnings"]:
        click.echo(f"  warning: {warning}")
    if outcome.failed_documents:
        click.echo(f"  not exported (processing failed): {', '.join(outcome.failed_documents)}")
    if outcome.undescribed:
        click.echo(
            f"  ERROR no catalogue row, so no 题名 (not in the 目录文件 nor the DA/T 46 records): "
            f"{', '.join(outcome.undescribed)}"
        )
    if outcome.described_anew:
        click.echo(
            f"  described from the catalogue given, not as processed: {', '.join(outcome.described_anew)}; "
            "to put it in their PDFs too, run `digitize process BATCH --catalog FILE --out OUT` (no OCR redone)"
        )


# --------------------------------------------------------------------------- stats
@main.command()
@out_argument
@catalog_option()
@profile_option()
@json_option("Print the statistics as JSON.")
@xlsx_option("the statistics")
def stats(out: Path, catalog: Path | None, settings: Settings, as_json: bool, xlsx: Path | None) -> None:
    """Count documents and pages by 年度, 保管期限, 密级 and type; list catalogue rows without scans.

    \b
    Exit codes: 0 counted, nothing missing; 1 documents failed processing; 4 catalogue rows
    without scans (listed); 2 usage.

    \b
    Examples:
      digitize stats archive/2019
      digitize stats archive/2019 --json
      digitize stats archive/2019 --xlsx 2019-统计.xlsx
    """
    from metadata.stats import batch_statistics
    from metadata.technical import load_records

    data = batch_statistics(load_records(out, settings, catalog))
    if xlsx is not None:
        from metadata.stats import statistics_workbook
        from metadata.workbook import write_workbook

        write_workbook(xlsx, statistics_workbook(data))
    if as_json:
        _emit_json(data)
    else:
        _print_stats(data)
    sys.exit(outcome_code(failed=bool(data["failed_documents"]), attention=bool(data["scans_missing"])))


def _print_stats(data: dict[str, Any]) -> None:
    totals = data["totals"]
    click.echo(
        f"Documents: {totals['documents']} scanned, {totals['catalogue_only']} catalogue rows without scans, "
        f"{totals['failed']} failed; pages: {totals['pages']} ({totals['blank_pages']} blank)"
    )
    for dimension in ("年度", "保管期限", "密级", "文种"):
        rows = data["by"][dimension]
        if rows:
            click.echo(f"By {dimension}:")
            for value, counts in rows.items():
                click.echo(f"  {value or '(none)':12s} {counts['documents']:5d} documents {counts['pages']:6d} pages")
    for code in data["scans_missing"]:
        click.echo(f"Scans missing: {code}")
    for code in data["failed_documents"]:
        click.echo(f"Processing failed: {code}")


# --------------------------------------------------------------------------- qc (digitize/qc)
@main.command()
@out_argument
@catalog_option()
@click.option(
    "--stage",
    type=click.Choice(["GD", "YJ", "BC"], case_sensitive=False),
    default="GD",
    show_default=True,
    help="DA/T 70 stage prefix of the check ids: GD archiving, YJ transfer, BC preservation.",
)
@click.option(
    "--ratio",
    type=click.FloatRange(min=0, min_open=True, max=1),
    default=None,
    help="DA/T 31 ratio sampling: share of documents to inspect (default from the profile, 0.05).",
)
@click.option(
    "--aql", type=float, default=None, help="ISO 2859-1 sampling at this AQL (e.g. 1.0) instead of the ratio."
)
@click.option("--level", default=None, help="ISO 2859-1 inspection level (S-1 … S-4, I, II, III; default II).")
@click.option("--seed", type=int, default=None, help="Seed of the sample draw (default from the profile).")
@click.option(
    "--record",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Inspectors' decisions (a filled {QC_SAMPLE}): judge the lot.",
)
@click.option("--interactive", is_flag=True, help="Ask for a decision on each sampled document, then judge the lot.")
@jobs_option("Worker processes for page measurements (default: all cores).")
@click.option("--no-masters", is_flag=True, help="Do not read the masters (no capture fixity, colour or blur checks).")
@click.option(
    "--measure-again", is_flag=True, help="Measure every page, also those an earlier qc run measured unchanged."
)
@profile_option()
@json_option("Print report.json on stdout.")
def qc(
    out: Path,
    catalog: Path | None,
    stage: str,
    ratio: float | None,
    aql: float | None,
    level: str | None,
    seed: int | None,
    record: Path | None,
    interactive: bool,
    jobs: int | None,
    no_masters: bool,
    measure_again: bool,
    settings: Settings,
    as_json: bool,
) -> None:
    """Check a processed batch, draw the inspection sample and judge the lot.

    Writes OUT/qc/report.html (for people), report.json (verdict for the hand-off), checks.csv
    and sample.csv (the decisions template). The sampling options (--ratio, --aql, --level,
    --seed) are remembered: a later run without them, e.g. with --record, draws the same
    sample. Pages of documents unchanged since an earlier run are not measured again
    (qc/measurements.json; --measure-again to measure them anyway).

    \b
    Exit codes: 0 the lot passes; 4 a check failed, the lot was rejected or decisions are
    still missing (verdict pending); 2 usage (a decisions file that cannot be used).

    \b
    Examples:
      digitize qc archive/2019                          # checks + 5 % sample (DA/T 31 ratio)
      digitize qc archive/2019 --aql 1.0 --level II     # ISO 2859-1 plan instead
      digitize qc archive/2019 --record archive/2019/qc/sample.csv   # inspectors' decisions
      digitize qc archive/2019 --stage YJ --json        # transfer stage ids, JSON on stdout
    """
    from digitize.qc.run import QcRequest, SamplingChoice, remembered_sampling, run_qc, with_sampling

    if record and interactive:
        raise click.UsageError("--record and --interactive exclude each other")
    _setup_logging(out, 0, True)
    choice, remembered = remembered_sampling(out, SamplingChoice(ratio, aql, level, seed))
    settings = with_sampling(settings, choice.ratio, choice.aql, choice.level)
    request = QcRequest(
        out,
        settings,
        stage,
        catalog,
        choice.seed,
        jobs,
        verify_masters=not no_masters,
        decisions=record,
        reuse_measurements=not measure_again,
        sampling=choice,
    )
    progress = _Progress(not as_json, "page", "Measuring")
    try:
        outcome = run_qc(request, ask=_ask_decisions if interactive else None, progress=progress)
    finally:
        progress.close()
    data = outcome.to_dict()
    _log_qc(data)
    if remembered and not as_json:
        click.echo(f"Sampling plan of the previous qc run: {data['plan']} (--ratio, --aql, --level, --seed to change)")
    if as_json:
        _emit_json(data)
    else:
        _print_qc(data, out)
    sys.exit(outcome_code(attention=not outcome.passed))


def _log_qc(data: dict[str, Any]) -> None:
    """The verdict and every failed check, in OUT/logs/digitize.log too."""
    log = logging.getLogger(FINDINGS_LOGGER)
    measured = data["measurements"]
    log.info(
        "qc: verdict %s (%s); %d documents measured, %d measurements kept from an earlier run",
        data["verdict"],
        "; ".join(data["verdict_reasons"]),
        measured["measured"],
        measured["reused"],
    )
    for result in data["results"]:
        if result["status"] in ("fail", "warn"):
            level = logging.ERROR if result["status"] == "fail" else logging.WARNING
            log.log(
                level,
                "%s [%s] %s: %s",
                result["status"].upper(),
                result["check_id"],
                result["object"],
                result["evidence"],
            )


def _ask_decisions(outcome: Any) -> list[Any] | None:
    """Ask for each sampled document's decision: nothing is taken for granted (Enter is no answer),
    a defect type is chosen from the list, and the answers are recorded only when confirmed."""
    from digitize.qc.decisions import CLASS_LABELS, DECISION_LABELS
    from digitize.qc.sampling import DEFECT_TYPES, Decision, parse_decision, parse_defect_class, parse_defect_type

    types = list(DEFECT_TYPES)

    def choice(parse: Callable[[str], str | None], what: str) -> Callable[[str], str]:
        def convert(text: str) -> str:
            value = parse(text)
            if value is None:
                raise click.BadParameter(f"{text!r} is not {what}")
            return value

        return convert

    def decision_or_skip(text: str) -> str | None:
        return "skip" if text.strip().casefold() in ("skip", "跳过") else parse_decision(text)

    def listed_type(text: str) -> str | None:
        number = text.strip()
        if number.isdigit() and 1 <= int(number) <= len(types):
            return types[int(number) - 1]
        return parse_defect_type(text)

    inspector = click.prompt("Inspector 检查人", value_proc=choice(lambda t: t.strip() or None, "a name"))
    decisions = []
    docs = {row["archival_code"]: row for row in outcome.document_items()}
    for item in outcome.sample.items:
        info = docs.get(item, {})
        why = "; ".join(outcome.critical.get(item, [])) or "random 随机"
        click.echo(f"\n{item}  {info.get('title', '')}  ({info.get('pages', '?')} pages 页; {why})")
        answer = click.prompt(
            "  结论 decision [合格 pass / 不合格 fail / 跳过 skip]",
            value_proc=choice(decision_or_skip, "合格/pass, 不合格/fail or 跳过/skip"),
        )
        if answer == "skip":
            continue
        defect_type = defect_class = ""
        if answer == "fail":
            for number, key in enumerate(types, start=1):
                click.echo(f"    {number:2d}  {DEFECT_TYPES[key]}  {key}")
            defect_type = click.prompt(
                "  缺陷类型 defect type (number)", value_proc=choice(listed_type, "a number from the list")
            )
            defect_class = click.prompt(
                "  缺陷等级 defect class [A类 critical / B类 major / C类 minor]",
                value_proc=choice(parse_defect_class, "A, B or C (critical, major, minor)"),
            )
        if defect_type == "other":
            note = click.prompt(
                "  备注 note (what the defect is)", value_proc=choice(lambda t: t.strip() or None, "a note")
            )
        else:
            note = click.prompt("  备注 note", default="", show_default=False)
        decisions.append(Decision(item, answer, defect_type, defect_class, inspector, note.strip()))
    click.echo("\nDecisions 抽检结论:")
    for d in decisions:
        shown = DECISION_LABELS[d.decision] + (
            f", {DEFECT_TYPES.get(d.defect_type, d.defect_type)}, {CLASS_LABELS[d.defect_class]}"
            if d.defect_class
            else ""
        )
        click.echo(f"  {d.item_id}: {shown}" + (f" — {d.note}" if d.note else ""))
    if not click.confirm(f"Record these {len(decisions)} decisions? 确认录入", default=False):
        click.echo("Nothing recorded. 未录入。")
        return None
    return decisions


def _print_qc(data: dict[str, Any], out: Path) -> None:
    automated = data["automated"]
    click.echo(f"QC verdict: {data['verdict'].upper()}")
    for reason in data["verdict_reasons"]:
        click.echo(f"  {reason}")
    click.echo(
        f"Automated checks: {automated['status']} ({automated['fail']} failed, {automated['warn']} warnings, "
        f"{automated['not_checked']} not checked)"
    )
    click.echo(f"Sampling: {data['plan']} — {data['sampling']['status']}")
    for result in data["results"]:
        if result["status"] == "fail":
            click.echo(f"FAIL [{result['check_id']}] {result['object']}: {result['evidence']}")
    click.echo(f"Report: {out / QC_REPORT_HTML}; decisions template: {out / QC_SAMPLE}")


# --------------------------------------------------------------------------- handoff, verify (digitize/handoff)
HANDOFF_FORMATS = ("bagit", "dat93", "archivematica")


@main.command()
@out_argument
@click.option(
    "--to",
    "dest",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Package folder to create (must not exist yet, or be empty).",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(HANDOFF_FORMATS),
    default="bagit",
    show_default=True,
    help="Package layout.",
)
@click.option("--force", is_flag=True, help="Hand off although QC has not passed or documents failed; needs --reason.")
@click.option(
    "--reason", default=None, help="Why the package is handed off anyway (recorded in the journal and the package)."
)
@click.option("--no-masters", is_flag=True, help="Leave the preservation masters out of the package.")
@batch_dir_option("Where the masters are now, if the batch folder has moved.")
@profile_option("Profile (TOML) with [archive] and [handoff] settings.")
@json_option("Print the result as JSON.")
@no_progress_option
def handoff(
    out: Path,
    dest: Path,
    fmt: str,
    force: bool,
    reason: str | None,
    no_masters: bool,
    batch_dir: Path | None,
    settings: Settings,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Package a processed, QC-passed batch for hand-off, every file checked against the journal.

    \b
    Formats:
      bagit          BagIt 1.0 bag: data/ = masters/, documents/, catalog/, qc/, journal.sqlite;
                     SHA-256 and SHA-512 manifests; bag-info with 全宗号, 起止档号, QC result
      dat93          DA/T 93-2022 transfer package: 说明文件.xml, 目录文件.xml,
                     全宗号/年度/保管期限/档号/ folders, 其他/ (登记表, fixity list, QC, journal)
      archivematica  standard transfer: objects/, metadata/metadata.csv, checksum.sha256,
                     submissionDocumentation/
    The package is built beside DEST and renamed into place when complete. Without a QC pass
    (`digitize qc OUT`) the hand-off is refused unless --force --reason says why.

    \b
    Exit codes: 0 package made; 2 usage (DEST exists, --force without --reason);
    4 refused: QC not passed, documents failed, a file differs from the journal, or the
    journal's event chain is broken (each named); 1 the package could not be made.

    \b
    Examples:
      digitize handoff archive/2019 --to transfer/2019-bag
      digitize handoff archive/2019 --to transfer/2019-dat93 --format dat93 --no-masters
      digitize handoff archive/2019 --to transfer/2019 --force --reason "QC re-inspection waived by 王科长"
    """
    from digitize.handoff import HandoffRefused, HandoffRequest, make_package

    request = HandoffRequest(out, dest, fmt, settings, force, reason, not no_masters, batch_dir)
    progress = _Progress(not no_progress and not as_json, "B", "Packaging", unit_scale=True)
    try:
        try:
            result = make_package(request, progress)
        finally:
            progress.close()
    except HandoffRefused as exc:  # the reasons and problems are the report; the exit code is the class's
        if as_json:
            _emit_json({"ok": False, "refused": exc.reasons, "problems": [p.to_dict() for p in exc.problems]})
        else:
            for why in exc.reasons:
                click.echo(f"REFUSED: {why}", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
        sys.exit(exc.exit_code)
    if as_json:
        _emit_json({"ok": True, **result.to_dict()})
        return
    click.echo(f"{result.format} package: {result.package}")
    click.echo(
        f"  {result.documents} documents, {result.pages} pages, {result.files} files, {result.bytes:,} bytes"
        + ("" if result.masters_included else " (no masters)")
        + f", {result.seconds:.1f} s"
    )
    if result.details.get("payload_oxum"):
        click.echo(f"  Payload-Oxum {result.details['payload_oxum']}")
    click.echo(f"  QC: {result.qc['label']}" + (f" ({result.qc['plan']})" if result.qc.get("plan") else ""))
    if result.override:
        click.echo(f"  FORCED: {result.override['reason']}")
    for item in result.left_out:
        click.echo(f"  left out {item['archival_code']}: {item['reason']}")
    for code in result.failed_documents:
        click.echo(f"  not included (processing failed): {code}")
    click.echo(
        f"  journal head {result.journal_head[:16]}… ({result.journal_events} events); "
        f"hand-off recorded as event {result.event_seq}"
    )


@main.command()
@click.argument("target", type=click.Path(exists=True, file_okay=False, path_type=Path))
@batch_dir_option("OUT only: where the masters are now, if the batch folder has moved.")
@click.option("--no-record", is_flag=True, help="OUT only: do not add fixity check events to the journal.")
@jobs_option("Files hashed in parallel.", default=4)
@json_option("Print the report as JSON.")
def verify(target: Path, batch_dir: Path | None, no_record: bool, jobs: int, as_json: bool) -> None:
    """Check that a package or a processed batch is still exactly as recorded.

    \b
    TARGET may be:
      a BagIt bag         full validation (both manifests, tag manifests, Payload-Oxum), every
                          changed, missing or extra file named; the journal copy's event chain
                          and its checksums against the manifest
      an OUT folder       SQLite's integrity; the event chain to its recorded end; every table
                          row against its event; every checksum the journal records (PDF/A,
                          OCR files, exports, QC report, masters in the batch folder); every
                          file or folder the journal does not know; records a "fixity check" event
      a DA/T 93 package   说明文件, 目录文件, folder structure, 其他/固化信息.sha256, 件数, 字节数
      an Archivematica    metadata/checksum.sha256 against objects/, metadata.csv
      transfer

    \b
    Exit codes: 0 intact; 4 something changed, is missing or extra (each named); 2 usage;
    6 the journal is damaged; 7 a command is writing to OUT (verify after it has finished).

    \b
    Examples:
      digitize verify transfer/2019-bag
      digitize verify archive/2019 --batch /mnt/scans/2019 --json
    """
    from digitize.handoff import verify as run_verify

    report = run_verify(target, batch_dir=batch_dir, record=not no_record, workers=jobs)
    if as_json:
        _emit_json(report.to_dict())
    else:
        state = "INTACT" if report.ok else "NOT INTACT"
        click.echo(
            f"{state}: {report.kind} {report.target}: {report.files_checked} files, "
            f"{report.bytes_checked:,} bytes checked in {report.seconds:.1f} s"
        )
        if report.journal:
            chain = "chain intact" if report.journal.get("chain_ok") else "CHAIN BROKEN"
            click.echo(
                f"  journal: {report.journal.get('events')} events, {chain}, head {str(report.journal.get('head'))[:16]}…"
            )
        for check in report.checks:
            click.echo(
                f"  [{check['item']}] {check['name']}: {check['result']}"
                + (f" ({check['detail']})" if check["detail"] else "")
            )
        for problem in report.problems:
            click.echo(f"  {problem}")
        for note in report.notes:
            click.echo(f"  note: {note}")
    if not report.ok:
        sys.exit(ExitCode.ATTENTION)


# --------------------------------------------------------------------------- index, search (digitize/search/)
def archive_argument(f: F) -> F:
    """ARCHIVE: a folder with an archive index (digitize index … --into ARCHIVE)."""
    return click.argument("archive", type=click.Path(exists=True, file_okay=False, path_type=Path))(f)


@main.command()
@click.argument("outs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--into",
    "archive",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Archive folder holding index.sqlite (created if missing).",
)
@click.option("--rebuild", is_flag=True, help="Start the index afresh (give every OUT folder it should hold).")
@click.option("--optimize", is_flag=True, help="Merge the full-text index into one segment afterwards (smaller).")
@jobs_option("Worker processes.", default=1)
@profile_option()
@json_option("Print the report as JSON.")
@no_progress_option
def index(
    outs: tuple[Path, ...],
    archive: Path,
    rebuild: bool,
    optimize: bool,
    jobs: int,
    settings: Settings,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Index processed documents for search: catalogue fields and the OCR text of every page.

    Each OUT folder's finished documents go into ARCHIVE/index.sqlite, keyed by 档号. Running
    it again indexes only what changed: a reprocessed document replaces its old entry, a
    document no longer in OUT is taken out, nothing is indexed twice. A profile whose [search]
    archive names ARCHIVE makes `process` and `export` do this by themselves.

    \b
    Exit codes: 0 indexed; 1 some documents could not be indexed (each named); 2 usage.

    \b
    Examples:
      digitize index archive/2019 --into /srv/archive
      digitize index archive/2018 archive/2019 --into /srv/archive --jobs 2 --json
      digitize index archive/2019 --into /srv/archive --rebuild --optimize
    """
    from digitize.search.build import update_archive

    progress = _Progress(not no_progress and not as_json, "page", "Indexing")
    done = [0]

    def count(pages: int) -> None:
        done[0] += pages
        progress(done[0], 0)

    try:
        report = update_archive(archive, list(outs), settings, jobs, rebuild, count, optimize)
    finally:
        progress.close()
    data = {"archive": str(archive), **report.to_dict()}
    if as_json:
        _emit_json(data)
    else:
        _print_archive_update(data)
        click.echo(f"  {report.pages} pages in {report.seconds:.1f} s")
        for moved in report.moved:
            click.echo(f"  {moved['archival_code']}: was indexed from {moved['from']}, now from {moved['to']}")
    sys.exit(outcome_code(failed=not report.ok))


@main.command()
@archive_argument
@click.argument("query", required=False, default="")
@click.option(
    "--clearance",
    default="公开",
    show_default=True,
    help="Your 密级 level: 公开 (outside reader: open records only), 内部, 秘密, 机密, 绝密.",
)
@click.option("--year", "years", multiple=True, help="年度: 2019, 2015-2019 or 2015,2017 (repeatable).")
@click.option("--retention", multiple=True, help="保管期限, e.g. 永久 (repeatable).")
@click.option("--fonds", multiple=True, help="全宗号, e.g. J022 (repeatable).")
@click.option("--security", multiple=True, help="密级 of the records, e.g. 内部 (within your clearance; repeatable).")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True, help="Hits to show.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Hits to skip (paging).")
@json_option("Print the result as JSON.")
def search(
    archive: Path,
    query: str,
    clearance: str,
    years: tuple[str, ...],
    retention: tuple[str, ...],
    fonds: tuple[str, ...],
    security: tuple[str, ...],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Find pages by what is written on them, and records by their catalogue fields.

    A query matches wherever its letters and digits occur in order, ignoring spaces,
    punctuation, line breaks and case: a surname (王), a name (王颖), any part of an ID
    number, a phrase. Each hit is a page (page 0: the catalogue record) with the match shown
    【like this】. Records above your clearance, and records not open to you, are never shown
    or counted. Without QUERY, the filters list catalogue records. The hits shown are exact;
    when there are more than the page shows, their number may be an estimate, marked 约
    ("estimate" in --json), and 1000+ means at least a thousand.

    \b
    Exit codes: 0 searched (also when nothing is found); 2 usage (a bad clearance or filter,
    an archive index that cannot be used).

    \b
    Examples:
      digitize search /srv/archive 王颖 --clearance 内部
      digitize search /srv/archive 19660322 --clearance 内部 --json
      digitize search /srv/archive 养老保险 --year 2015-2019 --retention 永久 --clearance 内部
      digitize search /srv/archive --fonds J022 --year 2019 --clearance 内部
    """
    from digitize.search.index import ArchiveIndex
    from digitize.search.query import Filters, SearchRequest, parse_years
    from digitize.search.query import search as run_search

    filters = Filters(
        years=tuple(y for spec in years for y in parse_years(spec)),
        retention=retention,
        fonds=fonds,
        security=security,
    )
    with ArchiveIndex(archive) as archive_index:
        result = run_search(archive_index, SearchRequest(query, clearance, filters, offset=offset, limit=limit))
    if as_json:
        _emit_json(result.to_dict())
        return
    click.echo(f"共 {result.count_label} 处命中 hits (密级 clearance {clearance}; {result.seconds * 1000:.0f} ms)")
    if not result.complete:
        click.echo("结果不完整：查询过于宽泛，请加长查询词或加筛选条件。 Incomplete: narrow the query.")
    for hit in result.hits:
        where = "目录 catalogue" if hit.page_no == 0 else f"第 {hit.page_no} 页"
        click.echo(f"{hit.archival_code}  {where}  {hit.title}")
        click.echo(f"    {hit.marked()}")
    if clearance == "公开" and not result.total:
        click.echo("（以公开身份检索：只含开放的档案。 Searched as a public reader: open records only.）")


# --------------------------------------------------------------------------- serve, users (digitize/web/)
DEFAULT_WORKERS = 2  # server processes: measured in docs/benchmarks.md ("Web")


def users_file_option(f: F) -> F:
    return click.option(
        "--users",
        "users_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Users file (default ARCHIVE/users.json).",
    )(f)


@main.command()
@archive_argument
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (other machines: 0.0.0.0).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8023, show_default=True, help="Port.")
@click.option(
    "--threads", type=click.IntRange(min=1, max=64), default=8, show_default=True, help="Request threads per process."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=DEFAULT_WORKERS,
    show_default=True,
    help="Server processes sharing the port (1 on systems without fork).",
)
@users_file_option
@click.option("--secure-cookie", is_flag=True, help="Send the session cookie over HTTPS only (behind a TLS proxy).")
def serve(
    archive: Path, host: str, port: int, threads: int, workers: int, users_file: Path | None, secure_cookie: bool
) -> None:
    """Serve the archive in the browser: search, documents, QC review (Chinese interface).

    Users sign in with accounts from `digitize users add`; what they find and open follows
    their role and clearance. Every document view and download is recorded in the journal of
    its OUT folder (利用登记). Plain HTTP: other machines should reach it through a TLS proxy.
    `--workers` processes (each with `--threads` request threads) share the port, so searches
    use more than one core; what they share (usage register, sign-in failures, users) is kept
    in files, never in one process's memory.

    \b
    Exit codes: 0 stopped (Ctrl+C, SIGTERM); 2 usage (ARCHIVE is not a folder, a bad option,
    a port that cannot be listened on).

    \b
    Examples:
      digitize users add /srv/archive wangfang --role inspector --clearance 内部
      digitize serve /srv/archive                       # http://127.0.0.1:8023/
      digitize serve /srv/archive --host 0.0.0.0 --port 8080 --secure-cookie
      digitize serve /srv/archive --workers 4 --threads 8
    """
    from digitize.web.app import create_app
    from digitize.web.server import can_fork, listening_socket, run_server
    from digitize.web.users import USERS_FILE, UserStore

    if workers > 1 and not can_fork():
        click.echo("warning: this system cannot fork; serving with one process", err=True)
        workers = 1
    app = create_app(archive, users_file, secure_cookie)
    if not UserStore(users_file or archive / USERS_FILE).users():
        click.echo(f"warning: no users yet; add one with `digitize users add {archive} NAME --role admin`", err=True)
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown_port = sock.getsockname()[1]
    click.echo(f"Serving {archive} on http://{host}:{shown_port}/ with {workers} process(es) (Ctrl+C stops)", err=True)
    try:
        run_server(app, sock, threads, workers)
    finally:
        sock.close()


@main.group(cls=_Group)
def users() -> None:
    """Accounts of the web application (ARCHIVE/users.json, passwords hashed with Argon2id).

    \b
    Roles: reader    search and open documents up to the clearance
           inspector also review the QC sample and record decisions
           admin     also read the usage register (利用登记)
    Clearance (密级 level): 公开 (outside reader: open records only), 内部, 秘密, 机密, 绝密.

    \b
    Exit codes: 0 done; 2 usage (an unknown user, role or clearance, passwords that differ).
    """


def _user_store(archive: Path, users_file: Path | None) -> Any:
    from digitize.web.users import USERS_FILE, UserStore

    return UserStore(users_file or archive / USERS_FILE)


def _new_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password 密码", hide_input=True, confirmation_prompt=True))


@users.command("add")
@archive_argument
@click.argument("name")
@click.option("--role", type=click.Choice(["reader", "inspector", "admin"]), default="reader", show_default=True)
@click.option("--clearance", default="公开", show_default=True, help="密级 level: 公开, 内部, 秘密, 机密, 绝密.")
@click.option("--display", default="", help="Name shown and signed, e.g. 王芳.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@users_file_option
def users_add(
    archive: Path, name: str, role: str, clearance: str, display: str, password_stdin: bool, users_file: Path | None
) -> None:
    """Add an account (asks for the password twice unless --password-stdin).

    \b
    Examples:
      digitize users add /srv/archive wangfang --role inspector --clearance 内部 --display 王芳
      echo "$PASSWORD" | digitize users add /srv/archive reader1 --password-stdin
    """
    store = _user_store(archive, users_file)
    user = store.add(name, _new_password(password_stdin), role, clearance, display)
    click.echo(f"added {user.name} ({user.role}, clearance {user.clearance}) to {store.path}")


@users.command("change")
@archive_argument
@click.argument("name")
@click.option("--role", type=click.Choice(["reader", "inspector", "admin"]), default=None)
@click.option("--clearance", default=None, help="New 密级 level.")
@click.option("--display", default=None, help="New display name.")
@click.option("--password", "new_password", is_flag=True, help="Set a new password (prompted).")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@users_file_option
def users_change(
    archive: Path,
    name: str,
    role: str | None,
    clearance: str | None,
    display: str | None,
    new_password: bool,
    password_stdin: bool,
    users_file: Path | None,
) -> None:
    """Change an account's role, clearance, name or password; its open sessions end.

    \b
    Example:
      digitize users change /srv/archive wangfang --clearance 秘密 --password
    """
    password = _new_password(password_stdin) if (new_password or password_stdin) else None
    user = _user_store(archive, users_file).change(name, password, role, clearance, display)
    click.echo(f"changed {user.name} ({user.role}, clearance {user.clearance})")


@users.command("remove")
@archive_argument
@click.argument("name")
@users_file_option
def users_remove(archive: Path, name: str, users_file: Path | None) -> None:
    """Remove an account; its open sessions end at once."""
    _user_store(archive, users_file).remove(name)
    click.echo(f"removed {name}")


@users.command("list")
@archive_argument
@users_file_option
@json_option("Print the accounts as JSON (no password hashes).")
def users_list(archive: Path, users_file: Path | None, as_json: bool) -> None:
    """List the accounts."""
    accounts = [
        {"name": u.name, "display": u.display, "role": u.role, "clearance": u.clearance, "updated": u.updated}
        for u in _user_store(archive, users_file).users().values()
    ]
    if as_json:
        _emit_json(accounts)
        return
    for a in accounts:
        click.echo(f"{a['name']:16s} {a['role']:9s} {a['clearance']}  {a['display']}")


if __name__ == "__main__":
    main()
