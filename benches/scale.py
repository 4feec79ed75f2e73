"""How logq's time and memory grow with input size and with threads, on one generator shape.

Runs every benchmark query (benches/peers.py's Q1-Q10) with logq on the 1 GiB file and on a
10 GiB file of the same shape (generated for the run and deleted after it, by benches/scale.sh),
then on the 1 GiB file with 1 and with 2 threads. Prints, per query: seconds and peak RSS at each
size, throughput at 10 GiB relative to 1 GiB (100 % = time grew exactly with size), and the speed-up
of a second thread. Timing is whole-process wall time, page cache warm (one untimed run first),
median of RUNS.
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the queries, the timing and the RSS probe)

BIG = os.environ["BIG_FILE"]
RUNS = int(os.environ.get("RUNS", "3"))


def time_logq(query, path, threads=None):
    flag = f"--threads {threads} " if threads else ""
    cmd = f"{peers.LOGQ} {flag}--format csv {peers.shquote(query)} {path}"
    wall, rss, _ = peers.measure(cmd, RUNS)
    return wall, rss


def main():
    # Q8 reads the access log, not the app log this script scales.
    selected = [q for q in os.environ.get("QUERIES", " ".join(peers.QUERIES)).split() if q != "q8"]
    small, big = os.path.getsize(peers.APP), os.path.getsize(BIG)
    rows = []
    for q in selected:
        query, _ = peers.QUERIES[q]
        t1, r1 = time_logq(query, peers.APP)
        t10, r10 = time_logq(query, BIG)
        one, _ = time_logq(query, peers.APP, threads=1)
        two, _ = time_logq(query, peers.APP, threads=2)
        # Throughput at 10 GiB as a share of throughput at 1 GiB.
        kept = (big / t10) / (small / t1) * 100
        rows.append((q, t1, r1, t10, r10, kept, one, two))
        print(f"{q}: 1G {t1:.2f}s {r1:.0f}MiB, 10G {t10:.2f}s {r10:.0f}MiB, "
              f"throughput kept {kept:.0f}%, threads 1/2 {one:.2f}/{two:.2f}s", file=sys.stderr)
    lines = [f"Shape: {peers.SHAPE}; {small / 2**30:.2f} GiB and {big / 2**30:.2f} GiB, median of {RUNS}", "",
             "| query | 1 GiB s | 1 GiB RSS MiB | 10 GiB s | 10 GiB RSS MiB | throughput at 10 GiB vs 1 GiB | 1 thread s | 2 threads s | 2nd thread speed-up |",
             "|---|---|---|---|---|---|---|---|---|"]
    for q, t1, r1, t10, r10, kept, one, two in rows:
        lines.append(f"| {q} | {t1:.2f} | {r1:.0f} | {t10:.2f} | {r10:.0f} | {kept:.0f} % | {one:.2f} | {two:.2f} | {one / two:.2f}× |")
    kept = [r[5] for r in rows]
    speedups = [r[6] / r[7] for r in rows]
    lines += ["", f"Throughput at 10 GiB: median {statistics.median(kept):.0f} % of the 1 GiB figure "
              f"(worst {min(kept):.0f} %); a second thread: median {statistics.median(speedups):.2f}×."]
    report = "\n".join(lines) + "\n"
    print(report)
    with open(os.path.join(peers.DATA, f"scale-{peers.SHAPE}.md"), "w") as f:
        f.write(report)


if __name__ == "__main__":
    main()
