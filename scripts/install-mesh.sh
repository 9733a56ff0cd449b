#!/usr/bin/env bash
# Installs the real MCP Mesh stack for the `mesh` test tier and the example:
#   - the Python SDK `mcp-mesh` (import name `mesh`) into a dedicated venv, so
#     its ~230 MB of dependencies never touch the interpreter mesh-compose uses;
#   - the registry binary `mcp-mesh-registry` and `meshctl` (the benchmarks
#     compare against it), shipped inside the npm package
#     @mcpmesh/cli-linux-x64 (no separate download step, so it works offline
#     against the package registries alone).
# Idempotent: a second run with everything in place only verifies and prints.
# Needs python3 (with its venv module; Debian: python3-venv) and npm; uses uv
# when there is one. Override the location with MESH_STACK_DIR.
set -euo pipefail

# Pinned to the versions checked by hand: SDK and registry from one release.
MCP_MESH_VERSION="${MCP_MESH_VERSION:-3.7.1}"
MCP_MESH_CLI_VERSION="${MCP_MESH_CLI_VERSION:-3.7.1}"
# The newest SDK on PyPI, tested against the same registry (the newest on npm):
# it goes into a venv of its own, venv-<version>, beside the pinned one.
MCP_MESH_NEWEST_VERSION="${MCP_MESH_NEWEST_VERSION:-3.8.0}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STACK="${MESH_STACK_DIR:-$ROOT/.mesh-stack}"
VENV="$STACK/venv"
BIN="$STACK/bin"
REGISTRY="$BIN/mcp-mesh-registry"

# uv (scripts/test.sh installs it into .venv-test first) installs each SDK in
# a third of pip's time; without it, pip.
UV=""
if [[ -x "$ROOT/.venv-test/bin/uv" ]]; then
    UV="$ROOT/.venv-test/bin/uv"
elif command -v uv >/dev/null 2>&1; then
    UV=$(command -v uv)
fi

# The SDK needs Python >= 3.11: take MESH_PYTHON, else the first such python3.
find_python() {
    local candidate
    for candidate in ${MESH_PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "install-mesh.sh: the mcp-mesh SDK needs Python >= 3.11; none found (set MESH_PYTHON)" >&2
    exit 1
}

sdk_installed() { # VENV VERSION
    [ -x "$1/bin/python" ] &&
        "$1/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp-mesh') != sys.argv[1])" \
            "$2" 2>/dev/null
}

install_sdk() { # VENV VERSION
    local venv=$1 version=$2
    if sdk_installed "$venv" "$version"; then
        echo "mcp-mesh $version already in $venv"
        return
    fi
    if [[ -n "$UV" ]]; then
        # --seed: pip in the venv, as `python -m venv` gives it; --compile-bytecode:
        # as pip writes it, so no agent start compiles the SDK again.
        UV_SYSTEM_CERTS=1 "$UV" venv -q --seed --allow-existing -p "$(find_python)" "$venv"
        UV_SYSTEM_CERTS=1 "$UV" pip install -q --compile-bytecode --python "$venv/bin/python" "mcp-mesh==$version"
    else
        "$(find_python)" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q "mcp-mesh==$version"
    fi
    # Fail here, not in the tests (importing it logs a banner: keep it quiet).
    "$venv/bin/python" -c "import mesh" >/dev/null 2>&1 || "$venv/bin/python" -c "import mesh"
}

registry_installed() {
    [ -x "$REGISTRY" ] && [ -x "$BIN/meshctl" ] && [ -f "$BIN/.version" ] &&
        [ "$(cat "$BIN/.version")" = "$MCP_MESH_CLI_VERSION" ]
}

install_registry() {
    if registry_installed; then
        echo "mcp-mesh-registry $MCP_MESH_CLI_VERSION already at $REGISTRY"
        return
    fi
    local work
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    (cd "$work" && npm pack --silent "@mcpmesh/cli-linux-x64@$MCP_MESH_CLI_VERSION" >/dev/null)
    tar -xzf "$work"/*.tgz -C "$work"
    mkdir -p "$BIN"
    install -m 0755 "$work/package/bin/mcp-mesh-registry" "$REGISTRY"
    install -m 0755 "$work/package/bin/meshctl" "$BIN/meshctl"
    echo "$MCP_MESH_CLI_VERSION" >"$BIN/.version"
}

NEWEST_VENV="$STACK/venv-$MCP_MESH_NEWEST_VERSION"

mkdir -p "$STACK"
# The three installs share nothing and mostly wait on the package registries:
# they run side by side, and any one failing fails the script.
declare -A jobs
install_sdk "$VENV" "$MCP_MESH_VERSION" &
jobs[$!]="the mcp-mesh $MCP_MESH_VERSION SDK"
install_sdk "$NEWEST_VENV" "$MCP_MESH_NEWEST_VERSION" &
jobs[$!]="the mcp-mesh $MCP_MESH_NEWEST_VERSION SDK"
install_registry &
jobs[$!]="the registry and meshctl $MCP_MESH_CLI_VERSION (npm @mcpmesh/cli-linux-x64)"
status=0
for job in "${!jobs[@]}"; do
    wait "$job" || { status=$?; echo "install-mesh.sh: installing ${jobs[$job]} failed" >&2; }
done
((status == 0)) || exit "$status"
echo "MCP Mesh stack ready:"
echo "  SDK python:  $VENV/bin/python (mcp-mesh $MCP_MESH_VERSION)"
echo "  newest SDK:  $NEWEST_VENV/bin/python (mcp-mesh $MCP_MESH_NEWEST_VERSION)"
echo "  registry:    $REGISTRY ($MCP_MESH_CLI_VERSION)"
echo "  meshctl:     $BIN/meshctl ($MCP_MESH_CLI_VERSION)"
echo "  put the registry on PATH with: export PATH=\"$BIN:\$PATH\""
