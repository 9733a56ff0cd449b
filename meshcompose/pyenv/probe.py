"""Probing one interpreter, and the on-disk cache of probe results.

The probe runs the interpreter once with `-I -c` and reads one JSON object
printed after a sentinel line (a sitecustomize or `.pth` file may print
before it). Besides the interpreter itself, it answers two questions about
what that interpreter sees: the versions of the asked distributions, and
which of the asked top-level module names it can import (a script named like
one of them shadows it). The script must run unchanged on Python 2.7 and 3.6 so that an
old interpreter yields a clear version error instead of a probe crash.

Cache entries are keyed by the candidate path and fingerprinted by the
interpreter file (real path, size, mtime) and the mtimes of its
site-packages directories, so an install into the environment (which adds
or removes a `*.dist-info` directory) invalidates the entry. An entry holds
only for the names it was asked about.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from meshcompose.errors import InterpreterProbeError
from meshcompose.privatefiles import write_atomic

SENTINEL = "@@MESH-COMPOSE-PROBE@@"
CACHE_FORMAT = 2
PROBE_TIMEOUT = 60.0

# Python 2.7-compatible on purpose: no f-strings, no importlib.metadata required.
PROBE_SCRIPT = r"""
import json, os, platform, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def header(text, key):
    for line in text.splitlines():
        if line.lower().startswith(key.lower() + ":"):
            return line.split(":", 1)[1].strip()
        if not line.strip():
            break
    return None

def read_meta(path):
    if os.path.isdir(path):
        for leaf in ("METADATA", "PKG-INFO"):
            if os.path.isfile(os.path.join(path, leaf)):
                path = os.path.join(path, leaf)
                break
        else:
            return None, None
    try:
        with open(path) as handle:
            text = handle.read(8192)
    except Exception:
        return None, None
    return header(text, "Name"), header(text, "Version")

def scan(wanted, found):
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except Exception:
            continue
        for leaf in names:
            if leaf.endswith(".dist-info") or leaf.endswith(".egg-info"):
                name, version = read_meta(os.path.join(entry or ".", leaf))
                if name and version and norm(name) in wanted and norm(name) not in found:
                    found[norm(name)] = version

def installed(wanted):
    found = {}
    if not wanted:
        return found
    try:
        from importlib import metadata
    except ImportError:
        scan(wanted, found)
        return found
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
        except Exception:
            continue
        if name and norm(name) in wanted and norm(name) not in found:
            found[norm(name)] = dist.version
    return found

def importable(names):
    # Neither the current directory nor a script's directory counts: only
    # what the interpreter imports wherever the agent's script lives.
    here = set(["", ".", os.getcwd()])
    saved = sys.path[:]
    sys.path[:] = [entry for entry in sys.path if entry not in here]
    try:
        from importlib.util import find_spec
    except ImportError:
        find_spec = None
    found = []
    try:
        for name in names:
            try:
                if find_spec is not None:
                    known = find_spec(name) is not None
                else:
                    import imp
                    imp.find_module(name)
                    known = True
            except Exception:
                known = False
            if known:
                found.append(name)
    finally:
        sys.path[:] = saved
    return found

