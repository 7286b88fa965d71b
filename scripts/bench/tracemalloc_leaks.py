"""Finds a leak with tracemalloc the way its documentation suggests: snapshots compared by line.

Runs SCRIPT (as __main__, with ARGS) with tracemalloc tracing FRAMES frames per allocation from
before the script starts, takes a snapshot before and after it, and prints on stderr the top line
of `after.compare_to(before, "lineno")` (the line whose traced memory grew the most) with the
time the two snapshots and the comparison took. Used by scripts/bench/python-peers.sh.

Usage: tracemalloc_leaks.py FRAMES SCRIPT [ARGS...]
"""
import os
import runpy
import sys
import time
import tracemalloc

frames = int(sys.argv[1])
script = sys.argv[2]
sys.argv = sys.argv[2:]
tracemalloc.start(frames)
started = time.monotonic()
before = tracemalloc.take_snapshot()
spent = time.monotonic() - started
module = runpy.run_path(script, run_name="__main__")  # keeps the script's globals alive
started = time.monotonic()
after = tracemalloc.take_snapshot()
top = after.compare_to(before, "lineno")[0]
spent += time.monotonic() - started
where = top.traceback[0]
print(
    "tracemalloc top: %s:%d, %+.1f MiB in %+d blocks (snapshots and comparison %.1f s)"
    % (os.path.basename(where.filename), where.lineno, top.size_diff / 2**20, top.count_diff, spent),
    file=sys.stderr,
)
