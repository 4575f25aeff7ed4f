"""What the coordinator writes to a real journal for a worker's manifest."""

from __future__ import annotations

from pathlib import Path

from digitize import jobs
from digitize.journal import DocumentState, Journal, PageState
from digitize.recording import BatchSummary, Recorder
from digitize.settings import load_settings
from tests.test_jobs import one_page_job


def _recorder(journal: Journal, batch: Path, summary: BatchSummary) -> Recorder:
    settings = load_settings()
    return Recorder(
        journal,
        1,
        batch=batch,
        settings=settings,
        settings_key="k",
        engine_version="t",
        descriptions={},
        summary=summary,
    )


def test_a_document_whose_masters_cannot_be_read_keeps_the_page_rows_of_its_last_commit(tmp_path: Path):
    master = tmp_path / "batch" / "A" / "0001.jpg"  # processed earlier; gone (or unreadable) now
    with Journal(tmp_path / "out" / "journal.sqlite") as journal:
        journal.upsert_document("A", archival_code="A", state=DocumentState.DONE, output_dir="documents/A")
        journal.upsert_page("A", 1, state=PageState.DONE, source_path=str(master), master_sha256="0" * 64)
        job = one_page_job(tmp_path, master)
        manifest = jobs.prepare(job)
        assert isinstance(manifest, jobs.DocumentManifest) and manifest.status == jobs.JobStatus.FAILED
        summary = BatchSummary()
        recorder = _recorder(journal, tmp_path / "batch", summary)
        assert recorder.record(manifest) is False
        document = journal.document("A")
        assert document is not None and document.state == DocumentState.FAILED
        assert "0001.jpg: cannot be read" in (document.error or "")
        assert [(p.page_no, p.master_sha256) for p in journal.pages("A")] == [(1, "0" * 64)]
        assert summary.documents_failed == 1


def test_a_low_resolution_estimated_from_the_page_is_not_reported_as_the_scan_resolution(tmp_path: Path):
    summary = BatchSummary()
    with Journal(tmp_path / "journal.sqlite") as journal:
        recorder = _recorder(journal, tmp_path, summary)
        recorder._resolution_finding("A", 1, "0001.jpg", 150.0, "estimated")  # no trustworthy tag; measured
        recorder._resolution_finding("B", 1, "0001.jpg", 150.0, "tag")  # the scanner's own tag
    estimated, tagged = (f["message"] for f in summary.findings)
    assert estimated.startswith("0001.jpg estimated from the page at about 150 dpi")
    assert tagged.startswith("0001.jpg scanned at 150 dpi")