wanted = set(norm(n) for n in json.loads(sys.argv[1]))
modules = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
impl = getattr(sys, "implementation", None)
info = {
    "version_info": list(sys.version_info[:5]),
    "implementation": impl.name if impl else platform.python_implementation().lower(),
    "executable": sys.executable,
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", getattr(sys, "real_prefix", sys.prefix)),
    "site_dirs": [p for p in sys.path
                  if os.path.basename(p) in ("site-packages", "dist-packages") and os.path.isdir(p)],
    "installed": installed(wanted),
    "importable": importable(modules),
    "markers": {
        "implementation_name": impl.name if impl else platform.python_implementation().lower(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": "%d.%d" % sys.version_info[:2],
        "python_full_version": platform.python_version(),
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_system": platform.system(),
        "platform_machine": platform.machine(),
    },
}
sys.stdout.write("\n" + "@@MESH-COMPOSE-PROBE@@" + "\n" + json.dumps(info) + "\n")
"""


@dataclass(frozen=True)
class ProbeResult:
    """What one interpreter said about itself."""

    version_info: tuple  # (major, minor, micro, releaselevel, serial)
    implementation: str
    executable: str
    prefix: str
    base_prefix: str
    site_dirs: tuple[str, ...]
    installed: Mapping[str, str]  # normalized name -> version, for the queried names
    markers: Mapping[str, str]  # PEP 508 marker environment of that interpreter
    queried: tuple[str, ...] = ()  # normalized names the probe looked for
    importable: tuple[str, ...] = ()  # of `modules_asked`, those the interpreter can import
    modules_asked: tuple[str, ...] = ()

    @property
    def version(self) -> tuple[int, int, int]:
        return tuple(int(part) for part in self.version_info[:3])  # type: ignore[return-value]

    @property
    def version_text(self) -> str:
        major, minor, micro, level, serial = (list(self.version_info) + [0, 0, 0, "final", 0])[:5]
        suffix = {"alpha": "a", "beta": "b", "candidate": "rc"}.get(str(level), "")
        return f"{major}.{minor}.{micro}" + (f"{suffix}{serial}" if suffix else "")

    @property
    def is_venv(self) -> bool:
        return os.path.normcase(os.path.abspath(self.prefix)) != os.path.normcase(
            os.path.abspath(self.base_prefix)
        )


ProbeFunction = Callable[[Sequence[str], Sequence[str], Sequence[str]], ProbeResult]


def _parse_output(argv: Sequence[str], stdout: str, queried: Sequence[str], modules: Sequence[str]) -> ProbeResult:
    head, found, tail = stdout.rpartition(SENTINEL)
    if not found:
        raise InterpreterProbeError(" ".join(argv), "it printed no probe result")
    try:
        data = json.loads(tail.strip().splitlines()[0])
    except (ValueError, IndexError) as error:
        raise InterpreterProbeError(" ".join(argv), f"unreadable probe result ({error})") from None
    return ProbeResult(
        version_info=tuple(data["version_info"]),
        implementation=data["implementation"],
        executable=data["executable"] or argv[0],
        prefix=data["prefix"],
        base_prefix=data["base_prefix"],
        site_dirs=tuple(data["site_dirs"]),
        installed=dict(data["installed"]),
        markers=dict(data["markers"]),
        queried=tuple(sorted(set(queried))),
        importable=tuple(sorted(set(data.get("importable", ())) & set(modules))),
        modules_asked=tuple(sorted(set(modules))),
    )


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            errors="replace", timeout=PROBE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise InterpreterProbeError(argv[0], f"no answer within {PROBE_TIMEOUT:.0f} s") from None
    except OSError as error:
        raise InterpreterProbeError(argv[0], error.strerror or str(error)) from None


def probe_interpreter(argv: Sequence[str], packages: Sequence[str], modules: Sequence[str] = ()) -> ProbeResult:
    """Run the probe in one process; the seam tests and benchmarks replace.
    `packages`: distribution names whose versions are wanted; `modules`:
    top-level module names to check for importability."""
    names = sorted(set(packages))
    asked = sorted({name for name in modules if name.isidentifier()})
    payload = [PROBE_SCRIPT, json.dumps(names), json.dumps(asked)]
    done = _run([*argv, "-I", "-c", *payload])
    if done.returncode != 0 and "-I" in done.stderr and SENTINEL not in done.stdout:
        # Python 2.7 has no -I; -E -s is its closest isolation.
        done = _run([*argv, "-E", "-s", "-c", *payload])
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        detail = " / ".join(lines[:3])[:400] or f"exit status {done.returncode}"
        raise InterpreterProbeError(" ".join(argv), detail)
    return _parse_output(argv, done.stdout, names, asked)


# --- cache -----------------------------------------------------------------


def _stat_key(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def fingerprint(candidate: str) -> dict[str, object]:
    """What must be unchanged for a cached probe of `candidate` to hold."""
    real = os.path.realpath(candidate)
    venv_cfg = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(candidate))), "pyvenv.cfg")
    return {"candidate": os.path.abspath(candidate), "real": real, "stat": _stat_key(real),
            "pyvenv_cfg": _stat_key(venv_cfg)}


def _site_mtimes(site_dirs: Sequence[str]) -> dict[str, list[int] | None]:
    return {d: _stat_key(d) for d in site_dirs}


def _entry_path(cache_dir: Path, candidate: str) -> Path:
    digest = hashlib.sha256(os.path.abspath(candidate).encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir / "probes" / f"{digest[:32]}.json"


def load_cached(cache_dir: Path, candidate: str, packages: Sequence[str],
                modules: Sequence[str] = ()) -> ProbeResult | None:
    """The cached probe of `candidate`, if still valid and it covered `packages` and `modules`."""
    try:
        data = json.loads(_entry_path(cache_dir, candidate).read_text(encoding="utf-8"))
        if data.get("format") != CACHE_FORMAT or data["fingerprint"] != fingerprint(candidate):
            return None
        result = data["result"]
        if data["site_mtimes"] != _site_mtimes(result["site_dirs"]):
            return None
        if not set(packages) <= set(result["queried"]):
            return None
        if not {name for name in modules if name.isidentifier()} <= set(result["modules_asked"]):
            return None
        return ProbeResult(**{**result, "version_info": tuple(result["version_info"]),
                              "site_dirs": tuple(result["site_dirs"]), "queried": tuple(result["queried"]),
                              "importable": tuple(result["importable"]),
                              "modules_asked": tuple(result["modules_asked"])})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_cacheable(candidate: str, result: ProbeResult) -> bool:
    """Only a real interpreter file is cached; wrappers (pyenv shims, `py -3`) may change target."""
    return os.path.realpath(candidate) == os.path.realpath(result.executable)


def store_cached(cache_dir: Path, candidate: str, result: ProbeResult) -> None:
    """Write atomically; a cache that cannot be written only costs a probe next time."""
    path = _entry_path(cache_dir, candidate)
    entry = {"format": CACHE_FORMAT, "fingerprint": fingerprint(candidate),
             "site_mtimes": _site_mtimes(result.site_dirs), "result": asdict(result)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(entry))
    except OSError:
        pass
