#!/usr/bin/env bash
# Soak: a long run of call cycles at a steady rate against one release server, to show that nothing
# accumulates. The server's RSS is sampled all along; at the end the script checks, and fails on:
#
#   1. memory: RSS is flat after warm-up. The first quarter of the samples is warm-up; the plateau
#      is the highest RSS of the second quarter; the highest RSS of the last quarter must stay
#      within RSS_TOLERANCE % (default 10) of that plateau.
#   2. records: the database holds exactly one call per cycle started (the load tool's probe calls
#      set aside), and every cycle completed.
#   3. ends: every call record has an end, and no leg is left without one.
#
#   benchmarks/soak.sh                          # one million cycles at 2000/s (about 9 minutes)
#   CYCLES=100000 RATE=1000 benchmarks/soak.sh  # a short run that checks the script itself
#
# The warm-up is real: the record writer's SQLite page cache (32 MiB) fills as the database grows,
# which takes about 20,000 cycles (about 57 MiB RSS on the run in docs/performance.md). A run much
# shorter than 80,000 cycles ends while the cache is still filling and fails the memory check. The
# database takes about 1.7 KB of disk per cycle (1.7 GB for the full million, under $TMPDIR).
#
# `appel bench calls` runs at most 10 minutes, so a long soak is a series of back-to-back runs on
# the same server; each run signs its agents in again, which the warm-up absorbs.
set -euo pipefail
source "$(dirname "$0")/common.sh"

CYCLES="${CYCLES:-1000000}"        # call cycles in all
RATE="${RATE:-2000}"               # cycle starts per second
CALLERS="${CALLERS:-200}"          # pairs of SDK agents per run
SAMPLE="${SAMPLE:-2}"              # seconds between RSS samples
RSS_TOLERANCE="${RSS_TOLERANCE:-10}" # % the last quarter may exceed the plateau by
SEGMENT_MAX=600                    # longest single `appel bench calls` run, in seconds

command -v python3 >/dev/null || { echo "soak.sh needs python3 (its sqlite3 module reads the records)" >&2; exit 2; }

build_release
raise_limits
echo "machine: $(machine)"
echo "soak: $CYCLES cycles at $RATE/s, $CALLERS caller pairs, RSS every ${SAMPLE}s"

export APPEL_ACCESS_KEY="soak-$(date +%s)-$RANDOM"
DATA="$WORK/data"
RUST_LOG=warn "$APPEL" serve --listen 127.0.0.1:0 --data "$DATA" >"$WORK/serve.out" 2>"$WORK/serve.err" &
APPEL_PID=$!
PIDS+=("$APPEL_PID")
APPEL_URL="$(wait_line "$WORK/serve.out" 'listening on http://' | grep -oE 'http://[0-9.:]+')"

# RSS sampler: "seconds-since-start rss-kib" per line, until the server exits or the sampler is told
# to stop.
RSS_LOG="$WORK/rss.log"
(
  t0=$(date +%s.%N)
  while [ -r "/proc/$APPEL_PID/status" ]; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$APPEL_PID/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.1f", a-b}') $rss"
    sleep "$SAMPLE"
  done
) >"$RSS_LOG" &
SAMPLER=$!
PIDS+=("$SAMPLER")

attempted=0
completed=0
timed_out=0
runs=0
started=$(date +%s)
while [ "$attempted" -lt "$CYCLES" ]; do
  left=$((CYCLES - attempted))
  seconds=$(awk -v n="$left" -v r="$RATE" -v m="$SEGMENT_MAX" 'BEGIN { s = int(n / r + 0.999999); if (s > m) s = m; if (s < 1) s = 1; print s }')
  # A run starts ceil(rate × duration) cycles; the last one asks for a rate (rounded down to a
  # millionth) that lands on exactly the cycles left.
  rate=$(awk -v n="$left" -v r="$RATE" -v s="$seconds" 'BEGIN { if (n < r * s) printf "%.6f", int(n / s * 1000000) / 1000000; else print r }')
  json="$("$APPEL" bench calls --server "$APPEL_URL" --callers "$CALLERS" --rate "$rate" --duration "$seconds" --json)"
  runs=$((runs + 1))
  a="$(json_num "$json" attempted)"; c="$(json_num "$json" completed)"; t="$(json_num "$json" timedOut)"
  if [ "${a:-0}" -eq 0 ]; then echo "run $runs started no cycle: $json" >&2; exit 1; fi
  attempted=$((attempted + a)); completed=$((completed + c)); timed_out=$((timed_out + t))
  echo "run $runs: ${seconds}s at ${rate}/s: $a attempted, $c completed, $t timed out (total $attempted/$CYCLES); $(tail -1 "$RSS_LOG" | awk '{printf "RSS %.1f MiB", $2/1024}')"
  echo "  $json" >>"$WORK/runs.json"
