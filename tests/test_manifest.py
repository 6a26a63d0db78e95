"""The npe2 manifest is valid and every contribution imports."""

import subprocess
import sys

import pytest


def test_npe2_validate_passes():
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-facehmm"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


@pytest.mark.gui
def test_manifest_contributions_import():
    npe2 = pytest.importorskip("npe2")
    manifest = npe2.PluginManifest.from_distribution("napari-facehmm")
    manifest.validate_imports()
    commands = {c.id for c in manifest.contributions.commands}
    for reader in manifest.contributions.readers:
        assert reader.command in commands
    assert [s.display_name for s in manifest.contributions.sample_data] == ["Synthetic face session"]
    assert {w.display_name for w in manifest.contributions.widgets} >= {
        "Expression states",
        "Ethogram",
        "3D face",
        "State summary",
        "Tracking QC",
    }
