"""The Dask cluster of a batch: a LocalCluster of single-threaded process workers, or a scheduler's address.

Process workers start with the spawn method, so the code that starts a
LocalCluster must run from an importable module (``facehmm batch`` does);
the workers import this package, which must be installed where they run.

The LocalCluster's workers run without Dask's statistical profiler
(:data:`WORKER_CONFIG`): it samples the running task's stack 100 times a
second on the worker's event loop, for the dashboard, which a batch does
not start. Measured on the 8-session ``bench/batch.py`` batch with 2
workers: it took 0.4-0.5 s of CPU per worker (0.9-1.1 s on the event loop
thread with it, 0.5 s without), about 8% of each worker's 5.5 s, on the
core its worker needs; with one worker it ran beside it on the idle core.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["WORKER_CONFIG", "WORKER_ENV", "dask_client"]

#: environment of LocalCluster workers: one thread for every numeric library (one worker per core)
WORKER_ENV = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
}

#: Dask settings of LocalCluster workers: no statistical profiler (only the dashboard shows it; see above)
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


@contextlib.contextmanager
def dask_client(n_workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A ``distributed.Client``: of ``scheduler`` (``tcp://host:port``), else of a new LocalCluster.

    The LocalCluster has ``n_workers`` (default: one per core) process
    workers of one thread each (the fast EM code uses one BLAS thread well;
    two threads in one process would share the GIL). On the way out (also
    on Ctrl+C) the client is closed and a LocalCluster is shut down, which
    stops its workers; on a scheduler the client's unfinished tasks are
    released (the scheduler cancels them).
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    with dask.config.set(WORKER_CONFIG):  # the nannies pass this configuration to their worker processes
        cluster = LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None,
            # a worker's BLAS, numba (aniposelib) and XLA (jax) must not start a thread per core beside the other workers
            env=WORKER_ENV,
        )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
