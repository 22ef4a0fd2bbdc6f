#!/usr/bin/env bash
# The audit's speed target, measured side by side in one hyperfine run on this machine's own
# root: the full `cis-level1` + `image-ready` audit against one `find / -xdev` pass looking for
# world-writable files, world-writable directories without the sticky bit, unowned and
# ungrouped files and SUID/SGID files (the whole-filesystem part of the checks), and against
# `lynis audit system --quick`.
#
#   bash benches/audit-vs-find.sh              # RUNS=3 runs of each, lynis included
#   RUNS=5 LYNIS=0 bash benches/audit-vs-find.sh   # find and amiprep only
#   WALK=0 ...                                 # without the walk-only find row
#   SMOKE=1 bash benches/audit-vs-find.sh      # CI: one run each of find and amiprep, no hyperfine
#
# The target: amiprep / find <= 1.0. Everything runs read-only except Lynis, which writes its
# own log and report (/var/log/lynis.log, /var/log/lynis-report.dat) as it always does.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
LYNIS=${LYNIS:-1}
BIN=${BIN:-target/release/amiprep}
[ -x "$BIN" ] || cargo build --release --quiet

FIND="find / -xdev \\( -type f -perm -0002 -o -type d -perm -0002 ! -perm -1000 -o -nouser -o -nogroup -o -type f -perm /6000 \\) -print"
AUDIT="$BIN audit --set cis-level1 --set image-ready --fail-on none"

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
# What the scan covers: the entries of the root filesystem the audit's one pass visits.
echo "$($BIN --version): the scan visits $(sh -c "$AUDIT --set file-world-writable --format json" | grep -o 'one scan of the root filesystem ([0-9]* entries' | head -1 | grep -o '[0-9]*') entries"

if [ "${SMOKE:-0}" = 1 ]; then
  # CI smoke run: both commands work and finish; timings are printed, not judged.
  /usr/bin/time -f "find: %e s" sh -c "$FIND > /dev/null 2>&1 || true"
  /usr/bin/time -f "amiprep audit: %e s" sh -c "$AUDIT > /dev/null"
  exit 0
fi

command -v hyperfine >/dev/null || { echo "install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
cmds=("$FIND > /dev/null 2>&1" "$AUDIT > /dev/null")
names=(--command-name "find / -xdev (one pass)" --command-name "amiprep audit cis-level1+image-ready")
if [ "${WALK:-1}" = 1 ]; then
  # For reading the figures: the same walk without -nouser/-nogroup, whose per-file owner
  # lookups are most of find's time. Not the target's baseline.
  cmds+=("find / -xdev -perm -0002 -print > /dev/null 2>&1")
  names+=(--command-name "find / -xdev -perm -0002 (walk only, no owner lookups)")
fi
if [ "$LYNIS" = 1 ]; then
  command -v lynis >/dev/null || { echo "install lynis (apt-get install lynis), or LYNIS=0" >&2; exit 1; }
  cmds+=("lynis audit system --quick --no-colors --quiet > /dev/null 2>&1")
  names+=(--command-name "lynis audit system --quick")
fi
out=$(mktemp -d)
hyperfine --warmup 1 --runs "$RUNS" --ignore-failure --export-json "$out/r.json" --export-markdown "$out/r.md" \
  "${names[@]}" "${cmds[@]}"
cat "$out/r.md"
python3 - "$out/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
find, audit = r[0]["mean"], r[1]["mean"]
print(f"\namiprep / find = {audit / find:.2f}  (target <= 1.0)")
for x in r[2:]:
    print(f"amiprep / {x['command']} = {audit / x['mean']:.3f}")
for x in r:
    print(f"{x['command']}: mean {x['mean']:.2f} s, stddev {x['stddev']:.2f} s, min {x['min']:.2f} s, max {x['max']:.2f} s")
PY
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out"
