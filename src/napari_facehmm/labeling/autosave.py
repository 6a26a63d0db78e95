"""When an autosave of the labels is due (:class:`AutosaveClock`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AutosaveClock:
    """Decides when an autosave is due (the widget's QTimer asks it).

    Parameters
    ----------
    interval_s
        Seconds between autosaves; 0 or less disables autosave.
    """

    interval_s: float = 120.0
    last_save_s: float | None = None

    def due(self, now_s: float, dirty: bool) -> bool:
        """True if there are unsaved changes and ``interval_s`` passed since the last save."""
        if not dirty or self.interval_s <= 0:
            return False
        return self.last_save_s is None or now_s - self.last_save_s >= self.interval_s - 1e-6

    def saved(self, now_s: float) -> None:
        self.last_save_s = now_s
