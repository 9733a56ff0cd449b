"""Installing missing packages into an interpreter, and creating a project .venv.

The decision to install is made by the caller (the CLI asks); this module
only does it and reports progress through a callback `progress(subject,
status)`: per requirement "installing", then "installed" or "failed"; and,
as the installer writes them, its own progress lines (status "step", the
line as subject: pip's "Collecting X", "Downloading X (1.2 MB)",
"Successfully installed ..."; uv's "Resolved N packages", " + x==1.0").
The installer's output is read line by line while it runs and kept whole
for the error. It never prints.

`uv pip install --python X` is used when uv is on PATH (fast, works in a
venv without pip), else `X -m pip install`; a venv without pip gets
`ensurepip` first. Extra index arguments (e.g. `--no-index --find-links
DIR`) are passed to either tool unchanged.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from meshcompose.errors import ExternallyManagedError, InstallError

Progress = Callable[[str, str], None]
INSTALLING, INSTALLED, FAILED, STEP = "installing", "installed", "failed", "step"

# The lines of pip and uv that say what the install is doing, in their wording.
_STEP_LINE = re.compile(
    r"^\s*(?:Collecting |Processing |Downloading |Using cached |Building wheels? |"
    r"Installing collected packages: |Successfully installed |"  # pip (Downloading indented under Collecting)
    r"(?:Resolved|Prepared|Installed|Uninstalled|Audited) \d+ packages? |Downloaded |[+~-] \S)"  # uv
)

_EXTERNALLY_MANAGED = re.compile(r"externally[- ]managed", re.I)
_UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Network is unreachable|"
    r"Temporary failure in name resolution|Name or service not known|dns error|"
    r"error sending request|Failed to fetch|Could not fetch URL|ConnectTimeout|ProxyError",
    re.I,
)
_NOT_FOUND = re.compile(
    r"No matching distribution found|Could not find a version that satisfies|"
    r"No solution found|not found in the package registry|was not found in the provided package locations",
    re.I,
)
_NO_PIP = re.compile(r"No module named pip\b", re.I)


def find_uv() -> str | None:
    return shutil.which("uv")


def choose_tool(tool: str | None = None) -> str:
    """"uv" when asked for or available, else "pip"."""
    if tool in ("uv", "pip"):
        return tool
    return "uv" if find_uv() else "pip"


def install_command(executable: str, requirements: Sequence[str], *, index_args: Sequence[str] = (),
                    tool: str | None = None) -> list[str]:
    """The exact argv that installs `requirements` into `executable`."""
    if choose_tool(tool) == "uv":
        return [find_uv() or "uv", "pip", "install", "--python", executable, *index_args, *requirements]
    return [executable, "-m", "pip", "install", "--disable-pip-version-check", *index_args, *requirements]


def format_command(argv: Sequence[str]) -> str:
    return shlex.join(list(argv))


def _environment() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUNBUFFERED"] = "1"  # pip's lines as it writes them, not when a pipe buffer fills
    return env


def step_line(line: str) -> str | None:
    """The installer's output `line` as a progress step, or None if it is not one."""
    return line.rstrip() if _STEP_LINE.match(line) else None


def _stream(argv: Sequence[str], progress: Progress | None) -> tuple[int, str]:
    """Runs `argv`, telling its progress lines as they come; (exit code, whole output).
    An interrupted install (Ctrl+C) leaves no installer behind."""
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", env=_environment())
    except OSError as error:
        raise InstallError(f"could not run {argv[0]}: {error.strerror or error}") from None
    output: list[str] = []
    with proc:
        try:
            assert proc.stdout is not None  # asked for a pipe
            for line in proc.stdout:
                output.append(line)
                step = step_line(line)
                if step is not None and progress is not None:
                    progress(step, STEP)
        except BaseException:
            proc.kill()
            raise
    return proc.returncode, "".join(output)


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", env=_environment())
    except OSError as error:
        raise InstallError(f"could not run {argv[0]}: {error.strerror or error}") from None


def _notify(progress: Progress | None, requirements: Sequence[str], status: str) -> None:
    if progress is not None:
        for requirement in requirements:
            progress(requirement, status)


def _failure(executable: str, requirements: Sequence[str], argv: Sequence[str], output: str) -> InstallError:
    """Turn the tool's output into the error a user can act on."""
    what = ", ".join(requirements)
    if _EXTERNALLY_MANAGED.search(output):
        return ExternallyManagedError(
            f"{executable} is an externally managed system Python (PEP 668); it refuses to install {what}",
            output, hint="create a virtual environment instead: choose `v` at the prompt, or run "
                         f"`{executable} -m venv .venv` in the project directory and install there",
        )
    if _UNREACHABLE.search(output):
        return InstallError(f"the package index is unreachable while installing {what}", output,
                            hint="check the network or proxy, or point pip at a local index "
                                 "(MESH_COMPOSE_PIP_ARGS='--no-index --find-links DIR')")
    if _NOT_FOUND.search(output):
        return InstallError(f"no installable distribution found for {what}", output,
                            hint="check the package names and versions in `packages:`")
    return InstallError(f"installing {what} into {executable} failed", output,
                        hint=f"the command was: {format_command(argv)}")


