#!/usr/bin/env bash
# Measures memdrift against the Python memory profilers on the same CPython workloads, with the
# numbers docs/performance.md ("CPython") quotes:
#   untraced;
#   tracemalloc, 1 frame and 25 frames (`python -X tracemalloc=N`);
#   memray run (Python frames; pymalloc's objects unseen, only its arenas), memray run --native,
#   and memray run --native --trace-python-allocators (every object, like memdrift's exact mode);
#   memdrift run, exact and --sample-rate 512KiB.
# Workloads: scripts/bench/alloc_heavy.py 8, scripts/bench/object_cache.py 2, and
# scripts/bench/leaky_service.py (keeps 1 in 5 requests, all built by the line marked LEAK).
# Runs are interleaved; the median of RUNS of wall time, peak RSS and the size of what the tool
# wrote (memray's capture file, lz4-compressed as memray writes it by default; memdrift's session
# directory) is printed as markdown tables, with ratios to the untraced run.
# The leaking workload is then checked once per tool, in the tool's own terms, for whether it names
# the LEAK line first: memdrift's first leak suspect (`memdrift report`); for memray, the leaked
# bytes of `memray transform csv --leaks` (what `memray flamegraph --leaks` draws) added up by the
# innermost frame in leaky_service.py; for tracemalloc, the top line of a snapshot taken after the
# script compared with one taken before (scripts/bench/tracemalloc_leaks.py).
# memray is installed from PyPI into a venv (MEMRAY_VENV, default /tmp/memray-venv) when missing.
# Usage: scripts/bench/python-peers.sh [runs=5] [python=/usr/bin/python3.11] [bin=.build/release]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-5}"
PYTHON="${2:-/usr/bin/python3.11}"
bin="${3:-.build/release}"
venv="${MEMRAY_VENV:-/tmp/memray-venv}"
here="$PWD/scripts/bench"
work="$(mktemp -d /tmp/memdrift-bench-peers.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/times"

[ -x "$bin/memdrift" ] || { echo "python-peers: no $bin/memdrift; run scripts/build.sh release first" >&2; exit 2; }
if ! "$venv/bin/memray" --version 2>/dev/null | grep -q '^1\.20\.'; then
    "$PYTHON" -c 'import ensurepip' 2>/dev/null || scripts/setup.sh python3-venv
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install -q 'memray==1.20.*'
fi
memray="$venv/bin/memray"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "python: $PYTHON ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])')), memray $("$memray" --version)," \
    "memdrift $("$bin/memdrift" --version) ($bin)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# run NAME OUT -- COMMAND...: appends "seconds kib bytes" to $work/times/NAME, where bytes is the size
# of OUT (a file or directory the command writes; "-" for none) after the run. OUT stays until the
# next run, so the last one can be read. Peak RSS is the largest of the process tree's.
run() {
    local name="$1" out="$2"
    shift 3
    [ "$out" != - ] && rm -rf "$out"
    /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>&1 || true
    local size=0
    [ "$out" != - ] && [ -e "$out" ] && size="$(du -sb "$out" | cut -f1)"
    echo "$(tail -1 "$work/time") $size" >>"$work/times/$name"
}

# measure WORKLOAD MEMDRIFT_FLAGS -- PROGRAM ARGS...: one run of every tool on one workload.
measure() {
    local w="$1" flags="$2"
    shift 3
    run "$w-untraced" - -- "$PYTHON" "$@"
    run "$w-tracemalloc1" - -- "$PYTHON" -X tracemalloc=1 "$@"
    run "$w-tracemalloc25" - -- "$PYTHON" -X tracemalloc=25 "$@"
    run "$w-memray" "$work/$w-memray.bin" -- "$memray" run -q -o "$work/$w-memray.bin" "$@"
    run "$w-memray-native" "$work/$w-memray-native.bin" -- "$memray" run -q --native -o "$work/$w-memray-native.bin" "$@"
    run "$w-memray-all" "$work/$w-memray-all.bin" -- \
        "$memray" run -q --native --trace-python-allocators -o "$work/$w-memray-all.bin" "$@"
    run "$w-exact" "$work/$w-exact" -- "$bin/memdrift" run -q $flags -o "$work/$w-exact" -- "$PYTHON" "$@"
    run "$w-sampled" "$work/$w-sampled" -- \
        "$bin/memdrift" run -q $flags --sample-rate 512KiB -o "$work/$w-sampled" -- "$PYTHON" "$@"
}

