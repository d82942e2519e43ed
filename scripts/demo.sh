#!/usr/bin/env bash
# make demo: tcp-server answers a Linux TCP client over a private veth pair,
# then tcp-client talks to tcp-server (in echo mode) over the same pair,
# then the first exchange again over IPv6.
#
# Two network namespaces (named with this script's pid) joined by a veth
# pair: the server side has 198.18.0.1/24, the client side 198.18.0.2/24.
# The server runs in own-address mode on 198.18.0.10, an address the kernel
# does not own (the server answers ARP for it), so the kernel never resets
# its connections and no firewall rule is needed. The first client is `nc`;
# the second is tcp-client on 198.18.0.20, also not the kernel's. For the
# third, IPv6 is turned on in the client's namespace (2001:2::2/64) and the
# server serves 2001:2::10, answering neighbor solicitations for it.
# Everything is removed on exit, also on failure or Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRV_NS="tsdemo$$s"
CLI_NS="tsdemo$$c"
SRV_ADDR=198.18.0.10
CLI_ADDR=198.18.0.20
PORT=3000
TMP=$(mktemp -d /tmp/tcp-server-demo.XXXXXX)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

say() { printf '\n== %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
    echo "demo: needs root (network namespaces and raw sockets): sudo make demo" >&2
    exit 1
fi

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
{ command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q 'OpenBSD netcat'; } || missing+=(netcat-openbsd)
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

say "building: cargo build --release -p tcp-server   (tcp-server and tcp-client)"
(cd "$ROOT" && cargo build --release -p tcp-server --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/tcp-server"
CLIENT="${CARGO_TARGET_DIR:-$ROOT/target}/release/tcp-client"
for b in "$BIN" "$CLIENT"; do
    [[ -x $b ]] || { echo "demo: $b not found after the build" >&2; exit 1; }
done

say "network: $SRV_NS (198.18.0.1/24) <-veth-> $CLI_NS (198.18.0.2/24)"
make_pair

say "server: tcp-server -d -s -i $SRV_NS --ip $SRV_ADDR   (own-address mode: no firewall rule needed)"
ip netns exec "$SRV_NS" "$BIN" -d -s -i "$SRV_NS" --ip "$SRV_ADDR" -p "$PORT" \
    >"$TMP/payload" 2>"$TMP/trace" &
SERVER_PID=$!
wait_listening 100 || { cat "$TMP/trace" >&2; echo "demo: the server did not start" >&2; exit 1; }

say "client: printf 'Hello\\n' | nc -N $SRV_ADDR $PORT   (Linux TCP, in $CLI_NS)"
printf 'Hello\n' | ip netns exec "$CLI_NS" timeout 5 nc -N -w 5 "$SRV_ADDR" "$PORT"

wait_server_exit 100 || true
status=$SERVER_STATUS

say "server trace (stderr)"
cat "$TMP/trace"
say "payload (stdout)"
cat "$TMP/payload"
if [[ -z $status ]]; then
    echo "demo: the server did not exit within 5 s" >&2
    exit 1
fi
say "server exit status: $status"
if [[ $status -ne 0 ]] || [[ $(cat "$TMP/payload") != Hello ]]; then
    echo "demo: the server session failed (exit $status, payload above)" >&2
    exit 1
fi

# Part two: our client to our server. tcp-server echoes (RFC 862) this
# time; tcp-client, in the client namespace on 198.18.0.20 (another
# address the kernel does not own: it answers ARP for it too), resolves the
# server by ARP, opens the connection, sends its stdin, closes at EOF and
# prints what comes back.
MSG="Hello from tcp-client"
say "server: tcp-server -s --mode echo -i $SRV_NS --ip $SRV_ADDR"
ip netns exec "$SRV_NS" "$BIN" -s --mode echo -i "$SRV_NS" --ip "$SRV_ADDR" -p "$PORT" \
    >/dev/null 2>"$TMP/trace2" &
SERVER_PID=$!
wait_listening 100 "$TMP/trace2" || {
    cat "$TMP/trace2" >&2; echo "demo: the echo server did not start" >&2; exit 1
}

say "client: echo '$MSG' | tcp-client -d -i $CLI_NS --ip $CLI_ADDR $SRV_ADDR $PORT"
set +e
echo "$MSG" | ip netns exec "$CLI_NS" timeout 10 "$CLIENT" -d -i "$CLI_NS" --ip "$CLI_ADDR" \
    "$SRV_ADDR" "$PORT" >"$TMP/reply" 2>"$TMP/client-trace"
client_status=$?
set -e
wait_server_exit 100 || true
status=$SERVER_STATUS

say "client trace (stderr)"
cat "$TMP/client-trace"
say "what came back (client stdout)"
cat "$TMP/reply"
say "client exit status: $client_status; echo server exit status: ${status:-still running}"
if [[ $client_status -ne 0 ]] || [[ $(cat "$TMP/reply") != "$MSG" ]]; then
    echo "demo: the tcp-client session failed; the echo server's log:" >&2
    cat "$TMP/trace2" >&2
    exit 1
fi
if [[ -z $status ]] || [[ $status -ne 0 ]]; then
    echo "demo: the echo server did not exit cleanly; its log:" >&2
    cat "$TMP/trace2" >&2
    exit 1
fi

# Part three: the first exchange over IPv6 (RFC 8200; the server answers
# the client kernel's neighbor solicitation for its address itself).
SRV6=2001:2::10
say "network: IPv6 on in $CLI_NS (2001:2::2/64); the server's namespace keeps it off"
ip netns exec "$CLI_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 "net.ipv6.conf.$CLI_NS.disable_ipv6=0"
ip -n "$CLI_NS" addr add 2001:2::2/64 dev "$CLI_NS" nodad
say "server: tcp-server -d -s -i $SRV_NS --ip $SRV6"
ip netns exec "$SRV_NS" "$BIN" -d -s -i "$SRV_NS" --ip "$SRV6" -p "$PORT" \
    >"$TMP/payload6" 2>"$TMP/trace6" &
SERVER_PID=$!
wait_listening 100 "$TMP/trace6" || {
    cat "$TMP/trace6" >&2; echo "demo: the IPv6 server did not start" >&2; exit 1
}
say "client: printf 'Hello over IPv6\\n' | nc -6 -N $SRV6 $PORT   (Linux TCP, in $CLI_NS)"
printf 'Hello over IPv6\n' | ip netns exec "$CLI_NS" timeout 5 nc -6 -N -w 5 "$SRV6" "$PORT"
wait_server_exit 100 || true
status=$SERVER_STATUS
say "server trace (stderr)"
cat "$TMP/trace6"
say "payload (stdout)"
cat "$TMP/payload6"
say "server exit status: ${status:-still running}"
if [[ -z $status ]] || [[ $status -ne 0 ]] || [[ $(cat "$TMP/payload6") != "Hello over IPv6" ]]; then
    echo "demo: the IPv6 session failed (exit ${status:-none}, payload above)" >&2
    exit 1
fi
say "demo: all three sessions passed"
