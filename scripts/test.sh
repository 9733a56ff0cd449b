#!/usr/bin/env bash
# The test command (README "Quickstart"): installs mesh-compose with its test
# tools into .venv-test, the real MCP Mesh stack into .mesh-stack (for the
# `mesh` tier), and runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-test
.venv-test/bin/python -m pip install -q --upgrade pip
.venv-test/bin/python -m pip install -q -e '.[test]'
if bash scripts/install-mesh.sh; then
    export PATH="$PWD/.mesh-stack/bin:$PATH"
else
    echo "test.sh: the MCP Mesh stack did not install; the mesh tier will be skipped with its reason" >&2
fi
exec .venv-test/bin/python -m pytest "$@"
