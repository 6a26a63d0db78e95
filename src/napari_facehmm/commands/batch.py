"""``facehmm batch``: every session of a project on a Dask cluster, one HMM over all of them.

Every folder below PROJECT that holds videos-raw/ or pose-2d/ is a session.
On the workers of a Dask cluster (a LocalCluster of one single-threaded
worker per core, or --scheduler ADDRESS): track the videos with no 2D file
yet (the built-in face tracker, or --dlc), triangulate sessions with two or
more cameras and a calibration, build features; fit one HMM by distributed
EM; decode each session.

Writes OUT/model.json, OUT/<session>/ (as facehmm analyze), OUT/sessions.csv,
OUT/summary.json and, if sessions failed, OUT/failures.csv (exit code 1). A
second run skips complete sessions and processes the others with the saved
model.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ._options import documented_parser, whole_number
from .analyze import add_feature_arguments, feature_settings_from_args


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers, "batch", "many sessions on a Dask cluster: track, triangulate, one HMM over all, per-session results", __doc__
    )
    parser.add_argument("project", type=Path, help="project folder (Anipose layout: session folders below it)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=whole_number(1, 1024), default=None,
                       help="workers of the local cluster (default: one per core)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use this Dask scheduler (tcp://host:port) instead of a local cluster")
    parser.add_argument("--dlc", type=Path, default=None, metavar="CONFIG",
                        help="track videos with this trained DeepLabCut project (config.yaml)")
    parser.add_argument("--refit", action="store_true",
                        help="fit the model again over all sessions even if OUT holds an earlier model")
    add_feature_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def _run_on_cluster(args):
    from ..batch import run_batch
    from ..batch.cluster import dask_client
    from ..progress import run_with_progress

    with dask_client(args.workers, args.scheduler) as client:
        job = run_batch(
            args.project, args.out, client,
            n_states=args.states,  # None: 9 for a new fit, or the saved model's on a rerun; auto/A-B: chosen
            dlc_config=args.dlc,
            settings=lambda keypoints: feature_settings_from_args(args, keypoints),
            n_restarts=args.restarts, n_iter=args.iterations, seed=args.seed,
            figures=not args.no_figures, refit=args.refit,
            hmm_options={"covariance_type": args.covariance},
        )
        return run_with_progress(job, "batch", args.quiet)


def run(args) -> int:
    import contextlib

    started = time.perf_counter()
    try:
        result = _run_on_cluster(args)
    finally:
        # session folders a stopped worker was writing (Ctrl+C) are hidden; remove them now that
        # the local workers are gone (on a scheduler, the next run removes them)
        from ..batch import discover_sessions
        from ..batch.outputs import remove_stale_session_folders

        with contextlib.suppress(Exception):
            remove_stale_session_folders(args.out, [s.name for s in discover_sessions(args.project)])
    elapsed = time.perf_counter() - started
    print(f"{len(result.names)} sessions in {args.out} ({len(result.skipped)} complete from an earlier run), "
          f"{'fitted' if result.fitted else 'reused'} a {result.model.n_states}-state model, "
          f"log-likelihood {result.log_likelihood:.6g}, {elapsed:.1f} s")
    if result.selection is not None:
        table = result.selection.table
        print(f"  states chosen among {int(table.n_states.min())}-{int(table.n_states.max())}: "
              f"{result.selection.reason} (see {args.out / 'model_selection.csv'})")
    if result.failures:
        print(f"facehmm batch: {len(result.failures)} session(s) failed (see {args.out / 'failures.csv'}):",
              file=sys.stderr)
        for failure in result.failures:
            print(f"  {failure['session']}: {failure['stage']}: {failure['error']}", file=sys.stderr)
        return 1
    if result.names:
        first = result.names[0]
        print(f"view a session: facehmm view {result.folders[first]} --model {args.out / 'model.json'}")
    return 0
