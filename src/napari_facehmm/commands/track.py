"""``facehmm track``: face videos -> DeepLabCut analysis files, with the built-in face model."""

from __future__ import annotations

import sys
from pathlib import Path

from ..progress import run_with_progress


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "track",
        help="track the face landmarks of videos with the built-in face model (no labeling, no training)",
        description=(
            "Track the 21 face landmarks in every frame of each video with the built-in face model "
            "(MediaPipe's face mesh, shipped with the package: nothing is downloaded) and write one "
            "DeepLabCut analysis file per video, <video stem>.h5 (scorer FaceMesh; likelihood = the "
            "model's face presence score, 0 and no position where no face is found). Every step that "
            "reads DeepLabCut output reads it."
        ),
    )
    parser.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="video file(s)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: beside each video)")
    parser.add_argument(
        "--mesh", action="store_true", help="also write all 468 mesh vertices to <video stem>_mesh.h5"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def check_videos(videos: list[Path]) -> None:
    """Refuse missing files and repeated stems (their outputs would overwrite each other) before any work."""
    from ..errors import FileFormatError

    stems: dict[str, Path] = {}
    for video in videos:
        if not video.is_file():
            raise FileFormatError(video, "video file does not exist")
        other = stems.get(video.stem)
        if other is not None and other != video:
            raise FileFormatError(
                video, f"has the same name as {other}: their landmark files would overwrite each other; "
                "rename one or track them into different --out folders"
            )
        stems[video.stem] = video


def run(args) -> int:
    from ..tracking.facemesh import track_to_files

    from ..io._atomic import check_output_dir

    check_videos(args.videos)
    if args.out is not None:
        check_output_dir(args.out, "--out")
        args.out.mkdir(parents=True, exist_ok=True)
    for video in args.videos:
        series, paths = run_with_progress(track_to_files(video, args.out, mesh=args.mesh), f"track {video.name}", args.quiet)
        found = series.attrs["n_frames_with_face"]
        print(
            f"{video}: face found in {found} of {series.n_frames} frames ({found / series.n_frames:.1%}) "
            f"-> {', '.join(str(p) for p in paths.values())}"
        )
        for message in series.attrs.get("messages", []):
            print(f"  note: {message}", file=sys.stderr)
    return 0
