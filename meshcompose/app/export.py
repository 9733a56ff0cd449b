"""`export kubernetes`: the project as manifests, written to a directory or returned as one stream."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from meshcompose.errors import MeshComposeError
from meshcompose.export import ExportOptions, ExportResult, export_kubernetes
from meshcompose.export.options import OLDEST_VERSION, parse_image, parse_version
from meshcompose.export.yamlout import HEADER
from meshcompose.model import Project

__all__ = ["OLDEST_VERSION", "ExportOptions", "ExportWritten", "export", "parse_image", "parse_version"]


@dataclass(frozen=True)
class ExportWritten:
    result: ExportResult
    directory: Path | None  # None: the caller prints `result.stream`
    written: int


def export(project: Project, options: ExportOptions, directory: Path | None) -> ExportWritten:
    """Builds the manifests; with a directory, writes one file per object there
    (and removes files an earlier export wrote that this one no longer has)."""
    result = export_kubernetes(project, options)
    if directory is None:
        return ExportWritten(result, None, 0)
    try:
        written = _write(directory, result.files)
    except OSError as error:  # `-o /proc/x`, a read-only or full disk, a name too long
        raise MeshComposeError(f"cannot write the manifests to {directory}: {(error.strerror or str(error)).lower()}",
                               hint="pass -o a directory you may write, or - for stdout") from None
    return ExportWritten(result, directory, written)


def _write(directory: Path, files: tuple[tuple[str, str], ...]) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    names = {name for name, _ in files}
    for old in directory.glob("*.yaml"):
        if old.name not in names and _generated(old):
            old.unlink()
    for name, text in files:
        (directory / name).write_text(text, encoding="utf-8")
    return len(files)


def _generated(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline() == HEADER
    except (OSError, UnicodeDecodeError):
        return False
