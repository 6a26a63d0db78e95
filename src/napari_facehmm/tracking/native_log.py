"""Keep MediaPipe's start-up chatter off the terminal, and pass on anything else it writes.

MediaPipe's C++ code (absl logging, TensorFlow Lite) writes straight to file
descriptor 2 when a graph starts and on its first frame, e.g.::

    INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    W0000 00:00:1796473469.350877    9808 inference_feedback_manager.cc:114] Feedback manager requires ...
    W0000 00:00:... landmark_projection_calculator.cc:186] Using NORM_RECT without IMAGE_DIMENSIONS ...
    W0000 00:00:... gl_context_egl.cc:184] Creating a context with OpenGL ES 3 failed: ...   (with a display)

Four to a dozen lines a video, between the progress bar's updates, that say nothing to a
user (0.10.21 ignores ``GLOG_minloglevel`` set after it is loaded, and Python's
``sys.stderr`` cannot catch them). :func:`native_stderr_filtered` sends
descriptor 2 to a temporary file for the duration of a block (a graph's
start, its first frame) and afterwards writes every line that is not one of
those known notices back to ``sys.stderr``: an error MediaPipe reports is
delayed to the end of the block, never lost.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["NOISE", "is_noise", "native_stderr_filtered"]

#: The start-up notices dropped (anything else is passed on)
NOISE = (
    re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"),
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ inference_feedback_manager\.cc:\d+\] Feedback manager requires"),
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ landmark_projection_calculator\.cc:\d+\] Using NORM_RECT without"),
    # with a display (DISPLAY set): notes on the GPU context, which the CPU graph does not use
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ gl_context(_egl)?\.cc:\d+\] "),
)


def is_noise(line: str) -> bool:
    """Whether ``line`` (without its newline) is one of MediaPipe's known start-up notices."""
    return any(pattern.search(line) for pattern in NOISE)


@contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Inside the block, file descriptor 2 goes to a temporary file; after it, the lines worth reading go on.

    Process-wide (descriptors are): another thread's writes to stderr meanwhile
    are passed on too, at the end of the block. Where descriptor 2 cannot be
    redirected (closed, or no temporary folder), the block runs unfiltered.
    """
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        capture = tempfile.TemporaryFile()
    except OSError:
        os.close(saved)
        yield
        return
    with capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode("utf-8", "replace").splitlines()
                if line.strip() and not is_noise(line)
            ]
            if kept:
                try:
                    sys.stderr.write("\n".join(kept) + "\n")
                    sys.stderr.flush()
                except (AttributeError, OSError, ValueError):
                    pass
