"""An object-heavy CPython workload for scripts/bench: an in-memory cache of small records.

Records are parsed from text into small objects (an instance with a dict, tuples, short strings,
ints) and kept in a cache of 200,000 entries that is looked up and refreshed: about a million
small live objects at a time, most of them under 512 bytes (pymalloc's size limit), with steady
churn. Prints a checksum so runs can be compared.
"""
import sys


class Record:
    def __init__(self, key, name, tags, score):
        self.key = key
        self.name = name
        self.tags = tags
        self.score = score


rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
size = 200_000
cache = {}
checksum = 0
for r in range(rounds):
    for i in range(size):
        key = (i * 7919 + r) % (size * 2)
        line = "%d,item-%d,t%d;t%d,%d" % (key, key, key % 13, key % 17, key * 31 % 1000)
        k, name, tags, score = line.split(",")
        cache[int(k)] = Record(int(k), name, tuple(tags.split(";")), int(score))
    hits = 0
    for i in range(0, size * 2, 3):
        record = cache.get(i)
        if record is not None:
            hits += record.score
    for key in [k for k in cache if k % 5 == r % 5]:
        del cache[key]
    checksum += hits + len(cache)
print("object_cache:", checksum)
