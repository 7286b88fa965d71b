import FoundationEssentials
import Glibc
import MemdriftCore

/// The Node.js heap probe: a CommonJS module that every node process of a traced tree loads with
/// `NODE_OPTIONS=--require`, and that records V8's sampling heap profile of live objects into the session.
///
/// The probe writes `SESSION/js-<pid>/heap-<CLOCK_MONOTONIC ns, 20 digits>.json` at start, every
/// `MEMDRIFT_INTERVAL_MS`, when the session's trigger file is touched, and at exit; worker threads write
/// `SESSION/js-<pid>-worker-<threadId>/`. docs/FORMAT.md describes the files, docs/runtimes.md what they mean.
public enum NodeHeapProbe {
    /// The directory in the session that holds the runtime probes.
    public static let directoryName = ".probes"
    /// The probe's file name in that directory.
    public static let fileName = "memdrift-node.js"
    /// Mean bytes between V8's samples (its `samplingInterval`), unless MEMDRIFT_JS_SAMPLING_INTERVAL says otherwise.
    ///
    /// Chosen by measurement (docs/runtimes.md): each sample costs a stack walk, so the cost follows
    /// the allocation rate; V8's default of 32 KiB made a loop allocating 2 GB/s 1.5x slower, 64 KiB 1.1x.
    public static let samplingInterval = 65536

