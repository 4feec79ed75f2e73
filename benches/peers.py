"""Times logq and its peers on the benchmark queries, checks their answers agree, prints ratios.

Run through benches/peers.sh (it builds logq and makes the data). Timing is whole-process wall
time with the page cache warm (one untimed run first); peak RSS comes from wait4. MB/s is input
bytes / median wall time.
"""

import csv
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("BENCH_DIR", os.path.join(ROOT, "target", "bench-data"))
# SHAPE=plain: loggen's first layout (fixed key order, whole-number latencies);
# SHAPE=varied: the same events with shuffled keys, decimal latencies, optional, nested and long
# members and non-ASCII text (loggen app-json --shape varied).
SHAPE = os.environ.get("SHAPE", "plain")
APP = os.path.join(DATA, "app-1g.jsonl" if SHAPE == "plain" else f"app-{SHAPE}-1g.jsonl")
ACCESS = os.path.join(DATA, "access.log")
LOGQ = os.path.join(ROOT, "target", "release", "logq")
RUNS = int(os.environ.get("RUNS", "5"))
SLOW_RUNS = int(os.environ.get("SLOW_RUNS", "1"))

QUERIES = {
    "q1": ("stats count(*)", APP),
    "q2": ('filter level = "ERROR" | stats count(*)', APP),
    "q3": ('filter level = "ERROR" | stats count(*) as c by message | sort c desc | limit 5', APP),
    "q4": ("stats avg(latencyMs), max(latencyMs), pct(latencyMs, 99) by service", APP),
    "q5": ("stats count(*) by bin(5m)", APP),
    "q6": ("stats count(*) by userId | sort count(*) desc | limit 10", APP),
    "q7": ("fields @timestamp, path, status | filter path like /\\/api\\/orders\\/\\d+/ and status >= 500 "
           "| sort @timestamp desc | limit 20", APP),
    "q8": ("parse @message '* - - [*] \"* * *\" * *' as ip, ts, method, url, proto, status, bytes "
           "| stats count(*) by status", ACCESS),
    # High cardinality: a value per event (logq's count_distinct is HyperLogLog past 2,048
    # values, as the service's is approximate; the peers' approximate counters are used too).
    "q9": ("stats count_distinct(requestId)", APP),
    "q10": ("stats count(*) as c by requestId | sort c desc | limit 10", APP),
}

DUCK_SQL = {
    "q1": "SELECT count(*) FROM {app}",
    "q2": "SELECT count(*) FROM {app} WHERE level = 'ERROR'",
    "q3": "SELECT message, count(*) AS c FROM {app} WHERE level = 'ERROR' GROUP BY message ORDER BY c DESC, message LIMIT 5",
    "q4": "SELECT service, avg(latencyMs), max(latencyMs), quantile_disc(latencyMs, 0.99) FROM {app} GROUP BY service ORDER BY service",
    "q5": "SELECT strftime(time_bucket(INTERVAL 5 MINUTE, timestamp::TIMESTAMP), '%Y-%m-%d %H:%M:%S.000') AS b, count(*) FROM {app} GROUP BY b ORDER BY b",
    "q6": "SELECT userId, count(*) AS c FROM {app} GROUP BY userId ORDER BY c DESC LIMIT 10",
    "q7": "SELECT strftime(timestamp::TIMESTAMP, '%Y-%m-%d %H:%M:%S.%g'), path, status FROM {app} "
          "WHERE regexp_matches(path, '/api/orders/\\d+') AND status >= 500 ORDER BY timestamp DESC LIMIT 20",
    "q8": "SELECT regexp_extract(line, '(.*?) - - \\[(.*?)\\] \"(.*?) (.*?) (.*?)\" (.*?) (.*)', 6) AS status, count(*) "
          "FROM read_csv('{access}', delim='\\t', header=false, columns={{'line': 'VARCHAR'}}, quote='', escape='') "
          "GROUP BY status ORDER BY status",
    "q9": "SELECT approx_count_distinct(requestId) FROM {app}",
    "q10": "SELECT requestId, count(*) AS c FROM {app} GROUP BY requestId ORDER BY c DESC LIMIT 10",
}

