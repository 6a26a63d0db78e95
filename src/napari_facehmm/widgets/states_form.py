"""The Expression states dock's parameter form: ``facehmm analyze``'s options as magicgui fields.

Every field is made from a setting of :mod:`napari_facehmm.analysis_settings`
(the one the CLI builds its option from), so the form has the CLI's names,
defaults, ranges and choices. ``--states`` is three fields: how
(``fixed``, ``auto``, ``range``), the fixed number, and the range's ends;
:meth:`AnalysisForm.states_text` writes them as the option's text and
:meth:`AnalysisForm.n_states` parses it as ``facehmm analyze`` does. The
options used less often sit in a second form behind "more options".
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import ComboBox, Container, SpinBox
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QToolButton, QVBoxLayout, QWidget

from .. import analysis_settings as O
from ..hmm.selection import AUTO_STATES, parse_states
from ..ranges import Setting
from .forms import field, form, qt, row

__all__ = ["AnalysisForm", "STATES_CHOICES"]

#: how the number of states is given: ``--states K``, ``--states auto``, ``--states A-B``
STATES_CHOICES = ("fixed", "auto", "range")
_STATES_TOOLTIP = (
    "fixed: this many states; auto: chosen among {low}-{high} by held-out time blocks (BIC beside it); "
    "range: chosen among the range's states.\nfacehmm analyze --states K|auto|A-B"
)
_COMMAND = "analyze"


def _end(setting: Setting, name: str, label: str, value: int) -> SpinBox:
    return field(setting, label, value=value, command=_COMMAND, name=name,
                 tooltip=f"{label} of the range of states tried, {setting.describe()}.\nfacehmm analyze --states A-B")


class AnalysisForm(QWidget):
    """The analysis options: a main form (states, features, restarts...) and one of more options.

    Attributes
    ----------
    main, more
        The two magicgui containers.
    fields
        Every field by name (the setting's name; ``states``,
        ``states_from``, ``states_to`` for the states).
    """

    def __init__(self, stability_setting: Setting, parent: QWidget | None = None):
        super().__init__(parent)
        low, high = AUTO_STATES[0], AUTO_STATES[-1]
        self.states_mode = ComboBox(name="states", label="states", choices=STATES_CHOICES, value="fixed",
                                    tooltip=_STATES_TOOLTIP.format(low=low, high=high))
        self.n_states_field = field(O.N_STATES, "", command=None, tooltip=(
            f"number of HMM states, {O.N_STATES.describe()} (default {O.N_STATES.default}, as the reference)."
            "\nfacehmm analyze --states K"))
        self.states_from = _end(O.N_STATES, "states_from", "from", low)
        self.states_to = _end(O.N_STATES, "states_to", "to", high)
        self.range_row = Container(layout="horizontal", labels=False,
                                   widgets=[self.states_from, self.states_to])
        self.range_row.margins = (0, 0, 0, 0)
        states_row = row("states", self.states_mode, self.n_states_field, self.range_row)
        main_fields = [
            states_row,
            field(O.FEATURES, "features", command=_COMMAND),
            field(O.ALIGN, "alignment", command=_COMMAND),
            field(O.RESTARTS, "restarts", command=_COMMAND),
            field(stability_setting, "stability seeds", command=_COMMAND),
        ]
        more_fields = [
            field(O.REFERENCE, "reference keypoint", command=_COMMAND),
            field(O.RIGID_KEYPOINTS, "rigid keypoints", command=_COMMAND),
            field(O.MAX_GAP, "fill gaps up to", command=_COMMAND),
            field(O.MIN_OBSERVED, "min observed", command=_COMMAND),
            field(O.MIN_CONFIDENCE, "min confidence", command=_COMMAND),
            field(O.DROP_EMPTY_KEYPOINTS, "drop keypoints never tracked", command=_COMMAND),
            field(O.ITERATIONS, "EM iterations", command=_COMMAND),
            field(O.SEED, "seed", command=_COMMAND),
            field(O.COVARIANCE, "covariance", command=_COMMAND),
        ]
        self.main = form(*main_fields)
        self.more = form(*more_fields)
        self.fields: dict[str, Any] = {
            widget.name: widget for widget in [*main_fields[1:], *more_fields]
        }
        self.fields.update(states=self.states_mode, n_states=self.n_states_field, states_from=self.states_from,
                           states_to=self.states_to)
        self.more_button = QToolButton()
        self.more_button.setText("more options")
        self.more_button.setCheckable(True)
        self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more_button.setAutoRaise(True)
        self.more_button.toggled.connect(self._show_more)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.main.native)
        layout.addWidget(self.more_button)
        layout.addWidget(self.more.native)
        self._show_more(False)
        self.states_mode.changed.connect(self._show_states_fields)
        self._show_states_fields()

    # ------------------------------------------------------------ states
    def _show_more(self, shown: bool) -> None:
        self.more.native.setVisible(shown)
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _show_states_fields(self, *_: Any) -> None:
        mode = self.states_mode.value
        self.n_states_field.visible = mode == "fixed"
        self.range_row.visible = mode == "range"

    def states_text(self) -> str:
        """The ``--states`` the form says: ``"9"``, ``"auto"`` or ``"4-12"``."""
        mode = self.states_mode.value
        if mode == "fixed":
            return str(self.n_states_field.value)
        if mode == "auto":
            return "auto"
        return f"{self.states_from.value}-{self.states_to.value}"

    def n_states(self) -> int | tuple[int, ...]:
        """The number of states, or the candidates to choose among (as ``--states`` parses)."""
        return parse_states(self.states_text())

    def set_fixed_states(self, n_states: int) -> None:
        self.states_mode.value = "fixed"
        self.n_states_field.value = int(n_states)

    # ------------------------------------------------------------ values
    def value(self, name: str) -> Any:
        return self.fields[name].value

    def feature_values(self) -> dict[str, Any]:
        """The feature options by name, as :func:`~napari_facehmm.analysis_settings.feature_settings` takes them."""
        return {setting.name: self.value(setting.name) for setting in O.FEATURE_OPTIONS}

    def feature_settings(self, keypoints) -> Any:
        """:class:`FeatureSettings` for ``keypoints`` (DataError naming the option when one does not fit)."""
        return O.feature_settings(keypoints, **self.feature_values())

    def fit_arguments(self) -> dict[str, Any]:
        """``run_track_analysis``'s fit arguments: restarts, iterations, seed, covariance, stability seeds."""
        return dict(
            n_restarts=int(self.value(O.RESTARTS.name)),
            n_iter=int(self.value(O.ITERATIONS.name)),
            seed=int(self.value(O.SEED.name)),
            hmm_options={"covariance_type": self.value(O.COVARIANCE.name)},
            stability_seeds=int(self.value(O.STABILITY_SEEDS.name)),
        )

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` (by setting name; ``n_states`` as a fixed number), e.g. a loaded model's."""
        for name, value in values.items():
            if name == O.N_STATES.name:
                self.set_fixed_states(value)
            elif name in self.fields:
                self.fields[name].value = "" if value is None and isinstance(self.fields[name].value, str) else value

    def qt(self, name: str) -> Any:
        """The Qt widget of a field (the dock keeps some as attributes)."""
        return qt(self.fields[name])
