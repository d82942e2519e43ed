#!/bin/sh
# Runs every fuzz target for SECONDS seconds each (default 20), starting
# from a scratch copy of the committed seed corpus so that the seeds stay
# as they are. Needs nightly and cargo-fuzz. Exits non-zero on a crash.
#
#   fuzz/run.sh 20
set -eu
SECONDS_EACH="${1:-20}"
cd "$(dirname "$0")"
TARGETS="ethernet arp ipv4 ipv6 icmpv4 icmpv6 tcp frame endpoint stack differential"
cargo +nightly fuzz build
for t in $TARGETS; do
    scratch="corpus/$t"
    mkdir -p "$scratch"
    cp -n corpus/seed/"$t"/* "$scratch"/ 2>/dev/null || true
    echo "== fuzz $t for ${SECONDS_EACH}s"
    cargo +nightly fuzz run "$t" "$scratch" -- -max_total_time="$SECONDS_EACH" -print_final_stats=1
done
echo "== all fuzz targets ran ${SECONDS_EACH}s each without a crash"
