"""Which image runs each agent, and how its code gets there.

MCP Mesh publishes, for every release, `mcpmesh/registry:<version>` (the Go
registry: ENTRYPOINT the binary, CMD `--host 0.0.0.0 --port 8000`, SQLite
under /data) and `mcpmesh/python-runtime:<version>` (python:3.11-slim with
`mcp-mesh==<version>` installed, ENTRYPOINT `python`, WORKDIR /app, user
999). Sources: the repository's helm/mcp-mesh-registry/values.yaml and
helm/mcp-mesh-agent/values.yaml (image.repository), packaging/docker/*.Dockerfile
and the release workflow's tags. The version is pinned to the SDK this
project tests against (scripts/install-mesh.sh), never `latest`.

An agent runs either
- in its own image (`x-kubernetes.image` or `--image`), which holds the
  project directory at `workdir` (default /app) and the agent's packages; or
- by default in a base image, its script mounted from a ConfigMap at
  /app/agent, the way MCP Mesh's agent chart mounts `agentCode`. The base
  image is MCP Mesh's Python runtime for an agent that uses the SDK, and the
  official `python:X.Y-slim` for any other: the Python version the agent's
  interpreter names (`python3.12`), else the newest one `python.requires`
  allows. Never the local interpreter's: the same file exports the same
  manifests on every machine.
  That stops working when the script is over the ConfigMap limit (1 MiB),
  imports modules that sit beside it, or needs packages the image lacks.
"""

from __future__ import annotations

import ast
import contextlib
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from meshcompose.export.options import ExportError, Warn
from meshcompose.model import Agent, Project, RunKind

MCP_MESH_VERSION = "3.7.1"
REGISTRY_IMAGE = f"mcpmesh/registry:{MCP_MESH_VERSION}"
PYTHON_RUNTIME_IMAGE = f"mcpmesh/python-runtime:{MCP_MESH_VERSION}"
RUNTIME_PYTHON = "3.11"  # the runtime image's base: python:3.11-slim
RUNTIME_PACKAGES = ("mcp-mesh",)
# The CPython versions with a maintained python:X.Y-slim image, newest first.
SLIM_PYTHONS = ("3.13", "3.12", "3.11", "3.10", "3.9")
SCRIPT_MOUNT = "/app/agent"
DEFAULT_WORKDIR = "/app"
CONFIGMAP_LIMIT = 1024 * 1024  # the API server rejects a ConfigMap whose data is larger


@dataclass(frozen=True)
class Placement:
    image: str
    command: tuple[str, ...]
    working_dir: str | None  # None: the image's own WORKDIR
    script: tuple[str, str] | None  # (file name, source) mounted from a ConfigMap, or None


def place(project: Project, agent: Agent, image: str | None, uses_sdk: bool, warn: Warn) -> Placement:
    """The image, argv and files of `agent`'s container."""
    if agent.interpreter:
        warn(f"agents.{agent.name}.interpreter", "the container runs the image's `python`")
    elif project.interpreter and agent.is_python:
        warn("python.interpreter", "every container runs its image's `python`")
    if image:
        return _in_own_image(project, agent, image, warn)
    if uses_sdk:
        _check_runtime_python(agent, warn)
        return _in_base_image(project, agent, PYTHON_RUNTIME_IMAGE, warn)
    base = python_image(project, agent, warn)
    if agent.python.packages:
        warn(f"agents.{agent.name}.python.packages", f"{', '.join(agent.python.packages)}: {base} has only the "
             "standard library; an agent that needs packages needs its own image: build one that installs them "
             "and set x-kubernetes.image (or --image)")
    return _in_base_image(project, agent, base, warn)


def python_image(project: Project, agent: Agent, warn: Warn) -> str:
    """python:X.Y-slim for the version the interpreter names, else the newest `python.requires` allows."""
    from packaging.specifiers import SpecifierSet

    named = re.search(r"python(3\.\d+)$", agent.interpreter or project.interpreter or "")
    if named:
        return f"python:{named.group(1)}-slim"
    allowed = SpecifierSet(agent.python.requires)
    for version in SLIM_PYTHONS:
        if any(allowed.contains(f"{version}.{patch}") for patch in range(30)):
            return f"python:{version}-slim"
    warn(f"agents.{agent.name}.python.requires", f"{agent.python.requires!r} allows none of Python "
         f"{', '.join(SLIM_PYTHONS)}; the agent runs in python:{SLIM_PYTHONS[0]}-slim")
    return f"python:{SLIM_PYTHONS[0]}-slim"


