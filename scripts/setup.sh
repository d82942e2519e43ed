#!/usr/bin/env bash
# Installs what `make test` and `make demo` need, only when it is missing:
# Debian packages (iproute2, nftables, tcpdump, tshark, netcat, ethtool,
# valgrind, iputils-ping), the thumbv7em-none-eabihf target, a nightly toolchain and
# cargo-fuzz. Safe to run again: it does nothing when all is there.
set -euo pipefail
what=${1:-all}   # all | net | rust | fuzz | coverage (fuzz first)

need_apt=()
want() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
if [[ $what == all || $what == net ]]; then
    want ip iproute2
    want nft nftables
    want tcpdump tcpdump
    want tshark tshark
    want nc netcat-openbsd
    want ethtool ethtool
    want valgrind valgrind
    want iptables iptables
    want ping iputils-ping
fi
if ((${#need_apt[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup: missing ${need_apt[*]}; run as root (apt-get install)" >&2
        exit 1
    fi
    echo "setup: installing ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [[ $what == all || $what == rust ]]; then
    if ! rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
        echo "setup: adding rustup target thumbv7em-none-eabihf" >&2
        rustup target add thumbv7em-none-eabihf >/dev/null
    fi
fi
if [[ $what == all || $what == fuzz ]]; then
    if ! rustup toolchain list | grep -q '^nightly'; then
        echo "setup: installing the nightly toolchain (cargo-fuzz needs it)" >&2
        rustup toolchain install nightly --profile minimal >/dev/null
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "setup: installing cargo-fuzz" >&2
        cargo install --locked cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz >/dev/null
    fi
fi
if [[ $what == coverage ]]; then
    # `cargo fuzz coverage` and llvm-cov (fuzz/coverage.sh).
    if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^llvm-tools'; then
        echo "setup: adding llvm-tools-preview to nightly (fuzz coverage reports)" >&2
        rustup component add llvm-tools-preview --toolchain nightly >/dev/null
    fi
fi