# The columns every query reads, typed once for the engines that need a schema.
APP_SCHEMA_CH = ("timestamp String, level Nullable(String), message Nullable(String), userId Nullable(String), "
                 "path Nullable(String), status Nullable(Int64), latencyMs Nullable(Float64), service Nullable(String), "
                 "requestId Nullable(String)")

CH_SQL = {
    "q1": "SELECT count(*) FROM {app}",
    "q2": "SELECT count(*) FROM {app} WHERE level = 'ERROR'",
    "q3": "SELECT message, count(*) AS c FROM {app} WHERE level = 'ERROR' GROUP BY message ORDER BY c DESC, message LIMIT 5",
    "q4": "SELECT service, avg(latencyMs), max(latencyMs), quantileExactLow(0.99)(latencyMs) FROM {app} GROUP BY service ORDER BY service",
    "q5": "SELECT formatDateTime(toStartOfFiveMinutes(parseDateTime64BestEffort(timestamp, 3)), '%Y-%m-%d %H:%i:%S.000') AS b, count(*) FROM {app} GROUP BY b ORDER BY b",
    "q6": "SELECT userId, count(*) AS c FROM {app} GROUP BY userId ORDER BY c DESC LIMIT 10",
    "q7": "SELECT substring(formatDateTime(parseDateTime64BestEffort(timestamp, 3), '%Y-%m-%d %H:%i:%S.%f'), 1, 23), path, status FROM {app} "
          "WHERE match(path, '/api/orders/\\d+') AND status >= 500 ORDER BY timestamp DESC LIMIT 20",
    "q9": "SELECT uniq(requestId) FROM {app}",
    "q10": "SELECT requestId, count(*) AS c FROM {app} GROUP BY requestId ORDER BY c DESC LIMIT 10",
}

DF_SQL = {
    "q1": "SELECT count(*) FROM app",
    "q2": "SELECT count(*) FROM app WHERE level = 'ERROR'",
    "q3": "SELECT message, count(*) AS c FROM app WHERE level = 'ERROR' GROUP BY message ORDER BY c DESC, message LIMIT 5",
    "q4": "SELECT service, avg(\"latencyMs\"), max(\"latencyMs\"), approx_percentile_cont(\"latencyMs\", 0.99) FROM app GROUP BY service ORDER BY service",
    "q5": "SELECT date_bin(INTERVAL '5 minutes', to_timestamp(timestamp)) AS b, count(*) FROM app GROUP BY b ORDER BY b",
    "q6": "SELECT \"userId\", count(*) AS c FROM app GROUP BY \"userId\" ORDER BY c DESC LIMIT 10",
    "q9": "SELECT approx_distinct(\"requestId\") FROM app",
    "q10": "SELECT \"requestId\", count(*) AS c FROM app GROUP BY \"requestId\" ORDER BY c DESC LIMIT 10",
}

JQ = {
    "q1": "jq -n 'reduce inputs as $l (0; .+1)' {app}",
    "q2": "jq -n 'reduce (inputs | select(.level == \"ERROR\")) as $l (0; .+1)' {app}",
    "q3": "jq -c 'select(.level == \"ERROR\") | .message' {app} | sort | uniq -c | sort -rn | awk 'NR<=5'",
    # 5-minute buckets from "YYYY-MM-DDTHH:MM": the minute's ones digit decides 0 or 5.
    "q5": "jq -r '.timestamp[0:16]' {app} | awk '{{o=substr($0,16,1); b=(o<5)?0:5; print substr($0,1,15) b}}' | sort -u | wc -l",
    "q6": "jq -r '.userId // \"null\"' {app} | sort | uniq -c | sort -rn | awk 'NR<=10'",
    "q7": "jq -c 'select((.path // \"\" | test(\"/api/orders/[0-9]+\")) and (.status // 0) >= 500) | [.timestamp, .path, .status]' {app} | sort -r | awk 'NR<=20'",
    "q9": "jq -r '.requestId // empty' {app} | sort -u | wc -l",
}

