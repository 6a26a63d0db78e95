"""The core never imports Qt or napari (STYLE habit 1)."""

import subprocess
import sys

CORE_MODULES = [
    "napari_facehmm",
    "napari_facehmm.data",
    "napari_facehmm.errors",
    "napari_facehmm.ranges",
    "napari_facehmm.face",
    "napari_facehmm.io",
    "napari_facehmm.features",
    "napari_facehmm.hmm",
    "napari_facehmm.stats",
    "napari_facehmm.tracking",
    "napari_facehmm.synthetic",
    "napari_facehmm.layerdata",
    "napari_facehmm._napari.convert",
    "napari_facehmm._napari.state_colors",
    "napari_facehmm._napari.video_frames",
    "napari_facehmm.cli",
]

#: the one module of the napari side that imports napari when imported (the
#: layer type subclasses napari's Points); its readers and writer import napari
#: only inside functions and are walked below like the core
NAPARI_AT_IMPORT = ("napari_facehmm._napari.layers",)

FORBIDDEN = ("napari", "PyQt5", "PyQt6", "PySide2", "PySide6", "qtpy", "vispy", "magicgui")


def _submodules():
    import pkgutil

    import napari_facehmm

    names = []
    for info in pkgutil.walk_packages(napari_facehmm.__path__, "napari_facehmm."):
        if ".widgets" in info.name or info.name.endswith("._widget") or ".commands.view" in info.name:
            continue
        if info.name in NAPARI_AT_IMPORT:
            continue
        names.append(info.name)
    return names


def test_core_imports_no_qt_and_no_napari():
    modules = sorted(set(CORE_MODULES) | set(_submodules()))
    code = (
        "import importlib, sys\n"
        f"mods = {modules!r}\n"
        "for m in mods:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except ModuleNotFoundError as e:\n"
        "        if e.name != m: raise\n"
        f"bad = sorted(k for k in sys.modules if k.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = result.stdout.strip()
    assert loaded == "", f"core modules imported GUI packages: {loaded}"
