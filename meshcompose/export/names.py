"""Kubernetes names and labels for a project's agents.

Agent names allow `_`, `.` and capitals; a Service name must be a DNS-1035
label (lowercase letters, digits and `-`, starting with a letter, at most 63
characters). Every agent's objects are named after one such label. When the
conversion loses information (`my_agent` and `my-agent`) or the name is too
long, a short hash of the exact name is appended, so two agents never share
a name, and the same project always gets the same names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from meshcompose.export.options import ExportError

MAX_LABEL = 63
DOMAIN = "mesh-compose.dev"  # prefix of our own annotations
MANAGED_BY = "mesh-compose"


def dns_label(text: str, limit: int = MAX_LABEL) -> str:
    """`text` as a DNS-1035 label, with a hash of `text` when it had to change."""
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]+", "-", text.lower())).strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"a-{slug}".rstrip("-")
    if slug == text and len(slug) <= limit:
        return slug
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{slug[: limit - 9].rstrip('-')}-{digest}"


def label_value(text: str) -> str:
    """A label value: at most 63 of [A-Za-z0-9_.-], starting and ending alphanumeric."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:MAX_LABEL]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned) or "x"


def agent_names(agents: Mapping[str, object], reserved: str) -> dict[str, str]:
    """Agent name -> object name; ExportError if one takes the registry's reserved name."""
    names = {name: dns_label(name) for name in agents}
    taken = [name for name, label in names.items() if label == reserved]
    if taken:
        raise ExportError(f"the agent name '{taken[0]}' is reserved for the MCP Mesh registry in Kubernetes",
                          hint="rename that agent")
    return names


def labels(project: str, name: str, component: str) -> dict[str, str]:
    """The recommended labels; `name` + `part-of` select an agent's pods."""
    return {
        "app.kubernetes.io/name": label_value(name),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": label_value(project),
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def selector(project: str, name: str) -> dict[str, str]:
    return {key: value for key, value in labels(project, name, "").items()
            if key in ("app.kubernetes.io/name", "app.kubernetes.io/part-of")}


def container_name(prefix: str, name: str) -> str:
    """`wait-<name>` and the like, kept a valid DNS-1123 label."""
    return dns_label(f"{prefix}-{name}")
