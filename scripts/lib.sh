# Shared by demo.sh and valgrind.sh (sourced, not run): a pair of network
# namespaces joined by veth, the server's lifetime, and cleanup.
# The sourcing script sets SRV_NS, CLI_NS, TMP; this file sets SERVER_PID,
# the EXIT trap and the functions below.

SERVER_PID=

cleanup() {
    local rc=$?
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    ip netns del "$SRV_NS" 2>/dev/null || true
    ip netns del "$CLI_NS" 2>/dev/null || true
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two namespaces joined by a veth pair: 198.18.0.1/24 on the server side,
# 198.18.0.2/24 on the client side (IPv6 off, so no stray frames).
make_pair() {
    ip netns add "$SRV_NS"
    ip netns add "$CLI_NS"
    ip link add "$SRV_NS" netns "$SRV_NS" type veth peer name "$CLI_NS" netns "$CLI_NS"
    ip -n "$SRV_NS" addr add 198.18.0.1/24 dev "$SRV_NS"
    ip -n "$CLI_NS" addr add 198.18.0.2/24 dev "$CLI_NS"
    local ns
    for ns in "$SRV_NS" "$CLI_NS"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
        ip -n "$ns" link set "$ns" up
        ip -n "$ns" link set lo up
    done
}

# Waits ($1 steps of 50 ms at most) for the server's
# "listening on" line in its trace ($2, default $TMP/trace); false if it
# did not come.
wait_listening() {
    local _ trace=${2:-$TMP/trace}
    for _ in $(seq "$1"); do
        grep -q "listening on" "$trace" 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    grep -q "listening on" "$trace"
}

# Waits ($1 steps of 50 ms at most) for the server to exit; sets
# SERVER_STATUS to its exit status (empty if it is still running) and clears
# SERVER_PID once it has gone.
wait_server_exit() {
    local _
    SERVER_STATUS=
    for _ in $(seq "$1"); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            set +e; wait "$SERVER_PID"; SERVER_STATUS=$?; set -e
            SERVER_PID=
            return 0
        fi
        sleep 0.05
    done
    return 1
}
