#!/usr/bin/env python3
"""The collector's ingest benchmark: real X-Ray segment datagrams (target/release/xray-load) sent
on loopback at rising rates to `skywatch collector` pinned to one core; for each rate, what it
accepted per second, what was lost (kernel socket drops and queue drops alike: sent - stored),
its CPU and its RSS. Then the forwarding-only mode (no local store) at the daemon's reported
rate, forwarding to moto, for its CPU and RSS.

    python3 benches/collector.py                 # RATES=10000,25000,50000,100000,150000 SECONDS=5

The AWS X-Ray daemon's own report, for comparison (its README, daemon 3.3.6 on a t2.micro):
4,000 segments/s at 38 % of a core and about 30 MB.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATES = [int(r) for r in os.environ.get("RATES", "10000,25000,50000,100000,150000").split(",")]
SECONDS = int(os.environ.get("SECONDS", "5"))
TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = int(value)
    return out


def total(m, prefix):
    return sum(v for k, v in m.items() if k.startswith(prefix))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid, key="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_collector(args, env=None):
    port = free_port()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and CORES > 1 else []
    log = open(os.path.join(tempfile.gettempdir(), "collector-bench.log"), "w")
    proc = subprocess.Popen(pin + [f"{ROOT}/target/release/skywatch", "collector",
                                   "--udp", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{port}"] + args,
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            metrics(port)
            return proc, port
        except OSError:
            time.sleep(0.05)
    sys.exit("the collector did not start; see " + log.name)


def load(port, rate, seconds):
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") and CORES > 1 else []
    out = subprocess.run(pin + [f"{ROOT}/target/release/xray-load", "--to", f"127.0.0.1:{port}",
                                "--rate", str(rate), "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True).stdout
    return int(re.search(r"sent (\d+)", out).group(1)), out.strip()


def settle(port, key):
    """Waits until `key`'s total stops moving (the queue has drained); its last value and when
    it last moved."""
    last, still, moved = -1, 0, time.time()
    while still < 5:
        now = total(metrics(port), key)
        if now == last:
            still += 1
        else:
            still, moved = 0, time.time()
        last = now
        time.sleep(0.05)
    return last, moved


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "skywatch", "--bin", "skywatch",
                    "-p", "skywatch-loggen", "--bin", "xray-load"], check=True, cwd=ROOT)
    store = tempfile.mkdtemp(prefix="collector-bench-")
    proc, port = start_collector(["--store", store, "--state-dir", store])
    print(f"collector pid {proc.pid} on one core; {SECONDS} s per rate; store in {store}")
    print(f"{'rate/s':>8} {'sent':>9} {'stored':>9} {'accepted/s':>11} {'lost':>8} {'lost %':>7} "
          f"{'cpu %':>6} {'rss MiB':>8}")
    try:
        for rate in RATES:
            before = metrics(port)
            cpu0, t0 = cpu_seconds(proc.pid), time.time()
            sent, _ = load(port, rate, SECONDS)
            cpu1 = cpu_seconds(proc.pid)
            stored, done = settle(port, "skywatch_collector_stored_total")
            stored -= total(before, "skywatch_collector_stored_total")
            # Until the last document was stored (the queue drained).
            wall = max(done - t0, 1e-9)
            cpu = (cpu1 - cpu0) / (time.time() - t0) * 100
            lost = sent - stored
            print(f"{rate:>8} {sent:>9} {stored:>9} {stored / wall:>11.0f} {lost:>8} "
                  f"{lost / sent * 100:>6.2f}% {cpu:>6.0f} {rss_mib(proc.pid):>8.1f}")
        m = metrics(port)
        print("queue drops:", total(m, 'skywatch_collector_dropped_total'),
              " rejected:", total(m, 'skywatch_collector_rejected_total'),
              f" peak RSS: {rss_mib(proc.pid, 'VmHWM'):.1f} MiB")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(store, ignore_errors=True)

    moto_bin = shutil.which("moto_server")
    if not moto_bin:
        print("forwarding only: skipped (no moto_server)")
        return
    moto_port = free_port()
    moto = subprocess.Popen([moto_bin, "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="collector-bench-fwd-")
    config = os.path.join(work, "collector.toml")
    open(config, "w").write("store_max_mb = 0\n[forward]\nregion = \"us-east-1\"\n")
    env = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}", AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")
    try:
        time.sleep(1.0)
        proc, port = start_collector(["--config", config, "--state-dir", work], env)
        rate = 4000
        cpu0, t0 = cpu_seconds(proc.pid), time.time()
        sent, _ = load(port, rate, SECONDS)
        forwarded, _ = settle(port, "skywatch_collector_forwarded_total")
        wall = time.time() - t0
        cpu = (cpu_seconds(proc.pid) - cpu0) / wall * 100
        print(f"forwarding only (to moto), {rate}/s: sent {sent}, forwarded {forwarded}, "
              f"cpu {cpu:.0f} %, rss {rss_mib(proc.pid):.1f} MiB, peak {rss_mib(proc.pid, 'VmHWM'):.1f} MiB")
        proc.terminate()
        proc.wait()
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
