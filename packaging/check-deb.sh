#!/usr/bin/env bash
# packaging/check-deb.sh DEB: installs the amd64 .deb into a fresh Debian 12 root (debootstrap,
# in a chroot) and checks what a user gets, then that removing and purging it leave nothing
# behind but the admin's own profile.
#
# Checks, in the chroot after `dpkg -i`:
#   - `amiprep --version` and `amiprep profile list` run (the list shows a profile the admin put
#     in /etc/amiprep/profiles, which the package created root-owned with mode 0755);
#   - `man -w amiprep` and `man -w amiprep-seal` find the man pages;
#   - `systemctl --root=ROOT is-enabled amiprep-firstboot.service` says enabled;
#   - the bash, zsh and fish completions are where those shells look.
# Then `dpkg -r` with the admin's profile and some amiprep state (/var/lib/amiprep) there: the
# only files left are those, as Debian keeps a removed package's state until purge; and
# `dpkg -P` once the admin's profile is gone: nothing left at all. The root's file list is
# compared with the one taken before the install, leaving out dpkg's own database and logs and
# man-db's index cache.
#
# The debootstrapped root is cached in CACHE (default /var/cache/amiprep-ci) and rebuilt when
# missing (about a minute); each run works on a copy, so the cache stays pristine. The mirror
# is the one this machine's apt uses for bookworm.
#
# Needs root, debootstrap, and a systemctl on the host (for --root).
set -euo pipefail
export LC_ALL=C

DEB=${1:?usage: $0 path/to/amiprep_VERSION_amd64.deb}
DEB=$(realpath "$DEB")
CACHE=${CACHE:-/var/cache/amiprep-ci}
BASE=$CACHE/bookworm-minbase
SUITE=bookworm

fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }
step() { printf '\n--> %s\n' "$*"; }

[ "$(dpkg-deb -f "$DEB" Architecture)" = amd64 ] || fail "$DEB is not an amd64 package: it must run in this machine's chroot"

# The cached root: built in a temp directory and renamed into place, so a run killed halfway
# never leaves a half-built root that a later run would trust; under a lock, so two CI runs on
# one machine never build (or copy) it at the same time.
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ ! -f "$BASE/.amiprep-ci-complete" ]; then
    step "debootstrap $SUITE into $BASE (cache missing)"
    mirror=$(apt-cache policy | awk -v s="$SUITE/main" '$3 == s && $4 == "amd64" {print $2; exit}')
    [ -n "$mirror" ] || fail "no $SUITE/main source in this machine's apt configuration (run apt-get update)"
    rm -rf "$BASE" "$BASE.new"
    # man-db for `man -w`; systemd for the unit directories and deb-systemd-helper.
    debootstrap --variant=minbase --include=systemd,man-db "$SUITE" "$BASE.new" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
        fail "debootstrap failed, see $CACHE/debootstrap.log"
    touch "$BASE.new/.amiprep-ci-complete"
    mv "$BASE.new" "$BASE"
fi

WORK=$(mktemp -d /var/tmp/amiprep-check-deb.XXXXXX)
ROOT=$WORK/root
mounted=()
cleanup() {
    local m
    for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
step "fresh copy of the cached root in $ROOT"
cp -a "$BASE" "$ROOT"
flock -u 9
rm "$ROOT/.amiprep-ci-complete"
# Maintainer scripts and man-db want /proc; /dev is already populated by debootstrap.
mount -t proc proc "$ROOT/proc"
mounted+=("$ROOT/proc")
in_root() { chroot "$ROOT" "$@"; }

# Every path in the root with its type and mode, minus what dpkg and man-db keep about
# themselves: their bookkeeping changes with any install and is not the package's.
inventory() {
    (cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache/man -o -path ./var/cache/debconf -o -path ./tmp \) -prune -o -printf '%y %m %u %p\n') | sort
}
inventory >"$WORK/before"

step "dpkg -i $(basename "$DEB")"
cp "$DEB" "$ROOT/tmp/amiprep.deb"
in_root dpkg -i /tmp/amiprep.deb
rm "$ROOT/tmp/amiprep.deb"

