#!/usr/bin/env bash
# packaging/check-pure-rust.sh TARGET...: fails if any dependency of amiprep, for that target,
# builds C code or links a library. Every dependency must stay pure Rust: C code breaks the
# static aarch64 build (there is no cross C compiler here, only rust-lld) and a system library
# breaks "one static binary".
#
# Run it after `cargo build --release --target TARGET` (packaging/build-release.sh does). Three
# checks, each on what cargo actually resolved and ran, not on a list of known crate names:
#   1. no package in the normal or build dependency graph declares `links` (the manifest key
#      every crate wrapping a native library must set);
#   2. no build script of the release build told rustc to link a library or search a library
#      directory (`cargo:rustc-link-lib`, `cargo:rustc-link-search`, either syntax);
#   3. no build script left an object file or archive in its OUT_DIR (what `cc`, `cmake` and
#      friends produce).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
[ $# -gt 0 ] || { echo "usage: $0 TARGET..." >&2; exit 2; }

status=0
for t in "$@"; do
    bad=0
    # 1. Everything reachable from amiprep through normal and build edges (dev-dependencies
    # never reach the binary), on this platform.
    links=$(cargo metadata --format-version 1 --locked --filter-platform "$t" | jq -r '
        (.resolve.nodes | map({key: .id, value: [.deps[] | select(any(.dep_kinds[]; .kind != "dev")) | .pkg]})
            | from_entries) as $graph
        | def closure: . as $s | ($s + [$s[] | $graph[.][]] | unique) as $n
            | if ($n | length) == ($s | length) then $s else ($n | closure) end;
        ([.resolve.root] | closure) as $reached
        | .packages[] | select(.id as $id | $reached | index($id)) | select(.links != null)
        | "\(.name) \(.version) links \(.links)"')
    if [ -n "$links" ]; then
        echo "check-pure-rust: $t: dependencies wrapping a native library:" >&2
        echo "$links" >&2
        bad=1
    fi

    build=target/$t/release/build
    [ -d "$build" ] || { echo "check-pure-rust: $build missing: build the release for $t first" >&2; exit 2; }
    # 2. Link directives from build scripts.
    directives=$(grep -HE '^cargo::?rustc-link-(lib|search)' "$build"/*/output 2>/dev/null || true)
    if [ -n "$directives" ]; then
        echo "check-pure-rust: $t: build scripts link native code:" >&2
        echo "$directives" >&2
        bad=1
    fi
    # 3. Compiled C (or assembly, C++) left by build scripts.
    objects=$(find "$build" -path '*/out/*' -type f \( -name '*.o' -o -name '*.a' -o -name '*.obj' -o -name '*.so' \) 2>/dev/null)
    if [ -n "$objects" ]; then
        echo "check-pure-rust: $t: build scripts compiled native code:" >&2
        echo "$objects" >&2
        bad=1
    fi
    if [ $bad -eq 0 ]; then
        echo "check-pure-rust: $t: every dependency is pure Rust"
    else
        status=1
    fi
done
exit $status
