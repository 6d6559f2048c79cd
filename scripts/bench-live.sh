#!/usr/bin/env bash
# `npm run bench:live`: the live device against the Linux kernel doing the same
# job, in one run. Both runs use the single lab's topology and addresses
# (DESIGN.md, "Lab topologies"): client 10.0.1.2/24, srv1 10.0.2.11 and srv2
# 10.0.2.12 behind a bridge, VIP 10.0.0.100 (:80 -> the servers' :8080 round
# robin, :5201 -> their iperf3 with persistence), the same servers and tools.
#
#   device: scripts/netns-lab.sh up single, with the compiled sdev routing
#           between its two TAPs;
#   kernel: a namespace `kfw` in sdev's place (veth to the client, veth into
#           the dmz bridge), ip_forward=1, nftables with conntrack: forward
#           policy drop, established/related accepted, new accepted from the
#           client side, DNAT of the VIP (numgen round robin for :80, jhash of
#           the client address for :5201 so iperf3's connections meet).
#
# Measured on each: iperf3 TCP to VIP:5201 (1 and 2 streams), 64-byte UDP
# payloads client -> srv1 and srv1 -> client (received pps and loss), and the
# latency of short HTTP requests, each on a new connection, to VIP:80 (p50,
# p99). Both labs stay up and the rounds alternate between them; the table
# (device, kernel, device/kernel) has the medians, the JSON every round.
#
# Needs root, iperf3, nft, python3, curl. Every name has a per-run prefix; a
# trap removes the namespaces and processes on exit, failure or Ctrl-C.
# Environment: SDEV_BENCH_LIVE_JSON (results file, default tmp/bench-live.json,
# ignored by git), SDEV_BENCH_LIVE_SECONDS (TCP tests, 10),
# SDEV_BENCH_LIVE_UDP_SECONDS (5), SDEV_BENCH_LIVE_UDP_RATE (iperf3 -b for
# UDP, 0 = as fast as the sender goes), SDEV_BENCH_LIVE_REQUESTS (HTTP, 500),
# SDEV_BENCH_LIVE_ROUNDS (3), SDEV_BENCH_LIVE_QUICK=1 (1 round of 2 s tests
# and 50 requests: checks that the script works),
# SDEV_BENCH_LIVE_BUILD=0 (do not run `npm run build` first).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

say() { echo "bench:live: $*" >&2; }
die() {
  say "$*"
  exit 1
}

if [ "${SDEV_BENCH_LIVE_QUICK:-0}" = 1 ]; then
  T=2 UT=2 N=50 ROUNDS=1
else
  T=${SDEV_BENCH_LIVE_SECONDS:-10} UT=${SDEV_BENCH_LIVE_UDP_SECONDS:-5} N=${SDEV_BENCH_LIVE_REQUESTS:-500}
  ROUNDS=${SDEV_BENCH_LIVE_ROUNDS:-3}
fi
RATE=${SDEV_BENCH_LIVE_UDP_RATE:-0}
OUT=${SDEV_BENCH_LIVE_JSON:-$REPO/tmp/bench-live.json}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
MEASURE=$REPO/bench/live/measure.py
VIP=10.0.0.100

# ------------------------------------------------------------------ checks

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TAPs, nftables)"
[ -n "$PY" ] || die "python3 not found"
for t in iperf3 curl ip; do
  command -v "$t" >/dev/null || die "$t not found (apt-get install $t)"
done
NFT=$(command -v nft || true)
[ -n "$NFT" ] || { [ -x /usr/sbin/nft ] && NFT=/usr/sbin/nft; } || die "nft not found: the kernel run needs nftables (apt-get install nftables)"
[ -c /dev/net/tun ] || die "needs /dev/net/tun"
[ -f native/build/Release/sdev_tap.node ] || die "TAP addon not built: scripts/setup (or npx node-gyp rebuild -C native)"
if [ "${SDEV_BENCH_LIVE_BUILD:-1}" = 1 ]; then
  say "npm run build"
  npm run --silent build >&2 || die "build failed (SDEV_BENCH_LIVE_BUILD=0 uses dist/ as it is)"
fi
[ -f dist/cli/main.js ] || die "dist/ not built: npm run build"

