#!/usr/bin/env bash
# packaging/build-release.sh: builds the static x86_64 and aarch64 binaries, checks each one,
# then builds the .deb and .rpm of each architecture and checks their contents.
#
# For each target it checks that the binary
#   - has no ELF interpreter and no NEEDED entry (fully static: runs on any Linux, any libc);
#   - is of the right architecture (readelf's Machine);
#   - runs: `--version`, and a `plan` on a small fake root (openat2 and the rest of the
#     syscalls on the real path), natively or under qemu-aarch64-static;
#   - was built from pure-Rust dependencies only (packaging/check-pure-rust.sh);
#   - is under the size target (6 MB stripped).
# Then the man pages and completions are generated from the x86_64 binary (the clap definition
# is the same for both), and the packages are built with cargo-deb and cargo-generate-rpm.
#
# Needs: rustup targets x86_64-unknown-linux-musl and aarch64-unknown-linux-musl; readelf
# (binutils); qemu-aarch64-static with openat2 support (QEMU 9 or later: Debian 12's own 7.2
# lacks it, bookworm-backports has 10.0); cargo-deb; cargo-generate-rpm; rpm. .ci/release-checks
# installs all of them.
#
# Usage: packaging/build-release.sh            # both targets
#        TARGETS=x86_64-unknown-linux-musl packaging/build-release.sh
# Output: target/release-artifacts/ holds the binaries (amiprep-<triple>) and the packages.
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
TARGETS=${TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl}
OUT=target/release-artifacts
GEN=target/packaging
MAX_SIZE=$((6 * 1000 * 1000))
VERSION=$(cargo metadata --format-version 1 --no-deps --locked | jq -r '.packages[] | select(.name == "amiprep") | .version')

fail() { echo "build-release: FAIL: $*" >&2; exit 1; }
step() { printf '\n--> %s\n' "$*"; }

# The command that runs a binary of this target on this machine.
runner() {
    case $1 in
    x86_64-*) ;;
    aarch64-*) echo qemu-aarch64-static ;;
    *) fail "no runner known for $1" ;;
    esac
}

# readelf's name for the architecture of each target.
machine() {
    case $1 in
    x86_64-*) echo "Advanced Micro Devices X86-64" ;;
    aarch64-*) echo "AArch64" ;;
    esac
}

check_binary() {
    local t=$1 bin=$2 run
    run=$(runner "$t")
    readelf -lW "$bin" | grep -q 'INTERP' && fail "$bin has an ELF interpreter: not static"
    readelf -dW "$bin" | grep -q '(NEEDED)' && fail "$bin needs shared libraries: $(readelf -dW "$bin" | grep NEEDED)"
    local m
    m=$(readelf -hW "$bin" | sed -n 's/^ *Machine: *//p')
    [ "$m" = "$(machine "$t")" ] || fail "$bin is for '$m', not $t"
    local v
    v=$($run "$bin" --version) || fail "$bin --version did not run"
    [ "$v" = "amiprep $VERSION" ] || fail "$bin --version printed '$v', not 'amiprep $VERSION'"
    # A real run: a plan on a small fake root goes through openat2, statx, the walks' threads.
    local root
    root=$(mktemp -d)
    mkdir -p "$root/etc/ssh" "$root/tmp/junk" "$root/var/log"
    echo key >"$root/etc/ssh/ssh_host_ed25519_key"
    echo x >"$root/tmp/junk/file"
    echo log >"$root/var/log/syslog"
    local plan
    plan=$($run "$bin" plan --root "$root" --format json) || { rm -rf "$root"; fail "$bin plan did not run"; }
    rm -rf "$root"
    for want in /etc/ssh/ssh_host_ed25519_key /tmp /var/log/syslog; do
        jq -e --arg p "$want" '[.actions[].path] | index($p)' <<<"$plan" >/dev/null ||
            fail "$bin plan on a fake root does not plan $want: $plan"
    done
    local size
    size=$(stat -c %s "$bin")
    [ "$size" -lt "$MAX_SIZE" ] || fail "$bin is $size bytes, over the $MAX_SIZE target"
    echo "$t: static, $m, runs${run:+ under $run}, $size bytes"
}

mkdir -p "$OUT"
for t in $TARGETS; do
    step "cargo build --release --target $t"
    cargo build --release --locked --target "$t"
    bin=target/$t/release/amiprep
    check_binary "$t" "$bin"
    bash packaging/check-pure-rust.sh "$t"
    cp "$bin" "$OUT/amiprep-$t"
