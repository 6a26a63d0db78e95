"""``facehmm live``: your expression states while you are on camera, in napari.

Opens napari with the Live dock and runs it: a webcam (``--camera N``) or a
video file played at its own pace as if it were one (``--source VIDEO``),
the built-in face tracker, the model's features and online decoding (with
``--lag L``, each frame's state is decided L frames later: steadier). The
window shows the frame, the landmarks coloured by the current state, its
name and probability, the last minute's ethogram and each state's running
frequency. ``--record DIR`` keeps the run as a session folder that
``facehmm view`` and ``facehmm analyze`` open. Without ``--model``, the first ``--calibrate S``
seconds (default 60) are recorded and a ``--states K`` model is fitted on
them, as ``facehmm run`` would on a video, then it goes live (the model is
saved in the recording). ``--duration S`` stops after
S seconds; ``--screenshot OUT.png`` saves the window at the end (on a machine
without a display, a virtual one is started). At the end it prints the
frames shown, the frames dropped and the median latency from capture to
screen.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import documented_parser, number, whole_number


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = documented_parser(
        subparsers, "live", "show your expression states live from a webcam (or a video played as one)", __doc__
    )
    parser.add_argument("--model", type=Path, default=None,
                        help="model.json fitted on the built-in tracker's landmarks (facehmm run VIDEO writes one); "
                        "without it, the first --calibrate seconds are recorded and a model is fitted on them")
    parser.add_argument("--calibrate", type=number(5, 3600), default=60.0, metavar="S",
                        help="without --model: seconds recorded to fit the model, 5 to 3600 (default 60)")
    parser.add_argument("--states", type=whole_number(2, 30), default=9,
                        help="without --model: states of the fitted model, 2 to 30 (default 9)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--camera", type=whole_number(0, 99), default=None, metavar="N",
                        help="webcam index (default 0)")
    source.add_argument("--source", type=Path, default=None, metavar="VIDEO",
                        help="a video file played at its own frame rate as if it were a camera")
    parser.add_argument("--lag", type=whole_number(0, 60), default=0,
                        help="decide each frame's state this many frames later (steadier), 0 to 60 (default 0)")
    parser.add_argument("--record", type=Path, default=None, metavar="DIR",
                        help="keep the video, landmarks and states as a session folder")
    parser.add_argument("--duration", type=number(0, min_open=True), default=None, metavar="S",
                        help="stop after S seconds (default: at the end of the video, or Ctrl+C / Stop)")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the window to this PNG at the end")
    parser.add_argument("--size", type=int, nargs=2, default=(1400, 900), metavar=("W", "H"),
                        help="window size in pixels")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import FaceHMMError, FileFormatError
    from ..hmm import FaceHMM
    from ..live import check_live_model
    from .view import _virtual_display

    if args.model is not None and not args.model.is_file():
        raise FileFormatError(args.model, "model file does not exist")
    if args.source is not None and not args.source.is_file():
        raise FileFormatError(args.source, "video file does not exist")
    if args.model is not None:
        check_live_model(FaceHMM.load(args.model))  # before any window opens
    if args.record is not None and args.record.exists() and not args.record.is_dir():
        raise FaceHMMError(f"--record {args.record}: is a file; give a folder")
    display = _virtual_display(tuple(args.size)) if args.screenshot is not None else None
    try:
        return _show(args)
    finally:
        if display is not None:
            display.stop()


def _show(args: argparse.Namespace) -> int:
    import napari
    from qtpy.QtCore import QTimer

    from ..widgets.live import LiveWidget

    viewer = napari.Viewer(title="napari-facehmm: live", show=True)
    viewer.window._qt_window.resize(*args.size)
    dock = LiveWidget(viewer)
    viewer.window.add_dock_widget(dock, area="right", name="Live")
    if args.model is not None:
        dock.form.model.value = str(args.model)
    dock.form.calibrate_s.value = int(round(args.calibrate))
    dock.form.n_states.value = args.states
    dock.form.source.value = str(args.source) if args.source is not None else str(args.camera or 0)
    dock.form.lag.value = args.lag
    if args.record is not None:
        dock.form.record.value = str(args.record)
    outcome = {}

    def save_and_close() -> None:
        if args.screenshot is not None:
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            viewer.screenshot(str(args.screenshot), canvas_only=False)
            outcome["screenshot"] = args.screenshot
        viewer.close()

    def finished(stats) -> None:
        outcome["stats"] = stats
        QTimer.singleShot(100, save_and_close)  # after the dock has laid out its last text

    dock.finished_callbacks.append(finished)
    if dock.start() is None:
        viewer.close()
        return 2
    if args.duration is not None:
        QTimer.singleShot(int(args.duration * 1000), dock.stop)
    try:
        napari.run()
    except KeyboardInterrupt:
        dock.stop()
    stats = outcome.get("stats")
    if stats is None:
        print(f"facehmm live: stopped: {dock.status.text()}")
        return 2
    print(dock.summary_line())
    if stats.recording is not None:
        print(f"recorded to {stats.recording}")
    if "screenshot" in outcome:
        print(f"saved {outcome['screenshot']}")
    return 0
