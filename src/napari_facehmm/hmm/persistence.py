"""Saving and loading :class:`~napari_facehmm.hmm.FaceHMM` without pickle.

A model is two files: ``<stem>.json`` (settings, names, metadata, fit
summary) and ``<stem>.npz`` (parameter arrays). Reading checks every field
and array shape and names the file in its error.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, FileFormatError

if TYPE_CHECKING:
    from .model import FaceHMM

FORMAT_NAME = "napari-facehmm/hmm"
FORMAT_VERSION = 1
COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """The two files a saved model consists of.

    Parameters
    ----------
    path
        A stem such as ``results/face_model``; a trailing ``.json`` or ``.npz``
        is removed, so the path of either file also works.

    Returns
    -------
    json_path, npz_path
        ``<stem>.json`` (settings, names, metadata) and ``<stem>.npz``
        (parameter arrays).
    """
    path = Path(path)
    if path.suffix.lower() in (".json", ".npz"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".json"), path.with_name(path.name + ".npz")


def _numpy_to_json(value: Any) -> Any:
    # numpy scalars and arrays (feature means, SDs...) become numbers and lists.
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_ready(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, default=_numpy_to_json))
    except (TypeError, ValueError) as error:
        raise DataError(
            f"{what} must be JSON-serialisable (numbers, strings, lists, dicts): {error}"
        ) from None


class PersistenceMixin:
    """:meth:`save` and :meth:`load` of :class:`~napari_facehmm.hmm.FaceHMM`."""

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write the fitted model as ``<path>.json`` + ``<path>.npz`` (no pickle).

        Parameters
        ----------
        path
            A stem (see :func:`model_paths`); the folder must exist. Existing
            files are replaced atomically, the previous version kept as ``.bak``.

        Returns
        -------
        json_path, npz_path
        """
        from ..io._atomic import atomic_write_paths

        self._require_fitted()
        json_path, npz_path = model_paths(path)
        settings = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "n_states": self.n_states,
            "n_features": self.n_features_,
            "covariance_type": self.covariance_type,
            "state_names": list(self.state_names),
            "feature_names": self.feature_names,
            "metadata": _json_ready(self.metadata, "metadata"),
            "fit": {
                "n_restarts": self.n_restarts,
                "n_iter": self.n_iter,
                "tol": self.tol,
                "sticky": self.sticky,
                # A RandomState object or a callable order cannot be written
                # as JSON; the saved states are already in their final order.
                "random_state": self.random_state if isinstance(self.random_state, int) else None,
                "canonical_order": (
                    self.canonical_order if isinstance(self.canonical_order, (str, int)) else "none"
                ),
                "min_covar": self.min_covar,
                "covars_prior": self.covars_prior,
                "covars_weight": self.covars_weight,
                "log_likelihood": self.log_likelihood_,
                "n_frames": self.n_frames_fitted_,
                "converged": self.converged_,
                "cancelled": self.cancelled_,
                "monitor_history": [float(v) for v in self.monitor_.history],
                "monitor_iter": int(self.monitor_.iter),
            },
            "software": _software_versions(),
        }
        text = json.dumps(settings, indent=2, allow_nan=True)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            startprob=self.model_.startprob_,
            transmat=self.model_.transmat_,
            means=self.model_.means_,
            covars=self._stored_covars(),
        )
        # the two files are one model: replaced together, never one new beside one old
        with atomic_write_paths([npz_path, json_path]) as (npz_temp, json_temp):
            npz_temp.write_bytes(buffer.getvalue())
            json_temp.write_text(text, encoding="utf-8")
        return json_path, npz_path

    def _stored_covars(self) -> np.ndarray:
        """Covariances in the documented shape of ``covariance_type``.

        hmmlearn's M-step leaves spherical variances tiled to (n_states,
        n_features); one value per state is the parameter.
        """
        covars = np.asarray(self.model_._covars_)
        if self.covariance_type == "spherical" and covars.ndim == 2:
            return covars[:, 0].copy()
        return covars

    @classmethod
    def load(cls, path: str | Path) -> "FaceHMM":
        """Read a model written by :meth:`save`.

        Raises
        ------
        FileFormatError
            A file is missing, is not valid JSON / npz, or holds arrays of the
            wrong shape or invalid probabilities; the message names the file.
        """
        json_path, npz_path = model_paths(path)
        settings = _read_settings(json_path)
        n_states = settings["n_states"]
        n_features = settings["n_features"]
        covariance_type = settings["covariance_type"]
        arrays = _read_arrays(npz_path, n_states, n_features, covariance_type)
        fit = settings.get("fit") or {}
        try:
            face_hmm = cls(
                n_states=n_states,
                covariance_type=covariance_type,
                n_restarts=int(fit.get("n_restarts", 1)),
                n_iter=int(fit.get("n_iter", 100)),
                tol=float(fit.get("tol", 1e-3)),
                sticky=float(fit.get("sticky", 0.0)),
                random_state=fit.get("random_state", 0),
                canonical_order=fit.get("canonical_order", "frequency"),
                min_covar=float(fit.get("min_covar", 1e-3)),
                covars_prior=float(fit.get("covars_prior", 1e-2)),
                covars_weight=float(fit.get("covars_weight", 1.0)),
                state_names=settings["state_names"],
                feature_names=settings["feature_names"],
                metadata=settings["metadata"],
            )
        except (TypeError, ValueError) as error:
            raise FileFormatError(json_path, f"invalid fit settings: {error}") from None
        model = face_hmm._new_model(None, n_features)
        model.n_features = n_features
        try:
            model.startprob_ = arrays["startprob"]
            model.transmat_ = arrays["transmat"]
            model.means_ = arrays["means"]
            model.covars_ = arrays["covars"]
            model._check()
        except ValueError as error:
            raise FileFormatError(npz_path, f"invalid model parameters: {error}") from None
        model.monitor_.history.extend(fit.get("monitor_history", []))
        model.monitor_.iter = int(fit.get("monitor_iter", 0))
        face_hmm.model_ = model
        face_hmm.n_features_ = n_features
        face_hmm.log_likelihood_ = fit.get("log_likelihood")
        face_hmm.n_frames_fitted_ = fit.get("n_frames")
        face_hmm.converged_ = bool(fit.get("converged", False))
        face_hmm.cancelled_ = bool(fit.get("cancelled", False))
        face_hmm.restarts_ = []
        face_hmm.restart_models_ = []
        face_hmm.best_restart_ = None
        return face_hmm


