"""A session service with a leak: it keeps 1 in 5 of the session dicts it builds.

The Python example of memdrift (docs/runtimes.md): `memdrift run -- python3 app.py` must say
`leak` and name build_session, in app.py, at the line that builds the session dict. Requests are
served at a fixed rate and every session is dropped when its request is done, except those kept.

Usage: app.py [--seconds 20] [--rate 1000] [--keep-every 5] [--threads N] [--fork] [--compress]
  --keep-every 0  the control: nothing is kept
  --threads N     N worker threads serve the requests; the main thread only waits for them
  --fork          a forked child serves and leaks; the parent serves keeping nothing and waits
  --compress      each session also opens a zlib compressor, whose state zlib allocates in C
"""
import argparse
import os
import threading
import time
import zlib

kept = []  # the leak: sessions nobody forgets


def build_session(request_id):
    return {"id": request_id, "user": "user-%06d" % request_id, "roles": ["reader", "writer"], "token": "%032x" % request_id}  # builds the kept object


def open_compressor(session):
    session["compressor"] = zlib.compressobj(1, zlib.DEFLATED, 9, 1)  # zlib's state, allocated in C


def handle_request(request_id, keep_every, compress):
    session = build_session(request_id)
    if compress:
        open_compressor(session)
    reply = "%s: %s" % (session["user"], ",".join(session["roles"]))
    if keep_every and request_id % keep_every == 0:
        kept.append(session)
    return len(reply)


def serve(first, step, options, keep_every):
    """Serves requests first, first + step, ... at the requested rate until the time is up."""
    deadline = time.monotonic() + options.seconds
    request_id = first
    while time.monotonic() < deadline:
        for _ in range(max(1, options.rate // 20)):
            handle_request(request_id, keep_every, options.compress)
            request_id += step
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description="A session service that keeps 1 in 5 sessions.")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=1000, help="requests per second, per worker")
    parser.add_argument("--keep-every", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--fork", action="store_true")
    parser.add_argument("--compress", action="store_true")
    options = parser.parse_args()

    if options.fork:
        child = os.fork()
        if child == 0:
            serve(0, 1, options, options.keep_every)
            os._exit(0)
        serve(0, 1, options, 0)
        os.waitpid(child, 0)
    elif options.threads:
        workers = [
            threading.Thread(target=serve, args=(i, options.threads, options, options.keep_every), name="worker-%d" % i)
            for i in range(options.threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    else:
        serve(0, 1, options, options.keep_every)
    print("served; kept %d sessions" % len(kept))


if __name__ == "__main__":
    main()
