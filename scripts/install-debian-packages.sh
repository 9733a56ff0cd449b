#!/usr/bin/env bash
# Installs the Debian packages the tests need and the machine lacks, each
# given as PACKAGE:COMMAND (the package is installed when COMMAND is not on
# PATH), e.g. `redis-server:redis-server chromium:chromium`. As root it uses
# apt-get; otherwise `sudo -n`, or it says what is missing and goes on (the
# tests that need it are then skipped with their reason, except in CI).
set -uo pipefail
missing=()
for item in "$@"; do
    package=${item%%:*}
    command=${item#*:}
    command -v "$command" >/dev/null 2>&1 || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0
if ! command -v apt-get >/dev/null; then
    echo "install-debian-packages.sh: no apt-get here; install ${missing[*]} by hand" >&2
    exit 1
fi
sudo=""
if ((EUID != 0)); then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
        echo "install-debian-packages.sh: not root and no sudo; install ${missing[*]} by hand" >&2
        exit 1
    fi
fi
echo "install-debian-packages.sh: installing ${missing[*]}" >&2
{ $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"; } >&2
