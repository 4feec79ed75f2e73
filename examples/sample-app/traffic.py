#!/usr/bin/env python3
"""Sends requests to the sample app: GET /orders/<n> for n = 1, 2, … at a steady rate, and says
how many answered what.

    python3 examples/sample-app/traffic.py --requests 100
"""
import argparse
import collections
import http.client
import os
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", default=os.environ.get("SAMPLE_APP_ADDR", "127.0.0.1:8080"),
                        help="the app (default 127.0.0.1:8080, or SAMPLE_APP_ADDR)")
    parser.add_argument("--requests", type=int, default=100, help="how many (default 100)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20)")
    args = parser.parse_args()
    if args.requests < 0 or not args.rate > 0:
        parser.error("--requests must be 0 or more and --rate above 0")
    answers = collections.Counter()
    start = time.monotonic()
    for n in range(1, args.requests + 1):
        try:
            conn = http.client.HTTPConnection(args.addr, timeout=10)
            conn.request("GET", "/orders/%d" % n)
            answers[conn.getresponse().status] += 1
            conn.close()
        except OSError as e:
            print("traffic: cannot reach the app at %s: %s" % (args.addr, e), file=sys.stderr)
            return 1
        delay = start + n / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    summary = ", ".join("%d answered %d" % (count, status) for status, count in sorted(answers.items()))
    print("traffic: %d requests: %s" % (args.requests, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
