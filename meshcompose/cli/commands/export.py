"""`mesh-compose export kubernetes`: the project as Kubernetes manifests.

`-o DIR` writes one file per object and a kustomization.yaml (`kubectl
apply -k DIR`); `-o -` (the default) writes one multi-document stream to
stdout. Whatever cannot be mapped is listed on stderr; `--strict` makes that
a failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _image(text: str) -> tuple[str, str]:
    from meshcompose.app.export import parse_image

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
    from meshcompose.app.export import OLDEST_VERSION, ExportOptions, export, parse_version
    from meshcompose.cli.options import load_project
    from meshcompose.cli.render import warn

    options = ExportOptions(
        namespace=args.namespace, images=tuple(args.images), strict=args.strict,
        kubernetes_version=parse_version(args.kubernetes_version) if args.kubernetes_version else OLDEST_VERSION,
    )
    directory = None if args.output == "-" else Path(args.output)
    outcome = export(load_project(args), options, directory)
    for warning in outcome.result.warnings:
        warn(warning)
    if directory is None:
        sys.stdout.write(outcome.result.stream)
    else:
        sys.stderr.write(f"wrote {outcome.written} files to {directory}; deploy with: kubectl apply -k {directory}\n")
    return 0
