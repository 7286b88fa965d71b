"""A leaking CPython workload for scripts/bench/python-peers.sh: requests served as fast as possible.

Each request becomes a small record (a dict holding short strings, a list, tuples and an int),
is answered, and is dropped, except 1 in 5, which `remember` keeps in a global list: the leak.
Everything a kept record holds is allocated by the one line marked LEAK in `parse_request` (the
list that keeps them grows in `remember`), so a tool names the leaking line when it names that
line of leaky_service.py as where the growth comes from.
About 4 s untraced; prints a checksum so runs can be compared.

Usage: leaky_service.py [requests=1500000] [keep_every=5]   (keep_every 0: the control, nothing kept)
"""
import sys

kept = []  # the leak: requests nobody forgets


def parse_request(i):
    return {"method": "GET", "path": "/items/%d" % (i % 1000), "user": "user-%06d" % i, "size": i % 97, "headers": [("host", "example"), ("user-id", "%d" % i)]}  # LEAK


def answer(request):
    parts = [request["method"], request["path"], "for", request["user"]]
    body = " ".join(parts) * (1 + request["size"] % 3)
    return "%d %s" % (len(body), body[:16])


def remember(request):
    kept.append(request)


def serve(requests, keep_every):
    checksum = 0
    for i in range(requests):
        request = parse_request(i)
        checksum += len(answer(request))
        if keep_every and i % keep_every == 0:
            remember(request)
    return checksum


if __name__ == "__main__":
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 1_500_000
    keep_every = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print("leaky_service:", serve(requests, keep_every), len(kept))
