"""`mesh-compose export kubernetes`: the project as Kubernetes manifests.

`-o DIR` writes one file per object and a kustomization.yaml (`kubectl
apply -k DIR`); `-o -` (the default) writes one multi-document stream to
stdout. Whatever cannot be mapped is listed on stderr; `--strict` makes that
a failure. The work is `meshcompose.export`; this module parses and writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Tuple


def _image(text: str) -> Tuple[str, str]:
    from meshcompose.export.options import parse_image

    try:
        return parse_image(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("target", choices=("kubernetes",), help="what to export to")
    parser.add_argument("-o", "--output", default="-", metavar="DIR|-",
                        help="directory for one file per object plus kustomization.yaml, or - for one "
                             "YAML stream on stdout (default)")
    parser.add_argument("--namespace", metavar="NS", help="put every object in this namespace (and create it)")
    parser.add_argument("--image", dest="images", action="append", default=[], type=_image, metavar="AGENT=IMAGE",
                        help="run AGENT from IMAGE instead of its script in MCP Mesh's Python runtime (repeatable)")
    parser.add_argument("--strict", action="store_true", help="fail if any setting cannot be mapped")
    parser.add_argument("--kubernetes-version", default=None, metavar="X.Y",
                        help="oldest Kubernetes version the manifests must run on (default 1.25)")


def run(args: argparse.Namespace) -> int:
    from meshcompose.cli.project import load_from_args
    from meshcompose.export import ExportOptions, export_kubernetes
    from meshcompose.export.options import OLDEST_VERSION, parse_version

    project = load_from_args(args)
    options = ExportOptions(
        namespace=args.namespace, images=tuple(args.images), strict=args.strict,
        kubernetes_version=parse_version(args.kubernetes_version) if args.kubernetes_version else OLDEST_VERSION,
    )
    result = export_kubernetes(project, options)
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if args.output == "-":
        sys.stdout.write(result.stream)
        return 0
    written = _write(Path(args.output), result.files)
    sys.stderr.write(f"wrote {written} files to {args.output}; deploy with: kubectl apply -k {args.output}\n")
    return 0


def _write(directory: Path, files: Tuple[Tuple[str, str], ...]) -> int:
    """Writes the files; removes files an earlier export wrote that this one no longer has."""
    from meshcompose.export.yamlout import HEADER

    directory.mkdir(parents=True, exist_ok=True)
    names = {name for name, _ in files}
    for old in directory.glob("*.yaml"):
        if old.name not in names and _generated(old, HEADER):
            old.unlink()
    for name, text in files:
        (directory / name).write_text(text, encoding="utf-8")
    return len(files)


def _generated(path: Path, header: str) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline() == header
    except (OSError, UnicodeDecodeError):
        return False