# The leaking workload runs ~4 s: snapshots every 250 ms give memdrift enough to judge a trend.
for ((i = 0; i < RUNS; i++)); do
    measure heavy "" -- "$here/alloc_heavy.py" 8
    measure cache "" -- "$here/object_cache.py" 2
    measure leaky "--interval 250ms" -- "$here/leaky_service.py"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- does each tool name the leaking line? (the last run's outputs) ----
leak_line="$(grep -n '# LEAK$' "$here/leaky_service.py" | cut -d: -f1)"
declare -A names
verdict() { # LINE_FOUND DETAIL
    if [ "$1" = "$leak_line" ]; then echo "yes: $2"; else echo "no: $2"; fi
}
memdrift_first() { # SESSION: the line of the first suspect's innermost frame in leaky_service.py
    "$bin/memdrift" report --json "$1" 2>/dev/null | "$PYTHON" -c '
import json, sys
process = json.load(sys.stdin)["processes"][0]
suspects = process["suspects"]
if not suspects:
    print("- no leak suspect")
    sys.exit()
for frame in suspects[0]["frames"]:
    if (frame.get("file") or "").endswith("leaky_service.py"):
        print(frame["line"], "first suspect %s (leaky_service.py:%d), %s" % (frame["function"], frame["line"], suspects[0]["classification"]))
        break
else:
    print("- first suspect not in leaky_service.py")
'
}
memray_top() { # CAPTURE: the line of leaky_service.py holding the most leaked bytes
    "$memray" transform csv --leaks -f -o "$work/leaks.csv" "$1" >/dev/null 2>&1
    "$PYTHON" - "$work/leaks.csv" <<'EOF'
import csv, sys
leaked, total = {}, 0
with open(sys.argv[1], newline="") as f:
    for row in csv.DictReader(f):
        size = int(row["size"])
        total += size
        for frame in row["stack_trace"].split("|"):
            function, file, line = frame.rsplit(";", 2)
            if file.endswith("leaky_service.py"):
                leaked[(function, int(line))] = leaked.get((function, int(line)), 0) + size
                break
if not leaked:
    print("- nothing leaked in leaky_service.py (%.1f MiB leaked elsewhere)" % (total / 2**20))
else:
    (function, line), size = max(leaked.items(), key=lambda item: item[1])
    print(line, "%s (leaky_service.py:%d), %.1f of %.1f MiB leaked" % (function, line, size / 2**20, total / 2**20))
EOF
}
for tool in exact sampled; do
    read -r line detail < <(memdrift_first "$work/leaky-$tool") || true
    names[$tool]="$(verdict "$line" "$detail")"
done
for tool in memray memray-native memray-all; do
    read -r line detail < <(memray_top "$work/leaky-$tool.bin") || true
    names[$tool]="$(verdict "$line" "$detail")"
done
for frames in 1 25; do
    detail="$("$PYTHON" "$here/tracemalloc_leaks.py" "$frames" "$here/leaky_service.py" 2>&1 >/dev/null | tail -1)"
    line="$(sed -n 's/^tracemalloc top: .*leaky_service\.py:\([0-9]*\),.*/\1/p' <<<"$detail")"
    names[tracemalloc$frames]="$(verdict "${line:--}" "${detail#tracemalloc top: }")"
done

# ---- tables ----
field() { awk -v f="$2" '{print $f}' "$work/times/$1" | median; }
size() {
    local bytes
    bytes="$(field "$1" 3)"
    if [ "$bytes" = 0 ]; then echo "-"; else awk -v b="$bytes" 'BEGIN {
        if (b >= 1048576) printf "%.1f MiB", b / 1048576; else printf "%.0f KiB", b / 1024 }'; fi
}
row() { # WORKLOAD LABEL NAME [NAMES-LINE]
    local s b k
    s="$(field "$1-$3" 1)"
    b="$(field "$1-untraced" 1)"
    k="$(field "$1-$3" 2)"
    awk -v l="$2" -v s="$s" -v b="$b" -v k="$k" -v z="$(size "$1-$3")" -v n="${4:-}" 'BEGIN {
        printf "| %s | %.2f s | %.2fx | %.1f MiB | %s |%s\n", l, s, s / b, k / 1024, z, (n == "" ? "" : " " n " |") }'
}
table() { # WORKLOAD TITLE [leak]
    local w="$1" leak="${3:-}"
    echo
    echo "$2"
    echo
    if [ -n "$leak" ]; then
        echo "| run | wall | ratio | peak RSS | capture / session | names the leaking line (leaky_service.py:$leak_line) |"
        echo "| --- | --- | --- | --- | --- | --- |"
    else
        echo "| run | wall | ratio | peak RSS | capture / session |"
        echo "| --- | --- | --- | --- | --- |"
    fi
    row "$w" "untraced" untraced "${leak:+-}"
    row "$w" "tracemalloc, 1 frame" tracemalloc1 "${leak:+${names[tracemalloc1]}}"
    row "$w" "tracemalloc, 25 frames" tracemalloc25 "${leak:+${names[tracemalloc25]}}"
    row "$w" "memray run" memray "${leak:+${names[memray]}}"
    row "$w" "memray run --native" memray-native "${leak:+${names[memray-native]}}"
    row "$w" "memray run --native --trace-python-allocators" memray-all "${leak:+${names[memray-all]}}"
    row "$w" "memdrift run, exact" exact "${leak:+${names[exact]}}"
    row "$w" "memdrift run --sample-rate 512KiB" sampled "${leak:+${names[sampled]}}"
}
echo
echo "median of $RUNS interleaved runs; ratios to the untraced run of the same workload"
table heavy "scripts/bench/alloc_heavy.py 8"
table cache "scripts/bench/object_cache.py 2"
table leaky "scripts/bench/leaky_service.py (memdrift: --interval 250ms)" leak
