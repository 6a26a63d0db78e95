"""Analysis: DeepLabCut's predictions for whole videos, one video after the other, with progress."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Generator, Sequence

from ...errors import DataError
from ...progress import Progress
from .project import _read_config, require_deeplabcut
from .runner import DLCJob


@dataclass
class AnalysisProgress:
    """``done`` of ``total`` videos analyzed; ``output`` is the ``.h5`` just written.

    While a video is analyzed, ``frames_done`` of ``n_frames`` follow
    DeepLabCut's frame counter (None between videos).
    """

    done: int
    total: int
    message: str
    video: Path | None = None
    output: Path | None = None
    frames_done: int | None = None
    n_frames: int | None = None

    @property
    def progress(self) -> Progress:
        """``(done, total, message)`` in videos: the project's progress step (the message has the frame)."""
        return self.done, self.total, self.message


#: tqdm's counter in DeepLabCut's output: " 40%|####      | 16/40 [00:00<00:00, 35.2it/s]"
FRAME_COUNTER = re.compile(r"\|\s*(?P<done>\d+)/(?P<total>\d+) \[")


class AnalysisJob(DLCJob):
    """``deeplabcut.analyze_videos`` over many videos in a child process.

    Parameters
    ----------
    config_path
        The project's ``config.yaml``.
    videos
        Video files to analyze, one after the other.
    shuffle, trainingsetindex
        Which trained shuffle.
    snapshot
        A ``snapshot-*.pt`` of the shuffle; None uses ``snapshotindex`` of
        the config (the last snapshot by default).
    destfolder
        Where outputs go; None: beside each video (DeepLabCut's default).
    overwrite
        Re-analyze videos that already have an output for this snapshot.
    """

    step = "analyze"

    def __init__(
        self,
        config_path: str | Path,
        videos: Sequence[str | Path],
        shuffle: int = 1,
        trainingsetindex: int = 0,
        snapshot: str | Path | None = None,
        destfolder: str | Path | None = None,
        overwrite: bool = False,
        batch_size: int | None = None,
        grace_s: float = 5.0,
    ):
        require_deeplabcut("Analyzing videos with DeepLabCut")
        config_path = Path(config_path)
        _read_config(config_path)
        videos = [Path(v) for v in videos]
        if not videos:
            raise DataError("no videos to analyze")
        missing = [str(v) for v in videos if not v.is_file()]
        if missing:
            raise DataError(f"video file(s) not found: {', '.join(missing)}")
        if snapshot is not None and not Path(snapshot).is_file():
            raise DataError(f"snapshot {snapshot} does not exist")
        self.videos = videos
        self.outputs: list[Path] = []
        super().__init__(
            "analyze",
            {
                "config": str(config_path),
                "videos": [str(v.resolve()) for v in videos],
                "shuffle": int(shuffle),
                "trainingsetindex": int(trainingsetindex),
                "snapshot": None if snapshot is None else str(snapshot),
                "destfolder": None if destfolder is None else str(destfolder),
                "overwrite": bool(overwrite),
                "batch_size": batch_size,
            },
            grace_s=grace_s,
            purpose="Analyzing videos with DeepLabCut",
        )

    def events(self) -> Generator[AnalysisProgress, None, list[Path]]:
        """Yield an :class:`AnalysisProgress` when each video starts and ends; return the outputs.

        Between them, DeepLabCut's frame counter of the current video comes
        as ``frames_done`` of ``n_frames``. :meth:`progress` gives the same
        steps as ``(done, total, message)``.
        """
        total = len(self.videos)
        yield AnalysisProgress(0, total, "starting DeepLabCut")
        video: Path | None = None
        done = 0
        for message in self.messages():
            kind = message.get("event")
            if kind == "video_start":
                video = Path(message["video"])
                done = int(message["done"])
                yield AnalysisProgress(done, total, f"analyzing {video.name}", video=video)
            elif kind == "line" and video is not None:
                counter = FRAME_COUNTER.search(message["text"])
                if counter is not None:
                    frames_done, n_frames = int(counter["done"]), int(counter["total"])
                    yield AnalysisProgress(
                        done,
                        total,
                        f"{video.name}: frame {frames_done}/{n_frames}",
                        video=video,
                        frames_done=frames_done,
                        n_frames=n_frames,
                    )
            elif kind == "video_done":
                finished = Path(message["video"])
                output = Path(message["output"])
                self.outputs.append(output)
                video = None  # frame counters between videos belong to no video
                yield AnalysisProgress(
                    int(message["done"]), total, f"{finished.name} -> {output.name}", video=finished, output=output
                )
        return list(self.outputs)


def analyze_videos(
    config_path: str | Path, videos: Sequence[str | Path], *args, **options
) -> Generator[AnalysisProgress, None, list[Path]]:
    """Analyze videos; a generator of :class:`AnalysisProgress` returning the outputs.

    The arguments are :class:`AnalysisJob`'s (``shuffle``, ``snapshot``,
    ``destfolder``, ``overwrite``, ``batch_size`` ...), checked before
    anything starts. Each video's DeepLabCut ``.h5`` (read it with
    :func:`napari_facehmm.io.dlc.read_dlc_analysis`) is in the ``output`` of
    the event that reports it done.
    """
    return (yield from AnalysisJob(config_path, videos, *args, **options).events())

