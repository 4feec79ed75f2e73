#!/usr/bin/env bash
# The agent's footprint: peak and final RSS and CPU share of `skywatch agent` collecting mem,
# swap, cpu and disk every 10 s, for DURATION seconds (default 300), once writing to the local
# store and once sending to CloudWatch (moto_server on loopback, through the real SDK).
# The CloudWatch agent's own published limit for host metrics is ~110 MB RSS (research notes §6).
#
#   benches/agent-footprint.sh            # 5 minutes
#   DURATION=60 benches/agent-footprint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-300}
# SKYWATCH=/path/to/another/skywatch measures that build instead (old against new).
if [[ -z "${SKYWATCH:-}" ]]; then
  cargo build --release --quiet --bin skywatch
fi
BIN=${SKYWATCH:-$PWD/target/release/skywatch}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

config() { # $1 = output
  cat <<TOML
[agent]
metrics_collection_interval = 10
[outputs]
metrics = "$1"
[metrics]
force_flush_interval = 60
[metrics.mem]
measurement = ["used_percent", "available_percent", "used", "cached", "free", "total"]
[metrics.swap]
measurement = ["used_percent", "free", "used"]
[metrics.cpu]
measurement = ["usage_active", "usage_idle", "usage_iowait", "usage_user", "usage_system"]
resources = ["*"]
[metrics.disk]
measurement = ["used_percent", "free", "inodes_free"]
TOML
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/moto-api/" >/dev/null && break; sleep 0.1; done

run() { # $1 = output, prints one table row
  config "$1" >"$WORK/$1.toml"
  env -i PATH="$PATH" HOME="$WORK" AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true \
    "$BIN" agent --config "$WORK/$1.toml" --state-dir "$WORK/state-$1" 2>"$WORK/$1.log" &
  local pid=$!
  sleep "$DURATION"
  local hz ticks rss hwm
  hz=$(getconf CLK_TCK)
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  awk -v o="$1" -v t="$ticks" -v hz="$hz" -v d="$DURATION" -v r="$rss" -v h="$hwm" 'BEGIN {
    printf "| %s | %d s | %.1f MiB | %.1f MiB | %.2f s | %.3f%% |\n", o, d, r/1024, h/1024, t/hz, 100*t/hz/d }'
  tail -1 "$WORK/$1.log" >&2
}

echo "| output | run | RSS at end | peak RSS | CPU time | share of one core |"
echo "|---|---|---|---|---|---|"
run local &
L=$!
run cloudwatch
wait $L
