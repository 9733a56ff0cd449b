"""Resource limits through the real `mesh-compose up`: agents that allocate,
burn CPU or overstay, measured by the agents themselves.

Where the agents' cgroups get the kernel's memory and cpu controllers, the
kernel holds memory_limit and cpu_limit (measured from the cgroup's own
files); elsewhere the sampled fallback does, and its tests run instead.

Bounds are generous for a noisy 2-core machine but still prove each
mechanism: without it the memory agent would live 30 s, the burner would use
a whole CPU (two for the threaded one), the sleeper would run 30 s.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

import pytest

from cli_helpers import pid_alive, wait_until
from meshcompose.proc import cgroup
from meshcompose.runtime import resources

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the limits are measured with POSIX tools")

KERNEL_LIMITS = cgroup.offered_limits()
WHY_NO_KERNEL_LIMITS = f"the kernel's limits cannot hold here: {resources.limits_summary()}"
sampled_memory = pytest.mark.skipif("memory" in KERNEL_LIMITS,
                                    reason="the cgroup's memory.max holds memory_limit here, not the sampling")
sampled_cpu = pytest.mark.skipif("cpu" in KERNEL_LIMITS,
                                 reason="the cgroup's cpu.max holds cpu_limit here, not affinity and a duty cycle")

# Allocates MEGABYTES once started, records when, and when SIGTERM came. A
# sample can fall while it is still allocating (the limit is crossed part way):
# the stop signal then waits until it has recorded the allocation.
ALLOCATOR = """
import os, signal, sys, time
def on_term(*_):
    print("term", time.time(), flush=True)
    sys.exit(3)
signal.signal(signal.SIGTERM, on_term)
print("start", flush=True)
time.sleep(0.3)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
blob = bytearray(int(os.environ["MEGABYTES"]) * 1024 * 1024)
for i in range(0, len(blob), 4096):
    blob[i] = 1
print("allocated", time.time(), flush=True)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
time.sleep(30)
"""

# Burns CPU in THREADS threads (hashing releases the GIL, so threads really run
# in parallel) and reports, over WINDOW seconds of wall time, its own CPU time
# (`share`) and how much of the time its burning threads were runnable, i.e.
# running or waiting for a CPU (`runnable`, per thread, from the kernel's
# schedstat): a loaded machine lowers the share but not that; only being
# stopped (the duty cycle's SIGSTOP) does.
BURNER = """
import hashlib, os, threading, time
data = os.urandom(1 << 20)
burning = []
def burn():
    burning.append(threading.get_native_id())
    while True:
        hashlib.sha256(data).digest()
def runnable_seconds():
    fields = [open(f"/proc/self/task/{tid}/schedstat").read().split() for tid in burning]
    return sum(int(ran) + int(waited) for ran, waited, _ in fields) / 1e9
threads = int(os.environ["THREADS"])
for _ in range(threads):
    threading.Thread(target=burn, daemon=True).start()
time.sleep(0.5)
wall, cpu, runnable = time.monotonic(), time.process_time(), runnable_seconds()
time.sleep(float(os.environ["WINDOW"]))
elapsed = time.monotonic() - wall
share = (time.process_time() - cpu) / elapsed
runnable = (runnable_seconds() - runnable) / elapsed / threads
print("share", round(share, 3), "runnable", round(runnable, 3), "cpus", len(os.sched_getaffinity(0)), flush=True)
time.sleep(30)
"""

# Ignores SIGTERM, so only the kill after the grace ends it.
STUBBORN = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("pid", os.getpid(), time.time(), flush=True)
time.sleep(30)
"""


def supervisor_events(project, name: str) -> list[dict]:
    lines = (project.root / ".mesh-compose" / "t" / "events.jsonl").read_text().splitlines()
    return [event for event in map(json.loads, lines) if event["service"] == name]


def moment(event: dict) -> float:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()


def numbers_after(word: str, text: str) -> list[float]:
    return [float(value) for value in re.findall(rf"\| {word} ([0-9.]+)", text)]


