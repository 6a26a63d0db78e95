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


def _shared_data_state() -> dict[str, tuple[int, int]]:
    if not SHARED_DATA.is_dir():
        return {}
    return {
        str(path.relative_to(SHARED_DATA)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(SHARED_DATA.rglob("*"))
        if path.is_file()
    }


def pytest_sessionstart(session):
    session.config._shared_data_before = _shared_data_state()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a test changed, added or removed a file in ../shared/data.

    Those are real users' files that every test only reads; as root, their
    read-only permissions do not stop a write, so this check does.
    """
    before = getattr(session.config, "_shared_data_before", None)
    if before is None:
        return
    after = _shared_data_state()
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        session.config.get_terminal_writer().line(
            f"ERROR: the tests changed files in {SHARED_DATA}: {changed[:10]}", red=True
        )
        session.exitstatus = 1


def pytest_collection_modifyitems(session, config, items):
    """Import DeepLabCut before any test runs when a ``dlc`` test was collected.

    torchvision (which DeepLabCut imports) crashes the process when it is
    first imported after a napari viewer exists, so whichever subset of the
    tests is run, DeepLabCut must be loaded before the first GUI test.
    """
    if any(item.get_closest_marker("dlc") for item in items):
        os.environ.setdefault("DLClight", "True")
        try:
            import deeplabcut  # noqa: F401
        except ImportError:
            pass  # the dlc tests skip themselves, with the reason


@pytest.fixture(scope="module")
def one_thread():
    """Run BLAS and OpenMP (k-means) on one thread, for a module of tiny HMM problems.

    Extra threads only add start-up and, on a busy 2-core CI machine,
    oversubscription that made those tests 5x slower.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def without_deeplabcut(monkeypatch):
    """``importlib.util.find_spec`` finds no deeplabcut (nor its submodules), as on a machine without it."""
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name.split(".")[0] == "deeplabcut":
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real test files; skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set FACEHMM_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_session(tmp_path_factory):
    """A short synthetic two-camera session with known truth, generated once.

    20 s at 30 fps (600 frames), 320x240 videos, seed 0, 6 expression states,
    written in Anipose's project layout; returns the
    :class:`napari_facehmm.synthetic.SessionTruth` (paths and true arrays).
    Treat its files as read-only: other tests share them.
    """
    from napari_facehmm.synthetic import generate_session

    out_dir = tmp_path_factory.mktemp("synthetic_session")
    return generate_session(out_dir, n_cameras=2, seconds=20.0, fps=30.0, seed=0, size=(320, 240))
