#!/usr/bin/env bash
# A peer measured on this machine in the same run: sipp UAC → Kamailio (stateful proxy with a
# registrar, record-routing) → sipp UAS, all on loopback UDP, at rising call rates until a step no
# longer keeps up (more than 1 call in 1,000 failed, or under 95 % of the asked rate); then Appel's
# call cycles at the same rising rates and by the same rule. Prints both sustained rates and their
# ratio. Failed calls are explained in uac-RATE-errors.log of the work folder (KEEP_WORK=1 keeps it).
#
# A SIP call here is INVITE/100/180/200/ACK … BYE/200 through the proxy; an Appel cycle is
# start → ringing → accept → connected → hang-up through the server. Both are "set up a call and
# tear it down"; neither carries media.
#
#   benchmarks/kamailio-sipp.sh     # knobs: RATES, STEP_SECONDS, CALLERS, SKIP_APPEL=1 (SIP side only)
set -euo pipefail
source "$(dirname "$0")/common.sh"

RATES="${RATES:-250 500 1000 1250 1500 1750 2000 2500 3000 4000 6000 8000 12000 16000}"
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
# UDP receive buffers as large as the kernel allows without a sysctl change (net.core.rmem_max is
# 4 MiB here): with the 208 KiB default, sipp's single-threaded UAC dropped datagrams from 2,000
# calls/s on, and each drop costs a 500 ms retransmission.
UDP_BUFFER="$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 4194304)"
cat >"$WORK/kamailio.cfg" <<CFG
#!KAMAILIO
debug=0
log_stderror=yes
memdbg=5
memlog=5
children=2
maxbuffer=$UDP_BUFFER
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
  <!-- The proxy's two workers may relay the 180 after the 200: a real user agent ignores a late
       provisional response, so one is accepted here (sipp's optional="global" would instead send
       the call back to the INVITE step). -->
  <recv response="180" optional="true"/>
  <recv response="200"/>
</scenario>
XML
sed -i "s/UAS_PORT/$UAS_PORT/" "$WORK/register.xml"
sipp -sf "$WORK/register.xml" -i 127.0.0.1 -p 15090 -m 1 -nostdin -timeout 5s \
  "127.0.0.1:$PROXY_PORT" >"$WORK/register.log" 2>&1 || { echo "the UAS registration failed" >&2; cat "$WORK/register.log" >&2; exit 1; }

# The callee: answers at once and ends on the caller's BYE. The proxy's two workers may relay the
# ACK after the BYE (the caller sends them back to back); sipp's built-in `uas` aborts the call
# then, this one accepts the late ACK.
cat >"$WORK/uas.xml" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer at once">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]a[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]a[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=callee 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK" optional="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <!-- Stay a while to absorb a late ACK (relayed after the BYE) or answer a retransmitted BYE. -->
  <recv request="ACK" timeout="4000" ontimeout="done"/>
  <label id="done"/>
</scenario>
XML
sipp -sf "$WORK/uas.xml" -i 127.0.0.1 -p "$UAS_PORT" -buff_size "$UDP_BUFFER" -nostdin -bg >"$WORK/uas.log" 2>&1 || true
uas_pid="$(pgrep -n -f "sipp -sf $WORK/uas.xml" || true)"
[ -n "$uas_pid" ] && PIDS+=("$uas_pid")
sleep 0.5

# The caller's scenario. sipp's built-in `uac` sends its ACK and BYE to the proxy's own address
# with no Route header, which a record-routing proxy can only relay back to itself: every in-dialog
# request looped through Kamailio until Max-Forwards ran out (that is what exhausted its shared
# memory and lost calls even at 100/s). A real user agent keeps the route set of the 200 (rrs) and
# sends in-dialog requests to the callee's Contact through the recorded route; this one does.
cat >"$WORK/uac.xml" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call through a record-routing proxy">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]c[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]c[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <!-- No pause: hang up at once, as an Appel cycle does. -->
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]c[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <!-- The proxy's two workers may relay the 180 after the 200: a real user agent ignores a late
       provisional response, so one is accepted here (sipp's optional="global" would instead send
       the call back to the INVITE step). -->
  <recv response="180" optional="true"/>
  <recv response="200"/>
</scenario>
XML

# sip_step RATE: "achieved_calls_per_second failed_calls" for STEP_SECONDS at RATE.
sip_step() {
  local rate="$1" calls=$(( $1 * STEP_SECONDS )) code=0
  sipp -sf "$WORK/uac.xml" -i 127.0.0.1 -p "$UAC_PORT" -s uas -r "$rate" -m "$calls" -l $(( rate * 2 + 100 )) \
    -buff_size "$UDP_BUFFER" -nostdin -timeout $(( STEP_SECONDS * 3 + 10 ))s -recv_timeout 5000 \
    -trace_stat -fd 100ms -stf "$WORK/uac-$rate.csv" -trace_err -error_file "$WORK/uac-$rate-errors.log" \
    "127.0.0.1:$PROXY_PORT" >"$WORK/uac-$rate.log" 2>&1 || code=$?
  # -trace_stat rows (';'-separated, every 100 ms): the start and current times hold the epoch as
  # their third tab-separated part. The achieved rate is the successful calls over the time until
  # the last of them completed, so a failed call waiting out its receive timeout does not stretch
  # it (Appel's figure has no such tail: its cycles fail fast or not at all).
  awk -F';' -v calls="$calls" -v code="$code" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    {
      split($col["StartTime"], st, "\t"); split($col["CurrentTime"], ct, "\t")
      ok = $col["SuccessfulCall(C)"] + 0; failed = $col["FailedCall(C)"] + 0
      if (ok > last_ok) { last_ok = ok; t_ok = ct[3] - st[3] }
    }
    END {
      if (NR < 2) { printf "0 %d\n", calls; exit }
      if (code != 0 && failed == 0) failed = calls - last_ok
      printf "%.0f %d\n", (t_ok > 0 ? last_ok / t_ok : 0), failed
    }' "$WORK/uac-$rate.csv"
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
    # Kept up: at most one call in a thousand failed and ≥ 95 % of the asked rate was reached.
    if [ $(( failed * 1000 )) -gt $(( rate * STEP_SECONDS )) ] || [ "$achieved" -lt $(( rate * 95 / 100 )) ]; then break; fi
    SUSTAINED="$achieved"
  done
}

rising sip_step "kamailio"
sip_sustained="$SUSTAINED"
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done

appel_sustained=0
if [ "${SKIP_APPEL:-0}" = 1 ]; then
  echo "SKIP_APPEL=1: Appel not measured in this run" >&2
else
  start_appel
  rising appel_step "appel"
  appel_sustained="$SUSTAINED"
  stop_appel
fi

printf '\n%-52s %s\n' "sustained calls/s (same run; see 'kept up' above)" "value"
printf '%-52s %s\n' "sipp → Kamailio (stateful proxy + registrar) → sipp" "$sip_sustained"
printf '%-52s %s\n' "Appel SDK → Appel server → Appel SDK" "$appel_sustained"
printf '%-52s %s\n' "ratio Appel ÷ Kamailio" \
  "$(awk -v a="$appel_sustained" -v k="$sip_sustained" 'BEGIN { if (k > 0) printf "%.2f", a / k; else print "n/a" }')"
