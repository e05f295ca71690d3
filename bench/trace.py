#!/usr/bin/env python3
"""Traces one spadeploy push through the bench's delaying proxy and says where its time went.

    bench/run trace cold|no-op|rebuild [rclone]

On BENCH_SERVER (garage by default; refused, like every table, unless its listing carries ETags),
every S3 request BENCH_S3_DELAY_MS away (default 30; 0 traces the loopback push) through bench/proxy
(BENCH_CONNECT_DELAY_MS more for each new connection's first request, default 0), the large tree
(BENCH_TRACE_SIZE), a fresh hash cache (a CI runner's). The scenario's earlier pushes run untraced
first (no-op: the base tree; rebuild: the base tree, then the rebuild is traced). With `rclone`,
rclone `sync --checksum --transfers 32 --checkers 32` is traced instead, for comparison.

Prints, from the proxy's timestamps (relative to the launch of the process):
  - the phases: requests grouped by what they touch (listing, lock, live pointer, release record,
    uploads, index.html, deletes), each with its count, first start and last end;
  - the critical path: the longest chain of requests each sent after the one before it answered,
    link by link, with the client's own time between an answer and the next request ("gap");
  - requests in flight over time, and how long each took beyond the added delay (the proxy's and
    the server's time), which shows the window's growth and a saturated server or proxy;
  - the time outside round trips: launch to the first request, the last answer to the exit, and
    the CPU seconds of spadeploy, the server and the proxy (its process) against the machine's two
    cores;
  - for a cold push: the same push straight to the server and through the proxy without delay,
    and hashing alone (`spadeploy diff --rehash`), so each cost is measured, not inferred.
BENCH_TRACE_LOG=path also writes the raw log as JSON lines.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as b  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> tuple:
    """(busy, total) CPU seconds of the whole machine so far, every core."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICK, sum(values) / TICK