def _pip_diagnosis(argv: Sequence[str], output: str) -> str:
    """pip logs an unreachable index only at -vv and then says "from versions: none"; ask it again."""
    if "from versions: none" not in output or argv[1:3] != ["-m", "pip"]:
        return ""
    done = _run([*argv[:4], "-vv", *argv[4:]])
    found = [line for line in (done.stdout + done.stderr).splitlines() if _UNREACHABLE.search(line)]
    return "\n" + "\n".join(found[:5]) if found else ""


def _ensure_pip(executable: str) -> None:
    done = _run([executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
    if done.returncode != 0:
        raise InstallError(f"{executable} has no pip, and ensurepip failed", done.stdout + done.stderr,
                           hint="install uv (`pip install uv`), or recreate the venv with pip")


# PEP 668: a system interpreter (not a venv) whose standard library holds this
# file must not be installed into; its path, or nothing.
_MARKER_SCRIPT = (
    "import os, sys, sysconfig\n"
    "marker = os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')\n"
    "if sys.prefix == getattr(sys, 'base_prefix', sys.prefix) and os.path.isfile(marker):\n"
    "    print(marker)\n"
)


def externally_managed(executable: str) -> str | None:
    """The EXTERNALLY-MANAGED marker that forbids installing into `executable`, if any."""
    done = _run([executable, "-I", "-c", _MARKER_SCRIPT])
    return done.stdout.strip() or None if done.returncode == 0 else None


def install_packages(executable: str, requirements: Sequence[str], *, progress: Progress | None = None,
                     index_args: Sequence[str] = (), tool: str | None = None) -> None:
    """Install `requirements` into `executable`; raises InstallError with the
    tool's output on failure. An externally managed interpreter is refused
    before any installer runs."""
    if not requirements:
        return
    marker = externally_managed(executable)
    if marker is not None:
        raise ExternallyManagedError(
            f"{executable} is an externally managed system Python (PEP 668: {marker}); "
            f"mesh-compose does not install {', '.join(requirements)} into it",
            hint="use a virtual environment: let mesh-compose create the project's .venv (the prompt's `v`, or "
                 f"--install when the interpreter was not named), or run `{executable} -m venv .venv` and "
                 "point `python.interpreter` at it")
    _notify(progress, requirements, INSTALLING)
    argv = install_command(executable, requirements, index_args=index_args, tool=tool)
    code, output = _stream(argv, progress)
    if code != 0 and choose_tool(tool) == "pip" and _NO_PIP.search(output):
        _ensure_pip(executable)
        code, output = _stream(argv, progress)
    if code != 0:
        _notify(progress, requirements, FAILED)
        raise _failure(executable, requirements, argv, output + _pip_diagnosis(argv, output))
    _notify(progress, requirements, INSTALLED)


def venv_interpreter(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def venv_command(venv: Path, base_executable: str, *, tool: str | None = None) -> list[str]:
    """The exact argv that creates the virtual environment `venv` from `base_executable`."""
    if choose_tool(tool) == "uv":
        return [find_uv() or "uv", "venv", "--quiet", "--python", base_executable, str(venv)]
    return [base_executable, "-m", "venv", str(venv)]


def venv_install_commands(project_dir: Path, base_executable: str, requirements: Sequence[str], *,
                          index_args: Sequence[str] = (), tool: str | None = None) -> list[list[str]]:
    """What the default choice does, as commands: create the project's .venv, install there."""
    venv = Path(project_dir) / ".venv"
    return [venv_command(venv, base_executable, tool=tool),
            install_command(str(venv_interpreter(venv)), requirements, index_args=index_args, tool=tool)]


def create_venv(project_dir: Path, base_executable: str, *, tool: str | None = None) -> str:
    """Create `<project_dir>/.venv` from `base_executable`; returns its interpreter path."""
    venv = Path(project_dir) / ".venv"
    interpreter = venv_interpreter(venv)
    if interpreter.is_file():
        return str(interpreter)
    argv = venv_command(venv, base_executable, tool=tool)
    done = _run(argv)
    if done.returncode != 0 or not interpreter.is_file():
        raise InstallError(f"could not create a virtual environment in {venv}", done.stdout + done.stderr,
                           hint=f"the command was: {format_command(argv)}")
    return str(interpreter)
