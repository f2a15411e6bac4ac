#!/usr/bin/env bash
# Appel's call cycles per second next to this machine's raw loopback WebSocket message rate, both
# measured in this one run, plus setup latency at a fixed rate and the server's memory per idle agent.
#
#   benchmarks/run.sh                     # defaults below; every knob is an environment variable
#   DURATION=20 AGENTS=50000 benchmarks/run.sh
#
# The ratio printed is frames per cycle × cycles/s ÷ raw messages/s: the share of the machine's
# message-moving capacity that Appel's call handling reaches (1.0 would be "as fast as bare echo").
set -euo pipefail
source "$(dirname "$0")/common.sh"

DURATION="${DURATION:-10}"          # seconds per measurement
CALLERS="${CALLERS:-400}"           # pairs of SDK agents
MAX_RATE="${MAX_RATE:-20000}"       # asked cycle rate for the throughput run (above what it reaches)
LATENCY_RATE="${LATENCY_RATE:-5000}" # the rate the p99 target is stated at
AGENTS="${AGENTS:-10000}"           # idle agents for the memory run (0 skips it)
ECHO_CONNECTIONS="${ECHO_CONNECTIONS:-100}"

build_release
raise_limits
echo "machine: $(machine)"

# 1. Baseline: bare tokio + tungstenite echo over loopback.
"$WS_ECHO" 127.0.0.1:0 >"$WORK/echo.out" 2>&1 &
PIDS+=($!)
echo_url="$(wait_line "$WORK/echo.out" 'listening on ws://' | grep -oE 'ws://[0-9.:]+')"
echo_json="$("$APPEL" bench echo --server "$echo_url" --connections "$ECHO_CONNECTIONS" --window 4 --duration "$DURATION" --json)"
raw_rate="$(json_num "$echo_json" messagesPerSecond)"
kill "${PIDS[-1]}" 2>/dev/null || true

# 2. Appel: throughput at a rate above what it reaches, then latency at the target's rate.
start_appel
max_json="$("$APPEL" bench calls --server "$APPEL_URL" --callers "$CALLERS" --rate "$MAX_RATE" --duration "$DURATION" --json)"
lat_json="$("$APPEL" bench calls --server "$APPEL_URL" --callers "$CALLERS" --rate "$LATENCY_RATE" --duration "$DURATION" --json)"
stop_appel

# 3. Idle agents on a fresh server (its memory is not inflated by the call runs).
agents_json='{}'
if [ "$AGENTS" -gt 0 ]; then
  start_appel
  agents_json="$("$APPEL" bench agents --server "$APPEL_URL" --count "$AGENTS" --server-pid "$APPEL_PID" --json)"
  stop_appel
fi

cycles="$(json_num "$max_json" achievedRate)"
frames="$(json_num "$max_json" framesPerCycle)"
ratio="$(awk -v f="$frames" -v c="$cycles" -v r="$raw_rate" 'BEGIN { if (r > 0) printf "%.3f", f * c / r; else print "n/a" }')"

printf '\n%-44s %s\n' "measurement" "value"
printf '%-44s %.0f messages/s\n' "raw loopback WebSocket echo (ws-echo)" "$raw_rate"
printf '%-44s %.0f cycles/s (asked %s/s; %s attempted, %s completed, %s timed out)\n' \
  "Appel call cycles (max)" "$cycles" "$MAX_RATE" "$(json_num "$max_json" attempted)" \
  "$(json_num "$max_json" completed)" "$(json_num "$max_json" timedOut)"
printf '%-44s %s\n' "frames per cycle (both parties, both ways)" "$frames"
printf '%-44s %s\n' "ratio frames × cycles/s ÷ raw rate" "$ratio"
printf '%-44s %s ms p50, %s p90, %s p99, %s max (%s cycles/s achieved)\n' \
  "setup latency at $LATENCY_RATE/s" "$(json_num "$lat_json" p50)" "$(json_num "$lat_json" p90)" \
  "$(json_num "$lat_json" p99)" "$(json_num "$lat_json" max)" "$(json_num "$lat_json" achievedRate)"
if [ "$AGENTS" -gt 0 ]; then
  printf '%-44s %s of %s, %.0f agents/s, %.0f bytes RSS per agent\n' "idle agents" \
    "$(json_num "$agents_json" connected)" "$AGENTS" "$(json_num "$agents_json" connectRate)" \
    "$(json_num "$agents_json" rssPerAgentBytes)"
fi
printf '\nraw JSON:\necho   %s\nmax    %s\nlat    %s\nagents %s\n' "$echo_json" "$max_json" "$lat_json" "$agents_json"
