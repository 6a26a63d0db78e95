"""The layering holds: import-linter's contracts in pyproject.toml (``[tool.importlinter]``).

The core never imports napari or Qt (imports inside functions included, which
tests/test_core_is_qt_free.py cannot see), io and data import nothing above
them, the napari side (``_napari``) sits below widgets and commands and above
the core, and widgets and commands are the top.
"""

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: modules of the napari side that import napari (at import or inside functions):
#: the npe2 readers, writer and sample data, and the plugin's layer type
NAPARI_SIDE_USING_NAPARI = {"readers", "session", "writer", "sample_data", "layers"}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["name"]: contract for contract in config["contracts"]}


def test_import_contracts_are_kept():
    code = "import sys\nfrom importlinter.cli import lint_imports\nsys.exit(lint_imports(no_cache=True, no_logo=True))\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_the_napari_side_is_placed_by_the_contracts():
    import napari_facehmm._napari

    contracts = _contracts()
    top = contracts["widgets and commands are the top"]
    assert "napari_facehmm._napari" in top["source_modules"]
    below = contracts["The core never imports the napari side"]
    assert "napari_facehmm._napari" in below["forbidden_modules"]
    assert not set(below["source_modules"]) & {"napari_facehmm._napari", "napari_facehmm.widgets"}
    # the reader <-> widgets._layers cycle is gone, and with it the one exception
    for contract in contracts.values():
        ignored = " ".join(contract.get("ignore_imports", []))
        assert "_napari" not in ignored and "_reader" not in ignored and "_layers" not in ignored, contract["name"]
    # every module of the napari side either needs napari or is held Qt-free by the first
    # contract: a new module has to be placed on one side or the other
    qt_free = set(contracts["The core never imports napari or Qt"]["source_modules"])
    modules = {info.name for info in pkgutil.iter_modules(napari_facehmm._napari.__path__)}
    assert modules >= NAPARI_SIDE_USING_NAPARI | {"convert", "state_colors", "video_frames"}
    unplaced = sorted(
        name for name in modules - NAPARI_SIDE_USING_NAPARI if f"napari_facehmm._napari.{name}" not in qt_free
    )
    assert not unplaced, f"_napari modules in neither group: {unplaced}"
