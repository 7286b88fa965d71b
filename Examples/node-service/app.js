'use strict';
// A request-serving loop that keeps one in five finished sessions forever (the leak memdrift must
// name) or, in steady mode, none. Deterministic: the same output for the same arguments.
// Usage: node app.js [leak|steady] [rounds=100]
//
// rememberSession runs as a promise callback, as session hooks usually do. A function that V8 inlines
// into its caller is reported as the caller, so a leak in a small function called directly from a hot
// loop shows up under that loop (docs/runtimes.md).

const remembered = [];
globalThis.rememberedSessions = remembered;

function openSession(id) {
    return { id, user: id % 97, pages: [], requests: 0 };
}

async function handleRequest(id) {
    const session = openSession(id);
    for (let i = 0; i < 16; i++) {
        session.pages.push('/api/items/' + ((id * 16 + i) % 1000));
        session.requests++;
    }
    await null;
    return session;
}

function rememberSession(session) {
    const record = {
        id: session.id,
        user: session.user,
        requests: session.requests,
        summary: 'session ' + session.id + ' of user ' + session.user + ': ' + session.requests + ' requests',
        pageLengths: new Array(session.pages.length),
    };
    for (let i = 0; i < session.pages.length; i++) record.pageLengths[i] = session.pages[i].length;
    remembered.push(record);
}

const mode = process.argv[2] || 'leak';
if (mode !== 'leak' && mode !== 'steady') {
    console.error('usage: node app.js [leak|steady] [rounds]');
    process.exit(2);
}
const keepEvery = mode === 'leak' ? 5 : 0;
const rounds = Number(process.argv[3] || 100);
const perRound = 500;
let round = 0;
let next = 0;

function serveRound() {
    for (let k = 0; k < perRound; k++, next++) {
        const done = handleRequest(next);
        if (keepEvery > 0 && next % keepEvery === 0) done.then(rememberSession);
    }
    round += 1;
    if (round < rounds) {
        setTimeout(serveRound, 20);
    } else {
        setTimeout(() => console.log(`served ${next} sessions, kept ${remembered.length}`), 20);
    }
}

serveRound();
