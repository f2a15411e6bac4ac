# Shared by the benchmark scripts: release binaries, a local server on a free loopback port, and
# reading numbers out of the one-line JSON `appel bench … --json` prints. Source it; don't run it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# cargo puts the binaries under CARGO_TARGET_DIR when it is set; an absolute path is expected.
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
APPEL="$BIN_DIR/appel"
WS_ECHO="$BIN_DIR/ws-echo"
WORK="$(mktemp -d /tmp/appel-bench.XXXXXX)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

build_release() {
  # Always ask cargo: it is a no-op when the binaries are fresh, and a stale binary would measure old
  # code.
  echo "building release binaries (cargo build --release -p appel --bins)…" >&2
  (cd "$ROOT" && cargo build --release --locked -p appel --bins) >&2
}

# Every agent holds a socket on each side: raise the open-files limit (the hard one too as root).
raise_limits() {
  ulimit -Hn 1048576 2>/dev/null || true
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# wait_line FILE PATTERN: the first line of FILE matching PATTERN, within 15 s.
wait_line() {
  local file="$1" pattern="$2" line
  for _ in $(seq 1 150); do
    line="$(grep -m1 -E "$pattern" "$file" 2>/dev/null || true)"
    if [ -n "$line" ]; then echo "$line"; return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for /$pattern/ in $file:" >&2
  cat "$file" >&2
  return 1
}

# start_appel: starts `appel serve` on 127.0.0.1 with a free port; sets APPEL_URL, APPEL_PID and
# exports APPEL_ACCESS_KEY.
start_appel() {
  export APPEL_ACCESS_KEY="bench-$(date +%s)-$RANDOM"
  local data="$WORK/appel-data-$RANDOM"
  RUST_LOG=warn "$APPEL" serve --listen 127.0.0.1:0 --data "$data" >"$WORK/serve.out" 2>"$WORK/serve.err" &
  APPEL_PID=$!
  PIDS+=("$APPEL_PID")
  APPEL_URL="$(wait_line "$WORK/serve.out" 'listening on http://' | grep -oE 'http://[0-9.:]+')"
}

stop_appel() {
  kill "$APPEL_PID" 2>/dev/null || true
  wait "$APPEL_PID" 2>/dev/null || true
}

# json_num JSON KEY: the number after "KEY": in a one-line JSON object.
json_num() {
  echo "$1" | grep -oE "\"$2\":[-0-9.e+]+" | head -1 | cut -d: -f2
}

machine() {
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
}