@sampled_memory
def test_memory_limit_stops_within_two_samples_then_restarts(project):
    project.script("alloc.py", ALLOCATOR)
    project.compose({"hog": {
        "script": "alloc.py", "environment": {"MEGABYTES": "160"}, "restart": "on-failure",
        "max_restarts": 1, "backoff": "0.2s", "stop_grace_period": "3s",
        "resources": {"memory_limit": "100MB"},
    }})
    up = project.start("up")
    text = up.wait_for("gave up after 1 restart", timeout=40)
    assert up.wait(15) == 1
    # A sample may land while the 160 MiB are still being written: any sum above the limit, and at
    # most the whole allocation and the interpreter.
    sampled = [float(value) for value in re.findall(r"memory limit 95\.4 MiB exceeded: ([0-9.]+) MiB", text)]
    assert len(sampled) == 2 and all(95.4 < value < 200 for value in sampled), text
    allocated, terms = numbers_after("allocated", text), numbers_after("term", text)
    assert len(allocated) == 2 and len(terms) == 2, text  # stopped, restarted, stopped again
    for done, stopped in zip(allocated, terms):
        assert 0 <= stopped - done <= 2 * 1.0 + 0.5, text  # two sampling periods, plus slack
    assert text.count("hog | start") == 2


def burner_share(project, threads: int, cpu_limit: float) -> tuple[float, float, int]:
    project.script("burn.py", BURNER)
    project.compose({"burner": {
        "script": "burn.py", "environment": {"THREADS": str(threads), "WINDOW": "5"},
        "stop_grace_period": "2s", "resources": {"cpu_limit": cpu_limit},
    }})
    up = project.start("up")
    text = up.wait_for("burner | share", timeout=30)
    limits = json.loads(project.cli("ps", "--format", "json").stdout.splitlines()[0])["Limits"]
    assert limits.startswith(f"cpu {cpu_limit:g} (CPU ")  # which mechanism enforces it
    up.interrupt()
    assert up.wait(20) == 0
    match = re.search(r"share ([0-9.]+) runnable ([0-9.]+) cpus (\d+)", text)
    return float(match.group(1)), float(match.group(2)), int(match.group(3))


# The lower bounds are on `runnable`, not on the share: the limit caps what the
# agent may use, it cannot promise what a loaded machine leaves it (a burner
# pinned beside another busy process measured a share of 0.49).


@sampled_cpu
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to show pinning")
def test_fractional_cpu_limit_throttles_to_that_share(project):
    share, runnable, cpus = burner_share(project, threads=2, cpu_limit=0.5)
    assert cpus == 1
    assert share <= 0.60
    assert 0.2 <= runnable <= 0.8, runnable  # let run about half the time, stopped the rest


@sampled_cpu
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to show pinning")
def test_whole_cpu_limit_pins_two_busy_threads_to_one_cpu(project):
    share, runnable, cpus = burner_share(project, threads=2, cpu_limit=1)
    assert cpus == 1
    assert share <= 1.10
    assert runnable >= 0.9, runnable  # a whole CPU needs no duty cycle: never stopped


def test_timeout_stops_after_the_timeout_plus_grace(project):
    project.script("stubborn.py", STUBBORN)
    project.compose({"sleeper": {
        "script": "stubborn.py", "stop_grace_period": "1s", "resources": {"timeout": "1s"},
    }})
    up = project.start("up")
    text = up.wait_for("sleeper | pid", timeout=20)
    pid, started = (float(v) for v in re.search(r"\| pid (\d+) ([0-9.]+)", text).groups())
    wait_until(lambda: not pid_alive(int(pid)), timeout=10, what="the agent to be gone")
    assert time.time() - started <= 1 + 1 + 1.5  # killed soon after the timeout and grace, not after 30 s
    assert up.wait(15) == 1
    # Not before them either, by the supervisor's own clock: the timeout counts from the spawn, which
    # comes before the agent's interpreter can note its start (on a loaded machine, well before).
    told = {event["action"]: moment(event) for event in supervisor_events(project, "sleeper")}
    assert told["stop"] - told["start"] >= 1 and told["die"] - told["stop"] >= 1, told
    output = up.output
    assert "timeout after 1s: stopping" in output
    assert "did not stop within 1s; killing" in output


# -- the kernel's limits ------------------------------------------------------------

