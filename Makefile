# The two set-up commands of the README. Both install what they need first
# (Debian libraries for headless Qt, PyTorch pinned, the package and its extras).
PYTHON ?= python3
DEMO_OUT ?= demo-out

.PHONY: setup demo test test-fast bench

setup:
	bash scripts/setup.sh

# Main job: synthetic two-camera session -> 3D -> HMM -> states, statistics, figures.
demo: setup
	facehmm demo --out $(DEMO_OUT)

# The whole test suite, GUI tests included (pytest-xvfb starts Xvfb).
test: setup
	$(PYTHON) -m pytest -ra

# Without DeepLabCut training and GUI tests (quick local loop).
test-fast:
	$(PYTHON) -m pytest -ra -m "not gui and not dlc"

bench:
	$(PYTHON) bench/hmm_em.py
	$(PYTHON) bench/triangulate.py
	xvfb-run -a $(PYTHON) bench/viewer.py
	$(PYTHON) bench/video_memory.py
