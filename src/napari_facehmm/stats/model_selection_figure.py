"""The figure of ``model_selection.png``: how well each state count predicts held-out time blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["model_selection_figure"]


def model_selection_figure(table: pd.DataFrame):
    """Held-out log-likelihood per frame (with its standard error), BIC and restart agreement against K.

    ``table`` is :func:`~napari_facehmm.hmm.select_n_states`'s, with a
    ``chosen`` column; the chosen K is marked on every panel.
    """
    from matplotlib.figure import Figure

    k = table["n_states"].to_numpy()
    chosen = int(k[table["chosen"].to_numpy(dtype=bool)][0]) if "chosen" in table else None
    figure = Figure(figsize=(9.0, 3.0), layout="constrained")
    axes = figure.subplots(1, 3)
    heldout = table["heldout_log_likelihood_per_frame"].to_numpy(dtype=float)
    error = table["heldout_gap_se"].to_numpy(dtype=float) if "heldout_gap_se" in table else None
    axes[0].errorbar(k, heldout, yerr=error, marker="o", capsize=3)
    axes[0].set_title("held-out log-likelihood / frame\n(higher is better)", fontsize=9)
    axes[1].plot(k, table["bic"].to_numpy(dtype=float), marker="o", color="tab:orange")
    axes[1].set_title("BIC on the training blocks\n(lower is better)", fontsize=9)
    agreement = table["restart_ari_mean"].to_numpy(dtype=float)
    axes[2].plot(k, agreement, marker="o", color="tab:green")
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].set_title("agreement of restarts (ARI)\n(1 = the same states)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("states")
        ax.set_xticks(k)
        if chosen is not None:
            ax.axvline(chosen, color="0.4", linestyle="--", linewidth=1)
    if chosen is not None:
        axes[0].annotate(f"chosen: {chosen}", (chosen, np.nanmax(heldout)), textcoords="offset points",
                         xytext=(4, -12), fontsize=8, color="0.3")
    return figure
