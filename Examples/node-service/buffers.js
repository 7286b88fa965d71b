'use strict';
// Builds 16 KiB Buffers in one function and keeps one in five of them: Buffers live in malloc'd
// memory, so the tracker records them, and node's perf map names the JavaScript function in the
// native stack. Deterministic output for the same arguments.
// Usage: node buffers.js [rounds=60]

const kept = [];

function keepBuffer(i) {
    const buffer = Buffer.alloc(16384, i & 0xff);
    if (i % 5 === 0) kept.push(buffer);
    return buffer.length;
}

const rounds = Number(process.argv[2] || 60);
let built = 0;
let round = 0;
function tick() {
    for (let j = 0; j < 200; j++) keepBuffer(built++);
    if (++round < rounds) setTimeout(tick, 20);
    else console.log(`built ${built} buffers, kept ${kept.length}`);
}
tick();
