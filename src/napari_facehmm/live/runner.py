"""The live loop: take the newest frame, decode it, record it, hand it to whoever shows it.

:func:`run_live` is a generator of :class:`LiveStep` (the frame, its update
and the running counts), so the CLI, the Live dock and the tests drive the
same loop and stop it the same way: close the generator (Stop, Ctrl+C, the
end of ``--duration``). The recording, if any, is saved whenever the loop
ends, also when the camera stops giving frames (the error is raised after
the recording so far is saved).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator

import numpy as np

from .analyzer import LiveAnalyzer, LiveUpdate
from .source import Frame, FrameSource

__all__ = ["LiveStats", "LiveStep", "run_live"]


@dataclass
class LiveStats:
    """Counts and timings of a live run.

    Attributes
    ----------
    frames_shown
        Frames processed (and recorded).
    frames_dropped
        Frames the source gave that were replaced before they could be
        taken, plus those it skipped.
    processing_s
        Per frame: tracking, features and decoding.
    latency_s
        Per frame: from its capture to its update (add the display's own time
        for what a person sees).
    """

    frames_shown: int = 0
    frames_dropped: int = 0
    processing_s: list[float] = field(default_factory=list)
    latency_s: list[float] = field(default_factory=list)
    recording: Path | None = None

    @property
    def dropped_fraction(self) -> float:
        total = self.frames_shown + self.frames_dropped
        return self.frames_dropped / total if total else 0.0

    def summary(self) -> dict:
        """JSON-able numbers: frames shown and dropped, median and 95th percentile times in ms."""
        def ms(values, q):
            return round(float(np.percentile(values, q)) * 1000, 2) if values else None

        return {
            "frames_shown": self.frames_shown,
            "frames_dropped": self.frames_dropped,
            "dropped_percent": round(100 * self.dropped_fraction, 2),
            "processing_ms_median": ms(self.processing_s, 50),
            "processing_ms_p95": ms(self.processing_s, 95),
            "latency_ms_median": ms(self.latency_s, 50),
            "latency_ms_p95": ms(self.latency_s, 95),
        }

    def line(self) -> str:
        """``shown 600 frames, dropped 1.2%, median latency 14 ms``."""
        s = self.summary()
        latency = "n/a" if s["latency_ms_median"] is None else f"{s['latency_ms_median']:.0f} ms"
        return f"shown {s['frames_shown']} frames, dropped {s['dropped_percent']:.1f}%, median latency {latency}"


@dataclass
class LiveStep:
    """One frame of the loop: the image, what it gave, and the counts so far."""

    image: np.ndarray
    update: LiveUpdate
    stats: LiveStats


def run_live(
    model,
    source: FrameSource,
    lag: int = 0,
    duration_s: float | None = None,
    record: str | Path | None = None,
    info: dict | None = None,
    save_model: bool = False,
) -> Generator[LiveStep, None, LiveStats]:
    """Decode ``source`` live with ``model``; a generator of :class:`LiveStep`, returning :class:`LiveStats`.

    Parameters
    ----------
    model
        A fitted model of the built-in tracker's 2D landmarks.
    source
        A :class:`FrameSource` (started here, closed at the end).
    lag
        Fixed lag in frames (0: each frame's state at once).
    duration_s
        Stop after this many seconds (None: until the source ends or the
        generator is closed).
    record
        A folder to keep the run in (see :mod:`.recording`).
    info
        Extra fields for the recording's ``live.json`` (the model's path...).
    save_model
        Keep the model in the recording (``model.json``, ``model.npz``): for
        a model fitted in a calibration phase.

    Raises
    ------
    DataError
        The source failed (a camera that disappeared): raised after the
        recording so far is saved.
    """
    from .recording import LiveRecording

    stats = LiveStats()
    recording = LiveRecording(record, source.fps) if record is not None else None
    analyzer = LiveAnalyzer(model, lag=lag, fps=source.fps)
    started = time.perf_counter()
    failed = None
    # Frames read before (a calibration phase) are not this run's; frames read after it but
    # never taken (a loaded machine, even the very first ones) are this run's drops.
    first = source.first_untaken()
    try:
        with source:
            while duration_s is None or time.perf_counter() - started < duration_s:
                frame = source.next_frame()
                if frame is None:
                    break
                frame = Frame(frame.number - first, frame.captured_s, frame.image)
                begun = time.perf_counter()
                update = analyzer.process(frame)
                stats.processing_s.append(time.perf_counter() - begun)
                stats.latency_s.append(update.latency_s)
                stats.frames_shown += 1
                stats.frames_dropped = frame.number + 1 - stats.frames_shown
                if recording is not None:
                    recording.add_frame(frame.number, frame.image, update.landmarks, update.presence)
                    recording.add_decided(update.decided)
                yield LiveStep(frame.image, update, stats)
    except GeneratorExit:
        pass  # stopped by the caller: an ordinary end
    except BaseException as error:
        failed = error
    finally:
        if isinstance(failed, KeyboardInterrupt):
            failed = None  # Ctrl+C is how a person stops it: an ordinary end
        stats.frames_dropped = max(stats.frames_dropped, source.frames_read - first - stats.frames_shown)
        analyzer_tail = analyzer.finish()
        analyzer.close()
        if recording is not None:
            recording.add_decided(analyzer_tail)
            stats.recording = recording.close({**(info or {}), "lag_frames": lag, **stats.summary()},
                                              model=model if save_model else None)
    if failed is not None:
        raise failed
    return stats
