#!/usr/bin/env bash
# Peak memory of logq's high-cardinality queries on a generated file of 12.8 M lines (every @ptr
# distinct) with --max-memory set to the budget, side by side with DuckDB's on the same question
# where it has one.
#
#   benches/memory.sh                 # BUDGET_MIB=1024 LINES=12800000
#
# Prints one line per query: wall time, peak RSS, and whether the peak stayed under the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
BENCH_DIR=${BENCH_DIR:-$PWD/target/bench-data}
LINES=${LINES:-12800000}
BUDGET_MIB=${BUDGET_MIB:-1024}
cargo build --release -q -p skywatch --bin logq -p skywatch-loggen --bin loggen
mkdir -p "$BENCH_DIR"
data="$BENCH_DIR/app-text-$LINES.log"
[ -s "$data" ] || target/release/loggen app-text --lines "$LINES" --seed 11 -o "$data"
echo "data: $data ($(wc -c < "$data") bytes, $LINES lines); budget ${BUDGET_MIB} MiB"
run() {
  local name=$1; shift
  local out
  out=$( { /usr/bin/time -f "%e %M" "$@" > /tmp/memory-bench.out; } 2>&1 | tail -1)
  local secs=${out% *} kib=${out#* }
  local mib=$((kib / 1024))
  local verdict="under"
  [ "$mib" -le "$BUDGET_MIB" ] || verdict="OVER"
  printf '%-48s %6ss %6d MiB  %s budget  answer: %s\n' "$name" "$secs" "$mib" "$verdict" \
    "$(head -c 60 /tmp/memory-bench.out | tr '\n' ' ')"
}
run "logq stats count_distinct(@ptr)" target/release/logq --max-memory "${BUDGET_MIB}M" --format csv 'stats count_distinct(@ptr) as d' "$data"
run "logq stats count(*) by @ptr" target/release/logq --max-memory "${BUDGET_MIB}M" --format csv 'stats count(*) as n by @ptr' "$data"
run "logq stats count(*) by @ptr | sort n desc" target/release/logq --max-memory "${BUDGET_MIB}M" --format csv 'stats count(*) as n by @ptr | sort n desc | limit 5' "$data"
PY=python3
[ -x "${BENCH_VENV:-$PWD/target/bench-venv}/bin/python" ] && PY="${BENCH_VENV:-$PWD/target/bench-venv}/bin/python"
if "$PY" -c 'import duckdb' 2>/dev/null; then
  run "duckdb approx_count_distinct(line number)" "$PY" -c "
import duckdb,sys
print(duckdb.sql(\"select approx_count_distinct(rn) from (select row_number() over () as rn from read_csv('$data', columns={'l':'VARCHAR'}, delim=chr(1), header=false, quote='', escape=''))\").fetchall())"
fi
if "$PY" -c 'import duckdb' 2>/dev/null; then
  run "duckdb count(*) group by line number" "$PY" -c "
import duckdb
print(duckdb.sql(\"select rn, count(*) from (select row_number() over () as rn from read_csv('$data', columns={'l':'VARCHAR'}, delim=chr(1), header=false, quote='', escape='')) group by rn order by rn limit 1\").fetchall())"
fi
