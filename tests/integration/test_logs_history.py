"""`logs` over a long history: streamed (bounded memory), run separators,
and --since/--until as compose takes them. Real CLI, real files."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from cli_helpers import ProjectDir, _env
from meshcompose.logs.logrecord import utc_timestamp
from meshcompose.privatefiles import private_dir


def _write_history(log_dir: Path, agents: int, megabytes: int) -> None:
    """`megabytes` of records, spread over agents and their rotated files."""
    private_dir(log_dir)  # 0700 with its parents, as mesh-compose makes them
    text = "y" * 150
    per_file = megabytes * 1024 * 1024 // (agents * 4)
    start = time.time() - 86400
    for agent in range(agents):
        for index, name in enumerate([f"a{agent}.log.3", f"a{agent}.log.2", f"a{agent}.log.1", f"a{agent}.log"]):
            with open(log_dir / name, "w") as handle:
                written, line = 0, 0
                while written < per_file:
                    record = f"{utc_timestamp(start + index * 1000 + line * 0.001 + agent * 0.0001)} out {text}\n"
                    handle.write(record)
                    written += len(record)
                    line += 1


def test_logs_of_a_long_history_stream_in_bounded_memory(tmp_path: Path):
    ProjectDir(tmp_path).compose({f"a{n}": {"script": "a.py"} for n in range(3)})
    _write_history(tmp_path / ".mesh-compose" / "t" / "logs", agents=3, megabytes=50)
    measure = ("import resource, subprocess, sys\n"
               "done = subprocess.run([sys.executable, '-m', 'meshcompose', 'logs'], stdout=subprocess.DEVNULL,"
               " stderr=subprocess.PIPE)\n"
               "assert done.returncode == 0, done.stderr\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    run = subprocess.run([sys.executable, "-c", measure], cwd=tmp_path, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    peak_mb = int(run.stdout.strip()) / 1024
    print(f"logs of 50 MB: peak RSS {peak_mb:.1f} MB")
    assert peak_mb < 100, f"logs peaked at {peak_mb:.0f} MB RSS for 50 MB of logs"


def test_logs_shows_a_separator_per_run_and_since_until(project: ProjectDir):
    project.script("hello.py", "import os\nprint('hello', os.environ.get('RUN'), flush=True)\n")
    project.compose({"hello": {"script": "hello.py"}})
    first = project.cli("up")
    assert first.returncode == 0, first.stdout + first.stderr
    time.sleep(1.2)
    between = utc_timestamp()
    time.sleep(1.2)
    second = project.cli("up")
    assert second.returncode == 0, second.stdout + second.stderr
    shown = project.cli("logs")
    assert shown.returncode == 0, shown.stderr
    rules = [line for line in shown.stdout.splitlines() if "──── run started " in line]
    assert len(rules) == 2, shown.stdout
    assert "(pid " in rules[0] and rules[0].rstrip().endswith("────")
    assert shown.stdout.count("hello None") == 2, shown.stdout
    since = project.cli("logs", "--since", between)
    assert since.returncode == 0 and since.stdout.count("hello None") == 1 and "run started" in since.stdout
    until = project.cli("logs", "--until", between)
    assert until.returncode == 0 and until.stdout.count("hello None") == 1, until.stdout
    recent = project.cli("logs", "--since", "1h30m")
    assert recent.returncode == 0 and recent.stdout.count("hello None") == 2, recent.stdout
    nothing = project.cli("logs", "--since", "2099-01-01T00:00:00Z")
    assert nothing.returncode == 0 and "hello" not in nothing.stdout
    bad = project.cli("logs", "--since", "yesterday")
    assert bad.returncode == 2 and "not a time" in bad.stderr and "Traceback" not in bad.stderr


def test_logs_follow_ends_when_every_agent_has_ended(project: ProjectDir):
    """As compose's `logs -f`: it returns once the agents it follows have
    ended, with their last lines, instead of following a finished project."""
    project.script("brief.py", "import time\nprint('first', flush=True)\ntime.sleep(1.5)\n"
                               "print('last words', flush=True)\n")
    project.compose({"brief": {"script": "brief.py"}, "other": {"script": "brief.py"}})
    assert project.cli("up", "-d").returncode == 0
    try:
        follow = subprocess.run([sys.executable, "-m", "meshcompose", "logs", "-f", "--no-log-prefix", "brief"],
                                cwd=project.root, env=_env(), capture_output=True, text=True, timeout=60)
        assert follow.returncode == 0, follow.stderr
        assert follow.stdout.splitlines()[-1] == "last words"
    finally:
        assert project.cli("down").returncode == 0