def _in_own_image(project: Project, agent: Agent, image: str, warn: Warn) -> Placement:
    workdir = str(agent.extensions.get("x-kubernetes", {}).get("workdir") or DEFAULT_WORKDIR)
    cwd = posixpath.normpath(posixpath.join(workdir, _relative(project, agent, agent.working_dir, "working_dir")))
    if agent.run is RunKind.SCRIPT:
        script = posixpath.join(workdir, _relative(project, agent, Path(agent.target), "script"))
        return Placement(image, ("python", "-u", script, *agent.args), cwd, None)
    return Placement(image, _argv(agent), cwd, None)


def _in_base_image(project: Project, agent: Agent, image: str, warn: Warn) -> Placement:
    where = f"agents.{agent.name}"
    if agent.working_dir != project.directory:
        warn(f"{where}.working_dir", f"{image} has no project directory; the agent runs in /app "
             "(set x-kubernetes.image to an image that holds the project)")
    if agent.run is not RunKind.SCRIPT:
        what = "a module" if agent.run is RunKind.MODULE else "a command"
        warn(where, f"runs {what}, which {image} does not contain unless a package installs it: set "
             "x-kubernetes.image (or --image) to an image that has it")
        return Placement(image, _argv(agent), None, None)
    path = Path(agent.target)
    source = _read_script(agent, path)
    for module in local_imports(source, path.parent):
        warn(f"{where}.script", f"imports '{module}', which sits beside the script and is not in the ConfigMap: "
             "set x-kubernetes.image to an image that holds the project")
    command = ("python", "-u", posixpath.join(SCRIPT_MOUNT, path.name), *agent.args)
    return Placement(image, command, None, (path.name, source))


def _argv(agent: Agent) -> tuple[str, ...]:
    if agent.run is RunKind.MODULE:
        return ("python", "-u", "-m", agent.target, *agent.args)
    if agent.run is RunKind.SCRIPT:
        return ("python", "-u", agent.target, *agent.args)
    return (*agent.command, *agent.args)


def _relative(project: Project, agent: Agent, path: Path, key: str) -> str:
    try:
        return path.relative_to(project.directory).as_posix()
    except ValueError:
        raise ExportError(f"agents.{agent.name}.{key}: {path} is outside the project directory, so it cannot "
                          "be found in the agent's image") from None


def _read_script(agent: Agent, path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ExportError(f"agents.{agent.name}.script: cannot read {path}: {error.strerror or error}") from None
    if len(data) > CONFIGMAP_LIMIT - 1024:
        raise ExportError(
            f"agents.{agent.name}.script: {path.name} is {len(data)} bytes, over the 1 MiB a ConfigMap can hold",
            hint="set x-kubernetes.image (or --image) to an image that contains the project")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExportError(f"agents.{agent.name}.script: {path.name} is not UTF-8 text") from None


def local_imports(source: str, directory: Path) -> list[str]:
    """Top-level modules `source` imports that are files or packages in `directory`, sorted."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.add("." * node.level + (node.module or ""))
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        for name in names:
            top = name.split(".")[0]
            if (directory / f"{top}.py").is_file() or (directory / top / "__init__.py").is_file():
                found.add(top)
    return sorted(found)


def _check_runtime_python(agent: Agent, warn: Warn) -> None:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name

    where = f"agents.{agent.name}.python"
    if not SpecifierSet(agent.python.requires).contains(RUNTIME_PYTHON + ".0"):
        warn(f"{where}.requires", f"{agent.python.requires!r} excludes the runtime image's Python {RUNTIME_PYTHON}")
    missing: Sequence[str] = []
    with contextlib.suppress(InvalidRequirement):
        requirements = {text: Requirement(text) for text in agent.python.packages}
        missing = [text for text, r in requirements.items() if canonicalize_name(r.name) not in RUNTIME_PACKAGES]
        for text, requirement in requirements.items():
            if text not in missing and not requirement.specifier.contains(MCP_MESH_VERSION, prereleases=True):
                warn(f"{where}.packages", f"{text} excludes the runtime image's mcp-mesh {MCP_MESH_VERSION}: "
                     "set x-kubernetes.image to an image that installs the version you need")
    if missing:
        warn(f"{where}.packages", f"{', '.join(missing)} not in the runtime image (it has mcp-mesh and its "
             "dependencies): set x-kubernetes.image to an image that installs them")
