"""Gaussian hidden Markov models of facial-expression features.

:class:`FastGaussianHMM` is hmmlearn's ``GaussianHMM`` with faster arithmetic
(same results). :class:`FaceHMM` is the facade the rest of the package uses:
restarts, sticky prior, progress with Cancel, canonical state order, model
selection (:func:`select_n_states`), matching states between models
(:func:`match_states`), save/load without pickle.

This package takes plain float arrays ``X (n_frames, n_features)`` and
``lengths``; it does not depend on :mod:`napari_facehmm.features`.
"""

from .fast import FastGaussianHMM
from .model import FaceHMM, FitProgress, model_paths

__all__ = ["FastGaussianHMM", "FaceHMM", "FitProgress", "model_paths"]