done

step "man pages and completions, from the binary's clap definition"
host_bin=target/x86_64-unknown-linux-musl/release/amiprep
[ -x "$host_bin" ] || cargo build --release --locked --target x86_64-unknown-linux-musl
rm -rf "$GEN"
mkdir -p "$GEN/man" "$GEN/completions"
"$host_bin" manpage --dir "$GEN/man"
gzip -9n "$GEN"/man/*.1
"$host_bin" completions bash >"$GEN/completions/amiprep.bash"
"$host_bin" completions zsh >"$GEN/completions/_amiprep"
"$host_bin" completions fish >"$GEN/completions/amiprep.fish"

# What every package must hold, whatever the distribution puts where.
expected=(
    /usr/bin/amiprep
    /usr/share/man/man1/amiprep.1.gz
    /usr/share/man/man1/amiprep-seal.1.gz
    /usr/share/bash-completion/completions/amiprep
    /usr/share/fish/vendor_completions.d/amiprep.fish
    /usr/share/doc/amiprep/examples/default.toml
    /usr/share/doc/amiprep/examples/nginx-web.toml
)

for t in $TARGETS; do
    step "cargo deb --target $t"
    # --no-build: the binary checked above is the one packaged; it is already stripped.
    deb=$(cargo deb --target "$t" --no-build --no-strip --output "$OUT/" | tail -n1)
    [ -f "$deb" ] || fail "cargo deb made no package"
    arch=$(dpkg-deb -f "$deb" Architecture)
    case $t in x86_64-*) want=amd64 ;; aarch64-*) want=arm64 ;; esac
    [ "$arch" = "$want" ] || fail "$deb is for $arch, not $want"
    files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\.||')
    for f in "${expected[@]}" /usr/share/zsh/vendor-completions/_amiprep /usr/lib/systemd/system/amiprep-firstboot.service; do
        grep -qx "$f" <<<"$files" || fail "$deb lacks $f"
    done
    # The unit is enabled by the package and never started at install time.
    ctl=$(mktemp -d)
    dpkg-deb -e "$deb" "$ctl"
    grep -q 'deb-systemd-helper enable amiprep-firstboot.service' "$ctl/postinst" || fail "$deb does not enable the unit"
    if grep -Eq 'deb-systemd-invoke (start|restart|\$_dh_action)' "$ctl/postinst"; then
        fail "$deb starts amiprep-firstboot.service at install time"
    fi
    rm -rf "$ctl"
    cmp -s <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/amiprep) "target/$t/release/amiprep" ||
        fail "$deb does not hold the binary checked above"
    echo "$deb: $arch, $(wc -l <<<"$files") entries"

    step "cargo generate-rpm --target $t"
    cargo generate-rpm --target "$t" --output "$OUT/"
    case $t in x86_64-*) rarch=x86_64 ;; aarch64-*) rarch=aarch64 ;; esac
    rpmfile=$OUT/amiprep-$VERSION-1.$rarch.rpm
    [ -f "$rpmfile" ] || fail "cargo generate-rpm made no $rpmfile"
    [ "$(rpm -qp --qf '%{ARCH}' "$rpmfile")" = "$rarch" ] || fail "$rpmfile is not $rarch"
    files=$(rpm -qlp "$rpmfile")
    for f in "${expected[@]}" /usr/share/zsh/site-functions/_amiprep /usr/lib/systemd/system/amiprep-firstboot.service; do
        grep -qx "$f" <<<"$files" || fail "$rpmfile lacks $f"
    done
    scripts=$(rpm -qp --scripts "$rpmfile")
    grep -q 'systemctl --no-reload enable amiprep-firstboot.service' <<<"$scripts" || fail "$rpmfile does not enable the unit"
    grep -Eq 'systemctl .*(start|restart)' <<<"$scripts" && fail "$rpmfile starts a unit at install time"
    grep -q 'install -d -o root -g root -m 0755 /etc/amiprep /etc/amiprep/profiles' <<<"$scripts" ||
        fail "$rpmfile does not create /etc/amiprep/profiles"
    echo "$rpmfile: $rarch, $(wc -l <<<"$files") files"
done

step "artifacts"
ls -l "$OUT"
