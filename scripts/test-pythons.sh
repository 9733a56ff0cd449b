#!/usr/bin/env bash
# Every supported Python runs the unit tier and a smoke test of the real CLI
# (`config -q`, `up -d`, `ps`, `down`), each in a venv of its own
# (.venv-py3.X: the project, and what the unit tier imports; made with uv
# when there is one). The versions come from pyenv (~/.pyenv/versions,
# newest patch of each); a supported version that is missing is a failure,
# not a skip. All versions run at once: half of a unit tier's time is spent
# waiting on real processes and timers, so together they finish in about
# half the time of two at a time. Each one's output goes to .venv-py3.X.log
# and is shown when it fails. The Python that .venv-test was
# made from runs the whole suite in scripts/test.sh, so here it runs only the
# smoke test. Fails when any version fails.
#
#   bash scripts/test-pythons.sh [3.9 3.12 ...]     (default: every supported version)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSIONS=("$@")
if ((${#VERSIONS[@]} == 0)); then
    VERSIONS=(3.9 3.10 3.11 3.12 3.13)  # requires-python and the classifiers in pyproject.toml
fi
VERSIONS_DIR="${PYENV_ROOT:-$HOME/.pyenv}/versions"
UNIT_TIER_NEEDS=(pytest pytest-timeout hypothesis python-dotenv kubernetes-validate)
# uv (the test extra installs it into .venv-test) makes each venv in seconds;
# pip takes about 40 s of CPU for the same. Without it, pip.
UV=""
if [[ -x .venv-test/bin/uv ]]; then
    UV="$PWD/.venv-test/bin/uv"
elif command -v uv >/dev/null 2>&1; then
    UV=$(command -v uv)
fi
SUITE_PYTHON=""
if [[ -x .venv-test/bin/python ]]; then
    SUITE_PYTHON=$(.venv-test/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
fi

python_for() {
    local version=$1 newest
    newest=$(find "$VERSIONS_DIR" -maxdepth 1 -name "$version.*" 2>/dev/null | sort -V | tail -n 1)
    [[ -n "$newest" && -x "$newest/bin/python$version" ]] && echo "$newest/bin/python$version"
}

# A one-agent project in a temporary directory, run with this version's
# mesh-compose and interpreter; every step must succeed and nothing may be
# left running.
smoke() {
    local venv=$1 work pid
    work=$(mktemp -d)
    cat >"$work/mesh-compose.yaml" <<EOF
name: smoke
python: {interpreter: $PWD/$venv/bin/python}
agents:
  once: {script: once.py}
  sleeper: {script: sleeper.py, depends_on: {once: {condition: completed_successfully}}}
EOF
    echo 'print("once ran")' >"$work/once.py"
    printf 'import time\nprint("sleeper up", flush=True)\ntime.sleep(3600)\n' >"$work/sleeper.py"
    local status=0 cli="$PWD/$venv/bin/mesh-compose" listed=""
    # One && chain: `set -e` does not hold inside a command whose status is tested.
    (cd "$work" && "$cli" config -q && "$cli" up -d && "$cli" ps) || status=$?
    listed=$(cd "$work" && "$cli" ps --format json) || status=$?
    pid=$(printf '%s\n' "$listed" | "$venv/bin/python" -c \
        'import json, sys; print(*[r["Pid"] for r in map(json.loads, sys.stdin) if r["Name"] == "sleeper" and r["State"] == "running"])') || true
    [[ -n "$pid" ]] || { echo "smoke: sleeper is not running: $listed" >&2; status=1; }
    (cd "$work" && "$cli" down) || status=$?
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        echo "smoke: sleeper (pid $pid) still running after down" >&2
        kill "$pid" 2>/dev/null || true
        status=1
    fi
    rm -rf "$work"
    return "$status"
}

one_version() {
    local version=$1 python venv=.venv-py$1
    python=$(python_for "$version") || { echo "no Python $version under $VERSIONS_DIR"; return 1; }
    echo "== Python $version: $python"
    if [[ -n "$UV" ]]; then
        [[ -x "$venv/bin/python" ]] || "$UV" venv -q -p "$python" "$venv"
        UV_SYSTEM_CERTS=1 "$UV" pip install -q --python "$venv/bin/python" -e . "${UNIT_TIER_NEEDS[@]}"
    else
        [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -e . "${UNIT_TIER_NEEDS[@]}"
    fi
    if [[ "$version" != "$SUITE_PYTHON" ]]; then
        # A tenth of each fuzz test's examples: the suite's own Python runs them all.
        MESH_COMPOSE_FUZZ_SHARE=0.1 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit
    fi
    smoke "$venv"
}

failed=()
pids=()
names=()
wait_one() {  # the oldest running version
    local status=0
    wait "${pids[0]}" || status=$?
    if ((status != 0)); then
        failed+=("${names[0]}")
        echo "test-pythons: Python ${names[0]} FAILED (exit $status):" >&2
        tail -n 60 ".venv-py${names[0]}.log" >&2
    else
        echo "test-pythons: Python ${names[0]} passed" >&2
    fi
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
}
for version in "${VERSIONS[@]}"; do
    echo "test-pythons: Python $version" >&2
    one_version "$version" >".venv-py$version.log" 2>&1 &
    pids+=($!)
    names+=("$version")
done
while ((${#pids[@]} > 0)); do
    wait_one
done
if ((${#failed[@]} > 0)); then
    echo "test-pythons: FAILED on Python ${failed[*]}" >&2
    exit 1
fi
echo "test-pythons: every Python passed (${VERSIONS[*]})" >&2
