#!/usr/bin/env bash
# A peer measured on this machine in the same run: sipp UAC → Kamailio (stateful proxy with a
# registrar, record-routing) → sipp UAS, all on loopback UDP, at rising call rates until calls fail;
# then Appel's call cycles at the same rising rates. Prints both sustained rates and their ratio.
#
# A SIP call here is INVITE/100/180/200/ACK … BYE/200 through the proxy; an Appel cycle is
# start → ringing → accept → connected → hang-up through the server. Both are "set up a call and
# tear it down"; neither carries media.
#
#   benchmarks/kamailio-sipp.sh                 # RATES and STEP_SECONDS can be overridden
set -euo pipefail
source "$(dirname "$0")/common.sh"

RATES="${RATES:-250 500 1000 2000 3000 4000 6000 8000 12000 16000}"
STEP_SECONDS="${STEP_SECONDS:-8}"
CALLERS="${CALLERS:-400}"

if ! command -v kamailio >/dev/null || ! command -v sipp >/dev/null; then
  echo "installing kamailio and sip-tester (sipp) from Debian…" >&2
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kamailio sip-tester) >&2 || true
  fi
fi
if ! command -v kamailio >/dev/null || ! command -v sipp >/dev/null; then
  echo "ERROR: kamailio and sipp are not installed and could not be installed here" >&2
  echo "       (needs root and Debian's packages 'kamailio' and 'sip-tester'); nothing was measured." >&2
  exit 1
fi
tm_module="$(set +o pipefail; dpkg -L kamailio 2>/dev/null | grep '/modules/tm.so$' | head -1)"
modules="$(dirname "${tm_module:-/usr/lib/x86_64-linux-gnu/kamailio/modules/tm.so}")"

build_release
raise_limits
echo "machine: $(machine)"
echo "kamailio: $(kamailio -v 2>/dev/null | head -1)"
echo "sipp: $(sipp -v 2>/dev/null | grep -m1 -o 'SIPp v[^ ]*')"

PROXY_PORT=15060; UAS_PORT=15070; UAC_PORT=15080
cat >"$WORK/kamailio.cfg" <<CFG
#!KAMAILIO
debug=0
log_stderror=yes
memdbg=5
memlog=5
children=2
auto_aliases=no
listen=udp:127.0.0.1:$PROXY_PORT
mpath="$modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
modparam("usrloc", "db_mode", 0)
modparam("rr", "enable_full_lr", 1)

request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("REGISTER")) { save("location"); exit; }
  if (has_totag()) {
    # In-dialog requests (ACK of the 200, BYE) follow the route set when sipp sends one, and the
    # Request-URI (the UAS contact) otherwise.
    loose_route();
    t_relay();
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  record_route();
  if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
  if (!t_relay()) { sl_reply_error(); }
}
CFG
kamailio -c -f "$WORK/kamailio.cfg" >"$WORK/kamailio-check.log" 2>&1 || { cat "$WORK/kamailio-check.log" >&2; exit 1; }
kamailio -DD -E -f "$WORK/kamailio.cfg" -m 1024 -M 32 >"$WORK/kamailio.log" 2>&1 &
PIDS+=($!)
sleep 1

cat >"$WORK/register.xml" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register the UAS">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:uas@[remote_ip]>;tag=[call_number]
      To: <sip:uas@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:uas@127.0.0.1:UAS_PORT>
      Expires: 3600
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
XML
sed -i "s/UAS_PORT/$UAS_PORT/" "$WORK/register.xml"
sipp -sf "$WORK/register.xml" -i 127.0.0.1 -p 15090 -m 1 -nostdin -timeout 5s \
  "127.0.0.1:$PROXY_PORT" >"$WORK/register.log" 2>&1 || { echo "the UAS registration failed" >&2; cat "$WORK/register.log" >&2; exit 1; }

sipp -sn uas -i 127.0.0.1 -p "$UAS_PORT" -nostdin -bg >"$WORK/uas.log" 2>&1 || true
uas_pid="$(pgrep -n -f "sipp -sn uas -i 127.0.0.1 -p $UAS_PORT" || true)"
[ -n "$uas_pid" ] && PIDS+=("$uas_pid")
sleep 0.5

# sip_step RATE: "achieved_calls_per_second failed_calls" for STEP_SECONDS at RATE.
sip_step() {
  local rate="$1" calls=$(( $1 * STEP_SECONDS )) start end code stats
  start=$(date +%s.%N)
  code=0
  sipp -sn uac -i 127.0.0.1 -p "$UAC_PORT" -s uas -d 0 -r "$rate" -m "$calls" -l $(( rate * 2 + 100 )) \
    -nostdin -timeout $(( STEP_SECONDS * 3 + 10 ))s -recv_timeout 5000 -trace_stat -stf "$WORK/uac-$rate.csv" \
    "127.0.0.1:$PROXY_PORT" >"$WORK/uac-$rate.log" 2>&1 || code=$?
  end=$(date +%s.%N)
  stats="$(tail -1 "$WORK/uac-$rate.csv" 2>/dev/null)"
  # -trace_stat columns (semicolon separated): SuccessfulCall(C) is field 16, FailedCall(C) 18.
  local ok failed
  ok="$(echo "$stats" | awk -F';' '{print $16}')"
  failed="$(echo "$stats" | awk -F';' '{print $18}')"
  [ -z "$ok" ] && ok=0
  [ -z "$failed" ] && failed=$calls
  [ "$code" -ne 0 ] && [ "$failed" = 0 ] && failed=1
  awk -v ok="$ok" -v s="$start" -v e="$end" -v f="$failed" 'BEGIN { printf "%.0f %d\n", ok / (e - s), f }'
}

# appel_step RATE: "achieved_cycles_per_second failed_cycles".
appel_step() {
  local json attempted completed
  json="$("$APPEL" bench calls --server "$APPEL_URL" --callers "$CALLERS" --rate "$1" --duration "$STEP_SECONDS" --json)"
  attempted="$(json_num "$json" attempted)"; completed="$(json_num "$json" completed)"
  awk -v a="$attempted" -v c="$completed" -v r="$(json_num "$json" achievedRate)" 'BEGIN { printf "%.0f %d\n", r, a - c }'
}

# rising STEP: runs STEP at each rate while it keeps up (no failure and ≥ 95% of the asked rate);
# prints each step and sets SUSTAINED to the best rate of a step that kept up.
rising() {
  local step="$1" label="$2" rate out achieved failed
  SUSTAINED=0
  for rate in $RATES; do
    out="$($step "$rate")"; achieved="${out% *}"; failed="${out#* }"
    printf '%-8s asked %6s/s  achieved %6s/s  failed %s\n' "$label" "$rate" "$achieved" "$failed"
    if [ "$failed" -gt 0 ] || [ "$achieved" -lt $(( rate * 95 / 100 )) ]; then break; fi
    SUSTAINED="$achieved"
  done
}

rising sip_step "kamailio"
sip_sustained="$SUSTAINED"
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done

start_appel
rising appel_step "appel"
appel_sustained="$SUSTAINED"
stop_appel

printf '\n%-52s %s\n' "sustained calls/s without failures (same run)" "value"
printf '%-52s %s\n' "sipp → Kamailio (stateful proxy + registrar) → sipp" "$sip_sustained"
printf '%-52s %s\n' "Appel SDK → Appel server → Appel SDK" "$appel_sustained"
printf '%-52s %s\n' "ratio Appel ÷ Kamailio" \
  "$(awk -v a="$appel_sustained" -v k="$sip_sustained" 'BEGIN { if (k > 0) printf "%.2f", a / k; else print "n/a" }')"