# ------------------------------------------------------------------ state and cleanup

P=sdb$$ # the device lab (scripts/netns-lab.sh)
K=sdk$$ # the kernel lab
RUN=$(mktemp -d /tmp/sdev-bench-live.XXXXXX)
LAB_STATE=${SDEV_LAB_STATE:-/tmp/sdev-netns-lab}/$P

ns_exec() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

kernel_down() {
  if [ -f "$RUN/k-pids" ]; then
    while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$RUN/k-pids"
    rm -f "$RUN/k-pids"
  fi
  if [ -f "$RUN/k-netns" ]; then
    while read -r ns; do ip netns del "$ns" 2>/dev/null; done <"$RUN/k-netns"
    rm -f "$RUN/k-netns"
  fi
}

device_down() {
  SDEV_LAB_PREFIX=$P scripts/netns-lab.sh down
}

cleanup() {
  local rc=$?
  set +e
  device_down
  kernel_down
  local left
  left=$(ip netns list | awk '{print $1}' | grep -E "^($P|$K)" | tr '\n' ' ')
  if [ -n "$left" ]; then
    say "left behind: $left"
    rc=1
  fi
  rm -rf "$RUN"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ the kernel lab

kbg() { # ns log command...: a background process in a namespace, recorded by PID
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  echo $! >>"$RUN/k-pids"
  disown $!
}

kernel_up() {
  local ns
  for ns in client dmz srv1 srv2 kfw; do
    echo "$K$ns" >>"$RUN/k-netns"
    ip netns add "$K$ns"
    ns_exec "$K$ns" ip link set lo up
  done
  local kfw=${K}kfw client=${K}client dmz=${K}dmz
  ip link add "${K}c0" netns "$client" type veth peer name "${K}k0" netns "$kfw"
  ip link add "${K}k1" netns "$kfw" type veth peer name "${K}d0" netns "$dmz"
  ns_exec "$client" ip addr add 10.0.1.2/24 dev "${K}c0"
  ns_exec "$client" ip link set "${K}c0" up
  ns_exec "$client" ip route add default via 10.0.1.1
  ns_exec "$kfw" ip addr add 10.0.1.1/24 dev "${K}k0"
  ns_exec "$kfw" ip addr add 10.0.2.1/24 dev "${K}k1"
  ns_exec "$kfw" ip link set "${K}k0" up
  ns_exec "$kfw" ip link set "${K}k1" up
  ns_exec "$kfw" sysctl -qw net.ipv4.ip_forward=1
  ns_exec "$kfw" "$NFT" -f - <<EOF
table ip kfw {
  chain dnat_in {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr $VIP tcp dport 80 dnat to numgen inc mod 2 map { 0 : 10.0.2.11, 1 : 10.0.2.12 } : 8080
    ip daddr $VIP tcp dport 5201 dnat to jhash ip saddr mod 2 map { 0 : 10.0.2.11, 1 : 10.0.2.12 } : 5201
  }
  chain filter_fw {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "${K}k0" ct state new accept
  }
}
EOF
  ns_exec "$dmz" ip link add "${K}br" type bridge
  ns_exec "$dmz" ip link set "${K}d0" master "${K}br"
  local i srv
  for i in 1 2; do
    srv=${K}srv$i
    ip link add "${K}v$i" netns "$srv" type veth peer name "${K}b$i" netns "$dmz"
    ns_exec "$dmz" ip link set "${K}b$i" master "${K}br"
    ns_exec "$dmz" ip link set "${K}b$i" up
    ns_exec "$srv" ip addr add "10.0.2.1$i/24" dev "${K}v$i"
    ns_exec "$srv" ip link set "${K}v$i" up
    ns_exec "$srv" ip route add default via 10.0.2.1
    mkdir -p "$RUN/www$i"
    echo "srv$i" >"$RUN/www$i/index.html"
    kbg "$srv" "$RUN/k-http$i.log" "$PY" -m http.server 8080 --bind "10.0.2.1$i" --directory "$RUN/www$i"
    kbg "$srv" "$RUN/k-iperf$i.log" iperf3 -s -B "10.0.2.1$i" -p 5201
  done
  ns_exec "$dmz" ip link set "${K}d0" up
  ns_exec "$dmz" ip link set "${K}br" up
  for i in 1 2; do
    ns_exec "${K}srv$i" "$PY" "$MEASURE" wait "10.0.2.1$i" 8080 10 || die "kernel lab: web server srv$i did not start"
    ns_exec "${K}srv$i" "$PY" "$MEASURE" wait "10.0.2.1$i" 5201 10 || die "kernel lab: iperf3 on srv$i did not start"
  done
}

# ------------------------------------------------------------------ measurements

iperf() { # ns out.json iperf3-args...: a test whose JSON lands in out.json, failures included
  local ns=$1 out=$2
  shift 2
  sleep 1 # the server takes a moment to accept the next test
  ns_exec "$ns" iperf3 -J "$@" >"$out" 2>>"$RUN/iperf-errors.log" || say "iperf3 $* failed (see the table)"
}

measure() { # side client-namespace round
  local side=$1 ns=$2 round=$3 out=$RUN/$1/r$3 body i
  mkdir -p "$out"
  for i in $(seq 20); do # up to 10 s: the lab's health checks need two probes to put the reals up
    body=$(ns_exec "$ns" curl -s --max-time 2 "http://$VIP/" || true)
    case "$body" in
      srv1 | srv2) break ;;
    esac
    [ "$i" = 20 ] && die "$side: http://$VIP/ from the client did not answer srv1 or srv2 (got '$body')"
    sleep 0.5
  done
  if [ "$round" = 1 ]; then
    say "$side: warm-up (20 requests, 2 s of TCP)"
    ns_exec "$ns" "$PY" "$MEASURE" http "$VIP" 80 20 0 >/dev/null || true
    ns_exec "$ns" iperf3 -c "$VIP" -p 5201 -t 2 >/dev/null 2>&1 || true
  fi
  cut -d' ' -f1 /proc/loadavg >"$out/load"
  say "$side round $round (load $(cut -d' ' -f1-3 /proc/loadavg)): TCP ${T} s x2, UDP ${UT} s x2, $N HTTP requests"
  iperf "$ns" "$out/tcp1.json" -c "$VIP" -p 5201 -t "$T"
  iperf "$ns" "$out/tcp2.json" -c "$VIP" -p 5201 -t "$T" -P 2
  iperf "$ns" "$out/udp-up.json" -c 10.0.2.11 -p 5201 -u -l 64 -b "$RATE" -t "$UT"
  iperf "$ns" "$out/udp-down.json" -c 10.0.2.11 -p 5201 -u -l 64 -b "$RATE" -t "$UT" -R
  sleep 1
  ns_exec "$ns" "$PY" "$MEASURE" http "$VIP" 80 "$N" 10 >"$out/http.json" || say "$side: some HTTP requests failed"
}

