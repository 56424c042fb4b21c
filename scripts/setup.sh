#!/usr/bin/env bash
# Install what Fathom needs on a Debian machine (as root) and build the virtualenv in .venv.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

python=""
for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        python=$(command -v "$cand")
        break
    fi
done
if [ -z "$python" ] || ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3 python3-venv python3-dev
    python=${python:-/usr/bin/python3}
fi

extras=""
if [ "${1:-}" = "--dev" ]; then
    extras="[dev]"
    # The UI tests drive Debian's Chromium through Playwright (no browser download); the manager's
    # tests and its ingestion benchmark start a throwaway PostgreSQL server from Debian's binaries.
    apt_install chromium postgresql
    # Real traffic for the end-to-end tests and the benchmark: namespaces, capture, clients, peers.
    bash bench/setup.sh
fi

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=".venv/.fathom-installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".$extras"
    touch "$stamp"
fi
# An editable install leaves Fathom's bytecode to be written on first import, which does not happen
# where PYTHONDONTWRITEBYTECODE is set: every run would then compile every module again.
.venv/bin/python -m compileall -q src
