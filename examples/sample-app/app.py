#!/usr/bin/env python3
"""The sample app for skywatch's walk-through: a small web service and the fake downstream it
calls, traced with the AWS X-Ray SDK for Python, logging one JSON line per request (with its
trace id, and EMF metrics skywatch's agent turns into SampleApp/Faults and SampleApp/Latency).

    python3 examples/sample-app/app.py            # http://127.0.0.1:8080/orders/42

GET /orders/<id> asks the inventory service (a second server in this process, on a port of its
own) for the item. Every --fail-every'th inventory call fails with a 503, and the order then
fails with a 502: a fault you can follow in skywatch's page from the map to its trace to its log
lines. Traces go to the X-Ray daemon address (skywatch up's collector: 127.0.0.1:2000, or
AWS_XRAY_DAEMON_ADDRESS); log lines to --log-file, which `skywatch up` follows.
"""
import argparse
import http.client
import itertools
import json
import os
import random
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.models.trace_header import TraceHeader

SERVICE = "sample-app"
DOWNSTREAM = "inventory"


class LogFile:
    """One JSON object per line, appended and flushed at once (the agent tails the file)."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8")

    def write(self, record):
        now = time.time()
        line = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
                + ".%03dZ" % (int(now * 1000) % 1000)}
        line.update(record)
        with self.lock:
            self.file.write(json.dumps(line) + "\n")
            self.file.flush()


def emf(latency_ms, fault):
    """The embedded metric format members of a request line: CloudWatch Logs (or skywatch's
    agent, when the logs stay local) makes metrics of them."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": "SampleApp",
                "Dimensions": [["Service"]],
                "Metrics": [
                    {"Name": "Faults", "Unit": "Count", "StorageResolution": 1},
                    {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1},
                ],
            }],
        },
        "Service": SERVICE,
        "Faults": 1 if fault else 0,
        "Latency": round(latency_ms, 3),
    }


class Handler(BaseHTTPRequestHandler):
    """What both servers share: a segment per request, a JSON answer."""

    server_version = "sample-app"
    log = None  # set per server

    def log_message(self, format, *args):  # the JSON log line replaces http.server's
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Inventory(Handler):
    calls = itertools.count(1)
    fail_every = 10

    def do_GET(self):
        header = TraceHeader.from_header_str(self.headers.get("X-Amzn-Trace-Id", ""))
        segment = xray_recorder.begin_segment(
            DOWNSTREAM, traceid=header.root, parent_id=header.parent, sampling=1)
        segment.put_http_meta("method", "GET")
        segment.put_http_meta("url", "http://%s%s" % (self.headers.get("Host", ""), self.path))
        n = next(self.calls)
        item = self.path.rsplit("/", 1)[-1]
        try:
            time.sleep(random.uniform(0.002, 0.03))
            if self.fail_every and n % self.fail_every == 0:
                try:
                    raise ConnectionError("stock database timed out after 30 ms")
                except ConnectionError as e:
                    segment.add_exception(e, traceback.extract_tb(e.__traceback__))
                segment.add_fault_flag()
                status, body = 503, {"error": "stock database timed out"}
                self.log.write({"level": "ERROR", "service": DOWNSTREAM, "traceId": segment.trace_id,
                                "message": "stock lookup for item %s failed: database timed out" % item,
                                "item": item})
            else:
                status, body = 200, {"item": item, "stock": (int(item) * 7) % 50 if item.isdigit() else 0}
            segment.put_http_meta("status", status)
            self.answer(status, body)
        finally:
            xray_recorder.end_segment()


