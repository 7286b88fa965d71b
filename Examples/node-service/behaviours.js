'use strict';
// Programs whose output and exit status memdrift must leave untouched. Each works for 30 ticks of
// 10 ms, keeping objects, then ends its own way. Usage: node behaviours.js exit-3 | sigterm | uncaught
const kept = [];
let ticks = 0;

function work() {
    for (let i = 0; i < 2000; i++) kept.push({ i, text: 'item ' + i });
    if (++ticks === 30) finish();
}

function finish() {
    clearInterval(ticker);
    if (mode === 'exit-3') {
        console.log('leaving with 3 after', kept.length, 'items');
        console.error('to stderr');
        process.exit(3);
    } else if (mode === 'sigterm') {
        process.kill(process.pid, 'SIGTERM');
        setTimeout(() => console.log('not reached'), 10000);
    } else {
        console.log('about to throw');
        throw new Error('unexpected state after ' + kept.length + ' items');
    }
}

const mode = process.argv[2];
if (!['exit-3', 'sigterm', 'uncaught'].includes(mode)) {
    console.error('usage: node behaviours.js exit-3|sigterm|uncaught');
    process.exit(2);
}
if (mode === 'sigterm') {
    process.on('SIGTERM', () => {
        console.log('SIGTERM handled after', kept.length, 'items');
        process.exit(0);
    });
}
const ticker = setInterval(work, 10);
