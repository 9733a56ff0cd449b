"""The peer tools: honcho, supervisord and circus in the harness's own venv, pm2 beside it.

The Python peers are installed from PyPI into `benchmarks/.work/peers/`
(gitignored) with the same interpreter that runs the benchmark, so every tool
starts its agents with the same Python. pm2 comes from the npm registry into
`benchmarks/.work/pm2/` (a local `npm install --prefix`, never a global one;
its install scripts are not run). Nothing in the test suite uses either.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
VENV = WORK / "peers"
NODE_PREFIX = WORK / "pm2"
# supervisor still imports pkg_resources, which newer setuptools dropped.
REQUIREMENTS = ("honcho", "supervisor", "circus", "setuptools<81")
NODE_REQUIREMENTS = ("pm2",)
PYTHON_PEERS = ("honcho", "supervisor", "circus")


@dataclass(frozen=True)
class Peers:
    """Executables of the installed peers; a missing tool maps to None with a note."""

    honcho: Path | None
    supervisord: Path | None
    supervisorctl: Path | None
    circusd: Path | None
    pm2_runtime: Path | None
    notes: dict[str, str]


def ensure_peers(log: Path | None = None) -> Peers:
    """Create the venv and install the peers once; later runs reuse them."""
    notes: dict[str, str] = {}
    try:
        _ensure_venv()
        if not _installed():
            _pip_install(log)
    except (OSError, subprocess.CalledProcessError) as error:
        note = f"could not install the peers into {VENV}: {error}"
        notes.update(honcho=note, supervisord=note, circus=note)
    try:
        if not _pm2_runtime().exists():
            _npm_install(log.with_name("npm.log") if log is not None else None)
    except (OSError, subprocess.SubprocessError) as error:
        notes["pm2"] = f"could not install pm2 into {NODE_PREFIX} with npm: {error}"
    pm2 = _pm2_runtime() if _pm2_runtime().exists() else None
    if pm2 is None:
        notes.setdefault("pm2", f"pm2-runtime is not installed in {NODE_PREFIX}")
    return Peers(
        honcho=_executable("honcho", notes, "honcho"),
        supervisord=_executable("supervisord", notes, "supervisord"),
        supervisorctl=_executable("supervisorctl", notes, "supervisord"),
        circusd=_executable("circusd", notes, "circus"),
        pm2_runtime=pm2,
        notes=notes,
    )


def compile_mesh_compose() -> None:
    """Byte-compile mesh-compose's package, as pip does when it installs a wheel.

    The peers are installed by pip, so their modules load from .pyc files. A
    checkout installed with `pip install -e` gets its .pyc only when Python
    may write them, and with PYTHONDONTWRITEBYTECODE set (as on CI machines)
    every run would compile every module from source: a handicap no installed
    mesh-compose has. `base_env` also drops that variable for every tool."""
    import compileall

    import meshcompose

    compileall.compile_dir(str(Path(meshcompose.__file__).parent), quiet=1)


def peer_versions() -> dict[str, str]:
    """Installed versions, for the report."""
    import json

    code = ("import importlib.metadata as m, json; "
            f"print(json.dumps({{n: m.version(n) for n in {PYTHON_PEERS!r}}}))")
    versions: dict[str, str] = {}
    try:
        out = subprocess.run([str(_bin("python")), "-c", code], capture_output=True, text=True, timeout=30)
        versions.update(json.loads(out.stdout) if out.returncode == 0 else {})
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    try:
        manifest = NODE_PREFIX / "node_modules" / "pm2" / "package.json"
        versions["pm2"] = str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        pass
    return versions


def _ensure_venv() -> None:
    if _bin("python").exists():
        return
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)


def _installed() -> bool:
    return all(_bin(name).exists() for name in ("honcho", "supervisord", "supervisorctl", "circusd"))


def _pip_install(log: Path | None) -> None:
    command = [str(_bin("python")), "-m", "pip", "install", "--disable-pip-version-check", "-q", *REQUIREMENTS]
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    result.check_returncode()


def _npm_install(log: Path | None) -> None:
    """pm2 from the npm registry into our own prefix: no global install, no install scripts."""
    npm = shutil.which("npm")
    if npm is None:
        raise OSError("npm is not on PATH")
    NODE_PREFIX.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund", "--ignore-scripts",
               *NODE_REQUIREMENTS]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=NODE_PREFIX)
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    result.check_returncode()


def _pm2_runtime() -> Path:
    return NODE_PREFIX / "node_modules" / ".bin" / "pm2-runtime"


def _executable(name: str, notes: dict[str, str], tool: str) -> Path | None:
    path = _bin(name)
    if path.exists():
        return path
    notes.setdefault(tool, f"{name} is not installed in {VENV}")
    return None


def _bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


if __name__ == "__main__":
    peers = ensure_peers()
    print(peers)
    print(peer_versions())
