#!/usr/bin/env bash
# The single-device netns lab (DESIGN.md, "Lab topologies"): a client, two web
# servers behind a Linux bridge, and sdev in the root namespace routing and
# load-balancing between them through two TAPs.
#
#   scripts/netns-lab.sh up single     build it and leave it running (prints how to use it)
#   scripts/netns-lab.sh down          remove the labs left by `up` (SDEV_LAB_PREFIX: only that one)
#   scripts/netns-lab.sh test single   build, run the scenarios, print a PASS/FAIL table, remove
#   scripts/netns-lab.sh up|test pair  the HA pair lab (scripts/lab/pair.sh): fw1 and fw2, asymmetric
#                                      paths; test: each ha mode and a failover (SDEV_LAB_HA_MODE for up)
#
# Every name gets a per-run prefix (SDEV_LAB_PREFIX, default sd<PID>); a trap
# removes everything (processes by PID, namespaces, links, files) on exit,
# failure or Ctrl-C. Needs root, /dev/net/tun, the built TAP addon and python3.
# Environment: SDEV_LAB_REQUESTS (HTTP requests in scenario a, 100),
# SDEV_LAB_KEEP=1 (keep the state dir with logs), SDEV_LAB_SDEV (command that
# runs sdev; default: node --import tsx src/cli/main.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

