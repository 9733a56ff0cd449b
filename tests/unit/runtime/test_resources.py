"""The resource watcher's decisions (fake clock and sampler) and its
mechanisms on real processes (tree RSS, the duty cycle, CPU pinning)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import anyio
import psutil
import pytest

from meshcompose.lifecycle import AgentState
from meshcompose.model import Resources
from meshcompose.proc import cgroup, process
from meshcompose.proc import tree as proctree
from meshcompose.runtime import resources, throttle
from meshcompose.runtime.events import AgentStatus

GiB = 1024**3


@pytest.mark.parametrize("limit, available, start, cpus, share, warned", [
    (1, [0, 1], 0, (0,), None, False),
    (1, [0, 1], 1, (1,), None, False),
    (0.5, [0, 1], 0, (0,), 0.5, False),
    (1.5, [0, 1, 2, 3], 3, (0, 3), 0.75, False),
    (1.5, [0, 1], 0, (), 0.75, False),  # both CPUs anyway: only the duty cycle
    (2, [0, 1], 0, (), None, True),  # not below what the machine has
    (4, [0, 1], 0, (), None, True),
])
def test_plan_cpu(limit, available, start, cpus, share, warned):
    plan = resources.plan_cpu(limit, available, start)
    assert plan.cpus == cpus
    assert plan.share == pytest.approx(share) if share else plan.share is None
    assert bool(plan.notes) is warned


def test_plan_cpu_warns_where_a_mechanism_is_missing():
    plan = resources.plan_cpu(0.5, [0, 1], pin=False, duty=False)
    assert plan.cpus == () and plan.share is None
    texts = " ".join(note.text for note in plan.notes)
    assert "cannot pin" in texts and "cannot be throttled" in texts


def test_mechanisms_name_every_limit_and_never_claim_rlimit_as():
    found = resources.mechanisms()
    assert set(found) == {"timeout", "memory_limit", "cpu_limit_whole", "cpu_limit_fraction"}
    kernel = cgroup.offered_limits()
    assert found["memory_limit"].startswith("cgroup: memory.max" if "memory" in kernel else "sampled: summed RSS")
    assert found["cpu_limit_fraction"].startswith("cgroup: cpu.max" if "cpu" in kernel else "SIGSTOP/SIGCONT")
    assert "RLIMIT" not in " ".join(found.values())


def test_the_summary_says_which_mechanism_holds_each_limit(monkeypatch):
    monkeypatch.setattr(cgroup, "offered_limits", lambda: frozenset({"cpu", "memory"}))
    assert resources.limits_summary() == "memory_limit: cgroup memory.max; cpu_limit: cgroup cpu.max"
    monkeypatch.setattr(cgroup, "offered_limits", lambda: frozenset())
    assert resources.limits_summary().startswith("memory_limit: sampled RSS; cpu_limit: affinity and a duty cycle (")


def test_limits_the_cgroup_holds_are_described_so_and_not_sampled():
    limits = Resources(timeout=300, memory_limit=GiB, cpu_limit=0.5)
    assert resources.describe(limits, None, frozenset({"cpu", "memory"})) == \
        "timeout 5m; memory 1.0 GiB (cgroup); cpu 0.5 (cgroup)"
    watcher = resources.ResourceWatcher()
    ident = process.identity(os.getpid())

    async def breach(_breach):
        raise AssertionError("nothing is sampled")

    text, notes = watcher.watch("a", ident, "token", limits, breach, held=frozenset({"cpu", "memory"}))
    assert text == "timeout 5m; memory 1.0 GiB (cgroup); cpu 0.5 (cgroup)"
    assert watcher._memory_watched() == {}  # no sampling of what the kernel holds
    assert watcher._watched["a"].cycle is None  # no duty cycle either
    watcher.unwatch("a")


def test_label_shows_why_a_limit_stopped_the_agent():
    status = AgentStatus("a", AgentState.EXITED, exit_code=-15, message="timeout after 5m")
    assert status.label() == "exited (timeout after 5m)"
    assert AgentStatus("a", AgentState.EXITED, exit_code=1).label() == "exited (1)"


class FakeSampler:
    def __init__(self) -> None:
        self.rss: dict[str, int] = {}
        self.calls = 0

    def sample(self, agents):
        self.calls += 1
        return {name: proctree.TreeUsage(self.rss.get(name, 0), 1) for name in agents}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


IDENT = process.ProcessIdentity(pid=999_999_999, create_time=0.0)  # no such process


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_timeout_and_memory_breaches_are_reported_once():
    clock, sampler = Clock(), FakeSampler()
    watcher = resources.ResourceWatcher(clock=clock, sampler=sampler)
    breaches = []

    async def on_breach(breach):
        breaches.append(breach)

    async with anyio.create_task_group() as tg:
        watcher._tg = tg  # as run() does, without its sleeping loop
        watcher.watch("slow", IDENT, "t1", Resources(timeout=300), on_breach)
        watcher.watch("hog", IDENT, "t2", Resources(memory_limit=GiB), on_breach)
        sampler.rss["hog"] = int(1.2 * GiB)
        clock.now += 299
        watcher._tick()
        assert watcher.watching == ["slow"]  # the hog is over its limit, slow not yet due
        clock.now += 1
        watcher._tick()
        watcher._tick()
        assert watcher.watching == []
    messages = sorted(b.message for b in breaches)
    assert messages == ["memory limit 1.0 GiB exceeded: 1.2 GiB", "timeout after 5m"]


@pytest.mark.anyio
async def test_watcher_loop_delivers_breaches_and_idles_without_limits():
    sampler = FakeSampler()
    watcher = resources.ResourceWatcher(period=0.05, sampler=sampler)
    got = anyio.Event()
    seen = []

    async def on_breach(breach):
        seen.append(breach)
        got.set()

    async with anyio.create_task_group() as tg:
        await tg.start(watcher.run)
        assert watcher._next_delay() == float("inf")  # nothing limited: nothing to do
        sampler.rss["hog"] = 2 * GiB
        watcher.watch("hog", IDENT, "t", Resources(memory_limit=GiB), on_breach)
        with anyio.fail_after(2):
            await got.wait()
        tg.cancel_scope.cancel()
    assert seen[0].message == "memory limit 1.0 GiB exceeded: 2.0 GiB"
    assert sampler.calls == 1


def test_duty_cycle_stops_the_group_part_of_the_time_and_always_resumes_it():
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    ident = process.identity(burner.pid)
    proc = psutil.Process(burner.pid)

    async def throttled() -> tuple[float, set]:
        cycle = throttle.DutyCycle(ident, 0.3, period=0.05)
        states = set()
        before = sum(proc.cpu_times()[:2])
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(cycle.run)
            for _ in range(30):
                await anyio.sleep(0.033)
                states.add(proc.status())
            tg.cancel_scope.cancel()
        share = (sum(proc.cpu_times()[:2]) - before) / (time.monotonic() - start)
        return share, states

    try:
        share, states = anyio.run(throttled)
        assert psutil.STATUS_STOPPED in states
        assert share <= 0.6  # a free burner would use a whole CPU
        time.sleep(0.05)
        assert proc.status() != psutil.STATUS_STOPPED  # cancelled mid-cycle, yet running
    finally:
        process.kill_tree(ident, None)
        burner.wait()


@pytest.mark.skipif(not resources.can_pin() or len(os.sched_getaffinity(0)) < 2, reason="needs affinity and 2 CPUs")
def test_pin_confines_the_process_and_its_threads():
    sleeper = subprocess.Popen([sys.executable, "-c", "import threading, time\n"
                                "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
                                "time.sleep(30)"])
    try:
        time.sleep(0.3)
        resources.pin(sleeper.pid, [1])
        for thread in psutil.Process(sleeper.pid).threads():
            assert os.sched_getaffinity(thread.id) == {1}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_describe_names_each_active_limit():
    limits = Resources(timeout=300, memory_limit=GiB, cpu_limit=0.5)
    text = resources.describe(limits, resources.CpuPlan((1,), 0.5))
    assert text == "timeout 5m; memory 1.0 GiB (sampled); cpu 0.5 (CPU 1, duty cycle 50%)"
    assert resources.describe(Resources(), None) is None
