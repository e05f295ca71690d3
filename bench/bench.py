#!/usr/bin/env python3
"""spadeploy benchmark: the same generated SPA, the same local S3-compatible server, three scenarios
(cold, no-op, rebuild) for spadeploy, `aws s3 sync --delete` and rclone (when installed). Prints a
table of median wall time, the ratio to aws s3 sync, request counts (through bench/proxy, a counting
loopback proxy in Rust, in a separate untimed run) and peak RSS; then hashing throughput against
sha256sum, and spadeploy's cost at 500 / 5,000 / 50,000 small files.

Run it through bench/run, which installs the tools and builds bench/proxy first. Standard library only.
Environment: BENCH_RUNS (default 3), BENCH_SIZES (default "small large"), BENCH_SCALING=0 to skip
the file-count scaling runs, BENCH_SCALING_COUNTS (default "500 5000 50000"), BENCH_SCALING_TARGET=local
(scaling runs push to a local directory), BENCH_SERVER=garage
(default) | s3s-fs | moto. `bench.py scaling` runs the scaling runs alone.

`bench.py latency` (bench/run latency): spadeploy (with and without a distribution) and rclone
(defaults, and 32 transfers/checkers) behind the same proxy, delaying (BENCH_S3_DELAY_MS, default
30; BENCH_CONTROL_DELAY_MS, default 150; BENCH_CONNECT_DELAY_MS, default 0, more for each new
connection's first request) in front of BENCH_SERVER (and moto for the distribution rows), on the
BENCH_LATENCY_SIZE tree (default large), BENCH_LATENCY_RUNS times (default 1; the tools take turns
within each run); prints the median wall time (and the range), request counts by method, the
critical path in round trips and the ratio to the tuned rclone, of the median run.

Every table is refused unless the server lists ETags as S3 does: a no-op `rclone sync --checksum`
through the counting proxy must make no HEAD (check_listing, refuse_unless_etags).
`bench/trace.py` (bench/run trace) traces one push's requests: see there.
"""

import atexit
import hashlib
import http.client
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".venv" / "bench-tools" / "bin"
AWS = ROOT / ".venv" / "bench" / "bin" / "aws"
# BENCH_SPADEPLOY: a built binary to measure instead of target/release/spadeploy (bench/run then
# builds nothing), e.g. one built from a clean checkout while the working tree is being edited.
SPADEPLOY = Path(os.environ.get("BENCH_SPADEPLOY") or ROOT / "target" / "release" / "spadeploy")
# The counting, delaying proxy every request goes through (bench/proxy; bench/run builds it).
PROXY = ROOT / "target" / "bench-proxy" / "release" / "bench-proxy"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
# `bench/run latency` runs each scenario once unless told more (BENCH_LATENCY_RUNS): its cold
# pushes take minutes on moto.
LATENCY_RUNS = max(1, int(os.environ.get("BENCH_LATENCY_RUNS", "1")))
# BENCH_CONNECT_DELAY_MS: what a new connection's first request waits more under latency (a TCP
# handshake's round trip to a distant server); 0 by default.
CONNECT_DELAY = int(os.environ.get("BENCH_CONNECT_DELAY_MS", "0")) / 1000
SIZES = os.environ.get("BENCH_SIZES", "small large").split()
# Garage wants its own key format; moto takes any.
KEY_ID = "GK000000000000000000000001"
SECRET = "0123456789abcdef" * 4
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}

# ---------------------------------------------------------------------------------------------
# The generated SPA
# ---------------------------------------------------------------------------------------------

