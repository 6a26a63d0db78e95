"""``facehmm track``: face videos -> DeepLabCut analysis files, with the built-in face model.

Tracks the 21 face landmarks in every frame of each video with the built-in
face model (MediaPipe's face mesh, shipped with the package: nothing is
downloaded) and writes one DeepLabCut analysis file per video, <video
stem>.h5 (scorer FaceMesh; likelihood = the model's face presence score, 0
and no position where no face is found). Every step that reads DeepLabCut
output reads it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..progress import run_with_progress
from ..tracking.facemesh_jobs import MESH
from ._options import add_settings, documented_parser


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers, "track", "track the face landmarks of videos with the built-in face model (no labeling, no training)", __doc__
    )
    parser.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="video file(s)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: beside each video)")
    add_settings(parser, MESH)  # the Tracking dock's face model tab reads it too
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..tracking import facemesh
    from ..io._atomic import check_output_dir
    from ..tracking.facemesh_jobs import plan_outputs

    if args.out is not None:
        check_output_dir(args.out, "--out")
    # every video exists and no two write the same file: checked before any work
    planned = plan_outputs(args.videos, args.mesh, where=lambda video, mesh: facemesh.output_paths(video, args.out, mesh))
    for video, paths in planned.items():
        job = facemesh.track_to_files(video, mesh=args.mesh, paths=paths)
        series, written = run_with_progress(job, f"track {video.name}", args.quiet)
        found = series.attrs["n_frames_with_face"]
        print(
            f"{video}: face found in {found} of {series.n_frames} frames ({found / series.n_frames:.1%}) "
            f"-> {', '.join(str(p) for p in written.values())}"
        )
        for message in series.attrs.get("messages", []):
            print(f"  note: {message}", file=sys.stderr)
    return 0