# Forks a child that leaves the process group (setpgid), then burns CPU in it.
SETPGID_BURNER = """
import hashlib, os, time
child = os.fork()
if child == 0:
    os.setpgid(0, 0)
    data = os.urandom(1 << 16)
    while True:
        hashlib.sha256(data).digest()
print("child", child, flush=True)
time.sleep(120)
"""

# Allocates and touches 8 MiB at a time as fast as it can, saying how much it holds.
FAST_ALLOCATOR = """
held, total = [], 0
while True:
    held.append(bytearray(b"x") * (8 << 20))
    total += 8
    print("holding", total, flush=True)
"""


def agent_cgroup(project, name: str) -> Path:
    doc = json.loads((project.root / ".mesh-compose" / "t" / "state.json").read_text())
    return Path(doc["agents"][name]["cgroup"])


def cpu_usage_seconds(group: Path) -> float:
    stats = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
    return int(stats["usage_usec"]) / 1e6


@pytest.mark.skipif("cpu" not in KERNEL_LIMITS, reason=WHY_NO_KERNEL_LIMITS)
def test_cpu_limit_holds_a_child_that_left_the_process_group(project):
    project.script("burn.py", SETPGID_BURNER)
    project.compose({"burner": {"script": "burn.py", "stop_grace_period": "2s",
                                "resources": {"cpu_limit": 0.25}}})
    up = project.start("up")
    child = int(re.search(r"burner \| child (\d+)", up.wait_for("burner | child", timeout=30)).group(1))
    group = agent_cgroup(project, "burner")
    assert child in cgroup.members(group)  # born in the agent's cgroup, whatever its process group
    limits = json.loads(project.cli("ps", "--format", "json").stdout.splitlines()[0])["Limits"]
    assert limits == "cpu 0.25 (cgroup)"
    wall, used = time.monotonic(), cpu_usage_seconds(group)
    time.sleep(4)  # a measurement window, not a wait for an event
    share = (cpu_usage_seconds(group) - used) / (time.monotonic() - wall)
    throttled = "nr_throttled 0" not in (group / "cpu.stat").read_text()
    up.interrupt()
    assert up.wait(20) == 0
    assert share <= 0.25 * 1.5, share  # it would be a whole CPU (0.84 measured with the duty cycle)
    assert throttled  # the kernel's quota, not luck, held it


@pytest.mark.skipif("memory" not in KERNEL_LIMITS, reason=WHY_NO_KERNEL_LIMITS)
def test_memory_limit_holds_a_fast_allocator(project):
    project.script("alloc.py", FAST_ALLOCATOR)
    project.compose({"hog": {"script": "alloc.py", "resources": {"memory_limit": "100MB"}}})
    up = project.start("up")
    assert up.wait(60) == 1
    text = up.output
    held = numbers_after("holding", text)
    assert held and max(held) <= 100 / 1.048576, text  # never beyond 100 MB (95.4 MiB), interpreter included
    assert "memory limit 95.4 MiB exceeded: killed by the kernel" in text, text
    assert re.search(r"hog\s*(⇒|=>) exited \(killed by signal 9", text), text
    died = [event for event in supervisor_events(project, "hog") if event["action"] == "die"]
    assert died and "memory limit 95.4 MiB exceeded" in json.dumps(died[-1]), died


def test_ps_and_env_say_what_holds_each_limit(project):
    project.script("idle.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    project.compose({"idle": {"script": "idle.py", "stop_grace_period": "1s",
                              "resources": {"memory_limit": "100MB", "cpu_limit": 0.5}}})
    env = project.cli("env")
    assert f"resource limits here: {resources.limits_summary()}" in env.stdout, env.stdout + env.stderr
    up = project.cli("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        header, row = project.cli("ps").stdout.splitlines()[:2]
        assert "LIMITS" in header.split()
        assert f"memory 95.4 MiB ({'cgroup' if 'memory' in KERNEL_LIMITS else 'sampled'})" in row, row
        assert ("cpu 0.5 (cgroup)" if "cpu" in KERNEL_LIMITS else "cpu 0.5 (CPU ") in row, row
    finally:
        project.cli("down")
