"""A finished document described anew from its catalogue row (`digitize.relink`), on the sample run's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from digitize.describe import Description
from digitize.fsutil import sha256_file
from digitize.journal import Journal
from digitize.ofd import OfdError
from digitize.relink import relink_document
from digitize.settings import load_settings


def test_a_catalogue_row_the_ofd_cannot_hold_leaves_the_document_as_it_was(sample_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_run["out"], out)
    title = "养老保险登记\x01表"  # a control character from a spreadsheet cell: XML cannot hold it
    with Journal(out / "journal.sqlite") as journal:
        row = next(d for d in journal.documents() if d.pdf_path and d.ofd_path)
        assert row.pdf_path and row.ofd_path
        before = {rel: sha256_file(out / rel) for rel in (row.pdf_path, row.ofd_path)}
        desc = Description(row.archival_code, title, {**row.catalog, "题名": title})
        with pytest.raises(OfdError, match="cannot be written into the OFD"):  # the document fails, not the run
            relink_document(journal, out, row.doc_key, desc, load_settings(), None, None)
        assert journal.document(row.doc_key) == row
    assert {rel: sha256_file(out / rel) for rel in before} == before  # the PDF/A too: both files or neither
    assert not [p.name for p in (out / Path(row.pdf_path).parent).iterdir() if p.name.endswith(".tmp")]
