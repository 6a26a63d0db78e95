"""The docks' parameter forms: magicgui fields built from the core's settings.

Each field is made from a :class:`~napari_facehmm.ranges.Setting` (the one
the job checks and ``facehmm`` builds its option from), so a form shows the
CLI option's name, default and range, and says which option it is in its
tooltip. The docks keep their former attribute names bound to the fields'
Qt widgets (:func:`qt`), so code and tests that poke ``dock.epochs_spin``
still reach the field.
"""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import CheckBox, ComboBox, Container, EmptyWidget, FileEdit, FloatSpinBox, LineEdit, SpinBox
from magicgui.widgets.bases import Widget
from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QComboBox, QSizePolicy

from ..ranges import Setting

__all__ = ["field", "check_box", "form", "row", "embed", "align_labels", "form_bounds", "qt", "FLOAT_RESOLUTION"]

#: the smallest step of a float field (Qt's default 2 decimals): an open bound
#: of the core (``> 0``) is the form's bound plus this
FLOAT_RESOLUTION = 0.01
#: a field's bound where the core sets none (QSpinBox holds 32-bit integers)
_NO_BOUND = 2**31 - 1

#: the characters a combo box shows at least, however narrow the dock
_COMBO_MIN_CHARACTERS = 16

_UNSET = object()


def form_bounds(setting: Setting) -> tuple[float, float]:
    """The closed ``(min, max)`` of the spin box for ``setting``.

    A closed bound is the core's; an open one moves in by one step of the
    field (1 for whole numbers, :data:`FLOAT_RESOLUTION` otherwise), so the
    field offers only values the core accepts.
    """
    step = 1 if setting.kind is int else FLOAT_RESOLUTION
    low = -_NO_BOUND if setting.minimum is None else setting.minimum + (step if setting.min_open else 0)
    high = _NO_BOUND if setting.maximum is None else setting.maximum - (step if setting.max_open else 0)
    return low, high


def _tooltip(setting: Setting, command: str | None) -> str:
    text = setting.help[:1].upper() + setting.help[1:]
    if setting.unit:
        text += f" ({setting.unit})"
    if setting.kind in (int, float) and not setting.choices:
        text += f"; {setting.describe()}"
    if command:
        text += f".\nfacehmm {command} {setting.flag}"
    return text


def field(setting: Setting, label: str, value=_UNSET, command: str | None = None, **options) -> Widget:
    """A magicgui field for ``setting``: named after it, with its default, range or choices, and help.

    Parameters
    ----------
    setting
        The core's setting.
    label
        The form's label (a check box shows it as its text).
    value
        The initial value (default: the setting's default).
    command
        The ``facehmm`` subcommand with the same option (``"dlc train"``),
        named in the tooltip.
    options
        Passed to the magicgui widget (``choices`` for a combo box whose
        entries have labels, ``mode``/``filter`` for a file field, ``step``;
        ``name`` for a second field of the same setting).
    """
    value = setting.default if value is _UNSET else value
    tooltip = options.pop("tooltip", None) or _tooltip(setting, command)
    common = {"name": options.pop("name", setting.name), "tooltip": tooltip}
    if setting.kind is bool:
        return check_box(common["name"], label, value=bool(value), tooltip=common["tooltip"], **options)
    if setting.choices or "choices" in options:
        choices = options.pop("choices", setting.choices)
        if value is not None:  # None: no choice yet (an empty list filled later)
            options["value"] = value
        combo = ComboBox(choices=choices, label=label, **common, **options)
        # long entries ("auto: cached pretrained weights, else random") must not widen the dock:
        # the box shows what fits and the list opens at full width
        combo.native.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.native.setMinimumContentsLength(_COMBO_MIN_CHARACTERS)
        return combo
    if setting.kind in (int, float):
        low, high = form_bounds(setting)
        kind = SpinBox if setting.kind is int else FloatSpinBox
        spin = kind(value=value, min=low, max=high, label=label, **common, **options)
        if setting.unit and hasattr(spin.native, "setSuffix"):
            spin.native.setSuffix(f" {setting.unit}")
        return spin
    if setting.kind is Path:
        return FileEdit(value=value, label=label, **common, **options)
    return LineEdit(value="" if value is None else str(value), label=label, **common, **options)


def check_box(name: str, text: str, **options) -> CheckBox:
    """A magicgui check box showing ``text`` as written (magicgui would turn ``_`` into spaces)."""
    box = CheckBox(name=name, text=text, **options)
    box.native.setText(text)
    return box


def form(*fields: Widget, labels: bool = True) -> Container:
    """The fields one under the other, labels on the left in one aligned column.

    The form keeps its natural height (spare room goes to the dock's views).
    """
    container = Container(labels=labels)
    container.margins = (0, 0, 0, 0)
    container.extend(fields)
    container.native.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
    align_labels(container)
    return container


def row(label: str, main: Widget, *buttons: Widget) -> Container:
    """``main`` with ``buttons`` beside it, as one labeled line of a form; ``main`` takes the spare width."""
    line = Container(layout="horizontal", labels=False, label=label, widgets=[main, *buttons])
    line.margins = (0, 0, 0, 0)
    line.native.layout().setStretch(0, 1)
    return line


def embed(qt_widget, label: str, name: str) -> Widget:
    """A custom Qt view (a list, a table) as one labeled line of a form, its label in the form's column."""
    holder = EmptyWidget(name=name, label=label)
    holder.margins = (0, 0, 0, 0)
    holder.native.layout().addWidget(qt_widget)
    return holder


def _labels(container: Container) -> list:
    found = []
    for widget in container:
        labeled = widget._labeled_widget() if hasattr(widget, "_labeled_widget") else None
        if labeled is not None:
            found.append(labeled._label_widget.native)
    return found


class _LabelAligner(QObject):
    """On show, gives every label of its forms the width of the widest one."""

    def __init__(self, containers):
        super().__init__(containers[0].native)
        self._containers = containers

    def eventFilter(self, watched, event):  # noqa: N802 (Qt API)
        if event.type() in (QEvent.Type.Show, QEvent.Type.StyleChange, QEvent.Type.FontChange):
            labels = [label for container in self._containers for label in _labels(container)]
            for label in labels:
                label.setMinimumWidth(0)
            widest = max((label.sizeHint().width() for label in labels), default=0)
            for label in labels:
                label.setMinimumWidth(widest)
        return False


def align_labels(*containers: Container) -> None:
    """Line up the label columns of ``containers`` (several forms of one tab) when they are shown.

    magicgui sizes labels from the application font before the dock's style
    sheet applies; measuring the styled labels on show keeps the fields in
    one column.
    """
    aligner = _LabelAligner(containers)
    for container in containers:
        container.native.installEventFilter(aligner)


def qt(widget: Widget):
    """The Qt widget the dock keeps as its attribute: a file field's line edit, else the field's own."""
    if isinstance(widget, FileEdit):
        return widget.line_edit.native
    return widget.native