step "checks in the chroot"
version=$(dpkg-deb -f "$DEB" Version)
out=$(in_root amiprep --version)
[ "$out" = "amiprep ${version%-*}" ] || fail "amiprep --version printed '$out'"
echo "amiprep --version: $out"

[ "$(stat -c '%U:%G %a' "$ROOT/etc/amiprep/profiles")" = "root:root 755" ] ||
    fail "/etc/amiprep/profiles is $(stat -c '%U:%G %a' "$ROOT/etc/amiprep/profiles"), not root:root 755"
# What an admin does: a profile of their own, from the shipped examples.
install -m 0644 "$ROOT/usr/share/doc/amiprep/examples/nginx-web.toml" "$ROOT/etc/amiprep/profiles/site.toml"
out=$(in_root amiprep profile list)
echo "$out"
grep -q '^default ' <<<"$out" || fail "profile list lacks the built-in default"
grep -q '^site .*/etc/amiprep/profiles/site.toml' <<<"$out" || fail "profile list lacks the admin's profile"
grep -q 'invalid' <<<"$out" && fail "profile list calls a profile invalid"
in_root amiprep profile check site >/dev/null || fail "the admin's profile does not check"

for page in amiprep amiprep-seal amiprep-plan; do
    p=$(in_root man -w "$page") || fail "man -w $page finds nothing"
    echo "man -w $page: $p"
done

state=$(systemctl --root="$ROOT" is-enabled amiprep-firstboot.service) || fail "amiprep-firstboot.service is $state"
[ "$state" = enabled ] || fail "amiprep-firstboot.service is $state, not enabled"
echo "systemctl --root is-enabled amiprep-firstboot.service: $state"

for f in usr/share/bash-completion/completions/amiprep usr/share/zsh/vendor-completions/_amiprep \
    usr/share/fish/vendor_completions.d/amiprep.fish; do
    [ -s "$ROOT/$f" ] || fail "/$f missing"
done
in_root bash -c 'source /usr/share/bash-completion/completions/amiprep && complete -p amiprep' >/dev/null ||
    fail "the bash completion does not register for amiprep"

step "dpkg -i again: the upgrade path of the maintainer scripts"
cp "$DEB" "$ROOT/tmp/amiprep.deb"
in_root dpkg -i /tmp/amiprep.deb
rm "$ROOT/tmp/amiprep.deb"
state=$(systemctl --root="$ROOT" is-enabled amiprep-firstboot.service) || fail "after an upgrade the unit is $state"
[ -f "$ROOT/etc/amiprep/profiles/site.toml" ] || fail "an upgrade lost the admin's profile"

step "dpkg -r amiprep, the admin's profile and amiprep's state still there"
# The state a seal and a first boot leave: the receipt and the image history.
mkdir -m 0755 "$ROOT/var/lib/amiprep"
echo '{}' >"$ROOT/var/lib/amiprep/history.jsonl"
chmod 0644 "$ROOT/var/lib/amiprep/history.jsonl"
in_root dpkg -r amiprep
inventory >"$WORK/removed"
left=$(comm -13 "$WORK/before" "$WORK/removed")
want=$(printf '%s\n' "d 755 root ./etc/amiprep" "d 755 root ./etc/amiprep/profiles" \
    "f 644 root ./etc/amiprep/profiles/site.toml" "d 755 root ./var/lib/amiprep" "f 644 root ./var/lib/amiprep/history.jsonl" | sort)
[ "$left" = "$want" ] || fail "after dpkg -r, expected only the admin's profile and amiprep's state left, found:"$'\n'"$left"
gone=$(comm -23 "$WORK/before" "$WORK/removed")
[ -z "$gone" ] || fail "dpkg -r removed what was there before the install:"$'\n'"$gone"
echo "left after dpkg -r: the admin's /etc/amiprep/profiles/site.toml and /var/lib/amiprep (state, until purge)"

step "dpkg -P amiprep once the admin's profile is gone"
rm "$ROOT/etc/amiprep/profiles/site.toml"
in_root dpkg -P amiprep
inventory >"$WORK/purged"
diff -u "$WORK/before" "$WORK/purged" || fail "after dpkg -P the root differs from before the install"
echo "check-deb: ok: installed, works, removed and purged without a trace"
