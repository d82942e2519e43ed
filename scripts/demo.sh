#!/usr/bin/env bash
# make demo: tcp-server answers a Linux TCP client over a private veth pair.
#
# Two network namespaces (named with this script's pid) joined by a veth
# pair: the server side has 198.18.0.1/24, the client side 198.18.0.2/24.
# The server runs in own-address mode on 198.18.0.10, an address the kernel
# does not own (the server answers ARP for it), so the kernel never resets
# its connections and no firewall rule is needed. The client is `nc`.
# Everything is removed on exit, also on failure or Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRV_NS="tsdemo$$s"
CLI_NS="tsdemo$$c"
SRV_ADDR=198.18.0.10
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

say "building: cargo build --release -p tcp-server"
(cd "$ROOT" && cargo build --release -p tcp-server --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/tcp-server"
[[ -x $BIN ]] || { echo "demo: $BIN not found after the build" >&2; exit 1; }

say "network: $SRV_NS (198.18.0.1/24) <-veth-> $CLI_NS (198.18.0.2/24)"
make_pair

say "server: tcp-server -d -s -i $SRV_NS --ip $SRV_ADDR   (own-address mode: no firewall rule needed)"
ip netns exec "$SRV_NS" "$BIN" -d -s -i "$SRV_NS" --ip "$SRV_ADDR" -p "$PORT" \
    >"$TMP/payload" 2>"$TMP/trace" &
SERVER_PID=$!
wait_listening 100 || { cat "$TMP/trace" >&2; echo "demo: the server did not start" >&2; exit 1; }

say "client: printf 'Hello\\n' | nc -N $SRV_ADDR $PORT   (Linux TCP, in $CLI_NS)"
printf 'Hello\n' | ip netns exec "$CLI_NS" timeout 5 nc -N -w 5 "$SRV_ADDR" "$PORT"

status=
for _ in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        set +e; wait "$SERVER_PID"; status=$?; set -e
        SERVER_PID=
        break
    fi
    sleep 0.05
done

say "server trace (stderr)"
cat "$TMP/trace"
say "payload (stdout)"
cat "$TMP/payload"
if [[ -z $status ]]; then
    echo "demo: the server did not exit within 5 s" >&2
    exit 1
fi
say "server exit status: $status"
[[ $status -eq 0 ]] && [[ $(cat "$TMP/payload") == Hello ]]
