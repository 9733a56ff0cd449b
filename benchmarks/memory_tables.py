"""The memory breakdown (bench_memory.py's JSON) as markdown sections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from report import number, table

Section = tuple[str, str]


def sections(found: Mapping[str, Any]) -> list[Section]:
    agents = found["agents"]
    parts = [(f"Memory of the idle supervisor ({agents} agents)", supervisors(found)),
             ("Where the megabytes went: imports in a fresh interpreter", packages(found)),
             ("Import time of `up` (what the supervisor imports)", import_time(found.get("imports", {})))]
    if found.get("trace"):
        parts.append(("tracemalloc of the idle supervisor (in-process, warm caches, traced after its imports)",
                      traces(found)))
    notes = found.get("notes") or []
    if notes:
        parts.append(("Memory notes", "\n".join(f"- {note}" for note in notes)))
    return [(title, body) for title, body in parts if body]


def supervisors(found: Mapping[str, Any]) -> str:
    rows = [[entry["label"], _mb(entry.get("rss_mb")), _mb(entry.get("uss_mb")), _mb(entry.get("pss_mb")),
             _mb(entry.get("RssAnon")), _mb(entry.get("RssFile")), str(entry.get("threads", "–")),
             str(entry.get("fds", "–"))] for entry in found.get("supervisors", [])]
    if not rows:
        return ""
    text = table(["process", "RSS MB", "USS MB", "PSS MB", "anonymous MB", "file-backed MB", "threads", "fds"], rows)
    warm = _warm_foreground(found)
    if warm and warm.get("mappings"):
        mapped = [[f"`{entry['mapping']}`", _mb(entry["rss_mb"]), _mb(entry["private_mb"])]
                  for entry in warm["mappings"]]
        text += f"\n\nLargest mappings of the {warm['label']} process:\n\n" + table(["mapping", "RSS MB",
                                                                                    "private MB"], mapped)
    return text


def packages(found: Mapping[str, Any]) -> str:
    entries = found.get("packages") or []
    if not entries:
        return ""
    base = entries[0]["rss_mb"]
    rows = [[entry["label"], _mb(entry["rss_mb"]), f"+{entry['rss_mb'] - base:.1f}", _mb(entry["anon_mb"]),
             f"{entry['import_ms']:.0f}", str(entry["modules"]), _flag(entry.get("imported_by_warm_up")),
             _flag(entry.get("imported_by_cold_up"))] for entry in entries]
    text = table(["imported", "RSS MB", "over `python -c pass`", "anonymous MB", "import ms", "modules in sys.modules",
                  "a warm `up` imports it", "a cold `up` imports it"], rows)
    warm = _warm_foreground(found)
    everything = next((entry for entry in entries if entry["label"].startswith("everything a warm")), None)
    if warm and everything:
        text += (f"\n\nThe warm foreground supervisor holds {warm['rss_mb']:.1f} MB idle; importing what it imports "
                 f"costs {everything['rss_mb']:.1f} MB in a fresh interpreter ({everything['rss_mb'] - base:.1f} MB over "
                 f"`python -c pass`), so running {found['agents']} agents accounts for the other "
                 f"{warm['rss_mb'] - everything['rss_mb']:.1f} MB.")
    return text


def import_time(profiles: Mapping[str, Any]) -> str:
    if not profiles:
        return ""
    lines = [f"- {case} `up`: {entry['summary']['modules']} modules, {entry['summary']['import_ms']:.0f} ms of "
             f"imports (sum of self times); networkx {_flag(entry['summary']['networkx'])}, jsonschema "
             f"{_flag(entry['summary']['jsonschema'])}" for case, entry in profiles.items()]
    cold = {row["package"]: row for row in profiles.get("cold", {}).get("packages", [])}
    warm = {row["package"]: row for row in profiles.get("warm", {}).get("packages", [])}
    names = list(dict.fromkeys([*cold, *warm]))[:12]
    rows = [[f"`{name}`", _ms_modules(cold.get(name)), _ms_modules(warm.get(name))] for name in names]
    text = "\n".join(lines) + "\n\nTop packages by the sum of their modules' self time:\n\n"
    text += table(["package", "cold `up`: ms (modules)", "warm `up`: ms (modules)"], rows)
    modules = profiles.get("warm", {}).get("modules", [])
    if modules:
        text += "\n\nTop single modules, warm `up`:\n\n" + table(
            ["module", "self ms", "cumulative ms"],
            [[f"`{row['module']}`", f"{row['self_ms']:.1f}", f"{row['cumulative_ms']:.1f}"] for row in modules])
    return text


def traces(found: Mapping[str, Any]) -> str:
    small, large, per = found["trace"]["small"], found["trace"]["large"], found["per_agent"]
    rows = [[label, _kb(small[key]), _kb(large[key]), f"{per[per_key] / 1024:.1f}" if per_key else "–"]
            for label, key, per_key in (("traced in all", "total_bytes", "total_bytes_per_agent"),
                                        ("allocated by imports made while running", "import_bytes", None),
                                        ("allocated at run time", "runtime_bytes", "runtime_bytes_per_agent"))]
    text = table(["", f"{small['agents']} agents, KB", f"{large['agents']} agents, KB", "per extra agent, KB"], rows)
    if per["sites"]:
        text += ("\n\nAllocation sites that grow with the agent count (run time; the innermost frame, and the "
                 "nearest mesh-compose frame):\n\n")
        text += table(["site", "via", "bytes per agent"],
                      [[f"`{s['site']}`", f"`{s['via']}`" if s["via"] else "–", f"{s['bytes_per_agent']:,.0f}"]
                       for s in per["sites"]], left=2)
    text += f"\n\nLargest run-time allocation sites with {large['agents']} agents:\n\n" + table(
        ["site", "via", "KB", "blocks"],
        [[f"`{s['site']}`", f"`{s['via']}`" if s["via"] else "–", _kb(s["bytes"]), str(s["blocks"])]
         for s in large["sites"][:10]], left=2)
    owners = list(large.get("packages", {}).items())[:10]
    text += f"\n\nTraced memory by owning package, {large['agents']} agents:\n\n" + table(
        ["package", "KB"], [[f"`{name}`", _kb(size)] for name, size in owners])
    return text


def _warm_foreground(found: Mapping[str, Any]) -> dict[str, Any] | None:
    return next((entry for entry in found.get("supervisors", []) if "foreground" in entry["label"]
                 and "warm" in entry["label"]), None)


def _mb(value: float | None) -> str:
    return number(value, "{:.1f}")


def _kb(value: float) -> str:
    return f"{value / 1024:,.0f}"


def _ms_modules(row: Mapping[str, Any] | None) -> str:
    return "–" if row is None else f"{row['self_ms']:.1f} ({row['modules']})"


def _flag(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")
