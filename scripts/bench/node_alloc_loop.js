'use strict';
// The worst case for V8's sampling heap profiler: a loop that only allocates (about 2 GB/s of
// small objects that escape into a ring), timed inside the process so start-up does not count.
// Usage: node node_alloc_loop.js [iterations=20000000]
const iterations = Number(process.argv[2] || 2e7);
const ring = new Array(1024);
let sum = 0;
const start = process.hrtime.bigint();
for (let i = 0; i < iterations; i++) {
    const item = { a: i, b: [i, i] };
    ring[i & 1023] = item;
    sum += item.b.length;
}
console.log('node_alloc_loop:', Number(process.hrtime.bigint() - start) / 1e6, 'ms', sum);
