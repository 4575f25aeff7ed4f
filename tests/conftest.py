"""Shared test fixtures: paths to the sample batch and its ground truth."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SCHEMAS = ROOT / "metadata" / "schemas"

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES
