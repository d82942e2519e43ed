#!/usr/bin/env bash
# End-to-end benchmark (root): tcp-server side by side with the Linux
# kernel's TCP and smoltcp on one veth pair between two network namespaces
# made for the run. Builds the release binaries, runs benches/e2e
# (`bench-e2e`), prints one table and writes benches/results/e2e-<date>.json
# (and latest.json for a full run).
#
#   bash scripts/bench-e2e.sh            # full: 1 GiB uploads, 3 rounds (~5-10 min)
#   bash scripts/bench-e2e.sh --quick    # smoke run: 64 MiB, 1 round, 1000 connections
#   bash scripts/bench-e2e.sh --only upload,echo   # parts: upload upload6 tun echotput connrate echo memory scaling download
#   bash scripts/bench-e2e.sh --only download --download-mib 32 --rounds 1   # quick download check
#   bash scripts/bench-e2e.sh --only download --download-paths clean,loss1   # some download paths
#
# CARGO_TARGET_DIR is honoured (default: target/ of the workspace).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
    echo "bench-e2e: needs root (network namespaces, raw sockets): sudo make bench-e2e" >&2
    exit 2
fi
for tool in ip ethtool; do
    command -v "$tool" >/dev/null || { echo "bench-e2e: needs \`$tool\` (bash scripts/setup.sh net)" >&2; exit 2; }
done

target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -p tcp-server -p benches --bins >&2
bin=$target/release

# The runner removes its namespaces itself (also on error); this is the
# safety net if it is killed: its namespaces carry its pid
# (rn<pid>e2e{a,b}, rn<pid>e2et{c,s} for the TUN row, and
# rn<pid>dl{a,r,b} for the download part's relay), and only processes
# inside those are stopped (e2e-tun-relay, outside them, ends with its
# parent: PR_SET_PDEATHSIG).
runner=""
cleanup() {
    [[ -n $runner ]] || return 0
    kill "$runner" 2>/dev/null || true
    for ns in "rn${runner}e2ea" "rn${runner}e2eb" "rn${runner}e2etc" "rn${runner}e2ets" "rn${runner}dla" "rn${runner}dlr" "rn${runner}dlb"; do
        if ip netns list | grep -q "^$ns\b"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/bench-e2e" --server "$bin/tcp-server" "$@" &
runner=$!
status=0
wait "$runner" || status=$?
exit $status