AGRIND = {
    "q1": "agrind '* | json | count' -f {app}",
    "q2": "agrind '* | json | where level == \"ERROR\" | count' -f {app}",
    "q3": "agrind '* | json | where level == \"ERROR\" | count by message | sort by _count desc | limit 5' -f {app}",
    "q4": "agrind '* | json | avg(latencyMs), max(latencyMs), p99(latencyMs) by service' -f {app}",
    "q6": "agrind '* | json | count by userId | sort by _count desc | limit 10' -f {app}",
    "q8": "agrind '* | parse \"* - - [*] \\\"* * *\\\" * *\" as ip, ts, method, url, proto, status, bytes | count by status' -f {access}",
    "q9": "agrind '* | json | count_distinct(requestId)' -f {app}",
    "q10": "agrind '* | json | count by requestId | sort by _count desc | limit 10' -f {app}",
}

FLOOR = {
    "q2": [("rg -c ERROR", "rg -c ERROR {app}")],
}
LIMITS = [("cat > /dev/null", "cat {app} > /dev/null"), ("wc -l", "wc -l {app}"), ("rg -c ERROR", "rg -c ERROR {app}")]


def run_once(cmd):
    """Runs a shell command; returns (wall seconds, peak RSS KiB of the largest child so far, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd!r} failed ({proc.returncode}): {err.decode(errors='replace')[:500]}")
    return wall, usage.ru_maxrss, out.decode(errors="replace")


def measure(cmd, runs):
    """Median wall time over `runs` warm runs and the peak RSS (one warm-up run first)."""
    run_once(cmd)
    walls, out = [], ""
    for _ in range(runs):
        wall, _, out = run_once(cmd)
        walls.append(wall)
    # Peak RSS per command: a fresh measurement process, so earlier children do not count.
    rss = peak_rss(cmd)
    return statistics.median(walls), rss, out


def peak_rss(cmd):
    probe = ("import resource,subprocess,sys;"
             "subprocess.run(['bash','-o','pipefail','-c',sys.argv[1]],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, cmd], capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


def duck_cmd(q):
    sql = DUCK_SQL[q].format(app=f"read_json('{APP}', format='newline_delimited')", access=ACCESS)
    script = ("import duckdb,csv,sys;"
              "con=duckdb.connect();con.execute('SET enable_progress_bar=false');"
              "rows=con.sql(sys.argv[1]).fetchall();"
              "w=csv.writer(sys.stdout);[w.writerow(r) for r in rows]")
    return f"{sys.executable} -c {shquote(script)} {shquote(sql)}"


def chdb_cmd(q):
    sql = CH_SQL[q].format(app=f"file('{APP}', 'JSONEachRow', '{APP_SCHEMA_CH}')")
    script = ("import chdb,sys;"
              "sys.stdout.write(str(chdb.query(sys.argv[1], 'CSV')))")
    return f"{sys.executable} -c {shquote(script)} {shquote(sql)}"


def datafusion_cmd(q):
    script = ("import sys,csv,pyarrow as pa;from datafusion import SessionContext;"
              "s=pa.schema([('timestamp',pa.string()),('level',pa.string()),('message',pa.string()),"
              "('userId',pa.string()),('path',pa.string()),('status',pa.int64()),('latencyMs',pa.float64()),"
              "('service',pa.string()),('requestId',pa.string())]);"
              "ctx=SessionContext();ctx.register_json('app',sys.argv[2],schema=s,file_extension='.jsonl');"
              "t=ctx.sql(sys.argv[1]).to_arrow_table().to_pylist();"
              "w=csv.writer(sys.stdout);[w.writerow(list(r.values())) for r in t]")
    return f"{sys.executable} -c {shquote(script)} {shquote(DF_SQL[q])} {shquote(APP)}"


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def rows_of(text):
    return [r for r in csv.reader(io.StringIO(text)) if r]


def num(x):
    try:
        return float(x)
    except ValueError:
        return x


def same_rows(a, b, tolerance=1e-9):
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        if len(ra) != len(rb):
            return False
        for x, y in zip(ra, rb):
            x, y = num(x), num(y)
            if isinstance(x, float) and isinstance(y, float):
                if abs(x - y) > tolerance * max(1.0, abs(x), abs(y)):
                    return False
            elif str(x) != str(y):
                return False
    return True


def check(q, logq_out, tool, out):
    """Whether `tool`'s answer agrees with logq's, with a note where the comparison is partial."""
    mine = rows_of(logq_out)[1:]
    if q == "q9":
        # logq's count is an estimate (and so are most peers'): within 3 %, about 4 standard
        # errors of logq's 2^14-register HyperLogLog.
        try:
            theirs = float(out.strip().splitlines()[-1].split(",")[-1].split()[-1].strip('"'))
        except (ValueError, IndexError):
            return "DIFF"
        return "OK (±3 %)" if theirs > 0 and abs(float(mine[0][-1]) - theirs) <= 0.03 * theirs else "DIFF"
    if q == "q10":
        # Every id is in one event, so the top ten tie: the counts must agree, and each side
        # must name ten distinct ids.
        if tool == "agrind":
            return "—"
        theirs = rows_of(out)
        distinct = len({r[0] for r in mine}) == len({r[0] for r in theirs}) == len(mine) == 10
        return "OK (counts)" if distinct and [r[-1] for r in mine] == [r[-1] for r in theirs] else "DIFF"
    if tool in ("chdb", "datafusion"):
        theirs = rows_of(out)
        if q == "q6":
            theirs = [["" if r[0] in ("", "None", "\\N") else r[0], r[1]] for r in theirs]
        if q == "q4" and tool == "datafusion":
            # approx_percentile_cont: a t-digest estimate, not the nearest rank; compare the rest.
            return "OK (p99 approximate)" if same_rows([r[:3] for r in mine], [r[:3] for r in theirs], 1e-6) else "DIFF"
        if q == "q5" and tool == "datafusion":
            return "OK" if [r[1] for r in mine] == [r[1] for r in theirs] else "DIFF"
        return "OK" if same_rows(mine, theirs, 1e-6) else "DIFF"
    if tool == "duckdb":
        theirs = rows_of(out)
        if q == "q6":
            # Both rank the group of events without userId (null) first.
            theirs = [["" if r[0] in ("", "None") else r[0], r[1]] for r in theirs]
        if q == "q8":
            # DuckDB groups unparsed lines under ''; logq leaves them without status.
            theirs = sorted(theirs, key=lambda r: (r[0] == "", r[0]))
        return "OK" if same_rows(mine, theirs, 1e-6) else "DIFF"
    if tool == "jq":
        if q in ("q1", "q2"):
            return "OK" if mine[0][-1] == out.strip() else "DIFF"
        if q == "q5":
            return "OK" if str(len(mine)) == out.strip() else "DIFF"
        if q in ("q3", "q6"):
            theirs = [l.strip().split(" ", 1) for l in out.strip().splitlines()]
            theirs = [[json.loads(t[1]) if t[1].startswith('"') else ("" if t[1] == "null" else t[1]), t[0]] for t in theirs]
            return "OK" if same_rows(mine, theirs) else "DIFF"
        if q == "q7":
            theirs = [json.loads(l) for l in out.strip().splitlines()]
            ok = [r[1:] for r in mine] == [[t[1], str(t[2])] for t in theirs]
            return "OK" if ok else "DIFF"
    if tool.startswith("rg"):
        return "OK" if mine[0][-1] == out.strip() else "DIFF"
    return "—"


def main():
    selected = os.environ.get("QUERIES", " ".join(QUERIES)).split()
    tools = os.environ.get("TOOLS", "logq duckdb chdb datafusion agrind jq floor").split()
    have = {t: shutil.which(t) is not None for t in ("jq", "agrind", "rg")}
    for module in ("duckdb", "chdb", "datafusion"):
        try:
            __import__(module)
            have[module] = True
        except ImportError:
            have[module] = False
    results = []  # (query, tool, wall, rss, mbps, answer)
    for q in selected:
        query, path = QUERIES[q]
        size = os.path.getsize(path)
        logq_cmd = f"{LOGQ} --format csv {shquote(query)} {path}"
        wall, rss, logq_out = measure(logq_cmd, RUNS)
        results.append((q, "logq", wall, rss, size / wall / 1e6, "ref"))
        print(f"{q} logq {wall:.3f}s {rss:.0f}MiB", file=sys.stderr)
        candidates = []
        if "duckdb" in tools and have["duckdb"]:
            candidates.append(("duckdb", duck_cmd(q), RUNS))
        if "chdb" in tools and have["chdb"] and q in CH_SQL:
            candidates.append(("chdb", chdb_cmd(q), RUNS))
        if "datafusion" in tools and have["datafusion"] and q in DF_SQL:
            candidates.append(("datafusion", datafusion_cmd(q), RUNS))
        if "agrind" in tools and have["agrind"] and q in AGRIND:
            candidates.append(("agrind", AGRIND[q].format(app=APP, access=ACCESS), SLOW_RUNS))
        if "jq" in tools and have["jq"] and q in JQ:
            candidates.append(("jq", JQ[q].format(app=APP), SLOW_RUNS))
        if "floor" in tools and have["rg"]:
            candidates += [(name, cmd.format(app=APP), RUNS) for name, cmd in FLOOR.get(q, [])]
        for tool, cmd, runs in candidates:
            try:
                t_wall, t_rss, out = measure(cmd, runs)
            except RuntimeError as e:
                print(f"{q} {tool} failed: {e}", file=sys.stderr)
                continue
            results.append((q, tool, t_wall, t_rss, size / t_wall / 1e6, check(q, logq_out, tool, out)))
            print(f"{q} {tool} {t_wall:.3f}s {t_rss:.0f}MiB", file=sys.stderr)
    limits = []
    if "floor" in tools:
        for name, cmd in LIMITS:
            if name.startswith("rg") and not have["rg"]:
                continue
            wall, _, _ = measure(cmd.format(app=APP), RUNS)
            limits.append((name, wall, os.path.getsize(APP) / wall / 1e6))
    report = render(results, limits)
    print(report)
    with open(os.path.join(DATA, f"results-{SHAPE}.md"), "w") as f:
        f.write(report)


def render(results, limits):
    lines = [f"Shape: {SHAPE} ({os.path.basename(APP)})", "",
             "| query | tool | median wall s | MB/s | peak RSS MiB | logq speed-up | answer |",
             "|---|---|---|---|---|---|---|"]
    base = {q: wall for q, tool, wall, *_ in results if tool == "logq"}
    for q, tool, wall, rss, mbps, answer in results:
        ratio = "—" if tool == "logq" else f"{wall / base[q]:.1f}×"
        lines.append(f"| {q} | {tool} | {wall:.2f} | {mbps:.0f} | {rss:.0f} | {ratio} | {answer} |")
    if limits:
        lines += ["", f"| scan floor ({os.path.basename(APP)}) | median wall s | MB/s |", "|---|---|---|"]
        lines += [f"| `{name}` | {wall:.2f} | {mbps:.0f} |" for name, wall, mbps in limits]
    for peer, name in (("duckdb", "DuckDB"), ("chdb", "chDB"), ("datafusion", "DataFusion")):
        walls = {q: wall for q, tool, wall, *_ in results if tool == peer}
        if walls:
            ratios = sorted(walls[q] / base[q] for q in walls)
            lines += ["", f"logq vs {name}: median {statistics.median(ratios):.1f}×, worst {ratios[0]:.1f}×, best {ratios[-1]:.1f}×"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
