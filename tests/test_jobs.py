"""The document job's own decisions, on real files: what it does when a master cannot be read."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from digitize import jobs
from digitize.batch import PageRef
from digitize.errors import Interrupted
from digitize.jobs import DocumentJob, JobStatus
from digitize.pdfa import DocumentMeta
from digitize.settings import load_settings


def one_page_job(tmp_path: Path, master: Path) -> DocumentJob:
    """The job of document A: one page, `master`, into tmp_path/out."""
    return DocumentJob(
        doc_key="A",
        name="A",
        output_dir="documents/A",
        out=str(tmp_path / "out"),
        batch=str(master.parent.parent),
        pages=(PageRef("A", 1, str(master)),),
        master_files=(str(master),),
        meta=DocumentMeta("A"),
        settings=load_settings().to_dict(),
        settings_key="k",
        ocr_software="tesseract",
    )


def test_a_master_gone_before_it_is_hashed_fails_its_document(tmp_path):
    master = tmp_path / "batch" / "A" / "0001.jpg"  # listed by discovery, removed since
    manifest = jobs.prepare(one_page_job(tmp_path, master))
    assert manifest.status == JobStatus.FAILED
    assert "0001.jpg: cannot be read" in manifest.error


def test_an_io_error_hashing_a_master_interrupts_the_run_as_in_the_page_task(tmp_path, monkeypatch):
    master = tmp_path / "batch" / "A" / "0001.jpg"
    master.parent.mkdir(parents=True)
    master.write_bytes(b"scan")

    def failing_disk(path: str) -> str:  # a fault that cannot be caused here: the disk fails under the read
        raise OSError(errno.EIO, "Input/output error", path)

    monkeypatch.setattr(jobs, "sha256_file", failing_disk)
    with pytest.raises(Interrupted, match="I/O error"):
        jobs.prepare(one_page_job(tmp_path, master))
