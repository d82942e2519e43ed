#!/bin/sh
# Coverage of fuzz targets over their corpora (fuzz/corpus/<target>, grown
# by fuzz/run.sh or `make fuzz`): runs `cargo fuzz coverage` and prints
# llvm-cov's summary of tcpcore's sources, also written to
# fuzz/coverage/<target>.txt. Needs nightly, cargo-fuzz and llvm-tools
# (`bash scripts/setup.sh fuzz && bash scripts/setup.sh coverage`).
#
#   fuzz/coverage.sh arp ethernet      # no argument: every target
set -eu
cd "$(dirname "$0")"
TARGETS="${*:-ethernet arp ipv4 ipv6 icmpv4 icmpv6 tcp frame endpoint differential}"
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
sysroot=$(rustc +nightly --print sysroot)
llvm_cov="$sysroot/lib/rustlib/$host/bin/llvm-cov"
mkdir -p coverage
for t in $TARGETS; do
    if [ ! -d "corpus/$t" ]; then
        echo "coverage: no corpus/$t (run fuzz/run.sh first)" >&2
        exit 2
    fi
    echo "== coverage of $t over $(ls "corpus/$t" | wc -l) corpus inputs" >&2
    cargo +nightly fuzz coverage "$t" "corpus/$t" >/dev/null 2>&1
    "$llvm_cov" report "target/$host/coverage/$host/release/$t" \
        -instr-profile="coverage/$t/coverage.profdata" \
        -ignore-filename-regex='/(\.cargo|rustc|fuzz)/' \
        | sed "s|$(cd .. && pwd)/||" > "coverage/$t.txt"
    cat "coverage/$t.txt"
done