    /// Writes the probe into `sessionPath` and returns the variables to change in the target's environment.
    ///
    /// The probe goes to `SESSION/.probes/memdrift-node.js` (directory 0700, file 0600, created
    /// exclusively, never through a symlink); the result holds `NODE_OPTIONS`: the one in
    /// `environment`, if any, followed by `--require` of the probe.
    public static func install(sessionPath: String, environment: [String: String]) throws(RecordingError) -> [String: String] {
        let directory = Path.join(sessionPath, directoryName)
        if mkdir(directory, 0o700) != 0 {
            let code = errno
            let reason = String(cString: strerror(code))
            var info = stat()
            guard code == EEXIST, lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid()
            else { throw .outputUnusable(path: sessionPath, reason: "cannot create \(directoryName): \(reason)") }
        }
        let path = Path.join(directory, fileName)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .outputUnusable(
                path: sessionPath, reason: "cannot create \(directoryName)/\(fileName): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(source.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in buffer.baseAddress.map { write(fd, $0 + done, buffer.count - done) } ?? 0 }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw .outputUnusable(
                    path: sessionPath, reason: "cannot write \(directoryName)/\(fileName): \(String(cString: strerror(errno)))")
            }
            done += n
        }
        return ["NODE_OPTIONS": nodeOptions(requiring: path, after: environment["NODE_OPTIONS"])]
    }

    /// `existing` NODE_OPTIONS followed by `--require` of `path`, quoted the way node splits NODE_OPTIONS
    /// (double quotes, with backslash escaping `\` and `"` inside them), so that any path survives.
    public static func nodeOptions(requiring path: String, after existing: String?) -> String {
        var quoted = "\""
        for character in path {
            if character == "\\" || character == "\"" { quoted.append("\\") }
            quoted.append(character)
        }
        quoted.append("\"")
        let require = "--require " + quoted
        guard let existing, !existing.allSatisfy({ $0 == " " }) else { return require }
        return existing + " " + require
    }

    /// The probe's JavaScript text.
    public static let source = #"""
        'use strict';
        // memdrift's Node.js heap probe (written by `memdrift run`, loaded with NODE_OPTIONS=--require).
        // It records V8's sampling heap profile of live objects into $MEMDRIFT_OUTPUT/js-<pid>/ and must
        // never change what the program does: no output on stdout, no signal handlers, no change to exit
        // codes or uncaught-exception handling, no timer that keeps the process alive. Any failure is one
        // line on stderr, then the probe stays quiet.
        (function memdriftHeapProbe() {
            const marker = Symbol.for('memdrift.jsHeapProbe');
            if (globalThis[marker]) return;
            Object.defineProperty(globalThis, marker, { value: true });

            const output = process.env.MEMDRIFT_OUTPUT;
            if (!output) return;

            // Taken now, so that a program or its test framework replacing them later changes nothing here.
            const fs = require('fs');
            const path = require('path');
            const timers = require('timers');
            const { isMainThread, threadId } = require('worker_threads');
            const { openSync, writeSync, closeSync, renameSync, unlinkSync, mkdirSync, statSync } = fs;
            const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
            const stringify = JSON.stringify;
            const hrtime = process.hrtime.bigint;
            const memoryUsage = process.memoryUsage;
            const ownFile = __filename;

            let stopped = false;
            let ticker = null;
            let session = null;

            function message(error) {
                return error && error.message ? error.message : String(error);
            }

            // One line, written directly to fd 2: using process.stderr would create it for the program.
            function complain(text) {
                if (stopped) return;
                stopped = true;
                if (ticker !== null) timers.clearInterval(ticker);
                try {
                    if (session !== null) session.disconnect();
                } catch (_) {}
                try {
                    writeSync(2, 'memdrift: js heap probe: ' + text + '\n');
                } catch (_) {}
            }

            function count(text, fallback) {
                const value = Number(text);
                return text && Number.isSafeInteger(value) && value >= 0 ? value : fallback;
            }
            const intervalMs = count(process.env.MEMDRIFT_INTERVAL_MS, 10000);
            const samplingInterval = count(process.env.MEMDRIFT_JS_SAMPLING_INTERVAL, 0) || \#(samplingInterval);

            let inspector;
            try {
                inspector = require('inspector');
            } catch (error) {
                complain('this node has no inspector (' + (error && error.code ? error.code : message(error)) + '); the JavaScript heap is not recorded');
                return;
            }
            if (inspector.url() !== undefined) {
                complain('the inspector is in use (--inspect); the JavaScript heap of pid ' + process.pid + ' is not recorded');
                return;
            }

            // Calls to an in-process session complete before post returns, also inside an 'exit' listener.
            function call(method, params) {
                let answered = false, failure = null, answer;
                session.post(method, params, (error, result) => {
                    answered = true;
                    failure = error;
                    answer = result;
                });
                if (!answered) throw new Error(method + ' did not answer synchronously');
                if (failure) throw new Error(method + ': ' + message(failure));
                return answer;
            }

            try {
                session = new inspector.Session();
                session.connect();
                // Only objects still alive are reported: the includeObjectsCollectedBy* options stay off.
                call('HeapProfiler.startSampling', { samplingInterval });
            } catch (error) {
                complain('cannot start V8\'s sampling heap profiler: ' + message(error));
                return;
            }

            let directory = null;
            let sequence = 0;

            // js-<pid> for the main thread, js-<pid>-worker-<threadId> for a worker thread. A name that
            // exists already belongs to an earlier process image (exec, a reused pid): then .2, .3, ...
            function claimDirectory() {
                const base = path.join(output, 'js-' + process.pid + (isMainThread ? '' : '-worker-' + threadId));
                for (let image = 1; ; image++) {
                    const candidate = image === 1 ? base : base + '.' + image;
                    try {
                        mkdirSync(candidate, 0o700);
                        return candidate;
                    } catch (error) {
                        if (error.code !== 'EEXIST' || image >= 1000) throw error;
                    }
                }
            }

            // V8 finds a function's script only while the script is alive: once a module's code is garbage
            // (at exit, typically) its nodes come without url and line. Node ids are stable while a node
            // exists, so what an earlier profile said about a node is kept for it.
            let placeOfNode = new Map();

            // The profile's tree as a flat list in pre-order, each node naming its parent's index. Only
            // nodes that hold live bytes, or lead to one that does, are kept; the probe's own calls are not.
            // Names and URLs go to a table of strings, nodes are [parent, function, url, lineNumber,
            // selfSize, samples] with function and url indices into it.
            function flatten(profile) {
                const samplesAt = new Map();
                for (const sample of profile.samples) samplesAt.set(sample.nodeId, (samplesAt.get(sample.nodeId) || 0) + 1);
                const strings = [];
                const indexOf = new Map();
                function intern(text) {
                    let index = indexOf.get(text);
                    if (index === undefined) {
                        index = strings.length;
                        strings.push(text);
                        indexOf.set(text, index);
                    }
                    return index;
                }
                const nodes = [];
                const places = new Map();
                function visit(node, parent) {
                    const frame = node.callFrame;
                    if (frame.url === ownFile) return;
                    let place = [frame.url, frame.lineNumber];
                    if (frame.url === '' && frame.scriptId !== '0') place = placeOfNode.get(node.id) || place;
                    if (place[0] !== '') places.set(node.id, place);
                    const index = nodes.length;
                    const live = node.selfSize > 0;
                    nodes.push([parent, intern(frame.functionName), intern(place[0]), place[1],
                        live ? node.selfSize : 0, live ? samplesAt.get(node.id) || 0 : 0]);
                    for (const child of node.children) visit(child, index);
                    if (!live && nodes.length === index + 1) nodes.pop();
                }
                visit(profile.head, -1);
                placeOfNode = places;
                return { strings, nodes };
            }

            function writeFile(name, text) {
                const temporary = path.join(directory, '.' + name + '.tmp');
                const fd = openSync(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
                try {
                    const bytes = Buffer.from(text, 'utf8');
                    let done = 0;
                    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
                } catch (error) {
                    closeSync(fd);
                    try {
                        unlinkSync(temporary);
                    } catch (_) {}
                    throw error;
                }
                closeSync(fd);
                renameSync(temporary, path.join(directory, name));
            }

            function sample(reason) {
                if (stopped) return;
                try {
                    const now = hrtime();
                    const wallClockMillis = Date.now();
                    // V8 collects all garbage before it reports the profile: memory measured after that
                    // is the live heap (and the profile itself), free of the garbage a sawtooth is made of.
                    const profile = call('HeapProfiler.getSamplingProfile', {}).profile;
                    const memory = memoryUsage.call(process);
                    const { strings, nodes } = flatten(profile);
                    if (directory === null) directory = claimDirectory();
                    sequence += 1;
                    const body = stringify({
                        schema: 'memdrift.js-heap/1',
                        pid: process.pid,
                        ppid: process.ppid,
                        threadId,
                        sequence,
                        reason,
                        wallClockMillis,
                        memory: {
                            rss: memory.rss,
                            heapTotal: memory.heapTotal,
                            heapUsed: memory.heapUsed,
                            external: memory.external,
                            arrayBuffers: memory.arrayBuffers,
                        },
                        samplingInterval,
                        strings,
                        nodes,
                    });
                    // Written as digits: a JS number would round the nanoseconds after about 104 days of uptime.
                    const text = '{"monotonicNanos":' + now.toString() + ',' + body.slice(1) + '\n';
                    writeFile('heap-' + now.toString().padStart(20, '0') + '.json', text);
                } catch (error) {
                    complain('cannot record a sample: ' + message(error));
                }
            }

            // A touch of SESSION/trigger asks for a sample now (`memdrift snapshot`, the end of --duration).
            const trigger = path.join(output, 'trigger');
            function triggerTime() {
                try {
                    const info = statSync(trigger, { bigint: true, throwIfNoEntry: false });
                    return info === undefined ? -1n : info.mtimeNs;
                } catch (_) {
                    return -1n;
                }
            }
            let triggerSeen = triggerTime();
            const intervalNs = BigInt(intervalMs) * 1000000n;
            let due = hrtime() + intervalNs;
            function tick() {
                const touched = triggerTime();
                if (touched !== triggerSeen) {
                    triggerSeen = touched;
                    if (touched !== -1n) sample('request');
                }
                const now = hrtime();
                if (intervalNs > 0n && now >= due) {
                    sample('interval');
                    while (due <= now) due += intervalNs;
                }
            }

            // One more 'exit' listener must not be the one that makes the program's own exceed the warning limit.
            if (process.getMaxListeners() !== 0) process.setMaxListeners(process.getMaxListeners() + 1);
            process.on('exit', () => {
                if (ticker !== null) timers.clearInterval(ticker);
                sample('exit');
            });
            timers.setTimeout(() => sample('start'), 0).unref();
            ticker = timers.setInterval(tick, intervalMs > 0 ? Math.min(intervalMs, 100) : 100);
            ticker.unref();
        })();

        """#
}