def run(cmd, env):
    """(wall, user, sys, peak RSS MB) of a command that must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"trace: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    user, system, rss = proc.stderr.strip().splitlines()[-1].split()
    return wall, float(user), float(system), int(rss) / 1024


def kind(label: str) -> str:
    method, _, target = label.partition(" ")
    path, _, query = target.partition("?")
    key = path.split("/", 2)[2] if path.count("/") >= 2 else ""
    if method == "GET" and ("list-type" in query or not key):
        return "list"
    if method == "POST" and "delete" in query:
        return "delete (batch)"
    if key.startswith(".spadeploy/"):
        name = key[len(".spadeploy/"):]
        what = ("lock" if name.startswith("lock") else "live pointer" if name.startswith("live")
                else "release record" if name.startswith("releases/") else name.split("/")[0])
        return f"{method} state: {what}" + (" (copy)" if label.endswith("(copy)") else "")
    if key == "index.html":
        return f"{method} index.html"
    if label.endswith("(copy)"):
        return f"{method} (copy)"
    return {"PUT": "PUT upload", "DELETE": "DELETE object", "HEAD": "HEAD object", "GET": "GET object"}.get(
        method, method)


def short(label: str) -> str:
    method, _, target = label.partition(" ")
    path, _, query = target.partition("?")
    key = path.split("/", 2)[2] if path.count("/") >= 2 else path
    return f"{method} {key or '/'}" + (f"?{query[:40]}" if query else "")


def chain(log):
    """The critical path: the longest chain of requests, each sent after the previous answered.
    Among equally long predecessors, the one that answered last (the likeliest trigger)."""
    entries = sorted(log)
    best = []  # (chain length, end, index) of each entry
    for i, entry in enumerate(entries):
        start = entry[0]
        prev = None
        for j in range(i):
            if entries[j][1] <= start:
                if prev is None or (best[j][0], entries[j][1]) > (best[prev][0], entries[prev][1]):
                    prev = j
        best.append(((best[prev][0] + 1) if prev is not None else 1, prev))
    if not entries:
        return []
    last = max(range(len(entries)), key=lambda i: (best[i][0], entries[i][1]))
    path = []
    while last is not None:
        path.append(entries[last])
        last = best[last][1]
    return path[::-1]


def chain_fast(log):
    """chain() for thousands of requests: the same longest-chain rule with a sweep."""
    if len(log) < 1500:
        return chain(log)
    import heapq
    entries = sorted(log)
    ended = []  # (end, i)
    best_len, best_i = 0, None
    length, prev = [0] * len(entries), [None] * len(entries)
    for i, entry in enumerate(entries):
        while ended and ended[0][0] <= entry[0]:
            _, j = heapq.heappop(ended)
            if (length[j], entries[j][1]) > (best_len, entries[best_i][1] if best_i is not None else -1):
                best_len, best_i = length[j], j
        length[i], prev[i] = best_len + 1, best_i
        heapq.heappush(ended, (entry[1], i))
    last = max(range(len(entries)), key=lambda i: (length[i], entries[i][1]))
    path = []
    while last is not None:
        path.append(entries[last])
        last = prev[last]
    return path[::-1]


def report(log, launch: float, wall: float, delay: float, cpu: dict, title: str) -> None:
    rel = lambda t: (t - launch) * 1000  # noqa: E731
    log = sorted(log)
    print(f"\n### {title}")
    if not log:
        print(f"wall {wall:.3f} s, no request")
        return
    methods = {}
    for e in log:
        methods[e[4]] = methods.get(e[4], 0) + 1
    first, last_end = log[0][0], max(e[1] for e in log)
    path = chain_fast(log)
    print(f"wall {wall * 1000:.0f} ms; {len(log)} requests ("
          + ", ".join(f"{n} {m}" for m, n in sorted(methods.items()))
          + f"); critical path {len(path)} round trips = {len(path) * delay * 1000:.0f} ms of added delay")
    print(f"  launch -> first request sent: {rel(min(e[6] for e in log)):7.0f} ms (start-up, scan, hashing not hidden by the listing)")
    print(f"  first request -> last answer: {(last_end - first) * 1000:7.0f} ms")
    print(f"  last answer -> exit:          {(launch + wall - last_end) * 1000:7.0f} ms")
    if cpu:
        print("  CPU seconds during the run: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))

    print("\nphases (what the requests touched; times from launch):")
    print(f"  {'kind':<28} {'count':>6} {'first start ms':>15} {'last end ms':>12} {'body MB':>8}")
    kinds = {}
    for e in log:
        kinds.setdefault(kind(e[3]), []).append(e)
    for k, es in sorted(kinds.items(), key=lambda kv: min(e[0] for e in kv[1])):
        print(f"  {k:<28} {len(es):>6} {rel(min(e[0] for e in es)):>15.0f} {rel(max(e[1] for e in es)):>12.0f}"
              f" {sum(e[5] for e in es) / 1e6:>8.1f}")

    print("\ncritical path (each link sent after the previous one answered):")
    print(f"  {'#':>3} {'sent ms':>8} {'answered ms':>12} {'took ms':>8} {'gap ms':>7}  request")
    prev_end = None
    for n, e in enumerate(path, 1):
        gap = (e[0] - prev_end) * 1000 if prev_end is not None else rel(e[0])
        print(f"  {n:>3} {rel(e[0]):>8.0f} {rel(e[1]):>12.0f} {(e[1] - e[0]) * 1000:>8.0f} {gap:>7.1f}  "
              f"{short(e[3])[:100]}")
        prev_end = e[1]
    # What ran beside each link: the requests sent while it was in flight (its "wave").
    print("\nwaves (requests sent while each critical link was in flight, by kind):")
    for n, e in enumerate(path, 1):
        beside = [x for x in log if e[0] <= x[0] < e[1]]
        counts = {}
        for x in beside:
            counts[kind(x[3])] = counts.get(kind(x[3]), 0) + 1
        print(f"  {n:>3}: " + ", ".join(f"{c} {k}" for k, c in sorted(counts.items(), key=lambda kv: -kv[1])))

    span = last_end - first
    buckets = min(20, max(1, int(span / max(delay, 0.02))))
    width = span / buckets
    print(f"\nin flight over time ({width * 1000:.0f} ms buckets): mean in flight, sent, answered,"
          " mean time beyond the added delay (proxy + server) of the requests answered")
    for i in range(buckets):
        lo, hi = first + i * width, first + (i + 1) * width
        busy = sum(max(0.0, min(e[1], hi) - max(e[0], lo)) for e in log)
        done = [e for e in log if lo <= e[1] < hi or (i == buckets - 1 and e[1] == hi)]
        extra = (sum(e[1] - e[0] for e in done) / len(done) - delay) * 1000 if done else 0
        print(f"  {rel(lo):7.0f}-{rel(hi):7.0f} ms  in flight {busy / width:6.1f}  sent {sum(1 for e in log if lo <= e[0] < hi):5}"
              f"  answered {len(done):5}  beyond delay {extra:6.1f} ms")
    took = sorted(e[1] - e[0] for e in log)
    body = sorted(e[0] - e[6] for e in log)
    pct = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000  # noqa: E731
    print(f"\nper request: took (delay included) p50 {pct(took, .5):.1f} ms, p90 {pct(took, .9):.1f}, max {pct(took, 1):.1f};"
          f" body read by the proxy p50 {pct(body, .5):.2f} ms, p90 {pct(body, .9):.2f}")
    print(f"mean in flight over the network phase: {sum(took) / span:.1f}")


def main() -> None:
    args = sys.argv[1:]
    scenario = args[0] if args else "rebuild"
    if scenario not in ("cold", "no-op", "rebuild"):
        raise SystemExit("usage: bench/run trace cold|no-op|rebuild [rclone]")
    use_rclone = "rclone" in args[1:]
    delay = int(os.environ.get("BENCH_S3_DELAY_MS", "30")) / 1000
    size = os.environ.get("BENCH_TRACE_SIZE", "large")
    work = Path(tempfile.mkdtemp(prefix="spadeploy-trace-"))
    server, endpoint, server_name = b.start_server(work)
    try:
        b.check_listing(server_name, endpoint, work)
        base, rebuild = work / "base", work / "rebuild"
        b.generate(base, size, rebuild=False)
        b.generate(rebuild, size, rebuild=True)
        files, total = b.tree_stats(base)
        env = {**b.ENV, "XDG_CACHE_HOME": str(work / "cache")}
        rclone = str(b.RCLONE) if b.RCLONE.exists() else shutil.which("rclone")

        def cmd(directory, bucket, ep, extra=()):
            if use_rclone:
                return [rclone, "sync", str(directory), b.rclone_remote(ep, bucket), "--checksum", "-q",
                        "--transfers", "32", "--checkers", "32"]
            return [str(b.SPADEPLOY), "push", str(directory), "--to", f"s3://{bucket}", "--endpoint-url", ep, "-q",
                    "--keep-releases", "1", "--allow-mass-delete", *extra]

        server_pid = server.pid
        tool = "rclone sync --checksum --transfers 32 --checkers 32" if use_rclone else "spadeploy push"
        print(f"trace: {tool}, {scenario}; {server_name}; {files} files, {total / 1e6:.0f} MB; "
              f"{delay * 1000:.0f} ms per S3 request, {b.CONNECT_DELAY * 1000:.0f} ms more per new connection; "
              f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")

        def traced(bucket, directory, title):
            proxy = b.CountingProxy(int(endpoint.rsplit(":", 1)[1]), delay, delay, b.CONNECT_DELAY)
            ep = f"http://127.0.0.1:{proxy.port}"
            busy0, total0 = machine_busy()
            server0, proxy0 = cpu_of(server_pid), cpu_of(proxy.pid)
            launch = time.perf_counter()
            wall, user, system, rss = run(cmd(directory, bucket, ep), env)
            busy1, total1 = machine_busy()
            log = proxy.take_log()
            cpu = {"tool (user+sys)": user + system, "server": cpu_of(server_pid) - server0,
                   "proxy": cpu_of(proxy.pid) - proxy0, "whole machine": busy1 - busy0,
                   "available (cores x wall)": (total1 - total0)}
            proxy.close()
            report(log, launch, wall, delay, cpu, title)
            if os.environ.get("BENCH_TRACE_LOG"):
                with open(os.environ["BENCH_TRACE_LOG"], "a") as out:
                    for e in log:
                        out.write(json.dumps({"title": title, "sent": e[0] - launch, "answered": e[1] - launch,
                                              "arrived": e[6] - launch, "request": e[3], "bytes": e[5]}) + "\n")
            return wall, user + system

        def fresh_bucket():
            bucket = f"trace-{random.getrandbits(32):08x}"
            b.make_bucket(endpoint, bucket)
            return bucket

        if scenario == "cold":
            traced(fresh_bucket(), base, f"cold push, {delay * 1000:.0f} ms per request")
            if not use_rclone:
                # The same cold push without the delay, through the proxy and straight to the server,
                # each with a fresh hash cache, then hashing alone.
                for label, through_proxy in (("through the proxy, no delay", True), ("straight to the server", False)):
                    shutil.rmtree(work / "cache", ignore_errors=True)
                    bucket = fresh_bucket()
                    proxy = b.CountingProxy(int(endpoint.rsplit(":", 1)[1])) if through_proxy else None
                    ep = f"http://127.0.0.1:{proxy.port}" if proxy else endpoint
                    server0, proxy0 = cpu_of(server_pid), cpu_of(proxy.pid) if proxy else 0
                    wall, user, system, _ = run(cmd(base, bucket, ep), env)
                    print(f"\ncold push {label}: {wall:.3f} s; CPU spadeploy {user + system:.2f} s, server "
                          f"{cpu_of(server_pid) - server0:.2f} s"
                          + (f", proxy {cpu_of(proxy.pid) - proxy0:.2f} s" if proxy else ""))
                    if proxy:
                        proxy.close()
                empty = work / "empty-target"
                walls = []
                for threads in (1, os.cpu_count() or 2):
                    wall, user, system, _ = run([str(b.SPADEPLOY), "diff", str(base), "--to", str(empty), "-q",
                                                 "--rehash"], {**env, "RAYON_NUM_THREADS": str(threads)})
                    walls.append(f"{threads} thread(s) {wall:.3f} s ({total / 1e6 / wall:.0f} MB/s, CPU {user + system:.2f} s)")
                print("hashing alone (spadeploy diff --rehash to an empty directory): " + "; ".join(walls))
        else:
            bucket = fresh_bucket()
            run(cmd(base, bucket, endpoint), env)
            run(cmd(base, bucket, endpoint), env)  # settles the hash cache (files written moments before)
            traced(bucket, base if scenario == "no-op" else rebuild,
                   f"{scenario}, {delay * 1000:.0f} ms per request")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
