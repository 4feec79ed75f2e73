"""File → sink throughput of `skywatch agent` shipping one log file, to a fast local
PutLogEvents endpoint (an HTTP server in this script that takes every request and discards it)
and to the local store: MB/s, lines/s, CPU seconds, MB per CPU second, peak RSS.

Each run is `skywatch agent --once` on a fresh state directory: it reads the whole file, delivers
it and exits; wall time and rusage (wait4) cover the whole process. The number of events the
sink received is checked against the file's lines.

    python3 benches/agent-logs.py                  # 512 MiB of JSON app logs (loggen)
    LOG_BYTES=128M RUNS=1 python3 benches/agent-logs.py

Peer: Vector publishes 76.7 MiB/s file → TCP (its own benchmark); our target is 100 MB/s on one
core with under 50 MB RSS.
"""

import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("BENCH_DIR", os.path.join(ROOT, "target", "bench-data"))
LOG_BYTES = os.environ.get("LOG_BYTES", "512M")
RUNS = int(os.environ.get("RUNS", "3"))
# SKYWATCH=/path/to/an/older/skywatch compares builds side by side on the same data.
SKYWATCH = os.environ.get("SKYWATCH", os.path.join(ROOT, "target", "release", "skywatch"))
LOGQ = os.environ.get("LOGQ", os.path.join(ROOT, "target", "release", "logq"))
LOGGEN = os.path.join(ROOT, "target", "release", "loggen")


class Sink(http.server.BaseHTTPRequestHandler):
    """Answers every PutLogEvents with success and counts the events."""

    events = 0
    requests = 0
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"
    # Headers and body go out as written: with Nagle on, each small write waits for the
    # client's delayed acknowledgement (40 ms per request).
    disable_nagle_algorithm = True

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with Sink.lock:
            Sink.requests += 1
            Sink.events += body.count(b'"timestamp":')
        reply = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def log_file():
    os.makedirs(DATA, exist_ok=True)
    path = os.path.join(DATA, f"agent-logs-{LOG_BYTES}.jsonl")
    if not os.path.exists(path):
        subprocess.run([LOGGEN, "app-json", "--bytes", LOG_BYTES, "-o", path], check=True)
    return path


def config(path, output):
    return f"""
[outputs]
logs = "{output}"
[logs]
force_flush_interval = 5
[[logs.files]]
file_path = "{path}"
log_group_name = "bench"
log_stream_name = "bench"
"""


def run_agent(path, output, env):
    state = tempfile.mkdtemp(prefix="skywatch-bench-")
    try:
        conf = os.path.join(state, "agent.toml")
        with open(conf, "w") as f:
            f.write(config(path, output))
        start = time.monotonic()
        proc = subprocess.Popen(
            [SKYWATCH, "agent", "--config", conf, "--state-dir", os.path.join(state, "state"), "--once"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        err = proc.stderr.read().decode(errors="replace")
        if status != 0:
            sys.exit(f"skywatch agent failed ({status}):\n{err}")
        stored = None
        if output == "local":
            out = subprocess.run(
                [LOGQ, "--format", "csv", "stats count(*) as n", "--store", os.path.join(state, "state", "logs"),
                 "--log-group", "bench"],
                check=True, capture_output=True, text=True,
            ).stdout
            stored = int(out.split()[1])
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stored, err
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main():
    for binary in (SKYWATCH, LOGQ, LOGGEN):
        if not os.path.exists(binary):
            sys.exit(f"{binary} missing: cargo build --release -p skywatch -p skywatch-loggen")
    path = log_file()
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    base_env = {"PATH": os.environ.get("PATH", ""), "HOME": tempfile.gettempdir(),
                "AWS_EC2_METADATA_DISABLED": "true"}
    http_env = dict(base_env, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1",
                    AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")

    print(f"input: {path}: {size / 1e6:.0f} MB, {lines} lines; {RUNS} runs each, medians")
    print(f"{'sink':<28} {'wall s':>7} {'MB/s':>7} {'lines/s':>10} {'CPU s':>6} {'MB/CPU s':>9} {'peak RSS':>9}")
    for name, output, env in [("HTTP PutLogEvents (local)", "cloudwatch", http_env),
                              ("local store (zstd chunks)", "local", base_env)]:
        results = []
        for _ in range(RUNS):
            Sink.events = 0
            wall, cpu, rss, stored, err = run_agent(path, output, env)
            got = Sink.events if output == "cloudwatch" else stored
            if got != lines:
                sys.exit(f"{name}: the sink got {got} events, the file has {lines} lines\n{err}")
            results.append((wall, cpu, rss))
        wall = statistics.median(r[0] for r in results)
        cpu = statistics.median(r[1] for r in results)
        rss = max(r[2] for r in results)
        print(f"{name:<28} {wall:>7.2f} {size / 1e6 / wall:>7.0f} {lines / wall:>10.0f} {cpu:>6.2f}"
              f" {size / 1e6 / cpu:>9.0f} {rss:>6.1f} MB")
    server.shutdown()


if __name__ == "__main__":
    main()
