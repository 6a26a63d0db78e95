"""Gaussian hidden Markov models of facial-expression features.

:class:`FastGaussianHMM` is hmmlearn's ``GaussianHMM`` with faster arithmetic
(same results). :class:`FaceHMM` is the facade the rest of the package uses:
restarts, sticky prior, progress with Cancel, canonical state order, model
selection (:func:`select_n_states`), matching states between models
(:func:`match_states`), save/load without pickle.

Modules: :mod:`.model` the estimator (:class:`FaceHMM`), :mod:`.em` its EM
loop (restarts, re-seeding, progress, Cancel), :mod:`.ordering` the state
order, :mod:`.persistence` saving and loading, :mod:`.convergence` how EM
converged (hmmlearn's warnings counted, reported once); :mod:`.fast` the
faster hmmlearn model and :func:`estep_statistics` (one E-step, summable over
parts of the data), :mod:`.recursions` its scaled forward-backward,
:mod:`.selection` choosing the number of states,
:mod:`.matching` matching states between models, :mod:`._validation` the
input checks.

This package takes plain float arrays ``X (n_frames, n_features)`` and
``lengths``; it does not depend on :mod:`napari_facehmm.features`.

Names are imported lazily: hmmlearn brings scikit-learn, which takes seconds
to import, and the plugin must open fast.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "FastGaussianHMM": ".fast",
    "estep_statistics": ".fast",
    "FaceHMM": ".model",
    "FitProgress": ".model",
    "model_paths": ".model",
    "match_states": ".matching",
    "gaussian_distances": ".matching",
    "select_n_states": ".selection",
    "select_n_states_progress": ".selection",
    "split_heldout": ".selection",
    "heldout_runs": ".selection",
    "independent_columns": ".selection",
    "choose_n_states": ".selection",
    "parse_states": ".selection",
    "AUTO_STATES": ".selection",
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
