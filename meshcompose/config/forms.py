"""Other input shapes mapped onto the mesh-compose document, and short forms made long.

Marks move with the values, so a problem found later still points at the
line the user wrote, even when the key was renamed (`working_directory` in a
single-agent YAML is `working_dir` here).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from meshcompose.config.yamlload import Loaded, Mark, Path_, dotted
from meshcompose.errors import Problem
from meshcompose.names import PROJECT_NAME_MAX

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SINGLE_AGENT_KEYS = {"script": "script", "working_directory": "working_dir", "python_interpreter": "interpreter"}
_SINGLE_AGENT_TOP_KEYS = ("agent", "environment", "metadata", "resources")
_RUN_KINDS = ("script", "module", "command")
_HEALTH_KINDS = ("http", "tcp", "cmd", "log", "registry")


def name_from(text: str, fallback: str = "agent") -> str:
    """A valid project/agent name from a file or directory name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:PROJECT_NAME_MAX].strip("-._")
    return cleaned if cleaned and NAME_PATTERN.match(cleaned) else fallback


def from_python_file(path: Path) -> Loaded:
    """A bare agent.py: a one-agent project named after the file."""
    name = name_from(path.stem)
    mark = Mark(str(path), 0, 0)
    data = {"name": name, "agents": {name: {"script": str(path)}}}
    marks = {(): mark, ("agents",): mark, ("agents", name): mark, ("agents", name, "script"): mark}
    return Loaded(data, marks)


def from_single_agent_yaml(loaded: Loaded, path: Path) -> Loaded:
    """The legacy single-agent YAML as a one-agent mesh-compose document."""
    source, file = loaded.data, str(path)
    result = Loaded(None, {(): loaded.marks[()]})
    for key in source:
        if key not in _SINGLE_AGENT_TOP_KEYS and not str(key).startswith("x-"):
            allowed = ", ".join(_SINGLE_AGENT_TOP_KEYS)
            _single_agent_problem(result, loaded, (key,),
                                  f"unknown key '{key}' in a single-agent file; allowed: {allowed}")
    agent = source.get("agent")
    if not isinstance(agent, dict):
        _single_agent_problem(result, loaded, ("agent",), "expected a map with `script:`")
        return result
    for key in agent:
        if key not in _SINGLE_AGENT_KEYS:
            _single_agent_problem(result, loaded, ("agent", key),
                                  f"unknown key '{key}'; allowed: {', '.join(_SINGLE_AGENT_KEYS)}")
    if "script" not in agent:
        _single_agent_problem(result, loaded, ("agent",), "missing `script:` (the agent's .py file)")
    if result.problems:
        return result
    name = _single_agent_name(source, path)
    base: Path_ = ("agents", name)
    converted: dict[str, Any] = {}
    for old, new in _SINGLE_AGENT_KEYS.items():
        if old in agent:
            converted[new] = agent[old]
            _move_marks(loaded, ("agent", old), result, base + (new,))
    for key in _SINGLE_AGENT_TOP_KEYS[1:]:
        if key in source:
            converted[key] = source[key]
            _move_marks(loaded, (key,), result, base + (key,))
    _script_in_working_directory(converted)
    result.marks[("agents",)] = result.marks[base] = loaded.marks.get(("agent",), Mark(file, 1, 1))
    result.data = {"name": name_from(path.stem), "agents": {name: converted}}
    return result


def _single_agent_name(source: dict[str, Any], path: Path) -> str:
    metadata = source.get("metadata")
    wanted = metadata.get("name") if isinstance(metadata, dict) else None
    return name_from(wanted, name_from(path.stem)) if isinstance(wanted, str) else name_from(path.stem)


def _script_in_working_directory(agent: dict[str, Any]) -> None:
    """In the single-agent format a relative script is found inside working_directory."""
    script, workdir = agent.get("script"), agent.get("working_dir")
    if isinstance(script, str) and isinstance(workdir, str) and not Path(script).is_absolute():
        agent["script"] = str(Path(workdir) / script)


def _single_agent_problem(result: Loaded, loaded: Loaded, path: Path_, message: str) -> None:
    mark = loaded.marks.get(path) or loaded.marks[()]
    result.problems.append(Problem(mark.file, mark.line, mark.column, dotted(path), message))


def _move_marks(src: Loaded, old: Path_, dst: Loaded, new: Path_) -> None:
    for path, mark in src.marks.items():
        if path[: len(old)] == old:
            dst.marks[new + path[len(old):]] = mark


def normalize_forms(loaded: Loaded) -> None:
    """Short forms become long ones, so files merge key by key (schema-valid input only)."""
    agents = loaded.data.get("agents") or {}
    for name, agent in agents.items():
        base: Path_ = ("agents", name)
        if isinstance(agent.get("environment"), list):
            agent["environment"] = _environment_map(loaded, base + ("environment",), agent["environment"])
        if isinstance(agent.get("depends_on"), list):
            agent["depends_on"] = _depends_map(loaded, base + ("depends_on",), agent["depends_on"])
        if isinstance(agent.get("env_file"), str):
            agent["env_file"] = [agent["env_file"]]
            _rekey(loaded, base + ("env_file",), base + ("env_file", 0))
        if "backoff" in agent and not isinstance(agent["backoff"], dict):
            agent["backoff"] = {"initial": agent["backoff"]}
            _rekey(loaded, base + ("backoff",), base + ("backoff", "initial"))


def _environment_map(loaded: Loaded, path: Path_, items: list[str]) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for index, item in enumerate(items):
        key, sep, value = item.partition("=")
        key = key.strip()
        result[key] = value if sep else None
        _rekey(loaded, path + (index,), path + (key,))
    return result


def _depends_map(loaded: Loaded, path: Path_, names: list[str]) -> dict[str, dict[str, Any]]:
    for index, name in enumerate(names):
        _rekey(loaded, path + (index,), path + (name,))
    return {name: {} for name in names}


def _rekey(loaded: Loaded, old: Path_, new: Path_) -> None:
    mark = loaded.marks.get(old)
    if mark is not None:
        loaded.marks[new] = mark


def prune(loaded: Loaded, bad_paths: list[Path_]) -> None:
    """Remove values already reported as wrong, so the rest can still be checked.

    A bad list item takes its list with it (indices would shift); a bad agent
    is removed but remembered in `broken`, so references to it still resolve.
    """
    for path in bad_paths:
        cut = next((i for i, part in enumerate(path) if isinstance(part, int)), len(path))
        target = _widen(tuple(path[:cut]))
        if not target:
            loaded.data = {}
            continue
        if target[0] == "agents" and len(target) <= 2:
            _drop_agent(loaded, target)
            continue
        parent = _lookup(loaded.data, target[:-1])
        if isinstance(parent, dict):
            parent.pop(target[-1], None)


def _widen(target: Path_) -> Path_:
    """Without its kind a healthcheck means nothing: drop all of it (an agent: see _drop_agent)."""
    if len(target) == 3 and target[0] == "agents" and target[2] in _RUN_KINDS:
        return target[:2]
    if len(target) == 4 and target[2] == "healthcheck" and target[3] in _HEALTH_KINDS:
        return target[:3]
    return target


def _drop_agent(loaded: Loaded, target: Path_) -> None:
    agents = loaded.data.get("agents") if isinstance(loaded.data, dict) else None
    if len(target) == 1 or not isinstance(agents, dict):
        loaded.data["agents"] = {}
        loaded.broken.add("")  # the whole map was wrong: do not also say "no agents"
        return
    agents.pop(target[1], None)
    loaded.broken.add(str(target[1]))


def _lookup(data: Any, path: Path_) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data