usage() {
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

STATE_ROOT=${SDEV_LAB_STATE:-/tmp/sdev-netns-lab}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
TOOLS=$REPO/scripts/lab/tools.py # the Python helpers run inside the namespaces (no ping or nc needed)
say() { echo "lab: $*" >&2; }

# ------------------------------------------------------------------ teardown

# Removes everything recorded in a state dir: processes (sdev first, so its
# TAPs go with its fd), namespaces (bridge and veths go with them), leftover links.
teardown() {
  local d=$1
  [ -d "$d" ] || return 0
  set +e
  local f pid
  for f in "$d"/sdev*.pid; do # sdev.pid; the pair's sdev-fw1.<mode>.pid, sdev-fw2.<mode>.pid
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  if [ -f "$d/pids" ]; then
    while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$d/pids"
  fi
  if [ -f "$d/netns" ]; then
    while read -r ns; do ip netns del "$ns" 2>/dev/null; done <"$d/netns"
  fi
  if [ -f "$d/links" ]; then
    while read -r l; do ip link del "$l" 2>/dev/null; done <"$d/links"
  fi
  if [ "${SDEV_LAB_KEEP:-0}" = 1 ]; then
    say "kept $d"
  else
    rm -rf "$d"
  fi
  set -e
}

# ------------------------------------------------------------------ building

ns_exec() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

need() {
  [ "$(id -u)" = 0 ] || { say "needs root"; exit 1; }
  [ -c /dev/net/tun ] || { say "needs /dev/net/tun"; exit 1; }
  [ -f native/build/Release/sdev_tap.node ] || { say "TAP addon not built: npx node-gyp rebuild -C native"; exit 1; }
}

write_config() {
  cat >"$D/lab.yaml" <<EOF
# sdev single-device lab ($P), written by scripts/netns-lab.sh
device:
  name: lab
control:
  socket: $D/control.sock
zones:
  inside:
    networks: [10.0.1.0/24, 'fd00:1::/64']
  dmz:
    networks: [10.0.2.0/24, 'fd00:2::/64']
  outside:
    default: true
ports:
  - name: lan
    zone: inside
    tap: ${P}t0
    mac: 02:5d:00:00:01:01
    address: [10.0.1.1/24, 'fd00:1::1/64']
    vips: [10.0.0.100, 'fd00::100']
  - name: servers
    zone: dmz
    tap: ${P}t1
    mac: 02:5d:00:00:02:01
    address: [10.0.2.1/24, 'fd00:2::1/64']
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    scheduler: rr
    health-check: { type: tcp, interval: 1, rise: 2, fall: 2 }
    reals:
      - { address: 10.0.2.11, port: 8080 }
      - { address: 10.0.2.12, port: 8080 }
  - name: iperf
    vip: 10.0.0.100
    proto: tcp
    port: 5201
    scheduler: rr
    persistence: 60    # iperf3's control and data connections must reach the same server
    reals:
      - { address: 10.0.2.11, port: 5201 }
      - { address: 10.0.2.12, port: 5201 }
  - name: web6
    vip: 'fd00::100'
    proto: tcp
    port: 80
    scheduler: rr
    reals:
      - { address: 'fd00:2::11', port: 8080 }
      - { address: 'fd00:2::12', port: 8080 }
policy:
  default: drop
  rules:
    - { name: inside-out, from: inside, to: any, action: accept }
EOF
  cp "$D/lab.yaml" "$D/lab.base.yaml"
}

# Starts sdev on $D/lab.yaml, or: start_sdev NAME CONFIG [sdev run options] (log $D/NAME.log, PID $D/NAME.pid).
start_sdev() {
  local cmd=${SDEV_LAB_SDEV:-node --import tsx src/cli/main.ts} n=${1:-sdev} cfg=${2:-$D/lab.yaml}
  local ready=$D/ready
  [ "$n" = sdev ] || ready=$D/$n.ready
  shift $(($# < 2 ? $# : 2))
  # shellcheck disable=SC2086
  $cmd run -c "$cfg" --ready-file "$ready" "$@" >"$D/$n.log" 2>&1 &
  local pid=$!
  echo $pid >"$D/$n.pid"
  disown $pid
  for _ in $(seq 300); do
    [ -f "$ready" ] && return 0
    kill -0 "$pid" 2>/dev/null || { say "sdev exited:"; cat "$D/$n.log" >&2; return 1; }
    sleep 0.1
  done
  say "sdev not ready after 30 s:"
  cat "$D/$n.log" >&2
  return 1
}

# Starts a background command in a namespace and records its PID (ip netns exec execs it).
bg_in() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  echo $! >>"$D/pids"
  echo $! >"${log%.log}.pid"
  disown $!
}

up_single() {
  need
  mkdir -p "$D"
  write_config
  echo "${P}t0" >>"$D/links"
  echo "${P}t1" >>"$D/links"
  start_sdev
  local client=${P}client dmz=${P}dmz
  for ns in "$client" "$dmz" "${P}srv1" "${P}srv2"; do
    echo "$ns" >>"$D/netns"
    ip netns add "$ns"
    ns_exec "$ns" ip link set lo up
  done
  # client side: the TAP is the client's interface
  ip link set dev "${P}t0" netns "$client"
  ns_exec "$client" ip addr add 10.0.1.2/24 dev "${P}t0"
  ns_exec "$client" ip link set "${P}t0" up
  ns_exec "$client" ip route add default via 10.0.1.1
  ns_exec "$client" ip -6 addr add fd00:1::2/64 dev "${P}t0" nodad
  ns_exec "$client" ip -6 route add default via fd00:1::1
  # server side: the TAP joins a bridge in dmz, the servers attach by veth
  ip link set dev "${P}t1" netns "$dmz"
  ns_exec "$dmz" ip link add "${P}br" type bridge
  ns_exec "$dmz" ip link set "${P}t1" master "${P}br"
  for i in 1 2; do
    local srv=${P}srv$i
    ip link add "${P}v$i" netns "$srv" type veth peer name "${P}b$i" netns "$dmz"
    ns_exec "$dmz" ip link set "${P}b$i" master "${P}br"
    ns_exec "$dmz" ip link set "${P}b$i" up
    ns_exec "$srv" ip addr add "10.0.2.1$i/24" dev "${P}v$i"
    ns_exec "$srv" ip link set "${P}v$i" up
    ns_exec "$srv" ip route add default via 10.0.2.1
    ns_exec "$srv" ip -6 addr add "fd00:2::1$i/64" dev "${P}v$i" nodad
    ns_exec "$srv" ip -6 route add default via fd00:2::1
    mkdir -p "$D/www$i"
    echo "srv$i" >"$D/www$i/index.html"
    bg_in "$srv" "$D/http$i.log" "$PY" -m http.server 8080 --bind "10.0.2.1$i" --directory "$D/www$i"
    bg_in "$srv" "$D/http6$i.log" "$PY" -m http.server 8080 --bind "fd00:2::1$i" --directory "$D/www$i"
    if command -v iperf3 >/dev/null; then bg_in "$srv" "$D/iperf$i.log" iperf3 -s -B "10.0.2.1$i" -p 5201; fi
  done
  ns_exec "$dmz" ip link set "${P}t1" up
  ns_exec "$dmz" ip link set "${P}br" up
  # a listener on the client, so scenario b is blocked by the device and not refused by the client
  bg_in "$client" "$D/listen.log" "$PY" "$TOOLS" listen 10.0.1.2 22
  for i in 1 2; do
    wait_web $i || { say "web server srv$i did not start"; cat "$D/http$i.log" >&2; return 1; }
  done
}

# Waits (up to 15 s: http.server looks its address up in DNS first) for srv$1's web server.
wait_web() {
  for _ in $(seq 150); do
    ns_exec "${P}srv$1" "$PY" "$TOOLS" connect "10.0.2.1$1" 8080 1 >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# ------------------------------------------------------------------ scenarios

RESULTS=()
FAILED=0
result() { # PASS|FAIL name detail
  RESULTS+=("$(printf '%-4s  %-46s %s' "$1" "$2" "$3")")
  [ "$1" = PASS ] || FAILED=$((FAILED + 1))
}

check() { # name, then the command; its last output line is the detail
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then result PASS "$name" "$(tail -n1 <<<"$out")"; else result FAIL "$name" "$(tail -n1 <<<"$out")"; fi
}

# shellcheck source=lab/single.sh
. "$REPO/scripts/lab/single.sh"
# shellcheck source=lab/pair.sh
. "$REPO/scripts/lab/pair.sh"

# ------------------------------------------------------------------ main

cmd=${1:-}
topo=${2:-}
case "$cmd" in
  up | test)
    [ "$topo" = single ] || [ "$topo" = pair ] || usage
    P=${SDEV_LAB_PREFIX:-sd$$}
    D=$STATE_ROOT/$P
    [ ! -e "$D" ] || { say "$D exists: run '$0 down' (SDEV_LAB_PREFIX=$P) first"; exit 1; }
    mkdir -p "$STATE_ROOT"
    trap 'teardown "$D"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ "$cmd $topo" = "test pair" ]; then
      test_pair
    elif [ "$topo" = pair ]; then
      up_pair
      touch "$D/persistent"
      trap - EXIT
    elif [ "$cmd" = test ]; then
      test_single
    else
      up_single
      touch "$D/persistent"
      trap - EXIT
      cat <<EOF
lab $P is up (state and logs in $D)
  ip netns exec ${P}client curl http://10.0.0.100/
  ip netns exec ${P}client $PY $TOOLS ping 10.0.2.11 3
  tail -f $D/sdev.log
  SDEV_LAB_PREFIX=$P $0 down
EOF
    fi
    ;;
  down)
    [ -d "$STATE_ROOT" ] || exit 0
    if [ -n "${SDEV_LAB_PREFIX:-}" ]; then
      teardown "$STATE_ROOT/$SDEV_LAB_PREFIX"
    else
      # only labs left by `up`: a `test` running alongside removes its own
      for d in "$STATE_ROOT"/*/; do [ -f "$d/persistent" ] && teardown "${d%/}"; done
    fi
    ;;
  *) usage ;;
esac
