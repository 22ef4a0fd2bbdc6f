#!/usr/bin/env bash
# End to end in a real VM: bake, seal, image, launch, verify (issue 6). Run by .ci/run, and by
# hand:  tests/vm/run.sh            (prints each step and its verdict; exit 1 on any failure)
#
# 1. base image: a cached debootstrapped Debian 12 (tests/vm/build-base.sh), copied per run,
#    with amiprep installed (the .deb when packaging/ built one, else the binary and units);
# 2. builder boot: vm-provision.service dirties the instance like a Packer build and runs
#    `amiprep seal -p vm-web --yes --then poweroff`; the host waits for READY and power-off;
# 3. "CreateImage": a qcow2 overlay of the sealed disk, which is never booted again;
# 4. launch boot: first boot runs; vm-probe.service prints facts that the host checks;
# 5. reboot of the launched instance: first boot must not run again;
# 6. failure path: a builder whose profile enables a missing unit prints NOT-READY and stays up.
#
# Knobs: AMIPREP_VM_CACHE (base tree cache, default /var/cache/amiprep-vm), AMIPREP_VM_WORK
# (default /var/tmp/amiprep-vm), AMIPREP_BIN (binary to install), VM_TIMEOUT (seconds per
# boot, default 600), AMIPREP_VM_ACCEL=kvm (default tcg), KEEP=1 keeps the work directory.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${AMIPREP_VM_CACHE:-/var/cache/amiprep-vm}
work=${AMIPREP_VM_WORK:-/var/tmp/amiprep-vm}
timeout=${VM_TIMEOUT:-600}
start=$(date +%s)
failures=0

