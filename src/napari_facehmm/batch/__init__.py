"""Many sessions on a cluster with Dask distributed (``facehmm batch``).

:func:`run_batch` over a project's sessions (:func:`discover_sessions`):
per-session tracking, triangulation, features and decoding on the workers,
one HMM by distributed EM (:class:`DistributedFaceHMM`), results as
``facehmm analyze`` writes them for several sessions, and ``failures.csv``.
"""

from .discovery import SessionSpec, discover_sessions
from .distributed_em import DistributedFaceHMM, WorkerFeatures
from .run import BatchResult, run_batch

__all__ = ["BatchResult", "DistributedFaceHMM", "SessionSpec", "WorkerFeatures", "discover_sessions", "run_batch"]
