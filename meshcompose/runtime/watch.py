"""Watch mode: restart an agent when its code changes, never into a broken one.

One `watchfiles.awatch` (inotify, in a Rust thread) covers every watched
path of every agent, so 50 agents cost one sleeping thread. A burst of
writes (an editor's save) arrives as one batch: awatch groups changes until
none came for `STEP_MS`. Each batch then, per agent it touches:

1. `rebuild` rules first: the agent's packages are settled again by the
   `rebuild` callback the application layer supplies (the same environment
   step as `up`, with its prompt and --install/--no-install); it returns
   the agent's new launch spec.
2. The changed `.py` files (and any that failed before) are compiled by the
   agent's own interpreter, in a subprocess, because syntax differs between
   versions. A syntax error keeps the running process and says where the
   error is; the next change that compiles restarts it.
3. The restart goes through the supervisor, as `restart` does: stop (in
   reverse dependency order), then start (each runner waits for its
   dependencies again, so a `registered` dependent waits for a fresh
   registration). Dependents marked `depends_on: {X: {restart: true}}`
   follow X.

Every reload is a notice of kind `watch` (the console shows
`hello ⟳ restarting: agent.py changed`). `watchfiles` is imported only here,
and this module only when watching.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import anyio.to_thread

from meshcompose.errors import MeshComposeError
from meshcompose.model import Agent, Project, RunKind, WatchAction, WatchRule
from meshcompose.plan.launch import LaunchSpec
from meshcompose.runtime.compilecheck import CompileChecks
from meshcompose.runtime.events import WATCH, Notice
from meshcompose.units import plural

if TYPE_CHECKING:
    from meshcompose.runtime.supervisor import Supervisor

# Never a reason to restart: environments, caches, VCS, our own state.
IGNORED_DIRS = frozenset({".venv", "venv", "__pycache__", ".git", ".mesh-compose", "node_modules"})
# awatch yields once no change came for STEP_MS (one batch per burst), at
# the latest after DEBOUNCE_MS of continuous changes.
STEP_MS = 50
DEBOUNCE_MS = 1_600
# How long a stopped agent may take to record its end before it is started again.
SETTLE_SECONDS = 5.0
NOTICE_KIND = WATCH

# (agent name, the changed files of its rebuild rules, tell) -> the agent's
# new launch spec; runs in a worker thread, raises MeshComposeError when the
# packages cannot be settled. `tell` shows a progress line (installing into …)
# in the agent's stream.
Rebuild = Callable[[str, Sequence[Path], Callable[[str], None]], LaunchSpec]

@dataclass(frozen=True)
class Watch:
    """One watched path of one agent."""

    agent: str
    rule: WatchRule
    python_only: bool = False  # the default watch: *.py files only

    def matches(self, path: Path) -> bool:
        """Whether a change of `path` concerns this watch. A directory itself
        never does (its files do): creating `generated/` restarts nothing."""
        root = self.rule.path
        if path != root and root not in path.parents:
            return False
        relative = path.relative_to(root) if path != root else Path(path.name)
        if IGNORED_DIRS.intersection(relative.parts) or _editor_file(path.name) or path.is_dir():
            return False
        if self.python_only and path.suffix != ".py":
            return False
        return not any(_ignored(relative, glob) for glob in self.rule.ignore)


def _ignored(relative: Path, glob: str) -> bool:
    """compose's ignore: the path relative to the watched one, its name, or a
    directory it is in (`generated/**`, `*.log`, `tests`)."""
    text = relative.as_posix()
    directories = [Path(*relative.parts[:depth]).as_posix() for depth in range(1, len(relative.parts))]
    return any(fnmatch.fnmatch(candidate, glob) or fnmatch.fnmatch(candidate, glob.rstrip("/*").rstrip("/"))
               for candidate in (text, relative.name, *directories))


def _editor_file(name: str) -> bool:
    """Swap and backup files editors write beside the real one."""
    return name.endswith(("~", ".swp", ".swx", ".swo", ".pyc")) or name.startswith((".#", "flycheck_"))


def watches_for(agent: Agent) -> tuple[Watch, ...]:
    """`develop.watch` as written, else the default for a Python agent:
    *.py under its script's directory, its module's package, or its working_dir."""
    if agent.watch:
        return tuple(Watch(agent.name, rule) for rule in agent.watch)
    root = default_root(agent)
    return (Watch(agent.name, WatchRule(root), python_only=True),) if root is not None else ()


def default_root(agent: Agent) -> Path | None:
    if agent.run is RunKind.COMMAND:
        return None  # not Python: nothing to guess
    if agent.run is RunKind.SCRIPT and agent.target:
        return Path(agent.target).parent
    package = agent.working_dir / agent.target.split(".")[0]
    return package if agent.run is RunKind.MODULE and package.is_dir() else agent.working_dir


def dependents_to_restart(project: Project, name: str) -> tuple[str, ...]:
    """Agents that restart after `name` (`depends_on: {name: {restart: true}}`),
    transitively, in the project's order; () while the model has no such flag."""
    found: list[str] = []
    pending = [name]
    while pending:
        current = pending.pop()
        for other, agent in project.agents.items():
            follows = any(dep.name == current and dep.restart for dep in agent.depends_on)
            if follows and other not in found and other != name:
                found.append(other)
                pending.append(other)
    return tuple(other for other in project.agents if other in found)


