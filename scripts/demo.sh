#!/usr/bin/env bash
# Install Fathom and run it on the bundled sample capture: EVE JSON goes to eve.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/fathom analyze samples/demo.pcap --eve eve.json "$@"
echo "EVE events written to $(pwd)/eve.json"
