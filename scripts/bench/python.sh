#!/usr/bin/env bash
# Measures CPython under memdrift, with the numbers docs/performance.md and docs/runtimes.md quote:
#  1. pymalloc (CPython's default) against PYTHONMALLOC=malloc, untraced: wall time and peak RSS;
#  2. tracing scripts/bench/alloc_heavy.py, exact and --sample-rate 512KiB, against the untraced
#     run: with the tracker's Python support (Python frames, pymalloc's objects recorded through
#     its allocator hook; the default), without it (MEMDRIFT_PYTHON=0), and both again under
#     PYTHONMALLOC=malloc, where every object goes through malloc;
#  3. the same traced runs of scripts/bench/object_cache.py, with and without PYTHONMALLOC=malloc.
# Runs are interleaved and the median of RUNS is printed, with the load average before and after.
# Usage: scripts/bench/python.sh [runs=5] [python=/usr/bin/python3.11] [bin=.build/release]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-5}"
PYTHON="${2:-/usr/bin/python3.11}"
bin="${3:-.build/release}"
here="$PWD/scripts/bench"
work="$(mktemp -d /tmp/memdrift-bench-python.XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "python: $PYTHON ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])')), memdrift: $bin"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Wall seconds and peak RSS (KiB) of one command, as "seconds kib".
# Peak RSS is the largest of the process tree's (the traced program's, under `memdrift run`).
measure() {
    /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>&1 || true
    tail -1 "$work/time"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# run NAME [VAR=VALUE ...] -- COMMAND...: appends "seconds kib" to $work/NAME.
run() {
    local name="$1"; shift
    local env=()
    while [ "$1" != "--" ]; do env+=("$1"); shift; done
    shift
    rm -rf "$work/session"
    measure env "${env[@]}" "$@" >>"$work/$name"
}

traced() { # NAME MODE(exact|sampled) [VAR=VALUE ...] -- PROGRAM...
    local name="$1" mode="$2"; shift 2
    local flags=(-q -o "$work/session")
    [ "$mode" = sampled ] && flags+=(--sample-rate 512KiB)
    local env=()
    while [ "$1" != "--" ]; do env+=("$1"); shift; done
    shift
    run "$name" "${env[@]}" -- "$bin/memdrift" run "${flags[@]}" -- "$@"
}

heavy=("$PYTHON" "$here/alloc_heavy.py" 8)
cache=("$PYTHON" "$here/object_cache.py" 2)
for ((i = 0; i < RUNS; i++)); do
    run heavy-pymalloc -- "${heavy[@]}"
    run heavy-malloc PYTHONMALLOC=malloc -- "${heavy[@]}"
    run cache-pymalloc -- "${cache[@]}"
    run cache-malloc PYTHONMALLOC=malloc -- "${cache[@]}"
    for mode in exact sampled; do
        traced "heavy-$mode-python" $mode -- "${heavy[@]}"
        traced "heavy-$mode-native" $mode MEMDRIFT_PYTHON=0 -- "${heavy[@]}"
        traced "heavy-$mode-malloc-python" $mode PYTHONMALLOC=malloc -- "${heavy[@]}"
        traced "heavy-$mode-malloc-native" $mode PYTHONMALLOC=malloc MEMDRIFT_PYTHON=0 -- "${heavy[@]}"
        traced "cache-$mode-python" $mode -- "${cache[@]}"
        traced "cache-$mode-malloc-python" $mode PYTHONMALLOC=malloc -- "${cache[@]}"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

seconds() { awk '{print $1}' "$work/$1" | median; }
kib() { awk '{print $2}' "$work/$1" | median; }
row() { # LABEL NAME BASELINE
    awk -v l="$1" -v s="$(seconds "$2")" -v b="$(seconds "$3")" -v k="$(kib "$2")" -v bk="$(kib "$3")" \
        'BEGIN {printf "| %s | %.2f s | %.2fx | %.1f MiB | %.2fx |\n", l, s, s / b, k / 1024, k / bk}'
}

echo
echo "median of $RUNS interleaved runs; ratios to the untraced pymalloc run of the same workload"
echo
echo "| run | wall | ratio | peak RSS | ratio |"
echo "| --- | --- | --- | --- | --- |"
row "alloc_heavy.py, pymalloc" heavy-pymalloc heavy-pymalloc
row "alloc_heavy.py, PYTHONMALLOC=malloc" heavy-malloc heavy-pymalloc
row "object_cache.py, pymalloc" cache-pymalloc cache-pymalloc
row "object_cache.py, PYTHONMALLOC=malloc" cache-malloc cache-pymalloc
for mode in exact sampled; do
    row "alloc_heavy.py, $mode, Python support" "heavy-$mode-python" heavy-pymalloc
    row "alloc_heavy.py, $mode, MEMDRIFT_PYTHON=0" "heavy-$mode-native" heavy-pymalloc
    row "alloc_heavy.py, $mode, PYTHONMALLOC=malloc, Python support" "heavy-$mode-malloc-python" heavy-pymalloc
    row "alloc_heavy.py, $mode, PYTHONMALLOC=malloc, MEMDRIFT_PYTHON=0" "heavy-$mode-malloc-native" heavy-pymalloc
    row "object_cache.py, $mode, Python support" "cache-$mode-python" cache-pymalloc
    row "object_cache.py, $mode, PYTHONMALLOC=malloc, Python support" "cache-$mode-malloc-python" cache-pymalloc
done
