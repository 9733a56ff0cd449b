"""The run plan: everything a supervisor needs, decided once by `up`.

`up` loads the project, selects the agents, settles their interpreters
(probes, the install prompt), decides about the MCP Mesh registry and builds
every launch spec. The result is this frozen value. The foreground `up`
hands it to the supervisor in the same process; `up -d` writes it to
`.mesh-compose/run-plan.json` and starts `python -m meshcompose.app.detach
PLAN`, which reads it back and never looks at the project file or probes an
interpreter again: what was planned is what runs, even if the file changes
or disappears in between.

The file is versioned JSON, written atomically with mode 0600 (launch
environments may hold secrets). Reading checks the version and every field,
so a damaged or foreign file is a `RunPlanError` that says what is wrong.
Imports stay light (no jsonschema, networkx or anyio).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from meshcompose import __version__
from meshcompose.errors import MeshComposeError
from meshcompose.model import Project
from meshcompose.plan import codec
from meshcompose.plan.launch import LaunchSpec
from meshcompose.privatefiles import DamagedFileError, read_bounded, write_atomic

PLAN_VERSION = 1
MAX_PLAN_BYTES = 64 << 20  # fifty agents with large environments stay far below
PLAN_KIND = "mesh-compose run plan"
_HINT = "it is written by `mesh-compose up`; run `mesh-compose up -d` again"


class RunPlanError(MeshComposeError):
    """A run plan file that cannot be used: missing, corrupt, or from another version."""


@dataclass(frozen=True)
class WatchSettings:
    """`--watch`: what the supervisor needs to settle an agent's packages
    again on a `rebuild` change, as `up` did (it never sees the command line)."""

    install: str = "ask"  # InstallPolicy's word; a detached supervisor has nobody to ask
    index_args: tuple[str, ...] = ()  # --index-url, --find-links, as given to `up`
    log_level: str = "INFO"  # MCP_MESH_LOG_LEVEL of the rebuilt launch spec


@dataclass(frozen=True)
class RunSettings:
    """How the run behaves, from `up`'s options."""

    abort_on_exit: bool = False
    exit_code_from: Optional[str] = None
    stop_timeout: Optional[float] = None  # -t: overrides every stop_grace_period
    watch: Optional[WatchSettings] = None  # --watch; None: not watching


@dataclass(frozen=True)
class RunPlan:
    # The model the supervisor runs: with the managed registry agent, when
    # there is one, already added and depended on.
    project: Project
    selected: tuple[str, ...]  # what to start, in the order `up` selected it
    launches: Mapping[str, LaunchSpec]  # argv, cwd, env and interpreter of every selected agent
    registry_url: str  # where `registered` conditions and registry healthchecks look
    # Recorded in the state file for `ps` and for agents started later (`start NAME`);
    # None when the run does not involve a registry.
    published_registry_url: Optional[str] = None
    settings: RunSettings = field(default_factory=RunSettings)
    # Where SDK agents publish trace spans (REDIS_URL, password included), for
    # `traces` and for agents started later; None: tracing is off.
    tracing_url: Optional[str] = None


def dumps(plan: RunPlan) -> str:
    document = {"kind": PLAN_KIND, "version": PLAN_VERSION, "written_by": __version__,
                "written_at": time.time(), "plan": codec.encode(plan)}
    return json.dumps(document) + "\n"


def loads(text: str, source: str = "the run plan") -> RunPlan:
    """The plan in `text`; RunPlanError naming `source` and the problem."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise RunPlanError(f"{source} is corrupt (not JSON: {error})", hint=_HINT) from None
    except RecursionError:
        raise RunPlanError(f"{source} is corrupt (nested too deep)", hint=_HINT) from None
    _check_envelope(document, source)
    try:
        return codec.decode(RunPlan, document["plan"], "plan")
    except codec.DecodeError as error:
        raise RunPlanError(f"{source} is invalid at {error}", hint=_HINT) from None


def _check_envelope(document: Any, source: str) -> None:
    if not isinstance(document, dict) or document.get("kind") != PLAN_KIND:
        raise RunPlanError(f"{source} is not a mesh-compose run plan", hint=_HINT)
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RunPlanError(f"{source} is corrupt (no valid version)", hint=_HINT)
    if version > PLAN_VERSION:
        raise RunPlanError(
            f"{source} was written by a newer mesh-compose ({document.get('written_by', '?')}, "
            f"plan format {version}; this one reads format {PLAN_VERSION})",
            hint="start the project with the mesh-compose that planned it, or upgrade this one")
    if "plan" not in document:
        raise RunPlanError(f"{source} is corrupt (no plan)", hint=_HINT)


def write(plan: RunPlan, path: Path) -> Path:
    """Writes the plan to `path` (atomically, 0600); returns the path."""
    write_atomic(path, dumps(plan))
    return path


def read(path: Path) -> RunPlan:
    try:
        data = read_bounded(path, MAX_PLAN_BYTES)
        assert data is not None  # missing_ok is off
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise RunPlanError(f"no run plan at {path}", hint=_HINT) from None
    except DamagedFileError as error:
        raise RunPlanError(error.message, hint=_HINT) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RunPlanError(f"cannot read the run plan {path}: {error}", hint=_HINT) from None
    return loads(text, f"the run plan {path}")
