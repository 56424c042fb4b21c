#!/usr/bin/env bash
# Install the system tools the benchmark and the end-to-end tests need (Debian bookworm, run as root).
# Packages already present are left alone; the package index is refreshed only
# when something has to be installed and apt cannot find it.
set -euo pipefail

# command -> Debian package that provides it
declare -A NEEDED=(
    [tcpdump]=tcpdump
    [curl]=curl
    [dig]=dnsutils
    [ip]=iproute2
    [openssl]=openssl
    [ethtool]=ethtool
    [ndpiReader]=libndpi-bin
    # The IPFIX export is checked by decoding it with a real collector.
    [tshark]=tshark
    # The live-rate benchmark replays a capture into a veth pair.
    [tcpreplay]=tcpreplay
    # The lab's pods (sysctl) and the sensor tests (pgrep) use procps.
    [sysctl]=procps
    [pgrep]=procps
)

missing=()
for cmd in "${!NEEDED[@]}"; do
    if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ] && ! [ -x "/sbin/$cmd" ]; then
        missing+=("${NEEDED[$cmd]}")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh image has an empty package index: update only then, or when a package is unknown.
need_update=0
for pkg in "${missing[@]}"; do
    if ! apt-cache show "$pkg" >/dev/null 2>&1; then
        need_update=1
    fi
done
if [ "$need_update" -eq 1 ]; then
    apt-get update -q
fi
echo "setup.sh: installing ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}"
