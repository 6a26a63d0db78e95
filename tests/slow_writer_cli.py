"""``facehmm`` with slow figure writing, for the Ctrl+C / SIGTERM tests of tests/test_reliability.py.

Run as ``python tests/slow_writer_cli.py analyze ...``. Each PNG is written
half, then the process prints ``WRITING <name>`` and sleeps, so a test can
interrupt it at a known moment: while it writes its outputs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from matplotlib.figure import Figure

_real_savefig = Figure.savefig


def _slow_savefig(self, fname, *args, **kwargs):
    path = Path(fname)
    path.write_bytes(b"\x89PNG half a figure")
    print(f"WRITING {path.name}", flush=True)
    time.sleep(0.5)
    return _real_savefig(self, fname, *args, **kwargs)


Figure.savefig = _slow_savefig

if __name__ == "__main__":
    from napari_facehmm.cli import main

    sys.exit(main(sys.argv[1:]))
