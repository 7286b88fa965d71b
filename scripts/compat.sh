#!/usr/bin/env bash
# Runs real programs with and without `memdrift run -q` and checks that tracing changes nothing:
# byte-identical stdout, stderr and output files, the same exit code, and at least one snapshot.
# Prints a Markdown table (docs/compatibility.md holds the last measured one); exits 1 on any mismatch.
# Usage: scripts/compat.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
scripts/setup.sh sqlite3 git gcc nodejs >/dev/null
bin="$(scripts/build.sh "${1:-debug}")"
memdrift="$bin/memdrift"
work="$(mktemp -d /tmp/memdrift-compat.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Inputs shared by the cases, made once.
mkdir -p "$work/inputs"
cat >"$work/inputs/hello.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
int main(void) { char *p = malloc(64); snprintf(p, 64, "hello %d", 42); puts(p); free(p); return 0; }
EOF
cat >"$work/inputs/hello.cpp" <<'EOF'
#include <iostream>
#include <map>
#include <string>
#include <vector>
int main() {
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 1000; i++) m[std::to_string(i % 37)].push_back(i);
    std::cout << m.size() << " " << m["5"].size() << "\n";
}
EOF
cat >"$work/inputs/hello.swift" <<'EOF'
var words: [String: Int] = [:]
for i in 0..<100_000 { words["w\(i % 1000)", default: 0] += i }
let total = words.values.reduce(0, +)
print("swift: \(words.count) words, total \(total)")
EOF
swiftc -O "$work/inputs/hello.swift" -o "$work/inputs/hello-swift" 2>/dev/null
awk 'BEGIN { srand(7); for (i = 0; i < 1500000; i++) printf "%08d %s\n", int(rand() * 1e8), i }' >"$work/inputs/large.txt"
python=/usr/bin/python3
pyscript='import json, hashlib, sqlite3, collections
c = collections.Counter(str(i % 97) for i in range(200000))
db = sqlite3.connect(":memory:"); db.execute("create table t(x)"); db.executemany("insert into t values (?)", [(i,) for i in range(10000)])
print(json.dumps(c.most_common(3)), hashlib.sha256(b"memdrift").hexdigest(), db.execute("select sum(x) from t").fetchone())'
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
gitscript='git init -q -b main repo && cd repo && seq 1 5000 > numbers && echo hello > greeting &&
git add . && git -c user.name=memdrift -c user.email=m@example.org commit -q -m first &&
echo more >> greeting && git -c user.name=memdrift -c user.email=m@example.org commit -q -am second &&
git log --format="%H %s" && git diff HEAD~1 --stat && git status --short | wc -l'
sqlscript="with recursive n(i) as (select 1 union all select i + 1 from n where i < 100000)
select count(*), sum(i), group_concat(i % 7, '') like '%123456%' from n;
create table t(k text primary key, v); insert into t select 'k' || value, value * value from generate_series(1, 20000);
select count(*), max(v) from t;"

# name | expected exit code | compare the files it writes (yes/no) | environment | command (bash -c, in a fresh directory)
cases=(
    "python3|0|no||$python -c '$pyscript'"
    "python3 (PYTHONMALLOC=malloc)|0|no|PYTHONMALLOC=malloc|$python -c '$pyscript'"
    "git init, add, commit, log|0|no||$gitscript"
    "sqlite3|0|no||sqlite3 :memory: \"$sqlscript\""
    "gcc -O2 -c, then link|0|yes||gcc -O2 -c $work/inputs/hello.c -o hello.o && gcc hello.o -o hello && ./hello"
    "clang++ -O1 (Swift toolchain)|0|yes||/opt/swift/usr/bin/clang++ -O1 $work/inputs/hello.cpp -o hello-cpp && ./hello-cpp"
    "node -e|0|no||node -e 'const m = new Map(); for (let i = 0; i < 200000; i++) m.set(\"k\" + (i % 5000), i); console.log(m.size, JSON.stringify([...m.entries()].slice(0, 2)))'"
    "Swift program (swiftc -O)|0|no||$work/inputs/hello-swift"
    "shell pipeline|3|no||seq 1 300000 | awk '{ s += \$1 % 13; print \$1 % 1000 }' | sort -n | uniq -c | sort -rn | head -3; echo err >&2; exit 3"
    "sort of a 1.5M-line file|0|yes||sort $work/inputs/large.txt > sorted.txt && sort -k2,2n -c <(sort -k2,2n sorted.txt) && wc -l < sorted.txt"
)

failed=0
echo "| program | identical? | exit code | snapshots |"
echo "| --- | --- | --- | --- |"
for entry in "${cases[@]}"; do
    IFS='|' read -r -d '' name expected files environment command <<<"$entry" || true
    command="${command%$'\n'}"
    dir="$work/case-$RANDOM$RANDOM"
    mkdir -p "$dir/plain" "$dir/traced"
    run() { (cd "$1" && env $environment bash -c "$command") >"$1.out" 2>"$1.err" </dev/null; }
    plain=0 traced=0
    run "$dir/plain" || plain=$?
    (cd "$dir/traced" && env $environment "$memdrift" run -q -o "$dir/session" -- bash -c "$command") \
        >"$dir/traced.out" 2>"$dir/traced.err" </dev/null || traced=$?
    verdict="yes"
    cmp -s "$dir/plain.out" "$dir/traced.out" || verdict="no: stdout differs"
    cmp -s "$dir/plain.err" "$dir/traced.err" || verdict="no: stderr differs"
    if [ "$files" = yes ]; then
        diff -r "$dir/plain" "$dir/traced" >/dev/null || verdict="no: output files differ"
        [ "$verdict" = yes ] && verdict="yes (and $(ls "$dir/plain" | wc -l) output files)"
    fi
    [ "$plain" = "$traced" ] || verdict="no: exit $plain untraced"
    [ "$plain" = "$expected" ] || verdict="no: the untraced run failed (exit $plain): $(head -c 200 "$dir/plain.err" | tr '\n' ' ')"
    snapshots=$(find "$dir/session" -name 'snap-*.mds' 2>/dev/null | wc -l)
    [ "$snapshots" -ge 1 ] || verdict="no: no snapshot"
    case "$verdict" in yes*) ;; *) failed=1 ;; esac
    echo "| $name | $verdict | $traced | $snapshots |"
    if [ "${COMPAT_KEEP:-}" = 1 ] && [ "$verdict" != yes ]; then cp -r "$dir" "$root/compat-failure-$RANDOM"; fi
done
exit $failed
