#!/usr/bin/env bash
# A soak test of memdrift itself on a real server: PostgreSQL from Debian under `memdrift run
# --interval 10s` for N minutes while pgbench drives it at 150 transactions/s with 4 clients.
# Prints the session's size and its growth per hour over the second half of the run, the share of
# PostgreSQL's CPU time its snapshot writers took, and the time and memory `memdrift report` needs.
# Usage: scripts/soak.sh [minutes=10] [interval=10s]
# MEMDRIFT_BIN=DIR measures the memdrift and tracker in DIR instead of a release build of this tree;
# MEMDRIFT_SOAK_KEEP=DIR keeps a copy of the session there.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
interval="${2:-10s}"
scripts/setup.sh postgresql-15 postgresql-client-15 time >/dev/null
bin="${MEMDRIFT_BIN:-$(scripts/build.sh release)}"
pgbin=/usr/lib/postgresql/15/bin

# PostgreSQL refuses to run as root: as root, run it (and memdrift, which must own its session) as postgres.
as=()
if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi
work="$(mktemp -d /tmp/memdrift-soak.XXXXXX)"
chmod 755 "$work"
[ ${#as[@]} -eq 0 ] || chown postgres "$work"
cleanup() {
    [ -n "${run_pid:-}" ] && kill "$run_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# The binaries must be reachable by that user: a private copy.
cp "$bin/memdrift" "$bin/libmemdrift-preload.so" "$work/"
"${as[@]}" "$pgbin/initdb" -D "$work/data" -A trust >/dev/null
port=$((20000 + RANDOM % 20000))

echo "soak: PostgreSQL 15 under memdrift run --interval $interval for $minutes min, pgbench 150 tps, 4 clients" >&2
"${as[@]}" "$work/memdrift" run -q --interval "$interval" --duration "${minutes}m" -o "$work/session" -- \
    "$pgbin/postgres" -D "$work/data" -k "$work" -p "$port" -c listen_addresses= 2>"$work/postgres.log" &
run_pid=$!
for _ in $(seq 100); do "${as[@]}" "$pgbin/pg_isready" -q -h "$work" -p "$port" && break; sleep 0.1; done
"${as[@]}" "$pgbin/pgbench" -q -i -s 5 -h "$work" -p "$port" postgres >/dev/null 2>&1
load=$((minutes * 60 - 20))
"${as[@]}" "$pgbin/pgbench" -c 4 -R 150 -T "$load" -h "$work" -p "$port" postgres >"$work/pgbench.log" 2>&1 &
bench_pid=$!

# Halfway, the session's size: the rate per hour is taken over the second half, once every
# process has written its first, full snapshot.
sleep $((load / 2))
half_bytes=$(du -sb "$work/session" | cut -f1)
end_at=$(date +%s)
half_at=$(date +%s)
# Just before the end, the CPU time of every traced process and of its snapshot writer thread.
sleep $((load - load / 2 - 5))
cpu=$(for task in /proc/[0-9]*/task/[0-9]*; do
    [ -r "$task/stat" ] || continue
    grep -q "$work/libmemdrift-preload.so" "${task%/task/*}/maps" 2>/dev/null || continue
    awk -v comm="$(cat "$task/comm" 2>/dev/null)" '{ sub(/^[^)]*\) /, ""); print comm, $12 + $13 }' "$task/stat"
done | awk '{ total += $NF; if ($1 == "memdrift") writer += $NF } END { printf "%d %d\n", writer, total }')
wait "$bench_pid" || true
wait "$run_pid" || true
run_pid=""

snapshots=$(find "$work/session" -name 'snap-*.mds' | wc -l)
bytes=$(du -sb "$work/session" | cut -f1)
end_at=$(date +%s)
tps=$(awk '/^tps/ { printf "%.0f", $3 }' "$work/pgbench.log")
read -r writer total <<<"$cpu"
/usr/bin/time -o "$work/report.time" -f "%e %M" "$bin/memdrift" report "$work/session" >/dev/null 2>&1
read -r seconds kib <"$work/report.time"
if [ -n "${MEMDRIFT_SOAK_KEEP:-}" ]; then cp -r "$work/session" "$MEMDRIFT_SOAK_KEEP"; fi
awk -v m="$minutes" -v s="$snapshots" -v b="$bytes" -v hb="$half_bytes" -v hs="$((end_at - half_at))" \
    -v w="$writer" -v t="$total" -v rs="$seconds" -v rk="$kib" -v tps="$tps" 'BEGIN {
    printf "minutes              %d (pgbench: %s tps)\n", m, tps
    printf "snapshots            %d\n", s
    printf "session              %.1f MB; second half: %.1f MB per hour\n", b / 1e6, (b - hb) / 1e6 * 3600 / hs
    printf "writer CPU share     %.2f%% (%d of %d ticks of the traced processes)\n", (t > 0 ? 100 * w / t : 0), w, t
    printf "report               %.2f s, %.0f MB peak RSS\n", rs, rk / 1024
}'
