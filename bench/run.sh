#!/usr/bin/env bash
# Benchmark `fathom analyze` against the installed peers on cached real-traffic captures.
# Usage: bash bench/run.sh [run.py options], e.g. --capture all --repeat 5 --json out.json
# Needs root the first time: installing tools and generating captures use apt, netns and tcpdump.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash bench/setup.sh

if [ ! -x .venv/bin/fathom ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q -e .
fi

exec .venv/bin/python -m bench.run --generate-missing "$@"
