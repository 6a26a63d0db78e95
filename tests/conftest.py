"""Shared fixtures.

``shared_data`` points at the real files in ``../shared/data`` (next to the
project root) and skips the test, with a reason, when that folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACEHMM_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real test files; skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set FACEHMM_SHARED_DATA)")
    return SHARED_DATA