step() { printf '\n==> [%4ss] %s\n' "$(($(date +%s) - start))" "$*"; step_failures=$failures; }
# The serial log of a boot, when a check of this step failed.
failed_here() { [ "$failures" -gt "${step_failures:-0}" ]; }
ok() { printf '    ok    %s\n' "$*"; }
bad() { printf '    FAIL  %s\n' "$*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
tail_log() { echo "    --- last 40 lines of $1:"; tail -n 40 "$1" | sed 's/^/    | /'; }
die() { bad "$*"; finish; }
finish() {
  step "done in $(($(date +%s) - start)) s: $failures failure(s)"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work/root"
  [ "$failures" -eq 0 ]
  exit $?
}

# ---------------------------------------------------------------------------------------------
step "base image"
if [ ! -f "$cache/bookworm.stamp" ] || [ ! -d "$cache/bookworm" ]; then
  "$here/build-base.sh" "$cache/bookworm" || die "building the base image"
fi
ok "base tree $cache/bookworm (built $(cat "$cache/bookworm.stamp"))"

step "image for this run"
rm -rf "$work"
mkdir -p "$work"
cp -a "$cache/bookworm" "$work/root" || die "copying the base tree"
root=$work/root
# The host's own amiprep, for the offline audit of the sealed disk.
host_bin=${AMIPREP_BIN:-$repo/target/x86_64-unknown-linux-musl/release/amiprep}
[ -x "$host_bin" ] || host_bin=$repo/target/release/amiprep
[ -x "$host_bin" ] || (cd "$repo" && cargo build --release --quiet) || die "cargo build --release"
# The .deb that .ci/release-checks built (packaging/build-release.sh), when there is one.
deb=$(ls -t "$repo"/target/release-artifacts/amiprep_*_amd64.deb 2>/dev/null | head -1 || true)
if [ -n "${AMIPREP_BIN:-}" ] || [ -z "$deb" ]; then
  bin=${AMIPREP_BIN:-}
  if [ -z "$bin" ]; then
    (cd "$repo" && cargo build --release --quiet) || die "cargo build --release"
    bin=$repo/target/release/amiprep
  fi
  install -m 755 "$bin" "$root/usr/bin/amiprep"
  install -m 644 "$repo"/packaging/systemd/*.service "$root/lib/systemd/system/"
  install -d -m 755 "$root/etc/amiprep/profiles"
  ok "installed $bin and the units (no .deb built)"
else
  cp "$deb" "$root/tmp/amiprep.deb"
  chroot "$root" dpkg -i /tmp/amiprep.deb >"$work/dpkg.log" 2>&1 || { tail_log "$work/dpkg.log"; die "dpkg -i"; }
  rm "$root/tmp/amiprep.deb"
  ok "installed $(basename "$deb") with dpkg"
fi
systemctl --root="$root" enable amiprep-firstboot.service >/dev/null 2>&1
check "amiprep-firstboot.service is enabled in the image" \
  test "$(systemctl --root="$root" is-enabled amiprep-firstboot.service 2>/dev/null)" = enabled
install -m 755 "$here/guest/vm-provision.sh" "$root/usr/local/sbin/vm-provision"
install -m 755 "$here/guest/vm-probe.sh" "$root/usr/local/sbin/vm-probe"
install -m 644 "$here/guest/vm-provision.service" "$here/guest/vm-probe.service" "$root/etc/systemd/system/"
install -m 644 "$here/guest/vm-web.toml" "$here/guest/vm-broken.toml" "$root/etc/amiprep/profiles/"
systemctl --root="$root" enable vm-provision.service vm-probe.service >/dev/null 2>&1
# No login prompt on the serial console: its getty hangs up the tty the test units write to.
# No waiting for a network that this VM does not have (two minutes per boot otherwise).
systemctl --root="$root" mask serial-getty@ttyS0.service systemd-networkd-wait-online.service >/dev/null 2>&1
mkdir -p "$root/etc/vm-provision"
kernel=$(ls "$root"/boot/vmlinuz-* | tail -1)
initrd=$(ls "$root"/boot/initrd.img-* | tail -1)
cp "$kernel" "$work/vmlinuz" && cp "$initrd" "$work/initrd.img"
size=$(($(du -sm "$root" | cut -f1) + 1024))
mkfs.ext4 -q -F -L root -d "$root" "$work/pristine.raw" "${size}M" || die "mkfs.ext4 -d"
ok "disk image ${size} MiB from the tree"

# TCG unless asked for KVM: on this kind of machine /dev/kvm exists but a guest hangs on an
# MSR, and a hang is worse than slow. AMIPREP_VM_ACCEL=kvm where KVM is known to work.
if [ "${AMIPREP_VM_ACCEL:-tcg}" = kvm ]; then accel=(-accel kvm -cpu host); else accel=(-accel tcg -cpu max); fi

# boot NAME DISK UUID "KERNEL ARGS": runs the VM until it powers off or the timeout.
# Returns 0 when it powered off by itself, 124 when it had to be killed.
boot() {
  local name=$1 disk=$2 uuid=$3 args=$4 log=$work/$1.log
  : >"$log"
  qemu-system-x86_64 "${accel[@]}" -m 1024 -smp 2 -display none -monitor none -no-reboot \
    -serial "file:$log" -nic none -uuid "$uuid" \
    -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 $args" \
    -drive "file=$disk,format=qcow2,if=virtio" &
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge "$timeout" ]; then
      kill "$pid"; wait "$pid" 2>/dev/null
      return 124
    fi
    # The failure path stops at NOT-READY: it is not going to power off.
    if [ "${stop_at:-}" ] && grep -q "$stop_at" "$log"; then
      sleep 2; kill "$pid"; wait "$pid" 2>/dev/null
      return 124
    fi
    sleep 2; waited=$((waited + 2))
  done
  wait "$pid"
  return 0
}
probe() { sed -n "s/^PROBE $2=//p" "$work/$1.log" | tr -d '\r' | tail -1; }
has() { grep -q -- "$2" "$work/$1.log"; }

# ---------------------------------------------------------------------------------------------
step "builder boot: provision, then amiprep seal -p vm-web --yes --then poweroff"
qemu-img create -q -f qcow2 -b "$work/pristine.raw" -F raw "$work/builder.qcow2"
boot builder "$work/builder.qcow2" 11111111-1111-4111-8111-111111111111 "ds=nocloud;i=builder-1;h=builder"
rc=$?
check "the builder powered off by itself (seal --then poweroff)" test "$rc" -eq 0
check "the console shows READY-FOR-IMAGE" has builder 'amiprep: READY-FOR-IMAGE profile=vm-web receipt=sha256:[0-9a-f]\{64\}'
check "the console shows no NOT-READY" bash -c "! grep -q NOT-READY '$work/builder.log'"
builder_id=$(sed -n 's/^PROVISION BUILDER machine_id=//p' "$work/builder.log" | tr -d '\r')
builder_keys=$(sed -n 's/^PROVISION BUILDER hostkey //p' "$work/builder.log" | tr -d '\r' | sort)
check "the builder reported its machine-id and host keys" test -n "$builder_id" -a -n "$builder_keys"
failed_here && { tail_log "$work/builder.log"; die "the builder did not seal"; }

step "CreateImage: an overlay of the sealed disk (never booted again)"
qemu-img create -q -f qcow2 -b "$work/builder.qcow2" -F qcow2 "$work/launch.qcow2"
chmod a-w "$work/builder.qcow2"
ok "launch.qcow2 -> builder.qcow2 (read-only now)"

step "the sealed disk, inspected offline (read-only loop mount)"
qemu-img convert -O raw "$work/builder.qcow2" "$work/sealed.raw"
mkdir -p "$work/sealed"
if mount -o ro,loop,noload "$work/sealed.raw" "$work/sealed"; then
  m=$work/sealed
  check "machine-id is \"uninitialized\"" test "$(cat "$m/etc/machine-id")" = uninitialized
  check "no SSH host keys" bash -c "! ls '$m'/etc/ssh/ssh_host_* >/dev/null 2>&1"
  check "no authorized_keys in root's or deploy's home" bash -c "[ ! -e '$m/root/.ssh/authorized_keys' ] && [ ! -e '$m/home/deploy/.ssh/authorized_keys' ]"
  check "no shell histories, no credentials" bash -c "! ls '$m'/root/.bash_history '$m'/home/deploy/.bash_history '$m'/home/deploy/.aws/credentials '$m'/home/deploy/.git-credentials >/dev/null 2>&1"
  check "no journal, no rotated logs, no DHCP leases, no cloud-init instance state" \
    bash -c "[ -z \"\$(ls -A '$m/var/log/journal' 2>/dev/null)\" ] && ! ls '$m'/var/log/*.gz '$m'/var/lib/dhcp/*.leases >/dev/null 2>&1 && [ ! -e '$m/var/lib/cloud/instance' ]"
  check "the receipt is in the image and says ready" grep -q '"ready": true' "$m/var/lib/amiprep/receipt.json"
  check "nginx is enabled in the image, with a preset line" \
    bash -c "[ -L '$m/etc/systemd/system/multi-user.target.wants/nginx.service' ] && grep -qx 'enable nginx.service' '$m/etc/systemd/system-preset/01-amiprep.preset'"
  check "root's password is locked" bash -c "grep -q '^root:!' '$m/etc/shadow'"
  check "the website is in the image" grep -q "amiprep vm test site" "$m/var/www/html/index.html"
  "$host_bin" audit --root "$m" -p "$here/guest/vm-web.toml" >"$work/sealed-audit.txt" 2>&1
  check "amiprep audit --root (sealed disk) -p vm-web: every image-ready check passes" test $? -eq 0
  grep -E 'hardening score' "$work/sealed-audit.txt" | sed 's/^/    audit | /'
  failed_here && sed 's/^/    | /' "$work/sealed-audit.txt"
  umount "$work/sealed"
else
  bad "cannot loop-mount the sealed disk"
fi
rm -f "$work/sealed.raw"

step "launch boot: first boot of a new instance"
boot launch "$work/launch.qcow2" 22222222-2222-4222-8222-222222222222 "ds=nocloud;i=launch-1;h=web-1"
rc=$?
check "the probe ran and the instance powered off" bash -c "[ $rc -eq 0 ] && grep -q '^PROBE done' '$work/launch.log'"
id=$(probe launch machine_id)
check "machine-id is a fresh valid id ($id), not the builder's" \
  bash -c "[[ '$id' =~ ^[0-9a-f]{32}$ ]] && [ '$id' != '$builder_id' ]"
keys=$(sed -n 's/^PROBE hostkey //p' "$work/launch.log" | tr -d '\r')
for t in rsa ecdsa ed25519; do
  line=$(echo "$keys" | grep "ssh_host_${t}_key ")
  fp=$(echo "$line" | awk '{print $2}')
  check "a new $t host key (mode $(echo "$line" | awk '{print $3}')), not the builder's" \
    bash -c "[ -n '$fp' ] && ! grep -qF -- '$fp' <<<'$builder_keys' && [ '$(echo "$line" | awk '{print $3}')' = 600 ]"
done
check "the fingerprints were printed on the console" has launch '-----BEGIN SSH HOST KEY FINGERPRINTS-----'
check "sshd is active" test "$(probe launch sshd)" = active
check "nginx is enabled and active" test "$(probe launch nginx_enabled)" = "enabled nginx_active=active"
check "the website is served" test "$(probe launch curl)" = "<h1>amiprep vm test site</h1>"
# Counts of files holding the builder's markers (cloud-init makes empty authorized_keys for
# this instance's users; those are this instance's own, not the builder's).
for k in authorized_keys histories credentials log_markers journal_markers leases tmp_left; do
  check "no $k from the builder ($(probe launch $k))" test "$(probe launch $k)" = 0
done
check "the journal holds this boot only" test "$(probe launch journal_boots)" = 1
check "cloud-init state is this instance's (launch-1)" test "$(probe launch cloud_instance_id)" = launch-1
check "the receipt moved into the first-boot history, with profile vm-web" \
  bash -c "[ '$(probe launch receipt_present)' = no ] && [ '$(probe launch history_entries)' = 1 ] && [ '$(probe launch history_profile)' = 1 ]"
check "first boot set up the new instance" test "$(probe launch firstboot)" = "amiprep: FIRSTBOOT-DONE"
check "the deploy user is still there (the profile did not remove it)" test "$(probe launch deploy_user)" = present
# image-ready inside the running instance: what booting legitimately changes may fail (the
# instance's own host keys, machine-id and cloud-init state, and the empty authorized_keys
# cloud-init writes for its users); everything else must pass.
allowed=" img-no-ssh-host-keys img-machine-id-reset img-no-cloud-init-state img-no-authorized-keys "
audit_lines=$(sed -n 's/^PROBE audit \(img-[a-z-]*\) \([A-Z/]*\).*/\1 \2/p' "$work/launch.log")
check "amiprep audit -p vm-web ran inside the launched VM" test -n "$audit_lines"
while read -r cid st; do
  [ -n "$cid" ] || continue
  if [ "$st" = PASS ]; then
    ok "audit in the VM: $cid passes"
  elif [[ "$allowed" == *" $cid "* ]]; then
    ok "audit in the VM: $cid is $st, which a booted instance legitimately makes it"
  else
    bad "audit in the VM: $cid is $st"
  fi
done <<<"$audit_lines"
sed -n 's/^PROBE audit_summary=/    audit | /p' "$work/launch.log" | tr -d '\r'
failed_here && tail_log "$work/launch.log"

step "reboot of the launched instance: first boot must not run again"
boot reboot "$work/launch.qcow2" 22222222-2222-4222-8222-222222222222 "ds=nocloud;i=launch-1;h=web-1"
rc=$?
check "the probe ran again" bash -c "[ $rc -eq 0 ] && grep -q '^PROBE done' '$work/reboot.log'"
check "a new boot" test "$(probe reboot boot_id)" != "$(probe launch boot_id)"
check "machine-id unchanged" test "$(probe reboot machine_id)" = "$id"
check "host keys unchanged" test "$(sed -n 's/^PROBE hostkey //p' "$work/reboot.log" | tr -d '\r')" = "$keys"
check "first boot did nothing" test "$(probe reboot firstboot)" = "amiprep: FIRSTBOOT-NOTHING"
check "nginx still serves" test "$(probe reboot curl)" = "<h1>amiprep vm test site</h1>"
failed_here && tail_log "$work/reboot.log"

step "failure path: a profile that enables a unit the image lacks"
qemu-img create -q -f qcow2 -b "$work/pristine.raw" -F raw "$work/broken.qcow2"
stop_at='NOT-READY' boot broken "$work/broken.qcow2" 33333333-3333-4333-8333-333333333333 \
  "ds=nocloud;i=broken-1;h=broken vmtest.profile=vm-broken"
rc=$?
check "the console shows NOT-READY naming the missing unit" has broken 'amiprep: NOT-READY profile=vm-broken reason=.*does-not-exist.service'
check "no READY-FOR-IMAGE" bash -c "! grep -q READY-FOR-IMAGE '$work/broken.log'"
check "the VM did not power off (it was still up to be killed)" test "$rc" -eq 124
check "the seal stopped while planning (exit 2), before changing anything" \
  bash -c "grep -q 'PROVISION seal exited 2' '$work/broken.log'"
failed_here && tail_log "$work/broken.log"

finish
