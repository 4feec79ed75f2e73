#!/usr/bin/env bash
# logq at 1 GiB and at 10 GiB of the same generated shape, and with 1 and 2 threads.
#
#   benches/scale.sh                   # SHAPE=varied by default; RUNS=3
#   SHAPE=plain QUERIES="q4 q5" benches/scale.sh
#
# The 10 GiB file is generated (loggen, seed 42, the 1 GiB file's shape) into $BENCH_DIR for the
# run and deleted when it ends, however it ends (a file of that name already there is replaced). Needs 11 GiB free there; the page cache holds it
# on a machine with 24 GiB of RAM, so both sizes are timed warm. Results go to
# $BENCH_DIR/scale-$SHAPE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DIR=${BENCH_DIR:-$PWD/target/bench-data}
export BENCH_VENV=${BENCH_VENV:-$PWD/target/bench-venv}
export SHAPE=${SHAPE:-varied}
export LC_ALL=C
export PYTHONDONTWRITEBYTECODE=1

cargo build --release -q -p skywatch --bin logq -p skywatch-loggen --bin loggen
mkdir -p "$BENCH_DIR"
small="$BENCH_DIR/app-1g.jsonl"
shape_flag=()
if [ "$SHAPE" != plain ]; then
  small="$BENCH_DIR/app-$SHAPE-1g.jsonl"
  shape_flag=(--shape "$SHAPE")
fi
[ -s "$small" ] || target/release/loggen app-json "${shape_flag[@]}" --bytes 1G --seed 42 -o "$small"
export BIG_FILE="$BENCH_DIR/app-$SHAPE-10g.jsonl"
trap 'rm -f "$BIG_FILE"' EXIT
target/release/loggen app-json "${shape_flag[@]}" --bytes 10G --seed 42 -o "$BIG_FILE"
PY=python3
[ -x "$BENCH_VENV/bin/python" ] && PY="$BENCH_VENV/bin/python"
"$PY" benches/scale.py
