#!/usr/bin/env bash
# make package: tcpcore is ready for crates.io.
#
# 1. `cargo package --list`: only the crate's own files (no fuzz corpora,
#    benches or scripts of the workspace), none over 1 MiB, the .crate
#    under 2 MiB;
# 2. `cargo package` with its verification: the .crate builds on its own;
# 3. the docs as docs.rs builds them ([package.metadata.docs.rs]:
#    all features, --cfg docsrs), warnings denied.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CARGO=${CARGO:-cargo}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

fail() { echo "make package: $*" >&2; exit 1; }

# Offline when the dependencies are in cargo's cache (after any build of
# the workspace), so that `make test` needs no network for this step.
net=(--offline)
$CARGO package -p tcpcore --allow-dirty --list --quiet --offline >/dev/null 2>&1 || net=()
list=$($CARGO package -p tcpcore --allow-dirty --list --quiet "${net[@]}" 2>/dev/null) ||
    fail "cargo package --list failed (run it to see why)"
stray=$(grep -vE '^(Cargo\.(toml|toml\.orig|lock)|\.cargo_vcs_info\.json|README\.md|CONFORMANCE\.md|LICENSE-(MIT|APACHE)|src/.*\.rs|tests/.*|examples/.*\.rs)$' <<<"$list" || true)
[[ -z $stray ]] || fail "files that do not belong in the crate:
$stray"
for f in LICENSE-MIT LICENSE-APACHE README.md src/lib.rs; do
    grep -qx "$f" <<<"$list" || fail "$f is missing from the crate"
done

$CARGO package -p tcpcore --allow-dirty --quiet "${net[@]}"
version=$($CARGO pkgid -p tcpcore | sed 's/.*[#@]//')
crate="$TARGET/package/tcpcore-$version.crate"
[[ -f $crate ]] || fail "$crate not found"
size=$(stat -c %s "$crate")
((size < 2 * 1024 * 1024)) || fail "$crate is $size bytes (over 2 MiB)"
big=$(find "$TARGET/package/tcpcore-$version" -path "*/target" -prune -o -type f -size +1M -print)
[[ -z $big ]] || fail "files over 1 MiB in the crate: $big"

RUSTDOCFLAGS="--cfg docsrs -D warnings" $CARGO doc -p tcpcore --all-features --no-deps --quiet

echo "make package: tcpcore $version packaged ($(wc -l <<<"$list") files, $size bytes compressed), verified, docs as on docs.rs"
