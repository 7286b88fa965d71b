'use strict';
// A small HTTP service driven by a client loop in the same process, for scripts/bench.sh: the
// server parses JSON bodies, keeps a bounded cache and answers JSON; the client keeps 16 requests
// in flight over keep-alive connections until it has made the number asked for.
const http = require('http');
const total = Number(process.argv[2] || 20000);
const cache = new Map();
const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
        const query = JSON.parse(body);
        const key = query.user + ':' + query.page;
        let page = cache.get(key);
        if (page === undefined) {
            page = { user: query.user, page: query.page, items: Array.from({ length: 20 }, (_, i) => ({ id: query.page * 20 + i, title: 'item ' + i })) };
            cache.set(key, page);
            if (cache.size > 500) cache.delete(cache.keys().next().value);
        }
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify(page));
    });
});
server.listen(0, '127.0.0.1', () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const port = server.address().port;
    let sent = 0, done = 0, bytes = 0;
    function send() {
        if (sent >= total) return;
        const n = sent++;
        const payload = JSON.stringify({ user: 'user-' + (n % 50), page: n % 40 });
        const request = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/items', agent }, (response) => {
            response.setEncoding('utf8');
            response.on('data', (chunk) => (bytes += chunk.length));
            response.on('end', () => {
                if (++done === total) {
                    console.log('node_http:', done, bytes);
                    agent.destroy();
                    server.close();
                } else {
                    send();
                }
            });
        });
        request.end(payload);
    }
    for (let i = 0; i < 16; i++) send();
});
