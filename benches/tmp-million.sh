#!/usr/bin/env bash
# benches/tmp-million.sh: how `amiprep seal` copes with a tmp/ of a million files.
#
# It measures, on a fake root whose tmp/ holds FILES small files:
#   1. peak RSS of `amiprep seal --root R -p P --yes` (target: under 64 MiB), via /usr/bin/time -v;
#   2. wall time of that seal versus `rm -rf R/tmp/*` on an identical tree (target: within
#      1.2x of rm), median of REPS runs each, seal and rm interleaved (the order alternates per
#      repetition), each on a freshly created tree, page cache warm (create, sync, then measure);
#   3. wall time of `amiprep plan` alone (the measuring walk: one stat per entry), so the seal
#      time splits into plan + apply. Plan is read-only, so it runs REPS times on one tree.
# The profile enables only the `tmp` operation (every other catalogue id is switched off).
#
# Tree shapes (SHAPES, space-separated):
#   nested  tmp/dNNNNN/fNNNNNNN: DIRS directories (default 1000) of FILES/DIRS files each
#           (1000 x 1000 by default), SIZE bytes per file (default 100, so one block each).
#   flat    FILES files directly in tmp/. `rm -rf R/tmp/*` cannot take a million arguments, so
#           the rm baseline there is `rm -rf R/tmp` (one more rmdir), tmp/ recreated untimed.
# Creating the trees (a python3 helper) is not measured.
#
# Run it as root from anywhere in the repository (it builds target/release/amiprep first):
#   benches/tmp-million.sh [WORKDIR]        # default WORKDIR: benches/work (gitignored)
#   FILES=100000 benches/tmp-million.sh     # quick run
#   SHAPES="nested flat" REPS=5 benches/tmp-million.sh
# Other knobs: DIRS, SIZE, REPS (>= 3), NO_BUILD=1, AMIPREP=path, STRICT=1 (exit 1 on a FAIL).
# The trees live under WORKDIR/runs, so they are on WORKDIR's filesystem; it needs roughly
# 3 x FILES x (block size + inode) of space (about 13 GB for a million 100-byte files on ext4).
# Results: a summary table on stdout, every run in WORKDIR/results-*.tsv, logs in WORKDIR/logs.
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-$REPO/benches/work}
FILES=${FILES:-1000000}
DIRS=${DIRS:-1000}
SIZE=${SIZE:-100}
REPS=${REPS:-3}
SHAPES=${SHAPES:-nested}
AMIPREP=${AMIPREP:-$REPO/target/release/amiprep}
RSS_TARGET_MB=64
RATIO_TARGET=1.2

die() { echo "tmp-million: $*" >&2; exit 2; }
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

[[ $FILES =~ ^[0-9]+$ && $FILES -gt 0 ]] || die "FILES must be a positive integer"
[[ $DIRS =~ ^[0-9]+$ && $DIRS -gt 0 && $DIRS -le $FILES ]] || die "DIRS must be between 1 and FILES"
[[ $SIZE =~ ^[0-9]+$ ]] || die "SIZE must be a number of bytes"
[[ $REPS =~ ^[0-9]+$ && $REPS -ge 3 ]] || die "REPS must be at least 3"
for s in $SHAPES; do [[ $s == nested || $s == flat ]] || die "unknown shape '$s' (nested, flat)"; done
command -v python3 >/dev/null || die "python3 is needed to create the trees"
case $WORK in /|/tmp|/work|"$REPO"|"$HOME") die "refusing WORKDIR $WORK: give a directory of its own";; esac

