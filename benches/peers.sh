#!/usr/bin/env bash
# logq against the tools a user would otherwise pick, on the same generated data.
#
#   benches/peers.sh setup     # once: peers (DuckDB in a venv, jq, ripgrep, angle-grinder)
#   benches/peers.sh           # build logq, generate data if missing, time every query, check answers
#   RUNS=3 QUERIES="q2 q5" TOOLS="logq duckdb" benches/peers.sh
#   SHAPE=varied benches/peers.sh   # the same events, laid out differently (loggen --shape varied)
#
# Data goes to $BENCH_DIR (default target/bench-data): a 1 GiB JSON app log (per SHAPE) and a 500 MB nginx
# access log from our own deterministic generator (loggen, seed 42). Results are printed as a
# Markdown table and written to $BENCH_DIR/results-$SHAPE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DIR=${BENCH_DIR:-$PWD/target/bench-data}
export BENCH_VENV=${BENCH_VENV:-$PWD/target/bench-venv}
export LC_ALL=C

if [ "${1:-}" = setup ]; then
  command -v jq >/dev/null && command -v rg >/dev/null || { apt-get update -qq && apt-get install -y -qq jq ripgrep; }
  [ -x "$BENCH_VENV/bin/python" ] || python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q duckdb chdb datafusion
  command -v agrind >/dev/null || cargo install --locked ag
  exit 0
fi

cargo build --release -q -p skywatch --bin logq -p skywatch-loggen --bin loggen
mkdir -p "$BENCH_DIR"
[ -s "$BENCH_DIR/app-1g.jsonl" ] || target/release/loggen app-json --bytes 1G --seed 42 -o "$BENCH_DIR/app-1g.jsonl"
if [ "${SHAPE:-plain}" != plain ]; then
  [ -s "$BENCH_DIR/app-$SHAPE-1g.jsonl" ] || target/release/loggen app-json --shape "$SHAPE" --bytes 1G --seed 42 -o "$BENCH_DIR/app-$SHAPE-1g.jsonl"
fi
[ -s "$BENCH_DIR/access.log" ] || target/release/loggen access --bytes 500M --seed 42 -o "$BENCH_DIR/access.log"
PY=python3
[ -x "$BENCH_VENV/bin/python" ] && PY="$BENCH_VENV/bin/python"
exec "$PY" benches/peers.py "$@"
