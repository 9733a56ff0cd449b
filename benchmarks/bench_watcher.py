"""The resource watcher's own CPU cost with 50 idle agents.

Starts N idle agent processes (each with its own token, as the supervisor
starts them), then runs the real `ResourceWatcher` in this process for a
window and reports this process's CPU time over that window, three ways:

- no limits: the agents are not watched (the loop sleeps until told);
- memory_limit + timeout on every agent: one /proc listing and one small read
  per agent every second;
- the per-tick cost of the tree sample alone, timed over many ticks.

    python benchmarks/bench_watcher.py [--agents 50] [--window 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import anyio

from meshcompose.model import Resources
from meshcompose.proc import process
from meshcompose.proc import tree as proctree
from meshcompose.runtime import resources

IDLE_AGENT = "import time\nwhile True: time.sleep(3600)"
LIMITS = Resources(timeout=3600, memory_limit=1024**3)


def start_agents(count: int) -> list[tuple[subprocess.Popen, process.ProcessIdentity, str]]:
    agents = []
    for _ in range(count):
        token = process.new_token()
        proc = subprocess.Popen([sys.executable, "-c", IDLE_AGENT], env={**os.environ, process.TOKEN_VAR: token},
                                start_new_session=True)
        agents.append((proc, process.identity(proc.pid), token))
    time.sleep(1.0)  # past exec: every environment is readable
    return agents


async def watched_window(agents, window: float, limited: bool) -> float:
    """CPU seconds this process spent while the watcher ran for `window` seconds."""
    watcher = resources.ResourceWatcher()

    async def never(breach) -> None:
        raise AssertionError(f"an idle agent crossed a limit: {breach.message}")

    async with anyio.create_task_group() as tg:
        await tg.start(watcher.run)
        if limited:
            for index, (_, ident, token) in enumerate(agents):
                watcher.watch(f"agent{index}", ident, token, LIMITS, never)
        await anyio.sleep(1.0)  # the first sample learns every process once; steady state after
        before = time.process_time()
        await anyio.sleep(window)
        spent = time.process_time() - before
        tg.cancel_scope.cancel()
    return spent


def tick_cost(agents, ticks: int = 200) -> float:
    sampler = proctree.TreeSampler()
    watched = {f"agent{index}": (ident, token) for index, (_, ident, token) in enumerate(agents)}
    sampler.sample(watched)
    before = time.process_time()
    for _ in range(ticks):
        sampler.sample(watched)
    return (time.process_time() - before) / ticks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--window", type=float, default=10.0)
    options = parser.parse_args()
    agents = start_agents(options.agents)
    processes = len(os.listdir("/proc")) if os.path.isdir("/proc") else "?"
    try:
        idle = anyio.run(watched_window, agents, options.window, False)
        limited = anyio.run(watched_window, agents, options.window, True)
        per_tick = tick_cost(agents)
    finally:
        for proc, ident, token in agents:
            process.kill_tree(ident, token)
            proc.wait()
    print(f"resource watcher, {options.agents} idle agents, {options.window:g} s window "
          f"({processes} /proc entries on this machine)")
    print(f"  no limits:                   {idle * 1000:7.1f} ms CPU = {idle / options.window:.3%} of one CPU")
    print(f"  memory_limit + timeout each: {limited * 1000:7.1f} ms CPU = {limited / options.window:.3%} of one CPU")
    print(f"  one tree sample of all {options.agents}:  {per_tick * 1000:7.3f} ms "
          f"(once per {resources.SAMPLE_SECONDS:g} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
