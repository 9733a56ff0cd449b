"""The packages a requirements file or a pyproject.toml declares.

Watch mode's `rebuild` reads them so that a package added to
`requirements.txt` is checked and installed like the project file's
`python.packages`. Only plain requirement lines count: options (`-r`, `-e`,
`--index-url`) and comments are skipped, as they are not packages.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from meshcompose.errors import MeshComposeError


def declared(files: Iterable[Path]) -> tuple[str, ...]:
    """The requirement strings of every requirements*.txt and pyproject.toml
    among `files`, in order, each once; other files declare nothing."""
    found: list[str] = []
    for path in files:
        if path.name == "pyproject.toml":
            found.extend(_pyproject(path))
        elif path.name.startswith("requirements") and path.suffix == ".txt":
            found.extend(_requirements_txt(path))
    return tuple(dict.fromkeys(found))


def _requirements_txt(path: Path) -> list[str]:
    lines = []
    for raw in _read(path).splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            lines.append(line)
    return lines


def _pyproject(path: Path) -> list[str]:
    if sys.version_info < (3, 11):  # no TOML reader in the standard library
        raise MeshComposeError(f"cannot read {path} on Python < 3.11",
                               hint="list the packages in a requirements.txt instead")
    else:
        import tomllib

        try:
            document = tomllib.loads(_read(path))
        except tomllib.TOMLDecodeError as error:
            raise MeshComposeError(f"{path}: {error}") from None
        dependencies = document.get("project", {}).get("dependencies", [])
        return [str(item) for item in dependencies] if isinstance(dependencies, list) else []


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""  # removed: it declares nothing now
    except (OSError, UnicodeDecodeError) as error:
        raise MeshComposeError(f"cannot read {path}: {error}") from None
