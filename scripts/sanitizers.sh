#!/usr/bin/env bash
# Runs the tracker's table code under sanitizers and the CLI's report path under valgrind.
#  1. Tests/TrackerC/driver.c + the tracker's C files except hooks.c (ASan and TSan interpose
#     malloc themselves, so the hooks stay out), built with -fsanitize=address,undefined and then
#     -fsanitize=thread; the driver drives the stack and counter tables from several threads
#     and encodes snapshots, which the CLI must then read.
#  2. valgrind memcheck on `memdrift report SESSION`, run on a copy of memdrift stripped of its
#     debug info: valgrind 3.19 stops on the toolchain's DWARF 5 ("unhandled dwarf2 abbrev form
#     code 0x25", then "Possibly corrupted debuginfo file"), --read-var-info=no does not help, and
#     the Swift runtime libraries in /opt/swift/usr/lib/swift/linux load fine as they are.
# Usage: scripts/sanitizers.sh            exits non-zero on any sanitizer or memcheck error
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh valgrind >/dev/null
bin="$(scripts/build.sh debug)"
out=.build/sanitizers
mkdir -p "$out"
sources=$(ls Sources/MemdriftTracker/*.c | grep -v '/hooks\.c$')
flags=(-D_GNU_SOURCE -ISources/MemdriftTracker/include -ISources/MemdriftTracker -g -O1 -fno-omit-frame-pointer
    -fno-sanitize-recover=all -Wall -Wextra -fuse-ld=lld)
status=0

for sanitizer in address,undefined thread; do
    name="driver-${sanitizer%%,*}"
    # -asan-globals=0: the tracker's .swift1_autolink_entries marker is discarded at link time,
    # which ASan's global metadata cannot refer to; heap and stack accesses stay checked.
    extra=()
    # The toolchain's TSan runtime carries libdispatch interceptors: link libdispatch for them.
    swiftlib=/opt/swift/usr/lib/swift/linux
    [ "$sanitizer" = thread ] && extra=(-L"$swiftlib" -Wl,-rpath,"$swiftlib" -ldispatch -lBlocksRuntime) || extra=(-mllvm -asan-globals=0)
    clang "${flags[@]}" "${extra[@]}" -fsanitize="$sanitizer" Tests/TrackerC/driver.c $sources -lunwind -lpthread -o "$out/$name"
    if ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 TSAN_OPTIONS=halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$out/$name" "$out/$name.mds" && "$bin/memdrift" folded "$out/$name.mds" --metric live >/dev/null; then
        echo "sanitizers: $sanitizer: clean"
    else
        echo "sanitizers: $sanitizer: FAILED" >&2
        status=1
    fi
done

# valgrind on the CLI: a session of a real example, then report and report --json.
session="$out/session"
rm -rf "$session"
"$bin/memdrift" run -q --interval 200ms -o "$session" -- "$bin/leaky-server" 2 >/dev/null
stripped="$out/stripped"
rm -rf "$stripped" && mkdir -p "$stripped"
strip -g -o "$stripped/memdrift" "$bin/memdrift"
for arguments in "report $session" "report $session --json"; do
    if valgrind --tool=memcheck --error-exitcode=1 --leak-check=no --quiet "$stripped/memdrift" $arguments >/dev/null 2>"$out/valgrind.log"; then
        echo "sanitizers: valgrind memdrift $arguments: clean"
    else
        echo "sanitizers: valgrind memdrift $arguments: FAILED (see $out/valgrind.log)" >&2
        tail -30 "$out/valgrind.log" >&2
        status=1
    fi
done
exit $status
