"""The log keeper is one more process per running project: it stays small."""

from __future__ import annotations

import subprocess
import sys


def test_the_keeper_process_imports_only_the_standard_library_it_needs():
    # What `python -m meshcompose.logs.keeper` loads beyond a bare interpreter.
    probe = ("import sys; before = set(sys.modules); import meshcompose.logs.keeper; "
             "print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "meshcompose.logs.keeper" in loaded
    # anyio (the supervisor's event loop), dataclasses (inspect, ast) and
    # subprocess cost megabytes the keeper, which only holds and drains pipes, never uses.
    assert not loaded & {"anyio", "asyncio", "dataclasses", "inspect", "subprocess", "psutil"}


def test_the_keeper_yields_the_cpu_to_the_agents_starting_beside_it(tmp_path):
    import os

    from meshcompose.logs.keeper import KEEPER_NICENESS, KeeperClient

    client = KeeperClient(tmp_path)
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, client.child.pid) == min(own + KEEPER_NICENESS, 19)
    finally:
        client.close()
        client.child.wait(10)
