"""The options of an analysis as settings: ``facehmm analyze``'s flags and the Expression states dock's form.

Each :class:`~napari_facehmm.ranges.Setting` here is one option of
``facehmm analyze`` (and ``run``, ``demo``, ``batch``, which share them):
the CLI builds the option from it and the dock builds its form field from
it, so both show the same name, default, range and choices
(``tests/test_settings.py`` and ``tests/gui/test_forms.py`` check it).
``--states`` is text (a number, ``auto`` or a range, parsed by
:func:`~napari_facehmm.hmm.selection.parse_states`); :data:`N_STATES` is the
range of its number.

:func:`feature_settings` turns the feature options into
:class:`~napari_facehmm.features.FeatureSettings` for a landmark set (one
rule for the CLI and the dock); :func:`model_values` reads the same options
back from a fitted model, so a dock that loads a model shows what it was
fitted with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import DataError
from .features.coverage import MIN_OBSERVED
from .hmm.stability import STABILITY_SEEDS
from .ranges import Setting

__all__ = [
    "MAX_STATES", "MAX_RESTARTS", "MAX_ITERATIONS", "DEFAULT_STATES", "N_STATES", "FEATURES", "ALIGN",
    "REFERENCE", "RIGID_KEYPOINTS", "MAX_GAP", "MIN_OBSERVED", "MIN_CONFIDENCE", "DROP_EMPTY_KEYPOINTS",
    "RESTARTS", "ITERATIONS", "SEED", "COVARIANCE", "STABILITY_SEEDS", "FEATURE_OPTIONS", "FIT_OPTIONS",
    "feature_settings", "model_values",
]

#: most HMM states, EM restarts and EM iterations a fit takes (more is a typo)
MAX_STATES = 100
MAX_RESTARTS = 1000
MAX_ITERATIONS = 100_000
#: the number of states without ``--states`` (as the reference analysis)
DEFAULT_STATES = 9

#: the number of ``--states K`` (and the ends of ``--states A-B``)
N_STATES = Setting("n_states", int, default=DEFAULT_STATES, minimum=1, maximum=MAX_STATES,
                   help="number of HMM states")
FEATURES = Setting(
    "features", str, default="expression+head", choices=("expression", "expression+head"),
    help="expression: head-centred landmarks only; expression+head: plus head speed "
    "(and angular speed with --align rigid)",
)
ALIGN = Setting(
    "align", str, default="rigid", choices=("rigid", "egocentric"),
    help="rigid: remove head translation and rotation by aligning each frame to a template face; "
    "egocentric: subtract the reference landmark only, as the reference analysis does",
)
REFERENCE = Setting("reference", str, default=None, help="reference keypoint (default: nose1, or the landmark set's own)")
RIGID_KEYPOINTS = Setting(
    "rigid_keypoints", str, default=None,
    help="comma-separated keypoints for rigid alignment (default: nose, ears, eye corners)",
)
MAX_GAP = Setting("max_gap", int, default=5, minimum=0, maximum=100_000, unit="frames",
                  help="fill gaps up to this long")
MIN_CONFIDENCE = Setting("min_confidence", float, default=0.0, minimum=0.0, maximum=1.0,
                         help="treat points with a lower likelihood as missing (0: keep all)")
DROP_EMPTY_KEYPOINTS = Setting("drop_empty_keypoints", bool, default=False,
                               help="drop keypoints never tracked instead of stopping with an error")
RESTARTS = Setting("restarts", int, default=3, minimum=1, maximum=MAX_RESTARTS, help="EM restarts")
ITERATIONS = Setting("iterations", int, default=100, minimum=1, maximum=MAX_ITERATIONS,
                     help="EM iterations per restart")
SEED = Setting("seed", int, default=0, minimum=0, maximum=2**32 - 1, help="random seed of the fit")
COVARIANCE = Setting("covariance", str, default="full", choices=("full", "diag", "tied", "spherical"),
                     help="HMM covariance type")

#: the options that build the features, in the CLI's order
FEATURE_OPTIONS = (FEATURES, ALIGN, REFERENCE, RIGID_KEYPOINTS, MAX_GAP, MIN_OBSERVED, MIN_CONFIDENCE,
                   DROP_EMPTY_KEYPOINTS)
#: the options of the fit
FIT_OPTIONS = (RESTARTS, ITERATIONS, SEED, COVARIANCE)


def _keypoint_list(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = text.split(",") if isinstance(text, str) else text
    names = tuple(name.strip() for name in names if name.strip())
    return names or None


def feature_settings(
    keypoints: Sequence[str],
    *,
    features: str = FEATURES.default,
    align: str = ALIGN.default,
    reference: str | None = None,
    rigid_keypoints: str | Sequence[str] | None = None,
    max_gap: int = MAX_GAP.default,
    min_observed: float = MIN_OBSERVED.default,
    min_confidence: float = MIN_CONFIDENCE.default,
    drop_empty_keypoints: bool = False,
):
    """:class:`~napari_facehmm.features.FeatureSettings` from the analysis options, fitted to ``keypoints``.

    ``reference`` and ``rigid_keypoints`` (comma-separated text or names;
    empty: the landmark set's defaults) must name keypoints of the data.

    Raises
    ------
    DataError
        An option out of its range, or naming a keypoint the data do not
        have (the error names the option and lists the keypoints).
    """
    from .features import settings_for_keypoints

    for setting, value in ((FEATURES, features), (ALIGN, align), (MAX_GAP, max_gap), (MIN_CONFIDENCE, min_confidence)):
        setting.check(value, setting.flag)
    rigid = _keypoint_list(rigid_keypoints)
    reference = (reference or "").strip() or None
    named = ([(REFERENCE.flag, reference)] if reference else []) + [(RIGID_KEYPOINTS.flag, k) for k in rigid or ()]
    unknown = [(option, name) for option, name in named if name not in set(keypoints)]
    if unknown:
        option, name = unknown[0]
        raise DataError(f"{option}: no keypoint {name!r} in the landmarks; they are {', '.join(keypoints)}")
    return settings_for_keypoints(
        keypoints,
        mode=align,
        feature_set=features,
        reference_keypoint=reference,
        rigid_keypoints=rigid,
        max_gap_frames=int(max_gap),
        min_confidence=float(min_confidence),
        min_observed=min_observed,
        drop_empty_keypoints=bool(drop_empty_keypoints),
    )


def model_values(model: Any) -> dict[str, Any]:
    """The analysis options a fitted ``FaceHMM`` was made with, by setting name.

    The feature options come from the settings stored in its metadata
    (:func:`~napari_facehmm.analysis.model_feature_settings`), the fit
    options from the model itself (``stability_seeds`` from its stability check,
    if it had one); ``n_states`` is its number of states.
    An option the model does not record is left out.

    Raises
    ------
    DataError
        The model stores no feature settings.
    """
    from .analysis import model_feature_settings

    settings, _ = model_feature_settings(model)
    values: dict[str, Any] = {
        FEATURES.name: settings.feature_set,
        ALIGN.name: settings.mode,
        REFERENCE.name: settings.reference_keypoint,
        RIGID_KEYPOINTS.name: ",".join(settings.rigid_keypoints),
        MAX_GAP.name: int(settings.max_gap_frames),
        MIN_OBSERVED.name: float(settings.min_observed),
        MIN_CONFIDENCE.name: float(settings.min_confidence),
        DROP_EMPTY_KEYPOINTS.name: bool(settings.drop_empty_keypoints),
        N_STATES.name: int(model.n_states),
        COVARIANCE.name: model.covariance_type,
        RESTARTS.name: int(model.n_restarts),
        ITERATIONS.name: int(model.n_iter),
    }
    if isinstance(getattr(model, "random_state", None), int):
        values[SEED.name] = int(model.random_state)
    stability = (getattr(model, "metadata", None) or {}).get("stability") or {}
    if "n_seeds" in stability:  # the seed stability check made when it was fitted
        values[STABILITY_SEEDS.name] = int(stability["n_seeds"])
    return values
