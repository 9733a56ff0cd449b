"""Find, read, interpolate, validate and merge project files into a `Project`.

Three kinds of input, told apart by extension and content:

- a mesh-compose.yaml (top-level `agents:`),
- the legacy single-agent YAML (top-level `agent:` with `script`,
  `working_directory`, `python_interpreter`, plus top-level `environment`,
  `metadata`, `resources`),
- a bare `agent.py` (a one-agent project named after the file).

Each file is read, interpolated and validated on its own, so every problem is
located in the file that has it; then the files are merged (compose rules) and
the model is built from the result (see `config_build`). All problems of all
files are reported together in one `ConfigError`.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

from meshcompose import ownership
from meshcompose.config import envfile
from meshcompose.config.build import FindCycles, build_project
from meshcompose.config.discovery import PROJECT_FILES, absolute_path, find_project_file
from meshcompose.config.forms import from_python_file, from_single_agent_yaml, normalize_forms, prune
from meshcompose.config.interpolate import ExpansionBudget, InterpolationError, interpolate
from meshcompose.config.limits import InputError, file_kind_problem, read_regular_file, text_problem
from meshcompose.config.merge import merge_documents
from meshcompose.config.serialize import project_to_dict
from meshcompose.config.validate import locate, schema_problems, schema_text
from meshcompose.config.yamlload import Loaded, Mark, Path_, load_text
from meshcompose.errors import ConfigError, Problem
from meshcompose.model import Project

__all__ = ["load_project", "project_to_dict", "schema_text", "find_project_file", "PROJECT_FILES"]

OVERRIDE_FILES = ("mesh-compose.override.yaml", "mesh-compose.override.yml")
PathLike = Union[str, Path]


def load_project(
    files: Sequence[PathLike] = (),
    *,
    project_name: str | None = None,
    profiles: Sequence[str] = (),
    env_files: Sequence[PathLike] = (),
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    warnings: list[str] | None = None,
    find_cycles: FindCycles | None = None,
) -> Project:
    """The validated project. Raises ConfigError with every located problem.

    Interpolation warnings (unset variables) are appended to `warnings`.
    `find_cycles` (the planner's) locates every depends_on cycle.
    """
    cwd = Path(cwd) if cwd is not None else Path.cwd()
    caller = dict(os.environ if environ is None else environ)
    unset: list[str] = []
    try:
        with _collector_paused(), ownership.remembering():
            paths = _project_files(files, cwd)
            return _load(paths, caller, unset, project_name, tuple(profiles), env_files, cwd, find_cycles)
    finally:
        if warnings is not None:
            warnings.extend(f"the {name} variable is not set; using an empty string" for name in unset)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading makes ~15 objects per line of YAML (nodes, marks, paths, values) that all live
    until it ends: CPython's cycle collector would walk them again and again as they pile up (a
    third of the time of a 1,000-agent file). None is garbage before the end, so the collector
    waits until then (process-wide, for the fraction of a second a load takes: a reload under
    --watch too), and runs as usual after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _load(paths: list[Path], caller: dict[str, str], unset: list[str], project_name: str | None,
          profiles: tuple[str, ...], env_files: Sequence[PathLike], cwd: Path,
          find_cycles: FindCycles | None = None) -> Project:
    directory = paths[0].parent
    budget = ExpansionBudget()  # one for everything interpolated and every env file read
    variables = _variables(directory, env_files, caller, cwd, unset, budget)
    documents = [read_document(path, variables, unset, budget) for path in paths]
    problems = [problem for document in documents for problem in document.problems]
    if any(document.data is None for document in documents):
        raise ConfigError(problems)
    merged = merge_documents(documents)
    try:
        project = build_project(
            merged, files=tuple(paths), directory=directory, project_name=project_name,
            profiles=profiles, variables=variables, unset=unset, find_cycles=find_cycles, budget=budget,
        )
    except ConfigError as error:
        raise ConfigError([*problems, *error.problems]) from None
    if problems:
        raise ConfigError(problems)
    return project


def _project_files(files: Sequence[PathLike], cwd: Path) -> list[Path]:
    """The -f files, else the file found upwards and its override; each must pass the ownership rule."""
    if files:
        unusable = [Problem(_shown_path(f), 0, 0, "", problem) for f in files if (problem := text_problem(str(f)))]
        if unusable:
            raise ConfigError(unusable, hint="check the -f paths")
        paths = [absolute_path(cwd, f) for f in files]
        unusable = [Problem(str(p), 0, 0, "", problem) for p in paths if (problem := file_kind_problem(p))]
        if unusable:
            raise ConfigError(unusable, hint="check the -f paths")
        for path in paths:
            ownership.check_trusted(path, "the project file")
        return paths
    main = Path(os.path.abspath(find_project_file(cwd)))
    overrides = [main.parent / name for name in OVERRIDE_FILES if (main.parent / name).is_file()]
    for override in overrides[:1]:
        ownership.check_trusted(override, "the override file")
    return [main, *overrides[:1]]


def _shown_path(path: PathLike) -> str:
    """A path as an error names it: its NUL characters visible."""
    return str(path).replace("\0", "\\0")


def _variables(directory: Path, env_files: Sequence[PathLike], caller: dict[str, str], cwd: Path,
               unset: list[str], budget: ExpansionBudget) -> dict[str, str]:
    """Interpolation values: the caller's environment wins over .env / --env-file."""
    if env_files:
        unusable = [Problem(_shown_path(f), 0, 0, "", problem) for f in env_files if (problem := text_problem(str(f)))]
        if unusable:
            raise ConfigError(unusable, hint="check the --env-file paths")
        sources = [absolute_path(cwd, f) for f in env_files]
        required = True
    else:
        sources, required = [directory / ".env"], False
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for source in sources:
        if budget.exhausted:
            break
        kind = file_kind_problem(source)
        if not required and kind in ("no such file", "not a regular file"):
            continue  # a project's own .env is optional: a virtualenv named .env is no env file
        if kind and kind != "no such file":  # a missing one is said by the read, as every OSError
            problems.append(Problem(str(source), 0, 0, "", f"cannot read the env file: {kind}"))
            continue
        ownership.check_trusted(source, "the env file")
        try:
            values.update(envfile.read_env_file(source, caller, unset, budget))
        except envfile.EnvFileError as error:
            problems.append(Problem(str(source), error.line, 1, "", error.message))
        except InputError as error:
            problems.append(Problem(str(source), 0, 0, "", f"cannot read the env file: {error}"))
        except OSError as error:
            problems.append(Problem(str(source), 0, 0, "", f"cannot read the env file: {error.strerror or error}"))
    if problems:
        raise ConfigError(problems)
    values.update(caller)
    return values


def read_document(path: Path, variables: Mapping[str, str], unset: list[str],
                  budget: ExpansionBudget | None = None) -> Loaded:
    """One file as a normalized mesh-compose document (data, marks, problems).

    Problems found while reading the YAML (a duplicate key, `.inf`, a bad
    merge) do not stop the schema check: every problem is reported at once,
    and the builder only ever sees schema-valid data.
    """
    if path.suffix == ".py":
        return from_python_file(path)
    loaded = _read_yaml(path)
    if loaded.data is None:
        return loaded
    if "agent" in loaded.data and "agents" not in loaded.data:
        loaded = _from_single_agent(loaded, path)
        if loaded.data is None:
            return loaded
    bad: list[Path_] = list(loaded.replaced)
    loaded.data = _interpolate_tree(loaded.data, (), variables, unset, loaded, bad, budget or ExpansionBudget())
    found = [(p, problem) for p, problem in schema_problems(loaded.data, loaded.marks)
             if not any(p[: len(r)] == r for r in loaded.replaced)]
    loaded.problems.extend(problem for _, problem in found)
    bad.extend(p for p, _ in found)
    if bad:
        # Keep checking what is left (references, durations...) so every
        # mistake is reported at once; give up only if pruning did not help.
        prune(loaded, bad)
        if schema_problems(loaded.data, loaded.marks):
            loaded.data = None
            return loaded
    normalize_forms(loaded)
    return loaded


def _nearest_mark(loaded: Loaded, path: Path_) -> Mark:
    """The mark of `path`'s nearest marked parent (every value needs one to carry provenance)."""
    while path and path not in loaded.marks:
        path = path[:-1]
    return loaded.marks.get(path) or Mark("", 0, 0)


def _from_single_agent(loaded: Loaded, path: Path) -> Loaded:
    """The legacy single-agent file, converted; problems of its YAML are kept."""
    converted = from_single_agent_yaml(loaded, path)  # data None when the shape is wrong
    converted.problems[:0] = loaded.problems
    return converted


def _read_yaml(path: Path) -> Loaded:
    file = str(path)
    try:
        text = read_regular_file(path).decode("utf-8")
    except UnicodeDecodeError as error:
        return Loaded(None, problems=[Problem(file, 0, 0, "", f"not UTF-8 text (byte {error.start})")])
    except InputError as error:
        return Loaded(None, problems=[Problem(file, 0, 0, "", f"cannot read: {error}")])
    except OSError as error:
        return Loaded(None, problems=[Problem(file, 0, 0, "", f"cannot read: {error.strerror or error}")])
    loaded = load_text(text, file)
    if loaded.data is None and loaded.problems:
        return loaded
    if loaded.data is None:
        loaded.problems.append(Problem(file, 1, 1, "", "the file is empty; expected a map with `agents:`"))
    elif not isinstance(loaded.data, dict):
        loaded.problems.append(Problem(file, 1, 1, "", "expected a map with `agents:` at the top level"))
        loaded.data = None
    return loaded


def _interpolate_tree(
    value: Any, path: Path_, variables: Mapping[str, str], unset: list[str], loaded: Loaded, bad: list[Path_],
    budget: ExpansionBudget,
) -> Any:
    """Every string interpolated, and checked for what no path, argument or environment value
    can hold (a NUL character): here, where the document's values enter, once."""
    if isinstance(value, str):
        if "$" not in value:  # most values: nothing to substitute
            return _checked(value, path, loaded, bad)
        if budget.exhausted:  # said once, at the value that ran out
            bad.append(path)
            return value
        used: list[str] = []
        try:
            result = interpolate(value, variables, unset, used, budget)
        except InterpolationError as error:
            loaded.problems.append(locate(loaded.marks, path, error.message))
            bad.append(path)
            return value
        if used:  # remembered where the value is, so merges and renames carry it along
            mark = _nearest_mark(loaded, path)
            loaded.marks[path] = mark._replace(variables=tuple(used))
        return _checked(result, path, loaded, bad)
    if isinstance(value, dict):
        result_map = {}
        for k, v in value.items():
            key_problem = text_problem(k)
            if key_problem:
                loaded.problems.append(locate(loaded.marks, path + (k,), key_problem))
                bad.append(path + (k,))
            result_map[k] = _interpolate_tree(v, path + (k,), variables, unset, loaded, bad, budget)
        return result_map
    if isinstance(value, list):
        return [_interpolate_tree(v, path + (i,), variables, unset, loaded, bad, budget) for i, v in enumerate(value)]
    return value


def _checked(value: str, path: Path_, loaded: Loaded, bad: list[Path_]) -> str:
    problem = text_problem(value)
    if problem:
        loaded.problems.append(locate(loaded.marks, path, problem))
        bad.append(path)
    return value
