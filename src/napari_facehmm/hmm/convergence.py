"""How EM converged, said once and in the project's words.

hmmlearn's ``ConvergenceMonitor.report`` logs "Model is not converging.
Current: ... Delta is -0.01" whenever the log-likelihood drops by more than
1.5e-8 between iterations. Near convergence on a hundred thousand frames the
log-likelihood (about -1e7) is known only to ~1e-9 relative, so such drops of
~0.01 are round-off, and the lines reach the terminal during ordinary fits.
:func:`quiet_monitor` keeps them off the log and counts them instead;
:func:`restart_convergence` sums up one restart and
:func:`convergence_report` the whole fit (``FaceHMM.convergence_``, written to
``summary.json``).

hmmlearn's own ``monitor.converged`` is also True when EM merely ran out of
iterations; here ``converged`` means that the last gain was below ``tol``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

__all__ = ["DecreaseCounter", "quiet_monitor", "restart_convergence", "convergence_report", "log_report"]

_HMMLEARN_LOGGER = "hmmlearn.base"
_NOT_CONVERGING = "Model is not converging"


class DecreaseCounter(logging.Filter):
    """A logging filter that drops hmmlearn's "not converging" lines and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(_NOT_CONVERGING):
            self.count += 1
            return False
        return True


@contextmanager
def quiet_monitor(counter: DecreaseCounter):
    """Within the block, hmmlearn's "not converging" warnings go to ``counter``, not the log."""
    logger = logging.getLogger(_HMMLEARN_LOGGER)
    logger.addFilter(counter)
    try:
        yield counter
    finally:
        logger.removeFilter(counter)


def restart_convergence(history, n_iter_done: int, tol: float, max_iter: int, n_decreases: int) -> dict:
    """One restart's convergence, JSON-ready.

    Parameters
    ----------
    history : sequence of float
        The monitor's last log-likelihoods (hmmlearn keeps two).
    n_iter_done : int
        EM iterations run.
    tol : float
        The fit's tolerance on the log-likelihood gain.
    max_iter : int
        The iteration limit.
    n_decreases : int
        Iterations at which the log-likelihood fell (hmmlearn's warnings).

    Returns
    -------
    dict
        ``converged`` (last gain below ``tol``), ``n_iter``,
        ``hit_iteration_limit``, ``final_delta`` (last change of the
        log-likelihood, None after a single iteration), ``n_decreases``.
    """
    history = [float(value) for value in history]
    final_delta = history[-1] - history[-2] if len(history) >= 2 else None
    converged = final_delta is not None and final_delta < tol
    return {
        "converged": bool(converged),
        "n_iter": int(n_iter_done),
        "hit_iteration_limit": bool(n_iter_done >= max_iter and not converged),
        "final_delta": final_delta,
        "n_decreases": int(n_decreases),
    }


def _describe(restart: dict, tol: float) -> str:
    delta = restart.get("final_delta")
    if restart.get("completed") is False:
        return f"cancelled after {restart['n_iter']} iterations"
    if restart["converged"]:
        text = f"converged after {restart['n_iter']} iterations (last change {delta:.3g}, tolerance {tol:g})"
    elif delta is None:
        text = f"stopped after {restart['n_iter']} iteration"
    else:
        text = (
            f"did not converge within {restart['n_iter']} iterations "
            f"(last gain {delta:.3g}, tolerance {tol:g})"
        )
    if restart.get("n_decreases"):
        text += (
            f"; the log-likelihood fell slightly {restart['n_decreases']} time(s), "
            "round-off at this data size"
        )
    return text


def convergence_report(restarts: list[dict], best: int | None, tol: float) -> dict:
    """The fit's convergence: per restart, the kept one, and one sentence.

    Parameters
    ----------
    restarts : list of dict
        ``FaceHMM.restarts_`` (each with the keys of :func:`restart_convergence`).
    best : int or None
        Index of the kept restart.
    tol : float

    Returns
    -------
    dict
        ``converged`` (the kept restart), ``best_restart``, ``tol``,
        ``restarts`` (per restart: ``restart``, ``converged``, ``n_iter``,
        ``final_delta``, ``n_decreases``, ``completed``) and ``message``.
    """
    keys = ("restart", "converged", "n_iter", "hit_iteration_limit", "final_delta", "n_decreases", "completed")
    rows = [{key: restart.get(key) for key in keys} for restart in restarts]
    parts = []
    for index, restart in enumerate(restarts):
        kept = " (kept)" if index == best else ""
        parts.append(f"restart {index + 1}/{len(restarts)}{kept} {_describe(restart, tol)}")
    converged = bool(best is not None and restarts[best]["converged"])
    return {
        "converged": converged,
        "best_restart": best,
        "tol": float(tol),
        "restarts": rows,
        "message": "EM: " + "; ".join(parts) + ".",
    }


def log_report(logger: logging.Logger, report: dict) -> None:
    """Log the report once: INFO if the kept restart converged, else WARNING."""
    level = logging.INFO if report["converged"] else logging.WARNING
    logger.log(level, "%s", report["message"])