# /usr/bin/time (GNU time, Debian package `time`) gives peak RSS; the bash keyword does not.
if [[ ! -x /usr/bin/time ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing GNU time"
        DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null
    else
        die "/usr/bin/time is missing: apt-get install time (as root)"
    fi
fi

if [[ -z ${NO_BUILD:-} ]]; then
    log "cargo build --release"
    (cd "$REPO" && cargo build --release --quiet)
fi
[[ -x $AMIPREP ]] || die "no amiprep binary at $AMIPREP"

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
RUNS=$WORK/runs
LOGS=$WORK/logs
rm -rf -- "$RUNS" "$LOGS"
mkdir -p "$RUNS" "$LOGS"

# A profile that enables `tmp` and nothing else. The ids come from the catalogue itself, so a
# new operation is switched off too. amiprep (as root) refuses a profile, or a directory holding
# it, that is not root's or that group or others can write.
mapfile -t OPS < <(sed -n 's/^ *id: "\([a-z0-9-]*\)",$/\1/p' "$REPO/src/ops/mod.rs")
[[ " ${OPS[*]} " == *" tmp "* ]] || die "no tmp operation in src/ops/mod.rs CATALOGUE"
PROFILE_DIR=$WORK/profile
PROFILE=$PROFILE_DIR/tmp-only.toml
mkdir -p "$PROFILE_DIR" "$WORK/no-profiles"
{
    echo '# Written by benches/tmp-million.sh: the tmp operation only.'
    echo 'description = "benchmark: empty tmp/ and var/tmp/, nothing else"'
    for id in "${OPS[@]}"; do
        printf '\n[operations.%s]\nenabled = %s\n' "$id" "$([[ $id == tmp ]] && echo true || echo false)"
    done
} >"$PROFILE"
if [[ $(id -u) -eq 0 ]]; then chown root:root "$PROFILE_DIR" "$PROFILE"; fi
chmod 0755 "$PROFILE_DIR"
chmod 0644 "$PROFILE"
export AMIPREP_PROFILE_PATH=$WORK/no-profiles
"$AMIPREP" profile check "$PROFILE" >/dev/null || die "amiprep rejects $PROFILE"

# The tree maker: os.open/os.write/os.close per file, no stat, no path resolution beyond a name.
MKTREE=$WORK/mktree.py
cat >"$MKTREE" <<'EOF'
import os, sys
root, shape, n, ndirs, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
data = b"x" * size
tmp = os.path.join(root, "tmp")
os.makedirs(tmp)
os.chmod(tmp, 0o1777)
flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
op, wr, cl = os.open, os.write, os.close
def fill(dfd, count):
    for i in range(count):
        fd = op("f%07d" % i, flags, 0o644, dir_fd=dfd)
        if size:
            wr(fd, data)
        cl(fd)
tfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
if shape == "flat":
    fill(tfd, n)
else:
    per, extra = divmod(n, ndirs)
    for d in range(ndirs):
        name = "d%05d" % d
        os.mkdir(name, 0o755, dir_fd=tfd)
        dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=tfd)
        fill(dfd, per + (1 if d < extra else 0))
        os.close(dfd)
os.close(tfd)
EOF

# What a correct run reports and leaves: every file and (nested) every directory under tmp/.
expected_entries() { if [[ $1 == nested ]]; then echo $((FILES + DIRS)); else echo "$FILES"; fi; }

make_tree() { # ROOT SHAPE
    python3 "$MKTREE" "$1" "$2" "$FILES" "$DIRS" "$SIZE"
}

# Flush what creating (or the previous run's deleting) left dirty, so no run pays for another's
# writeback; the page, inode and dentry caches stay warm.
settle() { sync; sleep 2; }

load1() { cut -d' ' -f1 /proc/loadavg; }

# Busy and steal CPU seconds of the whole machine so far (all CPUs, from /proc/stat): busy time
# during a run minus the run's own user+sys is what everything else did meanwhile (another
# build, kernel threads writing back or trimming for us), the noise to look at before trusting it.
cpu_busy() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f %.2f", ($2 + $3 + $4 + $7 + $8) / hz, $9 / hz }' /proc/stat
}

RESULTS=$WORK/results-$(date +%Y%m%dT%H%M%S).tsv
printf 'shape\tfiles\trep\ttool\twall_s\tuser_s\tsys_s\tmaxrss_kb\tvol_cs\tinvol_cs\tload1\tother_cpu_s\tsteal_s\n' >"$RESULTS"