def _software_versions() -> dict[str, str]:
    import hmmlearn

    from .. import __version__

    return {"napari_facehmm": __version__, "hmmlearn": hmmlearn.__version__, "numpy": np.__version__}


def _read_settings(json_path: Path) -> dict:
    if not json_path.is_file():
        raise FileFormatError(json_path, "model settings file is missing (expected beside the .npz)")
    try:
        settings = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileFormatError(json_path, f"not valid JSON: {error}") from None
    if not isinstance(settings, dict):
        raise FileFormatError(json_path, "expected a JSON object at the top level")
    if settings.get("format") != FORMAT_NAME:
        raise FileFormatError(json_path, f"not a napari-facehmm model (format is {settings.get('format')!r})")
    if not isinstance(settings.get("format_version"), int) or settings["format_version"] > FORMAT_VERSION:
        raise FileFormatError(
            json_path,
            f"model format version {settings.get('format_version')!r} is newer than this "
            f"napari-facehmm reads ({FORMAT_VERSION}); update napari-facehmm",
        )
    for key in ("n_states", "n_features"):
        value = settings.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise FileFormatError(json_path, f"{key!r} must be a positive integer, got {value!r}")
    if settings.get("covariance_type") not in COVARIANCE_TYPES:
        raise FileFormatError(
            json_path,
            f"covariance_type must be one of {COVARIANCE_TYPES}, got {settings.get('covariance_type')!r}",
        )
    names = settings.get("state_names")
    if (
        not isinstance(names, list)
        or len(names) != settings["n_states"]
        or not all(isinstance(n, str) for n in names)
    ):
        raise FileFormatError(json_path, f"state_names must be a list of {settings['n_states']} strings")
    feature_names = settings.get("feature_names")
    if feature_names is not None and (
        not isinstance(feature_names, list)
        or len(feature_names) != settings["n_features"]
        or not all(isinstance(n, str) for n in feature_names)
    ):
        raise FileFormatError(
            json_path, f"feature_names must be null or a list of {settings['n_features']} strings"
        )
    if not isinstance(settings.get("metadata", {}), dict):
        raise FileFormatError(json_path, "metadata must be a JSON object")
    settings.setdefault("metadata", {})
    if not isinstance(settings.get("fit", {}), dict):
        raise FileFormatError(json_path, "'fit' must be a JSON object")
    return settings


def _read_arrays(npz_path: Path, n_states: int, n_features: int, covariance_type: str) -> dict:
    if not npz_path.is_file():
        raise FileFormatError(npz_path, "model parameter file is missing (expected beside the .json)")
    expected = {
        "startprob": (n_states,),
        "transmat": (n_states, n_states),
        "means": (n_states, n_features),
        "covars": {
            "full": (n_states, n_features, n_features),
            "diag": (n_states, n_features),
            "spherical": (n_states,),
            "tied": (n_features, n_features),
        }[covariance_type],
    }
    try:
        with np.load(npz_path, allow_pickle=False) as archive:
            missing = sorted(set(expected) - set(archive.files))
            if missing:
                raise FileFormatError(npz_path, f"missing arrays {missing}")
            arrays = {name: np.asarray(archive[name], dtype=float) for name in expected}
    except FileFormatError:
        raise
    except (OSError, ValueError) as error:
        raise FileFormatError(npz_path, f"not a readable .npz archive: {error}") from None
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise FileFormatError(
                npz_path,
                f"array {name!r} has shape {arrays[name].shape}, expected {shape} "
                f"({n_states} states, {n_features} features, {covariance_type} covariance)",
            )
        if not np.isfinite(arrays[name]).all():
            raise FileFormatError(npz_path, f"array {name!r} contains NaN or inf")
    return arrays
