#!/usr/bin/env bash
# Install Fathom and run it on the bundled defaults: the sample capture's EVE JSON goes to eve.json,
# then the manager (`fathom serve`, on its embedded SQLite store) takes the alerts of a capture of
# attack traffic and lists the newest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/fathom analyze samples/demo.pcap --eve eve.json "$@"
echo "EVE events written to $(pwd)/eve.json"

MANAGER=http://127.0.0.1:8765
up() { .venv/bin/python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "$MANAGER/api/v1/status" >/dev/null 2>&1; }
started=""
if ! up; then
    .venv/bin/fathom serve --listen 127.0.0.1:8765 2>/dev/null &
    started=$!
    trap '[ -n "$started" ] && kill "$started" 2>/dev/null; true' EXIT
    for _ in $(seq 100); do
        up && break
        sleep 0.2
    done
fi
# One conversation per targeted community rule (see tests/data/corpus/README.md).
.venv/bin/fathom analyze tests/data/corpus/parity/parity_p03.pcap --manager "$MANAGER" --quiet
.venv/bin/python - "$MANAGER" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
with urllib.request.urlopen(f"{base}/api/v1/alerts?limit=10", timeout=10) as response:
    alerts = json.load(response)["items"]
with urllib.request.urlopen(f"{base}/api/v1/alerts/histogram", timeout=10) as response:
    total = sum(sum(b["counts"].values()) for b in json.load(response)["buckets"])
print(f"The manager at {base} holds {total} alerts; the newest:")
for a in alerts:
    print(f"  [{a['alert']['severity']}] {a['alert']['signature_id']:>6} {a['alert']['signature'][:70]}"
          f"  {a['src_ip']} -> {a['dest_ip']}:{a.get('dest_port', '')}")
PY
echo "Browse them in the web UI: .venv/bin/fathom serve, then open $MANAGER/"