# timed SHAPE REP TOOL LOGNAME CMD...: runs CMD under /usr/bin/time -v, wall time from the
# shell clock (microseconds) around it, and appends a row to the results.
timed() {
    local shape=$1 rep=$2 tool=$3 name=$4
    shift 4
    local l t0 t1 c0 c1 rc=0
    l=$(load1)
    c0=$(cpu_busy)
    t0=$EPOCHREALTIME
    /usr/bin/time -v -o "$LOGS/$name.time" "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err" || rc=$?
    t1=$EPOCHREALTIME
    c1=$(cpu_busy)
    if [[ $rc -ne 0 ]]; then
        cat "$LOGS/$name.err" >&2
        die "$tool failed (exit $rc), see $LOGS/$name.*"
    fi
    awk -v shape="$shape" -v files="$FILES" -v rep="$rep" -v tool="$tool" -v t0="$t0" -v t1="$t1" -v l="$l" \
        -v c0="$c0" -v c1="$c1" '
        /User time \(seconds\)/ { u = $NF }
        /System time \(seconds\)/ { s = $NF }
        /Maximum resident set size/ { m = $NF }
        /Voluntary context switches/ { v = $NF }
        /Involuntary context switches/ { i = $NF }
        END {
            split(c0, a, " "); split(c1, b, " ")
            other = b[1] - a[1] - u - s
            printf "%s\t%s\t%s\t%s\t%.6f\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\n", shape, files, rep, tool, t1 - t0, u, s, m, v, i, l, other < 0 ? 0 : other, b[2] - a[2]
        }
    ' "$LOGS/$name.time" | tee -a "$RESULTS" |
        awk -F'\t' '{ printf "    %-5s wall %8.3f s  user %6.2f  sys %6.2f  rss %6.1f MiB  vol.cs %8d  load %s  other-cpu %.2f s  steal %.2f s\n", $4, $5, $6, $7, $8 / 1024, $9, $11, $12, $13 }' >&2
}

# check_json LOGNAME EXPECTED: the report says every entry was planned (and done), none failed.
check_json() {
    python3 - "$LOGS/$1.out" "$2" <<'EOF' || die "unexpected amiprep report in $LOGS/$1.out"
import json, sys
r = json.load(open(sys.argv[1]))
t, want = r["totals"], int(sys.argv[2])
assert t["entries"] == want, f"entries {t['entries']} != {want}"
assert t.get("failed", 0) == 0 and r["warnings"] == [], "failures or warnings"
EOF
}

# check_empty ROOT: tmp/ is still there, empty, and (for amiprep) still mode 1777.
check_empty() {
    [[ -d $1/tmp ]] || die "$1/tmp is gone"
    [[ -z $(find "$1/tmp" -mindepth 1 -maxdepth 1 -print -quit) ]] || die "$1/tmp is not empty"
    [[ -z ${2:-} || $(stat -c %a "$1/tmp") == 1777 ]] || die "$1/tmp lost its mode"
}

run_seal() { # SHAPE REP
    local root=$RUNS/$1-r$2-seal/root
    timed "$1" "$2" seal "$1-r$2-seal" "$AMIPREP" seal --root "$root" -p "$PROFILE" --yes --format json
    check_json "$1-r$2-seal" "$(expected_entries "$1")"
    check_empty "$root" mode
}