# (directory, prefix, extension, count, min size, max size) for the large tree (~5,000 files,
# ~150 MB); the small tree takes 4% of each count.
LAYOUT = [
    ("assets/js", "chunk", "js", 1900, 2_000, 40_000),
    ("assets/js", "chunk", "js.map", 900, 5_000, 50_000),
    ("assets/css", "style", "css", 400, 1_000, 20_000),
    ("assets/img", "img", "png", 700, 3_000, 80_000),
    ("assets/img", "photo", "webp", 500, 3_000, 60_000),
    ("assets/fonts", "font", "woff2", 100, 20_000, 80_000),
    ("assets/wasm", "module", "wasm", 5, 500_000, 2_000_000),
    ("assets/media", "intro", "mp4", 4, 2_000_000, 6_000_000),
]
ROUTES = 500


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def generate(out: Path, size: str, rebuild: bool) -> None:
    """Deterministic tree; `rebuild` renames ~5% of the hashed assets and changes index.html."""
    shutil.rmtree(out, ignore_errors=True)
    rng = random.Random(20261125)
    # "huge" (~50,000 files, 1.4 GB) is for the no-op at ten times the files (BENCH_LATENCY_SIZE).
    scale = {"small": 0.04, "large": 1.0, "huge": 10.0}[size]
    names = []
    for directory, stem, ext, count, low, high in LAYOUT:
        for i in range(max(1, int(count * scale))):
            length = rng.randint(low, high)
            seed = rng.getrandbits(64)
            roll = rng.random()  # drawn in both variants, so they share one random stream
            changed = rebuild and roll < 0.05
            # Pseudo-random but cheap content: a repeated block, varied by the seed.
            block = hashlib.sha256(f"{seed}-{changed}".encode()).digest() * 64
            data = (block * (length // len(block) + 1))[:length]
            name = f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.{ext}"
            write(out / directory / name, data)
            names.append(f"{directory}/{name}")
    for i in range(max(1, int(ROUTES * scale))):
        write(out / "docs" / f"section-{i % 12}" / f"page-{i}" / "index.html", f"<h1>Page {i}</h1>".encode())
    scripts = "".join(f'<script src="/{n}"></script>' for n in names[:40] if n.endswith(".js"))
    version = "rebuild" if rebuild else "base"
    write(out / "index.html", f"<!doctype html><title>bench {version}</title>{scripts}".encode())
    write(out / "favicon.ico", b"\0" * 1150)
    write(out / "robots.txt", b"User-agent: *\n")
    write(out / "manifest.webmanifest", b'{"name":"bench"}')


def tree_stats(path: Path):
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


# ---------------------------------------------------------------------------------------------
# Servers and a counting proxy
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"bench: nothing answered on 127.0.0.1:{port}")


def start_server(work: Path):
    """The server BENCH_SERVER names (default garage; bench/run installs it), else moto."""
    port = free_port()
    wanted = os.environ.get("BENCH_SERVER", "garage")
    # The server's files live in memory (/dev/shm; BENCH_SERVER_DIR names another place): on this
    # machine's ext4 disk, creating a cold push's 5,000 object files cost Garage ~2 CPU-seconds
    # of inode allocation (find_inode_bit, recently_deleted in a profile) on the very cores the
    # tools run on, a cost S3 never puts on its clients.
    memory = os.environ.get("BENCH_SERVER_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    data = Path(tempfile.mkdtemp(prefix="spadeploy-bench-server-", dir=memory or work))
    atexit.register(shutil.rmtree, data, True)
    if wanted == "garage" and (TOOLS / "garage").exists():
        return start_garage(data, port)
    if wanted != "moto":
        print(f"bench: {wanted} is not installed; the server is moto", file=sys.stderr)
    moto = ROOT / ".venv" / "moto" / "bin" / "python"
    cmd = [str(moto), str(ROOT / "scripts" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)]
    name = "moto"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port)
    return proc, f"http://127.0.0.1:{port}", name


def start_garage(data: Path, port: int):
    """A one-node Garage: metadata in LMDB (listing costs a page, not the bucket, and carries each
    object's ETag, as S3's does), no compression, the bench's key allowed to create buckets."""
    config = data / "garage.toml"
    config.write_text(f"""metadata_dir = "{data / 'meta'}"
data_dir = "{data / 'data'}"
db_engine = "lmdb"
replication_factor = 1
compression_level = "none"
rpc_bind_addr = "127.0.0.1:{free_port()}"
rpc_secret = "{os.urandom(32).hex()}"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:{port}"
root_domain = ".s3.localhost"
""")
    garage = [str(TOOLS / "garage"), "-c", str(config)]
    proc = subprocess.Popen([*garage, "server"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port)

    def admin(*args):
        for _ in range(50):
            done = subprocess.run([*garage, *args], capture_output=True, text=True)
            if done.returncode == 0:
                return done.stdout
            time.sleep(0.1)  # the node answers RPC a moment after the S3 port opens
        raise SystemExit(f"bench: garage {' '.join(args)} failed:\n{done.stderr[-2000:]}")

    node = admin("node", "id", "-q").strip().split("@")[0]
    admin("layout", "assign", "-z", "bench", "-c", "10G", node)
    admin("layout", "apply", "--version", "1")
    admin("key", "import", "--yes", "-n", "bench", KEY_ID, SECRET)
    admin("key", "allow", "--create-bucket", "bench")
    return proc, f"http://127.0.0.1:{port}", "garage"


class CountingProxy:
    """Forwards loopback HTTP/1.1 to the server and counts requests by method. With delays, it
    also plays a distant server: every S3 request waits `s3_delay` seconds and every control-plane
    request (CloudFront, Lambda, IAM, a bucket's configuration) `control_delay` before it is
    forwarded, a connection's first request `connect_delay` more (a TCP handshake's round trip),
    and each request's times are logged. It is bench/proxy, a Rust program run as a subprocess
    (`pid`): timers instead of Python threads, so the instrument does not take the cores from the
    tools it measures, nor queue their requests beyond the delay under a burst of 200."""

    def __init__(self, upstream_port: int, s3_delay: float = 0.0, control_delay: float = 0.0,
                 connect_delay: float = 0.0):
        if not PROXY.exists():
            raise SystemExit(f"bench: {PROXY} is missing; bench/run builds it")
        ms = lambda seconds: str(round(seconds * 1000))  # noqa: E731
        self.proc = subprocess.Popen(
            [str(PROXY), "--upstream", str(upstream_port), "--s3-delay-ms", ms(s3_delay),
             "--control-delay-ms", ms(control_delay), "--connect-delay-ms", ms(connect_delay)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        first = self.proc.stdout.readline()
        if not first.startswith("port "):
            raise SystemExit(f"bench: {PROXY} did not start")
        self.port = int(first.split()[1])
        # Raw log lines, parsed only when taken: the reading thread takes as little CPU as it can
        # from the tools being measured.
        self.uncounted, self.unlogged = [], []
        self.asked = self.answered = 0
        self.cond = threading.Condition()
        threading.Thread(target=self.read, daemon=True).start()
        atexit.register(self.close)

    def read(self):
        for line in self.proc.stdout:
            with self.cond:
                if line == "sync\n":
                    self.answered += 1
                    self.cond.notify_all()
                else:
                    self.uncounted.append(line)
                    self.unlogged.append(line)

    def sync(self):
        """Waits until every request answered so far is read: the proxy answers a line on its stdin
        after the log lines of those requests."""
        with self.cond:
            self.asked += 1
            wanted = self.asked
            self.proc.stdin.write("sync\n")
            self.proc.stdin.flush()
            if not self.cond.wait_for(lambda: self.answered >= wanted, timeout=60):
                raise SystemExit("bench: the proxy stopped answering")

    def take(self):
        self.sync()
        with self.cond:
            lines, self.uncounted = self.uncounted, []
        counts = {}
        for line in lines:
            method = line.split("\t", 4)[3]
            counts[method] = counts.get(method, 0) + 1
        return counts

    def take_log(self):
        """[(start, end, is_control, label, method, body bytes, arrived)] of the requests since the
        last call: `arrived` when the request head came in, `start` once its body was read (then
        the delay), `end` once the answer was handed back; seconds of CLOCK_MONOTONIC, the clock of
        time.perf_counter()."""
        self.sync()
        with self.cond:
            lines, self.unlogged = self.unlogged, []
        log = []
        for line in lines:
            started, end, control, method, body, arrived, label = line.rstrip("\n").split("\t", 6)
            log.append((float(started), float(end), control == "1", label, method, int(body), float(arrived)))
        return log

    def close(self):
        """Stops the proxy: the end of its stdin tells it to exit."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------

def timed(cmd, env=ENV):
    """(wall seconds, peak RSS in MB) of a command, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024


def make_bucket(endpoint: str, bucket: str) -> None:
    port = int(endpoint.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port)
    # s3s-fs and moto accept an unsigned path-style CreateBucket on loopback; garage needs the CLI.
    conn.request("PUT", f"/{bucket}")
    if conn.getresponse().status >= 300:
        subprocess.run([str(AWS), "s3", "mb", f"s3://{bucket}", "--endpoint-url", endpoint], env=ENV, check=True,
                       capture_output=True)


RCLONE = ROOT / ".venv" / "bench" / "bin" / "rclone"


def rclone_remote(endpoint: str, bucket: str) -> str:
    """An rclone on-the-fly S3 remote with the same credentials spadeploy and the AWS CLI use."""
    return (f":s3,provider=Other,endpoint='{endpoint}',access_key_id={KEY_ID},"
            f"secret_access_key={SECRET},region=us-east-1:{bucket}")


class Unfaithful(SystemExit):
    pass


def refuse_unless_etags(server_name: str, heads: int, files: int, where: str) -> None:
    """S3 lists every object's ETag, so `rclone sync --checksum` compares checksums from the listing
    and makes no HEAD on a no-op. A server whose listing lacks them makes rclone HEAD every object,
    which adds thousands of round trips S3 would never see: no table is printed from such a server."""
    if heads:
        raise Unfaithful(
            f"bench: refusing to print a table: on {server_name}, `rclone sync --checksum` made {heads} HEAD "
            f"requests on a no-op of {files} files ({where}). S3 lists every object's ETag, so rclone makes "
            f"none there; this server's listing lacks them, and rclone would be measured {heads} requests "
            f"slower than it is against S3. Use BENCH_SERVER=garage (bench/run installs it).")


def check_listing(server_name: str, endpoint: str, work: Path) -> None:
    """Before anything is timed: a 40-file tree pushed twice with `rclone sync --checksum` through the
    counting proxy; the second push must make no HEAD (and no write)."""
    rclone = str(RCLONE) if RCLONE.exists() else shutil.which("rclone")
    if not rclone:
        raise Unfaithful("bench: refusing to print a table: rclone is missing, and it is what checks that the "
                         "server lists ETags as S3 does (bench/run installs it)")
    tree = work / "etag-check"
    for i in range(40):
        write(tree / f"d{i % 4}" / f"f-{i}.txt", f"etag check {i}".encode() * (i + 1))
    proxy = CountingProxy(int(endpoint.rsplit(":", 1)[1]))
    counted = f"http://127.0.0.1:{proxy.port}"
    bucket = f"etag-check-{random.getrandbits(24):06x}"
    make_bucket(endpoint, bucket)
    cmd = [rclone, "sync", str(tree), rclone_remote(counted, bucket), "--fast-list", "--checksum", "-q"]
    timed(cmd)
    proxy.take()
    timed(cmd)
    counts = proxy.take()
    proxy.close()
    refuse_unless_etags(server_name, counts.get("HEAD", 0), 40, "the check before the runs")
    if any(counts.get(m, 0) for m in ("PUT", "POST", "DELETE")):
        raise Unfaithful(f"bench: refusing to print a table: on {server_name}, a no-op `rclone sync --checksum` "
                         f"wrote ({counts}); its checksums do not match the server's ETags")
    print(f"server check: rclone --checksum no-op on {server_name}: "
          + ", ".join(f"{n} {m}" for m, n in sorted(counts.items())) + ", no HEAD: the listing carries ETags")


def tools(endpoint: str):
    rclone = str(RCLONE) if RCLONE.exists() else shutil.which("rclone")
    found = {
        "spadeploy": lambda d, b, ep: [str(SPADEPLOY), "push", str(d), "--to", f"s3://{b}", "--endpoint-url", ep,
                                       "-q", "--keep-releases", "1", "--allow-mass-delete"],
        "aws s3 sync": lambda d, b, ep: [str(AWS), "s3", "sync", str(d), f"s3://{b}", "--delete", "--only-show-errors",
                                         "--endpoint-url", ep],
    }
    if rclone:
        def rclone_cmd(d, b, ep):
            return [rclone, "sync", str(d), rclone_remote(ep, b), "--fast-list", "--checksum", "-q"]
        found["rclone sync"] = rclone_cmd
    return found


# The three scenarios, and for spadeploy a fourth: the no-op with every file read again. A CI
# runner's fresh build costs less: its files are new to the hash cache, but the live release
# vouches for the content-hashed names it recorded, so only plain names are read (the rebuild,
# a fresh directory, shows it).
SCENARIOS = ("cold", "no-op", "rebuild")
REHASH = "no-op --rehash"


def steps(name, base: Path, rebuild: Path):
    """(scenario, directory, extra flags) in the order they run against one bucket."""
    found = [("cold", base, []), ("no-op", base, [])]
    if name == "spadeploy":
        found.append((REHASH, base, ["--rehash"]))
    found.append(("rebuild", rebuild, []))
    return found


def scenario_runs(name, tool, base: Path, rebuild: Path, endpoint: str):
    """Each scenario's (wall seconds, peak RSS MB), pushed in order into a fresh bucket."""
    bucket = f"bench-{random.getrandbits(32):08x}"
    make_bucket(endpoint, bucket)
    return {scenario: timed([*tool(directory, bucket, endpoint), *extra])
            for scenario, directory, extra in steps(name, base, rebuild)}


def main() -> None:
    if not SPADEPLOY.exists():
        raise SystemExit("bench: build spadeploy first (bench/run does: cargo build --release)")
    work = Path(tempfile.mkdtemp(prefix="spadeploy-bench-"))
    server, endpoint, server_name = start_server(work)
    try:
        check_listing(server_name, endpoint, work)
        run_all(work, endpoint, server_name)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


def run_all(work: Path, endpoint: str, server_name: str) -> None:
    proxy = CountingProxy(int(endpoint.rsplit(":", 1)[1]))
    counted = f"http://127.0.0.1:{proxy.port}"
    print(f"server: {server_name} on {endpoint}; {RUNS} runs per scenario, median shown; "
          f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")
    for size in SIZES:
        base, rebuild = work / f"{size}-base", work / f"{size}-rebuild"
        generate(base, size, rebuild=False)
        generate(rebuild, size, rebuild=True)
        files, total = tree_stats(base)
        print(f"\n## {size}: {files} files, {total / 1e6:.0f} MB")
        header = (f"{'tool':<13} {'scenario':<14} {'median s':>9} {'x aws':>7} {'x rclone':>9}"
                  f" {'requests (GET/PUT/POST/DELETE/HEAD)':>38} {'writes':>7} {'peak RSS MB':>12}")
        results = {}
        for name, tool in tools(endpoint).items():
            runs = [scenario_runs(name, tool, base, rebuild, endpoint) for _ in range(RUNS)]
            proxy.take()
            counts = {}
            bucket = f"bench-count-{random.getrandbits(32):08x}"
            make_bucket(endpoint, bucket)
            for scenario, directory, extra in steps(name, base, rebuild):
                timed([*tool(directory, bucket, counted), *extra])
                counts[scenario] = proxy.take()
            proxy.take_log()
            results[name] = (runs, counts)
        if "rclone sync" not in results:
            raise Unfaithful("bench: refusing to print a table: rclone is missing (bench/run installs it)")
        refuse_unless_etags(server_name, results["rclone sync"][1]["no-op"].get("HEAD", 0), files,
                            f"the counted no-op on the {size} tree")
        print(header)
        rclone_median = {s: statistics.median(r[s][0] for r in results["rclone sync"][0]) for s in SCENARIOS}
        rclone_median[REHASH] = rclone_median["no-op"]
        aws = {s: statistics.median(r[s][0] for r in results["aws s3 sync"][0]) for s in SCENARIOS}
        aws[REHASH] = aws["no-op"]
        for name, (runs, counts) in results.items():
            for scenario in runs[0]:
                wall = statistics.median(r[scenario][0] for r in runs)
                rss = max(r[scenario][1] for r in runs)
                c = counts[scenario]
                split = "/".join(str(c.get(m, 0)) for m in ("GET", "PUT", "POST", "DELETE", "HEAD"))
                writes = sum(c.get(m, 0) for m in ("PUT", "POST", "DELETE"))
                print(f"{name:<13} {scenario:<14} {wall:>9.3f} {wall / aws[scenario]:>7.3f}"
                      f" {wall / rclone_median[scenario]:>9.3f} {split:>38} {writes:>7} {rss:>12.0f}")
        if size == "large":
            hashing(base)
    if os.environ.get("BENCH_SCALING", "1") != "0":
        scaling(work, endpoint)


def hashing(tree: Path) -> None:
    """spadeploy's scan+hash (a dry run against an empty local target, every file read: --rehash)
    against sha256sum."""
    files = [str(p) for p in tree.rglob("*") if p.is_file()]
    _, total = tree_stats(tree)
    listing = tree.parent / "files.txt"
    listing.write_text("\n".join(files))
    sha_wall, _ = timed(["sh", "-c", f"xargs -d '\\n' sha256sum < {listing} > /dev/null"])
    empty = tree.parent / "empty-target"
    print(f"\nhashing {len(files)} files, {total / 1e6:.0f} MB (page cache warm):")
    print(f"  sha256sum, one process          {sha_wall:6.2f} s  {total / 1e6 / sha_wall:7.0f} MB/s")
    for threads in (1, os.cpu_count() or 2):
        env = {**ENV, "RAYON_NUM_THREADS": str(threads)}
        cmd = [str(SPADEPLOY), "diff", str(tree), "--to", str(empty), "-q", "--rehash"]
        walls = [timed(cmd, env)[0] for _ in range(RUNS)]
        wall = statistics.median(walls)
        print(f"  spadeploy diff, {threads} thread(s)       {wall:6.2f} s  {total / 1e6 / wall:7.0f} MB/s"
              f"  ({wall / sha_wall:.2f}x sha256sum)")


def scaling(work: Path, endpoint: str) -> None:
    """Cold and no-op pushes of growing trees of small files (BENCH_SCALING_COUNTS, default
    500 5000 50000): cost per file stays flat. BENCH_SCALING_TARGET=local pushes to a local
    directory instead of the server, so the figures are spadeploy's alone."""
    counts = [int(c) for c in os.environ.get("BENCH_SCALING_COUNTS", "500 5000 50000").split()]
    local = os.environ.get("BENCH_SCALING_TARGET") == "local"
    print(f"\nscaling (1 KB files, to {'a local directory' if local else 'the server'}): files, cold s,"
          " no-op s, no-op peak RSS MB, no-op --rehash s, --rehash peak RSS MB, µs per file (no-op)")
    for count in counts:
        tree = work / f"scale-{count}"
        for i in range(count):
            write(tree / f"d{i % 100}" / f"f-{i:06d}.txt", f"{i:01024d}".encode())
        write(tree / "index.html", b"<h1>scale</h1>")
        if local:
            target = ["--to", str(work / f"target-{count}")]
        else:
            bucket = f"scale-{count}-{random.getrandbits(24):06x}"
            make_bucket(endpoint, bucket)
            target = ["--to", f"s3://{bucket}", "--endpoint-url", endpoint]
        env = {**ENV, "XDG_CACHE_HOME": str(work / "cache")}
        cmd = [str(SPADEPLOY), "push", str(tree), *target, "-q"]
        cold, _ = timed(cmd, env)
        timed(cmd, env)  # files written moments before the cold push are hashed again once
        noop, rss = timed(cmd, env)
        rehash, rehash_rss = timed([*cmd, "--rehash"], env)
        print(f"  {count:>6}  {cold:8.2f}  {noop:8.2f}  {rss:8.0f}  {rehash:8.2f}  {rehash_rss:8.0f}"
              f"  {noop * 1e6 / count:8.1f}")
        shutil.rmtree(tree)
        shutil.rmtree(work / f"target-{count}", ignore_errors=True)


def critical_path(log) -> int:
    """The longest chain of requests each starting after the one before it ended: the round
    trips a run waited for one after another, however many ran beside them."""
    import heapq
    best, ended, chains = 0, [], 0
    for start, end, *_ in sorted(log):
        while ended and ended[0][0] <= start:
            best = max(best, heapq.heappop(ended)[1])
        chain = best + 1
        chains = max(chains, chain)
        heapq.heappush(ended, (end, chain))
    return chains


def create_distribution(endpoint: str, bucket: str) -> str:
    """A private-mode distribution on moto (the bucket's REST endpoint as the SPA origin)."""
    config = {
        "CallerReference": bucket, "Comment": "bench", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "spa", "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "spa", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    }
    out = subprocess.run([str(AWS), "cloudfront", "create-distribution", "--distribution-config",
                          json.dumps(config), "--endpoint-url", endpoint, "--output", "json"],
                         env=ENV, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["Distribution"]["Id"]


def latency_tools():
    """The peers under latency: spadeploy, and rclone with its defaults and tuned to 32 transfers
    and checkers (rclone's own advice for many small files)."""
    rclone = str(RCLONE) if RCLONE.exists() else shutil.which("rclone")
    found = {"spadeploy": None}
    if rclone:
        def rclone_cmd(extra):
            return lambda d, b, ep: [rclone, "sync", str(d), rclone_remote(ep, b), "--checksum", "-q", *extra]
        found["rclone"] = rclone_cmd([])
        found["rclone, 32 transfers"] = rclone_cmd(["--transfers", "32", "--checkers", "32"])
    return found


def method_split(log) -> str:
    """GET/PUT/POST/DELETE/HEAD counts of a proxy log."""
    counts = {}
    for entry in log:
        counts[entry[4]] = counts.get(entry[4], 0) + 1
    return "/".join(str(counts.get(m, 0)) for m in ("GET", "PUT", "POST", "DELETE", "HEAD"))


def latency() -> None:
    """spadeploy as a CI runner sees it: every S3 request 30 ms away, every control-plane request
    150 ms (BENCH_S3_DELAY_MS, BENCH_CONTROL_DELAY_MS), beside rclone through the same proxy.
    Rows without a distribution use the BENCH_SERVER S3 server (moto's Python server would make
    them measure its CPU instead of the latency), and again moto unless BENCH_LATENCY_MOTO_S3=0;
    rows with one use moto, the only server here that emulates CloudFront (BENCH_LATENCY_CDN=0
    skips them). rclone runs tuned to 32 transfers and checkers, and with its defaults unless
    BENCH_RCLONE_DEFAULTS=0. Per scenario: wall time, requests (S3 / control plane, and by method),
    the critical path in round trips (the longest chain of requests each waiting for the previous),
    and the ratio to rclone tuned to 32 transfers on the same server. Refused, like every table,
    when rclone --checksum HEADs objects on a no-op (a server whose listing lacks ETags)."""
    s3_delay = int(os.environ.get("BENCH_S3_DELAY_MS", "30")) / 1000
    control_delay = int(os.environ.get("BENCH_CONTROL_DELAY_MS", "150")) / 1000
    size = os.environ.get("BENCH_LATENCY_SIZE", "large")
    with_moto_s3 = os.environ.get("BENCH_LATENCY_MOTO_S3", "1") != "0"
    with_cdn_rows = os.environ.get("BENCH_LATENCY_CDN", "1") != "0"
    rclone_defaults = os.environ.get("BENCH_RCLONE_DEFAULTS", "1") != "0"
    work = Path(tempfile.mkdtemp(prefix="spadeploy-latency-"))
    s3_server, s3_endpoint, s3_name = start_server(work)
    moto = None
    try:
        check_listing(s3_name, s3_endpoint, work)
        servers = [(s3_name, s3_endpoint, False)]
        if with_moto_s3 or with_cdn_rows:
            port = free_port()
            moto = subprocess.Popen([str(ROOT / ".venv" / "moto" / "bin" / "python"),
                                     str(ROOT / "scripts" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(port)
            moto_endpoint = f"http://127.0.0.1:{port}"
            if with_moto_s3:
                check_listing("moto", moto_endpoint, work)
                servers.append(("moto", moto_endpoint, False))
            if with_cdn_rows:
                servers.append(("moto", moto_endpoint, True))
        base, rebuild = work / "base", work / "rebuild"
        generate(base, size, rebuild=False)
        generate(rebuild, size, rebuild=True)
        files, _ = tree_stats(base)
        runs_said = "one run each" if LATENCY_RUNS == 1 else f"median of {LATENCY_RUNS} runs (range in brackets)"
        print(f"\n## latency: {files} files; {s3_delay * 1000:.0f} ms per S3 request, "
              f"{control_delay * 1000:.0f} ms per control-plane request, {CONNECT_DELAY * 1000:.0f} ms more per "
              f"new connection; {runs_said}; "
              f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")
        header = (f"{'server':<8} {'tool':<21} {'scenario':<34} {'wall s':>8} {'S3 req':>7} {'control':>8}"
                  f" {'GET/PUT/POST/DELETE/HEAD':>25} {'round trips':>12} {'x rclone 32':>12} {'peak RSS MB':>12}")
        # (server, with a distribution, tool, scenario label, base scenario) -> one result per run;
        # the tools take turns within each run, so a busier minute of the machine falls on both.
        results = {}
        for server, endpoint, with_cdn in servers:
            proxy = CountingProxy(int(endpoint.rsplit(":", 1)[1]), s3_delay, control_delay, CONNECT_DELAY)
            delayed = f"http://127.0.0.1:{proxy.port}"
            for _, (name, tool) in itertools.product(range(LATENCY_RUNS), latency_tools().items()):
                if with_cdn and name != "spadeploy":
                    continue
                if name == "rclone" and not rclone_defaults:
                    continue
                bucket = f"lat-{random.getrandbits(32):08x}"
                make_bucket(endpoint, bucket)
                label = "with a distribution" if with_cdn else "no distribution"
                scenarios = [("cold", base, []), ("no-op", base, [])]
                if name == "spadeploy" and not with_cdn:
                    scenarios.append(("no-op --rehash", base, ["--rehash"]))
                scenarios.append(("rebuild", rebuild, []))
                dist = create_distribution(endpoint, bucket) if with_cdn else None
                for scenario, directory, flags in scenarios:
                    if name == "spadeploy":
                        extra = ["--keep-releases", "1", "--allow-mass-delete", *flags]
                        if dist:
                            extra += ["--distribution", dist, "--mode", "private", "--fix-origin"]
                        cmd = [str(SPADEPLOY), "push", str(directory), "--to", f"s3://{bucket}", "--endpoint-url",
                               delayed, "-q", *extra]
                    else:
                        cmd = tool(directory, bucket, delayed)
                    proxy.take_log()
                    wall, rss = timed(cmd)
                    log = proxy.take_log()
                    control = sum(1 for entry in log if entry[2])
                    base_scenario = scenario.split(" ")[0]
                    if name.startswith("rclone") and scenario == "no-op":
                        heads = sum(1 for entry in log if entry[4] == "HEAD")
                        refuse_unless_etags(server, heads, files, f"{name}, under latency")
                    key = (server, with_cdn, name, f"{scenario}, {label}", base_scenario)
                    results.setdefault(key, []).append(
                        (wall, len(log) - control, control, method_split(log), critical_path(log), rss))
                    print(f"  measured: {server} {name} {scenario}, {label}: {wall:.3f} s", file=sys.stderr,
                          flush=True)
        # Each row is its median run (by wall time), with that run's requests and round trips.
        median = {key: sorted(runs)[len(runs) // 2] for key, runs in results.items()}
        tuned = {(server, with_cdn, base): row[0] for (server, with_cdn, name, _, base), row in median.items()
                 if name == "rclone, 32 transfers"}
        print(header)
        for (server, with_cdn, name, scenario, base), row in median.items():
            wall, s3, control, split, trips, rss = row
            walls = sorted(run[0] for run in results[(server, with_cdn, name, scenario, base)])
            rclone = tuned.get((server, with_cdn, base))
            ratio = f"{wall / rclone:.2f}" if rclone else "-"
            spread = f"  ({walls[0]:.3f}-{walls[-1]:.3f})" if len(walls) > 1 else ""
            print(f"{server:<8} {name:<21} {scenario:<34} {wall:>8.3f} {s3:>7} {control:>8} {split:>25} {trips:>12}"
                  f" {ratio:>12} {rss:>12.0f}{spread}")
    finally:
        if moto:
            moto.terminate()
            moto.wait()
        s3_server.terminate()
        s3_server.wait()
        shutil.rmtree(work, ignore_errors=True)


def three_files(base: Path, out: Path) -> None:
    """`base` with 3 files changed: the index, robots.txt and one page (a typical small PR)."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(base, out)
    (out / "index.html").write_bytes((base / "index.html").read_bytes() + b"<!-- pr -->")
    (out / "robots.txt").write_bytes(b"User-agent: *\nDisallow: /drafts/\n")
    page = out / "docs" / "section-0" / "page-0" / "index.html"
    page.write_bytes(b"<h1>Page 0, edited</h1>")


def preview() -> None:
    """Per-pull-request previews (issue 25) under CI-like latency (BENCH_S3_DELAY_MS,
    BENCH_CONTROL_DELAY_MS), on moto (the only server here that emulates CloudFront and its
    KeyValueStore): a cold production push with its distribution, then a preview of the same
    build (every file copied within the bucket), of a 3-file change, the same again (no-op), and
    a second preview of the change. Per row: wall time from the command's start to the pointer
    written (the preview is live then, give or take the store's propagation), requests (S3 /
    control plane, by method), round trips on the critical path, and bytes sent."""
    s3_delay = int(os.environ.get("BENCH_S3_DELAY_MS", "30")) / 1000
    control_delay = int(os.environ.get("BENCH_CONTROL_DELAY_MS", "150")) / 1000
    size = os.environ.get("BENCH_PREVIEW_SIZE", "large")
    work = Path(tempfile.mkdtemp(prefix="spadeploy-preview-"))
    port = free_port()
    moto = subprocess.Popen([str(ROOT / ".venv" / "moto" / "bin" / "python"),
                             str(ROOT / "scripts" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        endpoint = f"http://127.0.0.1:{port}"
        base, three = work / "base", work / "three"
        generate(base, size, rebuild=False)
        three_files(base, three)
        files, total = tree_stats(base)
        manifest = work / "spadeploy.toml"
        manifest.write_text('[preview]\ndomain = "preview.example.com"\n')
        bucket = f"prev-{random.getrandbits(32):08x}"
        make_bucket(endpoint, bucket)
        dist = create_distribution(endpoint, bucket)
        proxy = CountingProxy(port, s3_delay, control_delay, CONNECT_DELAY)
        delayed = f"http://127.0.0.1:{proxy.port}"
        common = ["--to", f"s3://{bucket}", "--endpoint-url", delayed, "--distribution", dist, "-q",
                  "--config", str(manifest)]
        scenarios = [
            ("production push, cold", ["push", str(base), "--mode", "private", "--fix-origin", "--no-invalidate"]),
            ("preview pr-1, same build", ["preview", "deploy", str(base), "--id", "pr-1"]),
            ("preview pr-1, 3 files changed", ["preview", "deploy", str(three), "--id", "pr-1"]),
            ("preview pr-1, no-op", ["preview", "deploy", str(three), "--id", "pr-1"]),
            ("preview pr-2, 3 files changed", ["preview", "deploy", str(three), "--id", "pr-2"]),
        ]
        print(f"\n## preview: {files} files, {total / 1e6:.0f} MB; {s3_delay * 1000:.0f} ms per S3 request, "
              f"{control_delay * 1000:.0f} ms per control-plane request, {CONNECT_DELAY * 1000:.0f} ms more per "
              f"new connection; moto; one run each; "
              f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}")
        print(f"{'scenario':<32} {'wall s':>8} {'S3 req':>7} {'control':>8} {'GET/PUT/POST/DELETE/HEAD':>25}"
              f" {'round trips':>12} {'MB sent':>8}")
        for name, args in scenarios:
            proxy.take_log()
            wall, _ = timed([str(SPADEPLOY), *args, *common])
            log = proxy.take_log()
            control = sum(1 for entry in log if entry[2])
            sent = sum(entry[5] for entry in log) / 1e6
            print(f"{name:<32} {wall:>8.3f} {len(log) - control:>7} {control:>8} {method_split(log):>25}"
                  f" {critical_path(log):>12} {sent:>8.2f}", flush=True)
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


def scaling_only() -> None:
    work = Path(tempfile.mkdtemp(prefix="spadeploy-scaling-"))
    server, endpoint, server_name = start_server(work)
    try:
        print(f"server: {server_name}")
        scaling(work, endpoint)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "latency":
        latency()
    elif len(sys.argv) > 1 and sys.argv[1] == "preview":
        preview()
    elif len(sys.argv) > 1 and sys.argv[1] == "scaling":
        scaling_only()
    elif len(sys.argv) > 1 and sys.argv[1] == "generate":
        generate(Path(sys.argv[3]), sys.argv[2], rebuild=len(sys.argv) > 4 and sys.argv[4] == "rebuild")
    else:
        main()
