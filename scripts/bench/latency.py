"""Sequential requests over one keep-alive connection; prints p50/p90/p99 in milliseconds.

    latency.py HOST PORT PATH N [JSON_BODY]      GET, or POST with JSON_BODY
"""
import http.client
import sys
import time

host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
body = sys.argv[5].encode() if len(sys.argv) > 5 else None
conn = http.client.HTTPConnection(host, port)
times = []
for _ in range(n):
    t0 = time.perf_counter()
    if body is None:
        conn.request("GET", path, headers={"Accept": "text/html"})
    else:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    res.read()
    times.append((time.perf_counter() - t0) * 1000)
    if res.status >= 300:
        sys.exit(f"{path} answered {res.status}")
times.sort()
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"p50 {pick(0.5):.2f} ms, p90 {pick(0.9):.2f} ms, p99 {pick(0.99):.2f} ms")