sdev_alive() {
  kill -0 "$(cat "$LAB_STATE/sdev.pid" 2>/dev/null)" 2>/dev/null && return 0
  say "sdev exited during the device run; its log:"
  tail -n 30 "$LAB_STATE/sdev.log" >&2 || true
  return 1
}

# Both labs stay up and the rounds alternate (device, kernel, device, ...), so
# both see the same background load; the idle one costs nothing.
say "device lab: scripts/netns-lab.sh up single (prefix $P, node bin/sdev.js)"
SDEV_LAB_PREFIX=$P SDEV_LAB_SDEV="node $REPO/bin/sdev.js" timeout --foreground -k 5 120 \
  scripts/netns-lab.sh up single >/dev/null || die "scripts/netns-lab.sh up single failed"
say "kernel lab: namespace ${K}kfw with nftables in sdev's place (prefix $K)"
kernel_up
for round in $(seq "$ROUNDS"); do
  measure device "${P}client" "$round"
  sdev_alive || {
    SDEV_DIED=1
    break
  }
  measure kernel "${K}client" "$round"
done
device_down
kernel_down

echo
echo "bench:live, $(date +%F), $(nproc) CPUs, Linux $(uname -r); TCP ${T} s, UDP ${UT} s at -b $RATE, $N HTTP requests"
"$PY" "$MEASURE" report "$RUN" "$OUT"
[ -z "${SDEV_DIED:-}" ] || die "sdev exited during the run: the figures above are partial"
