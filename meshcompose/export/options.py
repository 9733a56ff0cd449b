"""What an export is asked for and what it gives back: frozen values, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshcompose.errors import EXIT_CONFIG, MeshComposeError

# The Kubernetes versions whose schemas the tests validate every manifest
# against (kubernetes-validate bundles 1.25 ... 1.37). Older clusters lack
# `spec.os` (GA in 1.25), which the stop-signal mapping may need.
OLDEST_VERSION = (1, 25)
NEWEST_VERSION = (1, 37)
# `lifecycle.stopSignal` appeared in 1.33 (KEP-4960, alpha, feature gate ContainerStopSignals).
STOP_SIGNAL_VERSION = (1, 33)


class ExportError(MeshComposeError):
    """The project cannot be exported as written (or, with --strict, not without losing something)."""

    exit_code = EXIT_CONFIG


class Warn:
    """Collects `agents.NAME.key: message` warnings in the order they are found."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, where: str, message: str) -> None:
        text = f"{where}: {message}" if where else message
        if text not in self.messages:
            self.messages.append(text)


@dataclass(frozen=True)
class ExportOptions:
    namespace: str | None = None  # None: whatever namespace kubectl uses
    images: tuple[tuple[str, str], ...] = ()  # (agent, image) pairs from --image
    strict: bool = False  # warnings become an ExportError
    kubernetes_version: tuple[int, int] = OLDEST_VERSION  # the oldest cluster the output must run on

    def image_for(self, agent: str) -> str | None:
        return dict(self.images).get(agent)


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object and the file it is written to."""

    filename: str
    body: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])


@dataclass(frozen=True)
class ExportResult:
    manifests: tuple[Manifest, ...]  # in the order they are written
    files: tuple[tuple[str, str], ...]  # (file name, text) for -o DIR, kustomization.yaml last
    stream: str  # every manifest as one multi-document YAML stream, for -o -
    warnings: tuple[str, ...]  # what could not be mapped, as `agents.NAME.key: why`


def parse_version(text: str) -> tuple[int, int]:
    """`1.30` or `v1.30.2` -> (1, 30); ExportError outside the supported range."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if not match:
        raise ExportError(f"not a Kubernetes version: {text!r}", hint="e.g. 1.30")
    version = (int(match.group(1)), int(match.group(2)))
    if version < OLDEST_VERSION:
        raise ExportError(f"Kubernetes {text} is older than the oldest supported version "
                          f"{OLDEST_VERSION[0]}.{OLDEST_VERSION[1]}")
    return version


def parse_image(text: str) -> tuple[str, str]:
    """`AGENT=IMAGE` -> (agent, image); ValueError for any other form."""
    agent, sep, image = text.partition("=")
    if not sep or not agent.strip() or not image.strip():
        raise ValueError(f"expected AGENT=IMAGE, got {text!r}")
    return agent.strip(), image.strip()


def check_images(images: Sequence[tuple[str, str]], agents: Sequence[str]) -> None:
    unknown = [agent for agent, _ in images if agent not in agents]
    if unknown:
        raise ExportError(f"--image names no agent: {', '.join(unknown)}", hint=f"agents: {', '.join(agents)}")
