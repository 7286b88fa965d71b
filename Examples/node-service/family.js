'use strict';
// A process that forks a child process and starts a worker thread; each keeps objects from its own
// named function for 20 ticks of 20 ms, so each must get its own series of JavaScript heap samples.
// Usage: node family.js
const { fork } = require('child_process');
const { Worker, isMainThread, parentPort } = require('worker_threads');

const kept = [];
globalThis.kept = kept;
function keepInParent() {
    for (let i = 0; i < 5000; i++) kept.push({ i, label: 'parent ' + i });
}
function keepInChild() {
    for (let i = 0; i < 5000; i++) kept.push({ i, label: 'child ' + i });
}
function keepInWorker() {
    for (let i = 0; i < 5000; i++) kept.push({ i, label: 'worker ' + i });
}

function tick(keep, done) {
    let ticks = 0;
    const ticker = setInterval(() => {
        keep();
        if (++ticks === 20) {
            clearInterval(ticker);
            done();
        }
    }, 20);
}

if (!isMainThread) {
    tick(keepInWorker, () => parentPort.postMessage(kept.length));
} else if (process.argv[2] === 'child') {
    tick(keepInChild, () => process.send(kept.length, () => process.disconnect()));
} else {
    const counts = {};
    const report = (who) => (count) => {
        counts[who] = count;
        if (Object.keys(counts).length === 3) {
            console.log(`parent kept ${counts.parent}, child ${counts.child}, worker ${counts.worker}`);
        }
    };
    fork(__filename, ['child']).on('message', report('child'));
    new Worker(__filename).on('message', report('worker'));
    tick(keepInParent, () => report('parent')(kept.length));
}
