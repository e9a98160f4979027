#!/usr/bin/env python3
"""Load on a running `engine-cli serve` from outside its JVM: N concurrent clients, a fixed number of
JSON queries each (by id: HDS and BCS alternating), keep-alive connections, loopback.

    bench/scripts/serve_load.py [--url http://127.0.0.1:8080] [--clients 16] [--requests 200] [--k 10]

Prints one JSON line: throughput, p50/p99 latency, status counts, and the server's own /stats
batch sizes. Correctness of the answers under concurrency is checked by java/serve's ServeLoadTest.
"""
import argparse, http.client, json, threading, time, urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--url", default="http://127.0.0.1:8080")
ap.add_argument("--clients", type=int, default=16)
ap.add_argument("--requests", type=int, default=200, help="per client")
ap.add_argument("--k", type=int, default=10)
a = ap.parse_args()
u = urllib.parse.urlparse(a.url)

def stats():
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
    c.request("GET", "/stats")
    return json.loads(c.getresponse().read())

rows = stats()["index"]["rows"]
lat, codes, lock = [], {}, threading.Lock()

def client(n, warm):
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
    mine = []
    for i in range(warm if warm else a.requests):
        body = json.dumps({"id": (n * 7919 + i * 104729) % rows, "k": a.k, "mode": "hds" if i % 2 == 0 else "bcs"})
        t = time.perf_counter()
        c.request("POST", "/search", body, {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        mine.append((time.perf_counter() - t) * 1e3)
        with lock:
            codes[r.status] = codes.get(r.status, 0) + 1
    if not warm:
        with lock:
            lat.extend(mine)

def run(warm):
    ts = [threading.Thread(target=client, args=(n, warm)) for n in range(a.clients)]
    t0 = time.perf_counter()
    for t in ts: t.start()
    for t in ts: t.join()
    return time.perf_counter() - t0

run(20)
codes.clear()
before = stats()["batches"]
secs = run(0)
after = stats()["batches"]
lat.sort()
n = len(lat)
b = after["count"] - before["count"]
q = after["queries"] - before["queries"]
print(json.dumps({"clients": a.clients, "requests": n, "seconds": round(secs, 3), "qps": round(n / secs, 1),
                  "p50_ms": round(lat[(n - 1) // 2], 3), "p99_ms": round(lat[-(-99 * n // 100) - 1], 3),
                  "status": codes, "rows": rows, "mean_batch": round(q / b, 2) if b else None}))