run_rm() { # SHAPE REP
    local root=$RUNS/$1-r$2-rm/root
    if [[ $1 == nested ]]; then
        # The shell expands the DIRS names before the clock starts; rm gets them sorted.
        local -a top=("$root"/tmp/*)
        [[ ${#top[@]} -eq $DIRS ]] || die "expected $DIRS entries in $root/tmp"
        timed "$1" "$2" rm "$1-r$2-rm" rm -rf -- "${top[@]}"
    else
        timed "$1" "$2" rm "$1-r$2-rm" rm -rf -- "$root/tmp"
        mkdir -m 1777 "$root/tmp"
    fi
    check_empty "$root"
}

log "amiprep $("$AMIPREP" --version | cut -d' ' -f2) at $AMIPREP"
log "work dir $WORK on $(findmnt -no SOURCE,FSTYPE,OPTIONS -T "$WORK" | tr -s ' ')"
log "$(nproc) CPUs, $(free -m | awk '/^Mem:/ { print $2 " MiB RAM" }'), kernel $(uname -r)"
log "FILES=$FILES DIRS=$DIRS SIZE=$SIZE REPS=$REPS SHAPES='$SHAPES'; load: $(uptime | sed 's/.*load/load/')"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
FSOPTS=$(findmnt -no FSTYPE,OPTIONS -T "$WORK" | tr -s ' ')
DISCARD_NOTE=
if [[ $SIZE -gt 0 && ,${FSOPTS#* }, == *,discard,* ]]; then
    # ext4 -o discard trims each freed extent (synchronously when there is no journal), so every
    # unlink of a non-empty file waits for the device: both tools pay it, per file.
    DISCARD_NOTE="note: $WORK is mounted with discard; deleting a non-empty file waits for a device trim (SIZE=0 avoids it)"
    log "$DISCARD_NOTE"
fi

for shape in $SHAPES; do
    want=$(expected_entries "$shape")
    log "$shape: creating the plan tree ($FILES files)"
    plan_root=$RUNS/$shape-plan/root
    make_tree "$plan_root" "$shape"
    for ((rep = 1; rep <= REPS; rep++)); do
        log "$shape rep $rep/$REPS: creating two identical trees"
        make_tree "$RUNS/$shape-r$rep-seal/root" "$shape"
        make_tree "$RUNS/$shape-r$rep-rm/root" "$shape"
        settle
        timed "$shape" "$rep" plan "$shape-r$rep-plan" "$AMIPREP" plan --root "$plan_root" -p "$PROFILE" --format json
        check_json "$shape-r$rep-plan" "$want"
        # Alternate which goes first, so neither always follows the other's writeback.
        if ((rep % 2)); then order=(seal rm); else order=(rm seal); fi
        for tool in "${order[@]}"; do
            settle
            "run_$tool" "$shape" "$rep"
        done
        rm -rf -- "$RUNS/$shape-r$rep-seal" "$RUNS/$shape-r$rep-rm"
    done
    rm -rf -- "$RUNS/$shape-plan"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "amiprep seal vs rm -rf, tmp/ of FILES files (SIZE=$SIZE bytes each), median of $REPS runs each"
echo "load average (1 5 15 min): at start $LOAD_START, at end $LOAD_END; $(nproc) CPUs"
echo "filesystem: $FSOPTS"
if [[ -n $DISCARD_NOTE ]]; then echo "$DISCARD_NOTE"; fi
status=0
python3 - "$RESULTS" "$RSS_TARGET_MB" "$RATIO_TARGET" "$DIRS" <<'EOF' || status=$?
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
rss_target, ratio_target, dirs = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
fail = False
head = ("shape", "N files", "plan s", "seal s", "rm -rf s", "seal/rm", "apply~ s", "seal RSS MiB", "RSS<64", "ratio<=1.2")
fmt = "%-14s %9s %8s %8s %9s %8s %9s %13s %7s %11s"
print(fmt % head)
for shape in dict.fromkeys(r["shape"] for r in rows):
    def col(tool, key):
        return [float(r[key]) for r in rows if r["shape"] == shape and r["tool"] == tool]
    plan, seal, rm = (statistics.median(col(t, "wall_s")) for t in ("plan", "seal", "rm"))
    rss = max(col("seal", "maxrss_kb")) / 1024
    ratio = seal / rm
    ok_rss, ok_ratio = rss < rss_target, ratio <= ratio_target
    fail |= not (ok_rss and ok_ratio)
    label = f"{shape} ({dirs}d)" if shape == "nested" else shape
    print(fmt % (label, rows[0]["files"], f"{plan:.3f}", f"{seal:.3f}", f"{rm:.3f}", f"{ratio:.2f}x",
                 f"{seal - plan:.3f}", f"{rss:.1f}", "PASS" if ok_rss else "FAIL", "PASS" if ok_ratio else "FAIL"))
    for tool in ("plan", "seal", "rm"):
        u, s = statistics.median(col(tool, "user_s")), statistics.median(col(tool, "sys_s"))
        walls = " ".join(f"{w:.3f}" for w in col(tool, "wall_s"))
        other, steal = max(col(tool, "other_cpu_s")), max(col(tool, "steal_s"))
        print(f"    {tool:<5} median user {u:6.2f} s  sys {s:6.2f} s  walls: {walls}"
              f"  (max other-cpu {other:.2f} s, max steal {steal:.2f} s)")
    reps = sorted({r["rep"] for r in rows if r["shape"] == shape}, key=int)
    by = {(r["rep"], r["tool"]): float(r["wall_s"]) for r in rows if r["shape"] == shape}
    paired = [by[(k, "seal")] / by[(k, "rm")] for k in reps]
    print(f"    seal/rm of each repetition: {' '.join(f'{x:.2f}' for x in paired)}"
          f" (median {statistics.median(paired):.2f})")
print("(apply~ = seal median - plan median: a rough split, not a separate measurement;")
print(" other-cpu = CPU time the rest of the machine used during a run, kernel threads working for it included)")
sys.exit(1 if fail else 0)
EOF
echo "every run: $RESULTS"
if [[ -n ${STRICT:-} ]]; then exit "$status"; fi
