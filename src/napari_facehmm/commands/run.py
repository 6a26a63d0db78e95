"""``facehmm run``: a person's own face video(s) -> landmarks -> (3D) -> states, in one command.

The whole job with no labeling: track each video with the built-in face
model (or your trained DeepLabCut model with --dlc), triangulate when two or
more videos and a calibration are given, fit a Gaussian HMM and decode each
frame's expression state. The result is two folders in --out: session/ (the
layout facehmm view opens: videos-raw/, pose-2d/, pose-3d/ when
triangulated, calibration/) and analysis/ (what facehmm analyze writes:
states.csv, statistics, model, figures); the facehmm view command to open
them is printed at the end.

The whole --out folder is written as a set: built beside it and swapped in
at the end, so a failed or interrupted run leaves the earlier result (or
nothing) in place, never half of a new one. Other files you keep in --out
are carried over; a non-empty folder that holds no earlier result is
refused before any work.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

from ..progress import run_with_progress
from ._options import documented_parser
from .analyze import add_feature_arguments, add_stability_argument, analysis_options, print_summary

#: What a run writes into --out; an --out that holds one of them is an earlier run's result
RESULT_NAMES = ("session", "analysis")


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers, "run", "your own face video(s) to expression states in one command (no labeling)", __doc__
    )
    parser.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="face video(s); several = cameras of one recording")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; an earlier run's result there is replaced)")
    parser.add_argument(
        "--calibration", type=Path, default=None,
        help="Anipose calibration.toml of the cameras (two or more videos are then triangulated to 3D)",
    )
    parser.add_argument(
        "--cameras", default=None,
        help="comma-separated camera names of the calibration, in the order of the videos (default: the "
        "calibration camera named in each video's file name, else the calibration's order)",
    )
    parser.add_argument(
        "--offset", action="append", default=[], metavar="auto|none|CAMERA=FRAMES",
        help="frame offset between cameras that were not synchronized by hardware: auto (default) estimates "
        "it from the head motion and applies it when sure; none assumes synchronized cameras; CAMERA=FRAMES "
        "drops that camera's first FRAMES frames (it started recording earlier; repeatable)",
    )
    parser.add_argument("--dlc", type=Path, default=None, metavar="CONFIG", help="track with this trained DeepLabCut project (config.yaml) instead of the built-in model")
    parser.add_argument("--session", default=None, help="session name (default: the first video's name)")
    add_feature_arguments(parser)
    add_stability_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run, model=None)  # no --model: run always fits


# ---------------------------------------------------------------- checks
def _session_name(args) -> str:
    from ..tracking.anipose import session_name_from_path

    name = args.session or session_name_from_path(args.videos[0]) or args.videos[0].stem
    cleaned = re.sub(r"[^A-Za-z0-9_.]+", "_", name).strip("_.")
    return cleaned or "session"


def _camera_mapping(videos: list[Path], calibration, cameras_option: str | None) -> list[str]:
    """The calibration camera of each video, in video order."""
    from ..errors import DataError

    names = calibration.camera_names
    if cameras_option:
        chosen = [c.strip() for c in cameras_option.split(",") if c.strip()]
        if len(chosen) != len(videos):
            raise DataError(f"--cameras names {len(chosen)} cameras for {len(videos)} videos")
        unknown = [c for c in chosen if c not in names]
        if unknown:
            raise DataError(f"--cameras: {unknown} not in the calibration, which has {names}")
        if len(set(chosen)) != len(chosen):
            raise DataError(f"--cameras names a camera twice: {chosen}")
        return chosen
    found = []
    for video in videos:
        hits = [n for n in names if re.search(rf"(^|[^A-Za-z0-9]){re.escape(n)}($|[^A-Za-z0-9])", video.stem)]
        found.append(hits[0] if len(hits) == 1 else None)
    if all(found) and len(set(found)) == len(found):
        return found
    if len(videos) > len(names):
        raise DataError(f"{len(videos)} videos but the calibration has only {len(names)} cameras ({names})")
    return names[: len(videos)]


def _parse_offsets(values: list[str], cameras: list[str]):
    """``"auto"``, ``None`` (synchronized) or ``{camera: frames}`` from the --offset options."""
    from ..errors import DataError

    if not values or values == ["auto"]:
        return "auto"
    if values == ["none"]:
        return None
    offsets = {}
    for text in values:
        camera, sep, frames = text.partition("=")
        if not sep:
            raise DataError(f"--offset takes auto, none or CAMERA=FRAMES (e.g. camB=3); got {text!r}")
        try:
            offsets[camera.strip()] = int(frames)
        except ValueError:
            raise DataError(f"--offset {text!r}: FRAMES must be a whole number") from None
        if offsets[camera.strip()] < 0:
            raise DataError(f"--offset {text!r}: FRAMES must be 0 or more (give the camera that started earlier)")
    unknown = sorted(set(offsets) - set(cameras))
    if unknown:
        raise DataError(f"--offset names {unknown}; the cameras are {cameras}")
    return offsets


def check_inputs(args):
    """Everything that can be checked before tracking starts: files, names, numbers, the output place.

    Returns
    -------
    session, cameras, calibration, offsets, fps
    """
    from ..errors import DataError, FileFormatError
    from ..io.video import VideoReader

    videos = args.videos
    if len({v.resolve() for v in videos}) != len(videos):
        raise DataError("the same video is given twice")
    fps = []
    for video in videos:
        with VideoReader(video, cache_size=1) as reader:
            fps.append(reader.fps)
    calibration = None
    if args.calibration is not None:
        from ..io.anipose import read_calibration

        calibration = read_calibration(args.calibration)
        if len(videos) < 2:
            print("facehmm run: one video: the calibration is not used (3D needs two or more cameras)", file=sys.stderr)
            calibration = None
    if calibration is not None:
        calibration_names = _camera_mapping(videos, calibration, args.cameras)
    else:
        calibration_names = None
        if args.cameras:
            raise DataError("--cameras needs --calibration (camera names come from the calibration)")
    cameras = [f"cam{chr(ord('A') + i)}" for i in range(len(videos))]
    if len(videos) > 26:
        raise DataError("at most 26 videos (cameras) in one run")
    offsets = _parse_offsets(args.offset, cameras)
    if len(set(round(f, 3) for f in fps)) > 1:
        raise DataError(
            "the videos have different frame rates ("
            + ", ".join(f"{v.name}: {f:g}" for v, f in zip(videos, fps))
            + "); cameras of one recording must share one"
        )
    if args.dlc is not None:
        from ..io.dlc import read_dlc_config
        from ..tracking.dlc import find_snapshots, require_deeplabcut

        if not args.dlc.is_file():
            raise FileFormatError(args.dlc, "DeepLabCut config.yaml does not exist")
        read_dlc_config(args.dlc)
        require_deeplabcut("Tracking with your DeepLabCut model (--dlc)")
        if not find_snapshots(args.dlc):
            raise FileFormatError(args.dlc, "this DeepLabCut project has no trained snapshot yet (train it first)")
    from ..io._atomic import check_output_dir

    check_output_dir(args.out, "--out", result_set=True, markers=RESULT_NAMES)
    return _session_name(args), cameras, calibration, calibration_names, offsets, fps[0]


# ---------------------------------------------------------------- steps
def _track_builtin(video: Path, pose_path: Path, quiet: bool):
    from ..tracking.facemesh import track_to_files

    series, _ = run_with_progress(
        track_to_files(video, paths={"landmarks": pose_path}), f"track {video.name}", quiet
    )
    return series


def _track_dlc(config: Path, videos: list[Path], pose_paths: list[Path], work: Path, quiet: bool):
    from ..io.dlc import read_dlc_analysis, write_dlc_analysis
    from ..tracking.dlc import AnalysisJob

    outputs = run_with_progress(AnalysisJob(config, videos, destfolder=work).progress(), "DeepLabCut", quiet)
    if len(outputs) != len(videos):
        from ..errors import DataError

        raise DataError(f"DeepLabCut analyzed {len(outputs)} of {len(videos)} videos")
    series_list = []
    for output, pose_path in zip(outputs, pose_paths):
        series = read_dlc_analysis(output)
        write_dlc_analysis(series, pose_path, scorer=str(series.attrs.get("scorer", "DLC")))
        series_list.append(series)
    return series_list


def run(args) -> int:
    from ..analysis import run_analysis
    from ..io._atomic import results_folder
    from ..io.anipose import write_calibration
    from ..io.dlc import read_dlc_analysis

    started = time.perf_counter()
    session, cameras, calibration, calibration_names, offsets, fps = check_inputs(args)
    out = args.out
    with results_folder(out, owned_names=RESULT_NAMES, markers=RESULT_NAMES) as staging:
        session_dir = staging / "session"
        raw_dir, pose_dir = session_dir / "videos-raw", session_dir / "pose-2d"
        raw_dir.mkdir(parents=True)
        pose_dir.mkdir()
        copies, pose_paths = [], []
        for video, camera in zip(args.videos, cameras):
            copy = raw_dir / f"{session}-{camera}{video.suffix.lower()}"
            shutil.copy2(video, copy)
            copies.append(copy)
            pose_paths.append(pose_dir / f"{session}-{camera}.h5")
            print(f"{camera}: {video}" + (f" (calibration camera {calibration_names[len(copies) - 1]})" if calibration_names else ""))

        if args.dlc is not None:
            series_2d = _track_dlc(args.dlc, copies, pose_paths, staging / "dlc", args.quiet)
            shutil.rmtree(staging / "dlc", ignore_errors=True)
            for series in series_2d:
                series.fps = fps
        else:
            series_2d = []
            # the user's own files are tracked, so that messages name them
            for video, pose_path in zip(args.videos, pose_paths):
                series = _track_builtin(video, pose_path, args.quiet)
                found = series.attrs["n_frames_with_face"]
                print(f"  {video.name}: face found in {found} of {series.n_frames} frames ({found / series.n_frames:.1%})")
                for message in series.attrs.get("messages", []):
                    if "face was found in" not in message:
                        print(f"  note: {message}", file=sys.stderr)
                series_2d.append(series)
        series_2d = [s.copy(camera=c) for s, c in zip(series_2d, cameras)]

        if calibration is not None:
            series = _triangulate(series_2d, cameras, calibration, args.calibration, calibration_names, offsets,
                                  session_dir, session, args.quiet)
        else:
            if len(cameras) > 1:
                print(
                    f"facehmm run: {len(cameras)} videos without --calibration: states are fitted on "
                    f"{cameras[0]}'s 2D landmarks (give --calibration for 3D)", file=sys.stderr,
                )
            series = read_dlc_analysis(pose_paths[0], fps=fps).copy(camera=cameras[0])

        job = run_analysis(
            series,
            args.states if args.states is not None else 9,
            staging / "analysis",
            **analysis_options(args, series.keypoints),
        )
        result = run_with_progress(job, "analyze", args.quiet)
        if calibration is not None:
            (session_dir / "calibration").mkdir(exist_ok=True)
            write_calibration(_renamed_calibration(calibration, calibration_names, cameras),
                              session_dir / "calibration" / "calibration.toml")
    result.files = {name: out / "analysis" / path.name for name, path in result.files.items()}
    print_summary(result, time.perf_counter() - started)
    print(f"view it: facehmm view {out / 'session'} --model {out / 'analysis' / 'model.json'}")
    return 0


def _renamed_calibration(calibration, calibration_names: list[str], cameras: list[str]):
    """The calibration's cameras of this run, renamed to the session's camera names, in video order."""
    from dataclasses import replace

    from ..io.anipose import Calibration

    return Calibration(
        cameras=[replace(calibration.camera(old), name=new) for old, new in zip(calibration_names, cameras)],
        metadata=dict(calibration.metadata),
    )


def _triangulate(series_2d, cameras, calibration, calibration_path, calibration_names, offsets, session_dir: Path, session: str, quiet: bool):
    from ..errors import DataError
    from ..tracking.anipose import triangulate_files

    by_camera = dict(zip(cameras, series_2d))
    if offsets == "auto":
        from ..tracking.sync import estimate_offsets

        estimate = estimate_offsets(by_camera)
        print("camera synchronization (from the head motion):")
        for line in estimate.describe().splitlines():
            print(f"  {line}")
        if estimate.confident:
            offsets = {c: n for c, n in estimate.offsets.items() if n}
        else:
            print("  not sure: the cameras are taken as synchronized; give --offset CAMERA=FRAMES if they are not",
                  file=sys.stderr)
            offsets = {}
    offsets = offsets or None
    if offsets:
        print("applying offsets: " + ", ".join(f"{c} drops its first {n} frames" for c, n in offsets.items()))
    output = session_dir / "pose-3d" / f"{session}.csv"
    job = triangulate_files(
        by_camera, _renamed_calibration(calibration, calibration_names, cameras), output_path=output,
        fps=series_2d[0].fps, offsets=offsets, calibration_source=calibration_path,
    )
    series = run_with_progress(job, "triangulate", quiet)
    if series.n_frames == 0:
        raise DataError("triangulation gave no frames")
    print(f"triangulated {len(cameras)} cameras -> {output.relative_to(session_dir.parent)}")
    return series
