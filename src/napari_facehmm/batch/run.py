"""``facehmm batch``'s job: sessions of a project -> per-session work on Dask workers -> one HMM -> results.

:func:`run_batch` is a generator yielding ``(done, total, message)`` over
sessions and EM iterations and returning a :class:`BatchResult`. Steps:

1. discover the sessions (:mod:`.discovery`); with an earlier result in
   ``out_dir`` whose model fits the request, the complete session folders
   are skipped and only the others are processed and decoded with that
   model (``refit=True`` fits again over all);
2. per session on the workers: track, triangulate, read (:mod:`.session_tasks`);
3. features built alike and scaled over all sessions (:mod:`.shared_features`);
4. one HMM by distributed EM (:mod:`.distributed_em`), saved as ``model.json``;
5. per session on the workers: decode and write ``out_dir/<session>/`` as a set;
6. ``sessions.csv``, ``summary.json`` and ``failures.csv`` (:mod:`.outputs`).

A session that fails at any step is recorded (name, step, cause) and left
out; the others go on. Lost workers are Dask's business: the scheduler
reruns their tasks (futures keep their lineage), so the result is the same.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import MODEL_STEM, model_metadata
from ..errors import DataError
from ..progress import Progress, relay
from . import session_tasks as tasks
from .discovery import discover_sessions
from .outputs import (
    check_out_dir,
    complete_sessions,
    read_session_entry,
    remove_stale_session_folders,
    save_model,
    write_selection,
    write_tables,
)

__all__ = ["BatchResult", "run_batch"]


@dataclass
class BatchResult:
    """What a batch run did.

    Attributes
    ----------
    names
        Sessions with complete results in ``out_dir`` (this run's and skipped ones).
    skipped
        Sessions complete from an earlier run, not processed again.
    failures
        One ``{"session", "stage", "error"}`` per failed session.
    model
        The shared ``FaceHMM``.
    fitted
        True if this run fitted the model (False: an earlier run's model was reused).
    files
        Files written beside the session folders, by role.
    folders
        The project's folder of every session (what ``facehmm view`` opens).
    selection
        With ``--states auto|A-B``: the ``Selection`` that chose the states (else None).
    """

    names: list[str]
    skipped: list[str]
    failures: list[dict[str, str]]
    model: Any
    fitted: bool
    log_likelihood: float
    files: dict[str, Path] = field(default_factory=dict)
    folders: dict[str, Path] = field(default_factory=dict)
    selection: Any = None


def _keypoints(series) -> list[str]:
    return list(series.keypoints)


def _candidates(n_states) -> list[int] | None:
    """The state counts to choose among (``--states auto`` / ``A-B``), or None for one number."""
    if n_states is None or isinstance(n_states, (int, np.integer)):
        return None
    candidates = sorted({int(k) for k in n_states})
    if not candidates:
        raise DataError("no number of states to choose among")
    return candidates


def _earlier_model(out_dir: Path, n_states, refit: bool):
    """The model of an earlier batch in ``out_dir``, if it can be reused (its states among those asked for)."""
    path = out_dir / f"{MODEL_STEM}.json"
    if refit or not path.is_file():
        return None
    from ..hmm import FaceHMM

    model = FaceHMM.load(path)
    wanted = _candidates(n_states) or ([] if n_states is None else [int(n_states)])
    if wanted and int(model.n_states) not in wanted:
        return None
    return model


def run_batch(
    project: str | Path,
    out_dir: str | Path,
    client,
    *,
    n_states: int | None = 9,
    dlc_config: str | Path | None = None,
    settings=None,
    n_restarts: int = 3,
    n_iter: int = 100,
    seed: int = 0,
    figures: bool = True,
    refit: bool = False,
    hmm_options: dict[str, Any] | None = None,
) -> Generator[Progress, None, BatchResult]:
    """Run the whole batch on ``client``'s cluster (see the module docstring).

    Parameters
    ----------
    project, out_dir
        The project folder and the results folder.
    client
        A ``distributed.Client`` (:func:`napari_facehmm.batch.cluster.dask_client`).
    n_states
        States of a new fit (None: 9), or a sequence of candidates to choose
        among from the data (``--states auto`` / ``A-B``: distributed
        selection, :mod:`.state_selection`; ``model_selection.csv`` and
        ``.png`` in ``out_dir``); an earlier model in ``out_dir`` with
        another number of states is not reused. None reuses any.
    dlc_config
        Track videos with this DeepLabCut project instead of the built-in tracker.
    settings
        ``FeatureSettings``, or a callable of the landmarks' keypoints that
        returns them (resolved on the first session, as ``facehmm analyze``).
    n_restarts, n_iter, seed, hmm_options
        As for :func:`~napari_facehmm.analysis.run_analysis`.
    figures
        Draw each session's figures.
    refit
        Fit again even if ``out_dir`` holds a reusable model.

    Raises
    ------
    DataError
        No session, an unusable ``out_dir``, or no session left to fit.
    """
    from ..analysis_selection import SELECTION_N_ITER
    from ..features import FeatureSettings
    from .distributed_em import DistributedFaceHMM, WorkerFeatures
    from .shared_features import shared_worker_features

    out_dir = Path(out_dir)
    check_out_dir(out_dir)
    specs = discover_sessions(project)
    names = [s.name for s in specs]
    remove_stale_session_folders(out_dir, names)
    model = _earlier_model(out_dir, n_states, refit)
    skipped = complete_sessions(out_dir, names) if model is not None else []
    if model is not None and not [n for n in names if n not in skipped]:
        yield 1, 1, "every session is complete"
    todo = [s for s in specs if s.name not in skipped]
    failures: list[dict[str, str]] = []
    # progress steps: landmarks and decoding of each session (features headers too when fitting), EM iterations
    candidates = _candidates(n_states)
    selecting = len(candidates) * max(2, n_restarts) * SELECTION_N_ITER if candidates and model is None else 0
    total = 2 * len(todo) + (len(todo) + n_restarts * n_iter + selecting if model is None else 0) + 1
    done = 0

    def collect(futures: dict[str, Any], stage: str) -> Generator[Progress, None, dict[str, Any]]:
        """Results by session as they finish (a progress step each); failed sessions recorded and left out."""
        from distributed import as_completed

        nonlocal done
        results = {}
        by_key = {f.key: n for n, f in futures.items()}
        for future in as_completed(list(futures.values())):
            name = by_key[future.key]
            try:
                results[name] = future.result()
                outcome = "done"
            except tasks.SessionError as error:
                failures.append({"session": name, "stage": error.stage, "error": error.cause})
                outcome = f"failed ({error.stage})"
            except Exception as error:  # noqa: BLE001 - a session's failure is reported, not raised
                failures.append({"session": name, "stage": stage, "error": f"{type(error).__name__}: {error}"})
                outcome = f"failed ({stage})"
            done += 1
            yield done, total, f"{stage}: {name} {outcome}"
        return results

    def gather_each(futures: dict[str, Any], stage: str) -> dict[str, Any]:
        from ..progress import run_to_end

        return run_to_end(collect(futures, stage))

    yield done, total, f"{len(specs)} sessions, {len(skipped)} complete, {len(todo)} to do"
    series = {s.name: client.submit(tasks.prepare_session, s, dlc_config, pure=False) for s in todo}
    series_ok = yield from collect(series, "landmarks")
    yield done, total, f"landmarks of {len(series_ok)} of {len(todo)} sessions"
    ready = [s.name for s in todo if s.name in series_ok]
    del series_ok  # the series stay on the workers; the client keeps only their futures

    fitted = model is None
    selection, selection_files = None, {}
    if model is None:
        if callable(settings) and ready:
            # options resolved against the landmarks, as facehmm analyze does with its first input
            settings = settings(client.submit(_keypoints, series[ready[0]]).result())
        settings = settings if isinstance(settings, FeatureSettings) else FeatureSettings()
        fit_states = max(candidates) if candidates else 9 if n_states is None else int(n_states)
        kept, scaled, headers, problems = shared_worker_features(client, ready, series, settings, fit_states,
                                                                 gather_each)
        for name, problem in problems.items():
            failures.append({"session": name, "stage": "features", "error": problem})
        if not kept:
            write_tables(out_dir, [], failures, {"n_states": fit_states, "fitted": False})
            raise DataError(f"no session could be fitted: {len(failures)} failed (see {out_dir / 'failures.csv'})")
        parts = [client.submit(tasks.feature_part, scaled[n]) for n in kept]
        n_rows = [headers[n]["n_valid"] for n in kept]
        data = WorkerFeatures(client, parts, n_rows, len(headers[kept[0]]["names"]))
        from threadpoolctl import threadpool_limits

        from ..analysis import _new_model

        # the client's k-means and M-steps on one BLAS/OpenMP thread: the workers use the cores (a
        # multi-threaded BLAS on small matrices beside busy workers is many times slower, not faster)
        with threadpool_limits(limits=1):
            if candidates:
                from .state_selection import select_states_on_workers

                base = done
                job = select_states_on_workers(data, candidates, n_restarts=n_restarts, seed=seed,
                                               hmm_options=hmm_options)
                selection = yield from relay(job, lambda item: (base + item[0], total, item[2]))
                done = base + selecting
                fit_states = selection.n_states
                yield done, total, f"choosing the number of states: {selection.reason}"
            template = _new_model(fit_states, n_restarts, n_iter, seed,
                                  list(headers[kept[0]]["names"]), **(hmm_options or {}))
            estimator = DistributedFaceHMM.__new__(DistributedFaceHMM)
            estimator.__dict__.update(template.__dict__)
            estimator.metadata.update(client.submit(model_metadata, settings, scaled[kept[0]], series[kept[0]]).result())
            estimator.metadata["source"] = None
            estimator.metadata["sessions"] = [{"session": n, "source": headers[n]["source"]} for n in kept]
            base = done
            for item in estimator.fit_progress(data):
                yield base + item.done, total, f"fitting {len(kept)} sessions: {item.message}"
            done = base + n_restarts * n_iter
        model = estimator.as_face_hmm()
        save_model(model, out_dir)
        if selection is not None:
            selection_files = write_selection(out_dir, selection, figures)
        del parts, data
    else:
        scaled = {n: client.submit(tasks.features_with_model, n, series[n], model) for n in ready}
        kept = ready
    decoded = {
        n: client.submit(tasks.decode_and_write, n, series[n], scaled[n], model, out_dir, len(names), figures,
                         pure=False)
        for n in kept
    }
    entries_new = yield from collect(decoded, "decoding")
    entries = [entries_new[n] if n in entries_new else read_session_entry(out_dir, n)
               for n in names if n in entries_new or n in skipped]
    summary = {
        "project": str(Path(project).resolve()),
        "n_states": int(model.n_states),
        "model": f"{MODEL_STEM}.json",
        "fitted": fitted,
        "skipped": skipped,
        "fit": {"log_likelihood": float(model.log_likelihood_), "converged": bool(model.converged_),
                "best_restart": int(model.best_restart_), "n_restarts": int(model.n_restarts)} if fitted else None,
        **({"model_selection": selection.to_dict()} if selection is not None else {}),
        "notes": [] if fitted else [
            "the model of an earlier run was reused: the sessions decoded now did not take part in its fit "
            "(facehmm batch --refit fits again over all sessions)"
        ],
    }
    files = {**write_tables(out_dir, entries, sorted(failures, key=lambda f: f["session"]), summary),
             **selection_files}
    yield total, total, "done"
    return BatchResult(
        names=[e["session"] for e in entries], skipped=skipped, failures=sorted(failures, key=lambda f: f["session"]),
        model=model, fitted=fitted, log_likelihood=float(sum(e["log_likelihood"] for e in entries)), files=files,
        folders={s.name: s.folder for s in specs}, selection=selection,
    )