@dataclass
class _Batch:
    """What one burst changed for one agent."""

    files: set[Path] = field(default_factory=set)
    rebuild: set[Path] = field(default_factory=set)  # the files matched by rebuild rules


class Watcher:
    """Watches the selected agents' files for the supervisor's run."""

    def __init__(self, supervisor: Supervisor, names: Iterable[str], rebuild: Rebuild | None = None,
                 launches: Mapping[str, LaunchSpec] | None = None) -> None:
        self.supervisor = supervisor
        self.launches = dict(launches or {})  # the planned ones: their interpreters are checked in advance
        self.rebuild = rebuild
        project = supervisor.project
        self.watches = [watch for name in names if name in project.agents
                        for watch in watches_for(project.agents[name])]
        self.broken: dict[str, set[Path]] = {}  # agent -> files that did not compile
        self.checks = CompileChecks()
        self.reloads = 0

    def roots(self) -> list[str]:
        """The paths to hand to the OS watcher: each existing one once (a
        file not created yet is watched through its directory)."""
        roots = set()
        for watch in self.watches:
            path = watch.rule.path
            roots.add(str(path if path.exists() else path.parent))
        return sorted(roots)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watches until cancelled. The OS watcher waits in a worker thread
        that a cancellation cannot interrupt, so a stop event ends it."""
        roots = self.roots()
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            if roots:
                await tg.start(self._watch, roots, stop)
                tg.start_soon(self.checks.warm, self._interpreters())
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                stop.set()
                await self.checks.aclose()

    def _interpreters(self) -> list[str]:
        launches = [self.launches.get(watch.agent) for watch in self.watches]
        return [launch.interpreter for launch in launches if launch is not None and launch.interpreter]

    async def _watch(self, roots: list[str], stop: anyio.Event, *,
                     task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        from watchfiles import awatch  # only when watching

        agents = {watch.agent for watch in self.watches}
        self._notice(None, f"watching {plural(len(roots), 'path')} for {plural(len(agents), 'agent')}")
        changes_seen = awatch(*roots, watch_filter=None, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=stop)
        task_status.started()  # awatch registers the paths on its first step, before anything else runs
        async for changes in changes_seen:
            if not self.supervisor.stopping:
                await self.handle(Path(path) for _change, path in changes)

    def classify(self, paths: Iterable[Path]) -> dict[str, _Batch]:
        batches: dict[str, _Batch] = {}
        for path in paths:
            for watch in self.watches:
                if watch.matches(path):
                    batch = batches.setdefault(watch.agent, _Batch())
                    batch.files.add(path)
                    if watch.rule.action is WatchAction.REBUILD:
                        batch.rebuild.add(path)
        return batches

    async def handle(self, paths: Iterable[Path]) -> None:
        """One burst: rebuild and check each touched agent, then restart the good ones."""
        ready: dict[str, str] = {}  # agent -> why it restarts
        for agent, batch in self.classify(paths).items():
            runner = self.supervisor.runner(agent)
            if runner is None or self.supervisor.stopping:
                continue
            if batch.rebuild and not await self._rebuild(agent, batch):
                continue
            if await self._compiles(agent, runner.launch.interpreter, batch.files):
                ready[agent] = f"{_names(batch.files)} changed"
        if ready:
            await self.restart(ready)

    async def _rebuild(self, agent: str, batch: _Batch) -> bool:
        if self.rebuild is None:
            return True
        self._notice(agent, f"rebuilding: {_names(batch.rebuild)} changed")
        rebuild, tell, files = self.rebuild, self._teller(agent), sorted(batch.rebuild)
        try:
            launch = await anyio.to_thread.run_sync(lambda: rebuild(agent, files, tell))
        except MeshComposeError as error:
            hint = f" ({error.hint})" if error.hint else ""
            self._notice(agent, f"rebuild failed, the running version stays: {error.message}{hint}", "error")
            return False
        runner = self.supervisor.runner(agent)
        if runner is not None:
            runner.launch = launch  # the next start uses the (possibly new) interpreter
        self.supervisor.add_launches({agent: launch})
        return True

    def _teller(self, agent: str) -> Callable[[str], None]:
        def tell(text: str) -> None:  # from the rebuild's worker thread
            anyio.from_thread.run_sync(self._notice, agent, text)
        return tell

    async def _compiles(self, agent: str, interpreter: str | None, changed: set[Path]) -> bool:
        """Whether every changed (or still broken) .py file compiles; says where not."""
        candidates = {path for path in changed | self.broken.get(agent, set()) if path.suffix == ".py"}
        files = sorted(path for path in candidates if path.is_file())
        if interpreter is None or not files:
            return True
        errors = await self.checks.errors(interpreter, files)
        if not errors:
            self.broken.pop(agent, None)
            return True
        self.broken[agent] = {path for path in files if any(line.startswith(f"{path}:") for line in errors)}
        runner = self.supervisor.runner(agent)
        pid = runner.status.pid if runner is not None and runner.alive else None
        keeps = f"the running version stays (pid {pid})" if pid else "not starting it"
        self._notice(agent, f"not restarting, {keeps}: {'; '.join(errors)}", "error")
        return False

    async def restart(self, reasons: Mapping[str, str]) -> None:
        """Stops then starts the agents (and their dependents with restart:
        true), through the supervisor as `restart` does."""
        project = self.supervisor.project
        names = list(reasons)
        for agent, why in reasons.items():
            self._notice(agent, f"restarting: {why}")
            for dependent in dependents_to_restart(project, agent):
                if dependent not in names and self.supervisor.runner(dependent) is not None:
                    names.append(dependent)
                    self._notice(dependent, f"restarting: it depends on {agent}")
        self.reloads += 1
        await self.supervisor.stop(names)
        with anyio.move_on_after(SETTLE_SECONDS):
            await self.supervisor.wait_final(names)
        if not self.supervisor.stopping:
            self.supervisor.start([name for name in project.agents if name in names])

    def _notice(self, agent: str | None, text: str, level: str = "info") -> None:
        self.supervisor.observer.notice(Notice(text, agent, level, kind=NOTICE_KIND))


def _names(files: Iterable[Path]) -> str:
    """`agent.py`, `agent.py, util.py` or `agent.py and 19 more`."""
    names = sorted({path.name for path in files})
    if len(names) <= 3:
        return ", ".join(names)
    return f"{names[0]} and {len(names) - 1} more"

