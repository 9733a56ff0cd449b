"""`mesh-compose logs` through the real CLI, on hand-written log files."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

A = "2024-05-01T12:00:0{}.000000Z"


def write_log(path: Path, *records: str) -> None:
    from meshcompose.privatefiles import private_dir

    private_dir(path.parent)  # 0700 with its parents, as mesh-compose makes them
    with open(path, "a") as f:
        f.write("".join(r + "\n" for r in records))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mesh-compose.yaml").write_text("name: demo\nagents: {}\n")
    logs = tmp_path / ".mesh-compose" / "demo" / "logs"
    write_log(logs / "api.log.1", f"{A.format(0)} out api zero")
    write_log(logs / "api.log", f"{A.format(2)} out api two", f"{A.format(4)} err api four")
    write_log(logs / "worker.log", f"{A.format(1)} out worker one", f"{A.format(3)} out worker three")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    return tmp_path


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def logs(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshcompose", "logs", *args], cwd=cwd, env=environment(),
                          capture_output=True, text=True, timeout=60)


def test_agents_are_interleaved_by_time_including_rotated_files(project: Path):
    result = logs(project / "deep" / "er")  # found by searching upwards
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "api    | api zero", "worker | worker one", "api    | api two", "worker | worker three",
        "api    | api four"]


def test_tail_is_per_agent_and_spans_rotation(project: Path):
    assert logs(project, "-n", "1").stdout.splitlines() == ["worker | worker three", "api    | api four"]
    assert logs(project, "--tail", "3", "api").stdout.splitlines() == [
        "api | api zero", "api | api two", "api | api four"]


def test_timestamps_no_prefix_and_the_file_option(project: Path, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = logs(elsewhere, "--file", str(project / "mesh-compose.yaml"), "-t", "--no-log-prefix", "worker")
    assert result.stdout.splitlines() == [f"{A.format(1)} worker one", f"{A.format(3)} worker three"]


def test_colour_when_forced(project: Path):
    env = {**environment(), "FORCE_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", "meshcompose", "logs", "worker"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60)
    assert "\x1b[" in result.stdout
    plain = subprocess.run([sys.executable, "-m", "meshcompose", "logs", "--no-color", "worker"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=60)
    assert "\x1b[" not in plain.stdout


def test_unknown_agent_no_logs_and_no_project(project: Path, tmp_path_factory):
    result = logs(project, "nope")
    assert result.returncode == 1
    assert "no logs for agent 'nope'" in result.stderr and "api, worker" in result.stderr
    empty = tmp_path_factory.mktemp("empty")
    (empty / "mesh-compose.yml").write_text("agents: {}\n")
    result = logs(empty)
    assert result.returncode == 0 and "no logs yet" in result.stderr and result.stdout == ""
    result = logs(tmp_path_factory.mktemp("none"))
    assert result.returncode == 3 and "no mesh-compose.yaml found" in result.stderr
    assert "Traceback" not in result.stderr
    assert logs(project, "-n", "lots").returncode == 2


class LineReader:
    """Reads a child's stdout lines in a thread, so waits can time out."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def take(self, count: int, timeout: float = 15) -> list[str]:
        return [self.lines.get(timeout=timeout) for _ in range(count)]


def test_follow_picks_up_appends_rotation_and_new_agents_until_ctrl_c(project: Path):
    log_dir = project / ".mesh-compose" / "demo" / "logs"
    child = subprocess.Popen([sys.executable, "-m", "meshcompose", "logs", "-f", "-n", "1"], cwd=project,
                             env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reader = LineReader(child.stdout)
        assert reader.take(2) == ["worker | worker three", "api    | api four"]
        write_log(log_dir / "worker.log", f"{A.format(5)} out worker five")
        assert reader.take(1) == ["worker | worker five"]
        os.replace(log_dir / "api.log", log_dir / "api.log.1")
        write_log(log_dir / "api.log", f"{A.format(6)} out api after rotation")
        assert reader.take(1) == ["api    | api after rotation"]
        write_log(log_dir / "newcomer.log", f"{A.format(7)} err hello")
        assert reader.take(1) == ["newcomer | hello"]
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=15) == 0
        assert "Traceback" not in child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


def test_logs_does_not_load_the_configuration_machinery(project: Path):
    """`logs` must stay fast and work when the project file is invalid."""
    (project / "mesh-compose.yaml").write_text("name: demo\nagents: [this is: not valid\n")
    code = ("import sys\nfrom meshcompose.cli.main import main\nrc = main(['logs', '-n', '1', 'api'])\n"
            "print(sorted(m for m in ('networkx', 'jsonschema', 'yaml') if m in sys.modules))\nsys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=project, env=environment(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["api | api four", "[]"]
