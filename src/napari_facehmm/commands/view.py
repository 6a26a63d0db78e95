"""``facehmm view DIR``: open a session in napari with states, optionally save a screenshot.

Opens a session folder (the layout facehmm synth and facehmm run write) in
napari with the expression-state, ethogram, 3D face, summary and QC docks;
fits a FaceHMM (or loads --model) and goes to --frame. With --screenshot it
saves the whole window as a PNG and exits; on a machine without a display a
virtual X display (Xvfb) is started for the run.
"""

# napari and Qt are imported inside run() so ``facehmm --help`` stays fast

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import documented_parser, whole_number


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = documented_parser(
        subparsers, "view", "open a session folder in napari (videos, landmarks, states, docks)", __doc__
    )
    parser.add_argument("folder", type=Path, help="session folder")
    parser.add_argument("--model", type=Path, default=None, help="saved FaceHMM (.json/.npz) to load instead of fitting")
    parser.add_argument("--frame", type=int, default=None, help="video frame to show")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the window to this PNG and exit")
    parser.add_argument("--n-states", type=int, default=9, help="states to fit (default 9)")
    parser.add_argument("--restarts", type=int, default=1, help="EM restarts when fitting (default 1, for speed)")
    parser.add_argument(
        "--stability-seeds", type=whole_number(0, 100), default=0,
        help="fits with different seeds to flag states that do not come back, 0-100 (default 0: no check, for speed)",
    )
    parser.add_argument("--no-fit", action="store_true", help="only open the data")
    parser.add_argument("--size", type=int, nargs=2, default=(1600, 1000), metavar=("W", "H"), help="window size in pixels")
    parser.set_defaults(run=run)


def _virtual_display(size: tuple[int, int]):
    """Start Xvfb when a screenshot is asked for and there is no display.

    Returns the started display (stop it when done) or None when a display
    exists. Qt's xcb platform under Xvfb draws the canvas; ``offscreen``
    would give a black one, so it is not an option here.
    """
    import os
    import shutil
    import sys

    from ..errors import FaceHMMError

    if not sys.platform.startswith("linux") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if shutil.which("Xvfb") is None:
        raise FaceHMMError(
            "no display to draw the screenshot on, and Xvfb is not installed "
            "(apt-get install xvfb, or run under xvfb-run -a)"
        )
    from pyvirtualdisplay import Display

    display = Display(visible=False, size=(max(size[0], 1280), max(size[1], 1024)), color_depth=24)
    display.start()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    return display


def run(args: argparse.Namespace) -> int:
    from .._napari.session import is_session_folder
    from ..errors import FileFormatError

    folder = Path(args.folder)
    if not is_session_folder(folder):
        raise FileFormatError(folder, "is not a session folder (expected videos-raw/ or pose-2d/ inside)")
    display = _virtual_display(tuple(args.size)) if args.screenshot is not None else None
    try:
        return _show(args, folder)
    finally:
        if display is not None:
            display.stop()


def _show(args: argparse.Namespace, folder: Path) -> int:
    import napari
    from qtpy.QtWidgets import QApplication

    from ..widgets.app import open_face_viewer

    viewer = napari.Viewer(title=f"napari-facehmm: {folder.name}", show=True)
    try:
        viewer.window._qt_window.resize(*args.size)
        open_face_viewer(
            folder,
            viewer=viewer,
            model=args.model,
            n_states=args.n_states,
            n_restarts=args.restarts,
            stability_seeds=args.stability_seeds,
            frame=args.frame,
            fit=not args.no_fit,
        )
        if args.screenshot is None:
            napari.run()
            return 0
        app = QApplication.instance()
        for _ in range(10):  # let docks lay out and canvases draw
            app.processEvents()
        viewer.reset_view()  # fit the data to the canvas left between the docks
        app.processEvents()
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(args.screenshot), canvas_only=False)
        print(f"saved {args.screenshot}")
        return 0
    finally:
        if args.screenshot is not None:
            viewer.close()
