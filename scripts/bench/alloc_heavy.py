"""An allocation-heavy CPython workload for scripts/bench.sh (run with PYTHONMALLOC=malloc)."""
import json
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
total = 0
for r in range(rounds):
    records = [{"id": i, "name": "item-%d" % i, "tags": ["t%d" % (i % 7), "r%d" % r]} for i in range(20000)]
    text = json.dumps(records)
    total += len(json.loads(text))
    words = {}
    for i in range(40000):
        words.setdefault("w%d" % (i % 997), []).append(i)
    total += len(words)
print("alloc_heavy:", total)
