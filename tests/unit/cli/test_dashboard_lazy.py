"""The dashboard's libraries stay off everyone else's path: `--help`, `ps`,
`logs` and `graph --timeline` import neither starlette nor uvicorn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DASHBOARD_ONLY = ("starlette", "uvicorn", "meshcompose.dashboard", "meshcompose.app.dashboard")


def test_help_ps_and_logs_do_not_import_the_dashboard(tmp_path: Path) -> None:
    code = ("import sys, io, contextlib\n"
            "from meshcompose.cli.main import main\n"
            "for argv in (['--help'], ['ps', '-a'], ['logs'], ['ps', '--help'], ['dashboard', '--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "        try:\n"
            "            main(argv)\n"
            "        except SystemExit:\n"
            "            pass\n"
            f"print(' '.join(m for m in {DASHBOARD_ONLY!r} if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