class App(Handler):
    downstream = None  # "127.0.0.1:port"

    def do_GET(self):
        if self.path == "/healthz":
            return self.answer(200, {"ok": True})
        segment = xray_recorder.begin_segment(SERVICE, sampling=1)
        segment.put_http_meta("method", "GET")
        segment.put_http_meta("url", "http://%s%s" % (self.headers.get("Host", ""), self.path))
        started = time.time()
        try:
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "orders":
                status, body, level, message = 404, {"error": "no such page"}, "WARN", "no route for %s" % self.path
                segment.add_error_flag()
            else:
                item = parts[1]
                # The call is a subsegment, and its id goes downstream in the trace header, so
                # X-Ray (and skywatch) draw the edge sample-app -> inventory.
                call = xray_recorder.begin_subsegment(DOWNSTREAM, namespace="remote")
                url = "/stock/%s" % item
                call.put_http_meta("method", "GET")
                call.put_http_meta("url", "http://%s%s" % (self.downstream, url))
                header = TraceHeader(root=segment.trace_id, parent=call.id, sampled=1)
                try:
                    conn = http.client.HTTPConnection(self.downstream, timeout=5)
                    conn.request("GET", url, headers={"X-Amzn-Trace-Id": header.to_header_str()})
                    reply = conn.getresponse()
                    reply.read()
                    conn.close()
                    answer, failure = reply.status, "inventory answered %d" % reply.status
                    call.put_http_meta("status", answer)
                    if answer >= 500:
                        call.add_fault_flag()
                except (OSError, http.client.HTTPException) as e:  # no answer, or a broken one
                    answer, failure = None, "inventory unreachable: %s" % e
                    call.add_exception(e, traceback.extract_tb(e.__traceback__), remote=True)
                finally:
                    xray_recorder.end_subsegment()
                if answer is None or answer >= 500:
                    status, body = 502, {"error": "inventory unavailable"}
                    level, message = "ERROR", "order %s failed: %s" % (item, failure)
                    segment.add_fault_flag()
                else:
                    status, body = 200, {"order": item, "status": "confirmed"}
                    level, message = "INFO", "order %s confirmed" % item
            segment.put_http_meta("status", status)
            self.answer(status, body)
            latency_ms = (time.time() - started) * 1000
            record = {"level": level, "service": SERVICE, "traceId": segment.trace_id,
                      "message": message, "path": self.path, "status": status}
            record.update(emf(latency_ms, status >= 500))
            self.log.write(record)
        finally:
            xray_recorder.end_segment()


def serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", default=os.environ.get("SAMPLE_APP_ADDR", "127.0.0.1:8080"),
                        help="where the app listens (default 127.0.0.1:8080, or SAMPLE_APP_ADDR)")
    parser.add_argument("--log-file", default="sample-app.log",
                        help="the JSON log, appended (default: sample-app.log here)")
    parser.add_argument("--fail-every", type=int, default=10,
                        help="every Nth inventory call fails (0: never; default 10)")
    parser.add_argument("--xray", default=os.environ.get("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000"),
                        help="the X-Ray daemon (default 127.0.0.1:2000, or AWS_XRAY_DAEMON_ADDRESS)")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")
    if not host or not port.isdigit():
        parser.error("--addr %r is not HOST:PORT" % args.addr)
    if args.fail_every < 0:
        parser.error("--fail-every must be 0 (never) or more")

    # Trace every request (a development setting: production apps sample).
    xray_recorder.configure(service=SERVICE, daemon_address=args.xray, sampling=False,
                            context_missing="LOG_ERROR")
    log = LogFile(args.log_file)
    Inventory.log = log
    Inventory.fail_every = args.fail_every
    inventory = ThreadingHTTPServer(("127.0.0.1", 0), Inventory)
    App.log = log
    App.downstream = "127.0.0.1:%d" % inventory.server_address[1]
    try:
        app = ThreadingHTTPServer((host, int(port)), App)
    except OSError as e:
        parser.exit(1, "app.py: cannot listen on %s: %s\n" % (args.addr, e))
    serve(inventory)
    print("sample-app on http://%s/orders/<id> (inventory on %s, every %s call of it fails); "
          "traces to %s, log lines to %s" % (args.addr, App.downstream, ordinal(args.fail_every),
                                             args.xray, os.path.abspath(args.log_file)), flush=True)
    try:
        app.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def ordinal(n):
    if n == 0:
        return "no"
    return "%d%s" % (n, {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n % 100 not in (11, 12, 13) else 0, "th"))


if __name__ == "__main__":
    sys.exit(main())
