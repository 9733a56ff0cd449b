#!/usr/bin/env bash
# Installs mesh-compose with its test tools into .venv-test and runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-test
.venv-test/bin/python -m pip install -q --upgrade pip
.venv-test/bin/python -m pip install -q -e '.[test]'
exec .venv-test/bin/python -m pytest "$@"
