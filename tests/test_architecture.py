"""The layering holds: import-linter's contracts in pyproject.toml (``[tool.importlinter]``).

The core never imports napari or Qt (imports inside functions included, which
tests/test_core_is_qt_free.py cannot see), io and data import nothing above
them, and widgets and commands are the top.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    code = "import sys\nfrom importlinter.cli import lint_imports\nsys.exit(lint_imports(no_cache=True, no_logo=True))\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout
