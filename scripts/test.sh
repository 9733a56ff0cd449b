#!/usr/bin/env bash
# The test command (README "Quickstart"): installs mesh-compose with its test
# tools into .venv-test and the real MCP Mesh stack into .mesh-stack (for the
# `mesh` tier), runs the gates (ruff, mypy, the import-linter layer contracts),
# then the whole suite. Extra arguments go to pytest. Every step runs, so one
# report shows every problem; any failure fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-test
# uv installs the test tools in half pip's time (15 s against 34 s, with
# bytecode as pip writes it); the test extra brings uv anyway.
.venv-test/bin/python -m pip install -q uv
UV_SYSTEM_CERTS=1 .venv-test/bin/uv pip install -q --python .venv-test/bin/python --compile-bytecode -e '.[test]'
# The bytecode pip writes for a regular install: `pip install -e` writes none,
# and CI sets PYTHONDONTWRITEBYTECODE, so without it every start of the CLI in
# the tests compiles the package again (a quarter of the integration tier's CPU).
.venv-test/bin/python -m compileall -q meshcompose tests/support
# Debian packages the tests run for real: redis-server (traces) and chromium
# (the dashboard's browser tests: Playwright never downloads a browser here).
bash scripts/install-debian-packages.sh redis-server:redis-server chromium:chromium ||
    echo "test.sh: Debian packages did not install; their tests are skipped with the reason (failed in CI)" >&2
if bash scripts/install-mesh.sh; then
    export PATH="$PWD/.mesh-stack/bin:$PATH"
else
    echo "test.sh: the MCP Mesh stack did not install; the mesh tier will be skipped with its reason" >&2
fi
# The test extra's command-line tools (uv: the installer tests use it) must be
# found on PATH. Appended, not prepended, so `python3` on PATH stays the
# machine's interpreter, as it is for a user.
export PATH="$PATH:$PWD/.venv-test/bin"

failed=()
run() {
    local name=$1
    shift
    echo "test.sh: $name" >&2
    local status=0
    "$@" || status=$?
    if ((status != 0)); then
        failed+=("$name (exit $status)")
    fi
}
run "ruff" .venv-test/bin/ruff check --output-format concise .
run "mypy" .venv-test/bin/mypy meshcompose
run "import contracts" .venv-test/bin/lint-imports
# Four workers on two cores: most tests wait on real processes, not the CPU.
# Each test file stays in one worker. The mesh tier's agents start with a
# longer SDK start-up delay (tests/mesh/conftest.py), so a busy machine does
# not make them lose the SDK's start-up race. Extra arguments go to this
# run (`-n 0`: in one process).
run "pytest" .venv-test/bin/python -m pytest -n 4 --dist loadfile "$@"
if ((${#failed[@]} > 0)); then
    printf 'test.sh: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "test.sh: all gates and tests passed" >&2