done
elapsed=$(( $(date +%s) - started ))

# Let a last sample land, then stop the server gracefully: shutdown commits every pending record.
sleep "$SAMPLE"
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
stop_appel

fail=0
check() { # check OK|FAIL text
  printf '%-6s %s\n' "$1" "$2"
  [ "$1" = OK ] || fail=1
}

echo
echo "soak: $attempted cycles in ${elapsed}s over $runs run(s) ($(awk -v a="$attempted" -v e="$elapsed" 'BEGIN{printf "%.0f", a/(e>0?e:1)}')/s achieved), $completed completed, $timed_out timed out"

# 1. Memory.
read -r samples warm plateau last_max first_rss final_rss < <(awk -v tol="$RSS_TOLERANCE" '
  { rss[NR] = $2 }
  END {
    n = NR; q = int(n / 4)
    if (q < 1) { print n, 0, 0, 0, rss[1]+0, rss[n]+0; exit }
    plateau = 0; for (i = q + 1; i <= 2 * q; i++) if (rss[i] > plateau) plateau = rss[i]
    last = 0; for (i = n - q + 1; i <= n; i++) if (rss[i] > last) last = rss[i]
    print n, q, plateau, last, rss[1], rss[n]
  }' "$RSS_LOG")
if [ "$warm" -lt 1 ]; then
  check FAIL "RSS: only $samples sample(s); run longer or lower SAMPLE"
else
  growth=$(awk -v p="$plateau" -v l="$last_max" 'BEGIN { printf "%.1f", (l - p) * 100 / p }')
  verdict=$(awk -v g="$growth" -v t="$RSS_TOLERANCE" 'BEGIN { print (g <= t) ? "OK" : "FAIL" }')
  check "$verdict" "RSS flat after warm-up: plateau (max of samples $((warm + 1))–$((2 * warm))) $((plateau / 1024)) MiB, last quarter max $((last_max / 1024)) MiB, ${growth}% (limit ${RSS_TOLERANCE}%); first $((first_rss / 1024)) MiB, final $((final_rss / 1024)) MiB, $samples samples"
fi

# 2 and 3. Records, read straight from the database the server wrote.
read -r calls probes unended open_legs legs < <(python3 - "$DATA/appel.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
q = lambda sql: db.execute(sql).fetchone()[0]
# The load tool's probe call (one per run) signs in with endpoint ids of its own.
probe = "SELECT DISTINCT call_id FROM legs WHERE endpoint_id LIKE 'probe-%'"
print(
    q(f"SELECT COUNT(*) FROM calls WHERE id NOT IN ({probe})"),
    q(f"SELECT COUNT(*) FROM ({probe})"),
    q("SELECT COUNT(*) FROM calls WHERE ended_ms IS NULL OR end_code IS NULL"),
    q("SELECT COUNT(*) FROM legs WHERE left_ms IS NULL OR code IS NULL"),
    q("SELECT COUNT(*) FROM legs"),
)
EOF
)
[ "$calls" -eq "$attempted" ] && v=OK || v=FAIL
check "$v" "records: $calls call records for $attempted cycles started ($probes probe call(s) of the load tool set aside)"
[ "$completed" -eq "$attempted" ] && [ "$timed_out" -eq 0 ] && v=OK || v=FAIL
check "$v" "cycles: $completed of $attempted completed, $timed_out timed out"
[ "$unended" -eq 0 ] && [ "$open_legs" -eq 0 ] && v=OK || v=FAIL
check "$v" "ends: $unended call(s) and $open_legs of $legs leg(s) without an end"

if [ "${KEEP_WORK:-0}" = 1 ]; then echo "RSS samples: $RSS_LOG"; fi
exit "$fail"
