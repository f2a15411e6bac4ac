#!/usr/bin/env bash
# The media server's forwarding cost next to this machine's raw loopback UDP rate, both measured in
# this one run: `appel bench udp` (a sendto and its recvfrom per datagram, the baseline), then
# `appel bench media` at a few room sizes, each against a fresh server the bench starts itself.
#
#   benchmarks/media.sh                            # the sizes below
#   SIZES="4x2x8 10x2x18" DURATION=20 benchmarks/media.sh
#
# A size is ROOMSxPUBLISHERSxSUBSCRIBERS. Every publisher sends VP8-sized video at VIDEO_KBPS
# (30 fps) and, unless NO_AUDIO=1, Opus-sized audio at 50 packets/s. The ratio printed is the
# server's forwarded packets per CPU-second ÷ raw datagrams per CPU-second: the share of what bare
# sockets could move that the SFU reaches (each forwarded packet costs the server one sendto, plus
# its share of the publisher's packet it decrypted once).
set -euo pipefail
source "$(dirname "$0")/common.sh"

SIZES="${SIZES:-4x2x6 8x2x6 4x4x12}"
DURATION="${DURATION:-15}"
WARMUP="${WARMUP:-3}"
VIDEO_KBPS="${VIDEO_KBPS:-500}"
NO_AUDIO="${NO_AUDIO:-0}"

build_release
raise_limits
echo "machine: $(machine)"

udp_json="$("$APPEL" bench udp --pairs 2 --duration 3s --json)"
raw_per_cpu="$(json_num "$udp_json" datagramsPerCpuSecond)"
printf '\nraw loopback UDP: %.0f datagrams/s, %.0f per CPU-second (%s µs each)\n\n' \
  "$(json_num "$udp_json" datagramsPerSecond)" "$raw_per_cpu" "$(json_num "$udp_json" cpuUsPerDatagram)"

audio_flag=()
if [ "$NO_AUDIO" = 1 ]; then audio_flag=(--no-audio); fi

printf '%-12s %8s %8s %10s %9s %9s %8s %10s %10s %9s %7s\n' \
  "rooms×P×S" "video" "streams" "packets/s" "v.loss" "a.loss" "srv.cores" "video/core" "bytes/str" "clients" "ratio"
all=()
for size in $SIZES; do
  IFS=x read -r rooms pubs subs <<<"$size"
  json="$("$APPEL" bench media --rooms "$rooms" --publishers "$pubs" --subscribers "$subs" \
    --warmup "${WARMUP}s" --duration "${DURATION}s" --video-kbps "$VIDEO_KBPS" "${audio_flag[@]}" --json)"
  all+=("$size $json")
  packets="$(json_num "$json" forwardedPacketsPerSecond)"
  cores="$(json_num "$json" serverCores)"
  ratio="$(awk -v p="$packets" -v c="$cores" -v r="$raw_per_cpu" 'BEGIN { if (c > 0 && r > 0) printf "%.3f", p / c / r; else print "n/a" }')"
  video_loss="$(echo "$json" | grep -oE '"video":\{[^}]*\}' | grep -oE '"loss":[-0-9.e+]+' | cut -d: -f2)"
  audio_loss="$(echo "$json" | grep -oE '"audio":\{[^}]*\}' | grep -oE '"loss":[-0-9.e+]+' | cut -d: -f2)"
  video_streams="$(echo "$json" | grep -oE '"video":\{[^}]*\}' | grep -oE '"streams":[0-9]+' | cut -d: -f2)"
  printf '%-12s %8s %8s %10.0f %9.5f %9.5f %8.3f %10.0f %10.0f %9.3f %7s\n' \
    "$size" "$video_streams" "$(echo "$json" | grep -oE '"streams":[0-9]+' | tail -1 | cut -d: -f2)" "$packets" "$video_loss" "$audio_loss" \
    "$cores" "$(json_num "$json" videoStreamsPerCore)" "$(json_num "$json" rssPerStreamBytes)" \
    "$(json_num "$json" clientCores)" "$ratio"
done
printf '\nratio = forwarded packets per server CPU-second ÷ raw datagrams per CPU-second\n'
printf '\nraw JSON:\nudp   %s\n' "$udp_json"
for line in "${all[@]}"; do printf '%s\n' "$line"; done
