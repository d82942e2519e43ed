#!/usr/bin/env bash
# make valgrind: one single session of tcp-server under valgrind's memcheck
# (--leak-check=full --error-exitcode=1), in a private pair of network
# namespaces like the demo; prints valgrind's summary and fails on any error
# or leak. Everything is removed on exit, also on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRV_NS="tsvg$$s"
CLI_NS="tsvg$$c"
SRV_ADDR=198.18.0.10
PORT=3000
TMP=$(mktemp -d /tmp/tcp-server-valgrind.XXXXXX)
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

if [[ $(id -u) -ne 0 ]]; then
    echo "valgrind.sh: needs root (network namespaces and raw sockets)" >&2
    exit 1
fi
missing=()
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

(cd "$ROOT" && cargo build --release -p tcp-server --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/tcp-server"

make_pair

# A small table (--max-conns 4) keeps the run quick under valgrind; every
# code path of a session is the same as with the default 1024.
ip netns exec "$SRV_NS" valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 --log-file="$TMP/valgrind.log" \
    "$BIN" -d -s -i "$SRV_NS" --ip "$SRV_ADDR" -p "$PORT" --max-conns 4 \
    >"$TMP/payload" 2>"$TMP/trace" &
SERVER_PID=$!
wait_listening 600 || { cat "$TMP/trace" "$TMP/valgrind.log" >&2; exit 1; }

printf 'Hello\n' | ip netns exec "$CLI_NS" timeout 10 nc -N -w 10 "$SRV_ADDR" "$PORT"

status=
for _ in $(seq 600); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        set +e; wait "$SERVER_PID"; status=$?; set -e
        SERVER_PID=
        break
    fi
    sleep 0.05
done
[[ -n $status ]] || { echo "valgrind.sh: the server did not exit within 30 s" >&2; exit 1; }

cat "$TMP/trace"
echo
sed -n '/HEAP SUMMARY/,$p' "$TMP/valgrind.log"
echo
echo "payload: $(cat "$TMP/payload")"
echo "exit status under valgrind: $status"
[[ $status -eq 0 ]] && [[ $(cat "$TMP/payload") == Hello ]]
