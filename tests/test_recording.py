"""What the coordinator writes to a real journal for a worker's manifest."""

from __future__ import annotations

from pathlib import Path

from digitize import jobs
from digitize.journal import DocumentState, Journal, PageState
from digitize.recording import BatchSummary, Recorder
from digitize.settings import load_settings
from tests.test_jobs import one_page_job


def test_a_document_whose_masters_cannot_be_read_keeps_the_page_rows_of_its_last_commit(tmp_path: Path):
    master = tmp_path / "batch" / "A" / "0001.jpg"  # processed earlier; gone (or unreadable) now
    settings = load_settings()
    with Journal(tmp_path / "out" / "journal.sqlite") as journal:
        journal.upsert_document("A", archival_code="A", state=DocumentState.DONE, output_dir="documents/A")
        journal.upsert_page("A", 1, state=PageState.DONE, source_path=str(master), master_sha256="0" * 64)
        job = one_page_job(tmp_path, master)
        manifest = jobs.prepare(job)
        assert isinstance(manifest, jobs.DocumentManifest) and manifest.status == jobs.JobStatus.FAILED
        summary = BatchSummary()
        recorder = Recorder(
            journal,
            1,
            batch=tmp_path / "batch",
            settings=settings,
            settings_key="k",
            engine_version="tesseract",
            descriptions={},
            summary=summary,
        )
        assert recorder.record(manifest) is False
        document = journal.document("A")
        assert document is not None and document.state == DocumentState.FAILED
        assert "0001.jpg: cannot be read" in (document.error or "")
        assert [(p.page_no, p.master_sha256) for p in journal.pages("A")] == [(1, "0" * 64)]
        assert summary.documents_failed == 1
