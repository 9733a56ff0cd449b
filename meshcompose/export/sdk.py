"""Which agents use the MCP Mesh SDK, and which probe endpoints their SDK serves.

An agent uses the SDK when its script imports `mesh` (and no `mesh.py` or
`mesh/` package sits beside the script) or it lists `mcp-mesh` in
`python.packages`. The SDK serves its own Kubernetes endpoints on the agent's
HTTP port: `/livez` (200 while the process serves), `/ready` (the mesh
runtime is up) and, from 3.6.0, `/startupz` (the agent's `startup_check`).
MCP Mesh's agent chart probes exactly these three from 3.6.0 on, and
`/health` for all three before it; the export does the same, for the SDK
version the agent's container has:
- in MCP Mesh's Python runtime image, the version the image is pinned to;
- in the agent's own image, the newest version its `mcp-mesh` requirement
  allows (what an installer picks), so only a requirement that excludes
  every release from 3.6.0 on gets `/health`.
"""

from __future__ import annotations

import ast
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from meshcompose.export import images
from meshcompose.model import Agent, RunKind

if TYPE_CHECKING:
    from packaging.requirements import Requirement

SDK_MODULE = "mesh"
SDK_PACKAGE = "mcp-mesh"
PROBE_PATHS_SINCE = "3.6.0"  # /startupz came in 3.6.0; the chart probes the three paths from then on
AGENT_PORT = 8080  # MCP Mesh's agent chart: agent.http.port, the Service's port
STARTUP_PATH, LIVENESS_PATH, READINESS_PATH = "/startupz", "/livez", "/ready"
LEGACY_PATH = "/health"


@dataclass(frozen=True)
class SdkUse:
    """How one agent uses the SDK."""

    probe_paths: bool  # its SDK version serves /startupz, /livez and /ready

    @property
    def paths(self) -> tuple[str, str, str]:
        """(startup, liveness, readiness) paths."""
        if self.probe_paths:
            return STARTUP_PATH, LIVENESS_PATH, READINESS_PATH
        return LEGACY_PATH, LEGACY_PATH, LEGACY_PATH


def sdk_use(agent: Agent, own_image: bool) -> SdkUse | None:
    """None when the agent does not use the SDK."""
    requirement = _requirement(agent)
    if requirement is None and not imports_sdk(agent):
        return None
    if not own_image:
        return SdkUse(_serves_probe_paths(images.MCP_MESH_VERSION))
    return SdkUse(requirement is None or _allows_probe_paths(requirement))


def imports_sdk(agent: Agent) -> bool:
    if agent.run is not RunKind.SCRIPT:
        return False
    path = Path(agent.target)
    try:
        with open(path, "rb") as file:
            data = file.read(images.CONFIGMAP_LIMIT + 1)
        tree = ast.parse(data)
    except (OSError, SyntaxError, ValueError):
        return False  # reported where the script is placed, if it matters there
    if (path.parent / f"{SDK_MODULE}.py").is_file() or (path.parent / SDK_MODULE / "__init__.py").is_file():
        return False  # `import mesh` means the module beside it
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == SDK_MODULE for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == SDK_MODULE:
            return True
    return False


def _requirement(agent: Agent) -> Requirement | None:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for text in agent.python.packages:
        with contextlib.suppress(InvalidRequirement):
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == SDK_PACKAGE:
                return requirement
    return None


def _serves_probe_paths(version: str) -> bool:
    from packaging.version import Version

    return Version(version) >= Version(PROBE_PATHS_SINCE)


def _allows_probe_paths(requirement: Requirement) -> bool:
    """Whether the requirement allows some release from PROBE_PATHS_SINCE on."""
    from packaging.version import InvalidVersion, Version

    since = Version(PROBE_PATHS_SINCE)
    candidates = {since, Version("9999")}
    for specifier in requirement.specifier:
        with contextlib.suppress(InvalidVersion):
            stated = Version(specifier.version.rstrip(".*"))
            if stated >= since:
                candidates |= {stated, Version(f"{stated.major}.{stated.minor}.{stated.micro + 1}")}
    return any(requirement.specifier.contains(candidate, prereleases=True) for candidate in candidates)
