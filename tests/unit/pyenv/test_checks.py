"""Version and package checks import `packaging` only when there is something to check."""

from __future__ import annotations

import subprocess
import sys

NOTHING_TO_CHECK = """
import sys
import meshcompose.app.up
from meshcompose.pyenv import checks
from meshcompose.pyenv.probe import ProbeResult
result = ProbeResult((3, 11, 7, "final", 0), "cpython", sys.executable, sys.prefix, sys.prefix, (), {}, {})
print(checks.version_ok("3.11.7", ""), checks.unmet((), result), checks.requirement_names([]))
print("packaging" in sys.modules)
print(checks.version_ok("3.11.7", ">=3.9"), checks.version_ok("3.8.1", ">=3.9"), checks.unmet(("zzz>=1",), result))
print("packaging" in sys.modules)
"""


def test_a_project_without_requirements_starts_without_packaging() -> None:
    """`packaging` costs ~25 ms to import; a small project's `up` has no requirement to check."""
    result = subprocess.run([sys.executable, "-c", NOTHING_TO_CHECK], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["True () []", "False", "True False ('zzz>=1',)", "True"], result.stdout
