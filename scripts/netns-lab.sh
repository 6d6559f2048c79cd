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

# Python helpers run inside the namespaces (no ping or nc needed).
write_tools() {
  cat >"$D/tools.py" <<'EOF'
import os, select, socket, struct, sys, time

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ping(dst, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident, got = os.getpid() & 0xffff, 0
    for seq in range(1, count + 1):
        body = struct.pack('!HH', ident, seq) + b'sdev-lab' * 4
        s.sendto(struct.pack('!BBH', 8, 0, csum(b'\x08\0\0\0' + body)) + body, (dst, 0))
        until = time.time() + 2
        while time.time() < until:
            r, _, _ = select.select([s], [], [], until - time.time())
            if not r: break
            pkt, addr = s.recvfrom(2048)
            icmp = pkt[(pkt[0] & 15) * 4:]
            if addr[0] == dst and icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (ident, seq):
                got += 1
                break
        time.sleep(0.1)
    print('%d/%d' % (got, count))
    sys.exit(0 if got == count else 1)

def connect(host, port, timeout):
    try:
        socket.create_connection((host, int(port)), timeout=float(timeout)).close()
        print('connected'); sys.exit(0)
    except socket.timeout:
        print('timed out'); sys.exit(1)
    except OSError as e:
        print(e.strerror or str(e)); sys.exit(1)

def listen(host, port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port))); s.listen(16)
    while True: s.accept()[0].close()

def idle_server(host, port, silence):
    # one connection: read the greeting, stay silent, then send one more line
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port))); s.listen(1)
    c = s.accept()[0]; c.recv(100)
    time.sleep(float(silence))
    try: c.sendall(b'late\n')
    except OSError: pass
    time.sleep(30)

def idle_client(host, port, keepalive, wait):
    c = socket.create_connection((host, int(port)), timeout=5)
    k = int(keepalive)
    if k:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, k)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, k)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5)
    c.sendall(b'hello\n'); t0 = time.time(); c.settimeout(float(wait))
    try:
        d = c.recv(100)
        print('%s after %.1f s' % ('data' if d else 'closed', time.time() - t0))
    except socket.timeout:
        print('nothing after %.0f s' % (time.time() - t0))
    except ConnectionResetError:
        print('reset after %.1f s' % (time.time() - t0))

{'ping': lambda: ping(sys.argv[2], int(sys.argv[3])),
 'idle-server': lambda: idle_server(*sys.argv[2:5]),
 'idle-client': lambda: idle_client(*sys.argv[2:6]),
 'connect': lambda: connect(*sys.argv[2:5]),
 'listen': lambda: listen(*sys.argv[2:4])}[sys.argv[1]]()
EOF
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
  write_tools
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
  bg_in "$client" "$D/listen.log" "$PY" "$D/tools.py" listen 10.0.1.2 22
  for i in 1 2; do
    wait_web $i || { say "web server srv$i did not start"; cat "$D/http$i.log" >&2; return 1; }
  done
}

# Waits (up to 15 s: http.server looks its address up in DNS first) for srv$1's web server.
wait_web() {
  for _ in $(seq 150); do
    ns_exec "${P}srv$1" "$PY" "$D/tools.py" connect "10.0.2.1$1" 8080 1 >/dev/null 2>&1 && return 0
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

curl_many() { # n [url]
  local n=$1 url=${2:-http://10.0.0.100/} ok=0 s1=0 s2=0 body
  for _ in $(seq "$n"); do
    body=$(ns_exec "${P}client" curl -s -g --max-time 3 "$url" || true)
    case "$body" in
      srv1) ok=$((ok + 1)); s1=$((s1 + 1)) ;;
      srv2) ok=$((ok + 1)); s2=$((s2 + 1)) ;;
    esac
  done
  echo "$ok/$n answered (srv1 $s1, srv2 $s2)"
  [ "$ok" = "$n" ] && [ "$s1" -gt 0 ] && [ "$s2" -gt 0 ]
}

iperf_vip() { # a 10 s TCP transfer through the VIP completes without errors
  local out
  out=$(ns_exec "${P}client" iperf3 -c 10.0.0.100 -p 5201 -t 10 -J) || { echo "iperf3 failed"; return 1; }
  "$PY" - "$out" <<'PYEOF'
import json, sys
r = json.loads(sys.argv[1])
if r.get("error"):
    print(r["error"]); sys.exit(1)
s = r["end"]["sum_received"]
print(f'{s["bytes"] / 1e6:.0f} MB in {s["seconds"]:.1f} s, {s["bits_per_second"] / 1e6:.0f} Mbit/s')
sys.exit(0 if s["bytes"] > 0 else 1)
PYEOF
}

# (f) srv1's web server is killed: within fall x interval (2 x 1 s) the health
# checks take it out and every request goes to srv2; started again, it comes
# back within rise x interval and gets its share again.
ups_of_srv1() { grep -c 'real server up.*10.0.2.11:8080\|10.0.2.11:8080.*real server up' "$D/sdev.log" || true; }

# Waits (up to 20 s) until the health checks have no real server down: probes
# sent before the servers started took them out, and `rise` brings them back.
wait_healthy() {
  local r last
  for _ in $(seq 200); do
    last=0
    for r in 10.0.2.11 10.0.2.12; do
      grep "real server \(up\|down\)" "$D/sdev.log" | grep "$r:8080" | tail -n1 | grep -q 'real server down' && last=1
    done
    [ $last = 0 ] && return 0
    sleep 0.1
  done
  say "real servers still down after 20 s"
  return 1
}

health_failover() {
  local body ok=0 n=20
  kill -TERM "$(cat "$D/http1.pid")"
  sleep 3
  grep -q 'real server down.*10.0.2.11:8080\|10.0.2.11:8080.*real server down' "$D/sdev.log" ||
    { echo "no 'real server down' for srv1 in the log"; return 1; }
  for _ in $(seq $n); do
    body=$(ns_exec "${P}client" curl -s --max-time 3 http://10.0.0.100/ || true)
    [ "$body" = srv2 ] && ok=$((ok + 1))
  done
  echo "srv1 taken out; $ok/$n answered by srv2"
  [ "$ok" = "$n" ]
}

health_back() {
  local before
  before=$(ups_of_srv1)
  bg_in "${P}srv1" "$D/http1.log" "$PY" -m http.server 8080 --bind 10.0.2.11 --directory "$D/www1"
  wait_web 1 || { echo "srv1 did not start again"; return 1; }
  for _ in $(seq 50); do
    [ "$(ups_of_srv1)" -gt "$before" ] && break
    sleep 0.1
  done
  [ "$(ups_of_srv1)" -gt "$before" ] || { echo "no 'real server up' for srv1 in the log"; return 1; }
  curl_many 10
}

# (c) "Session timeout too short", live: with a 5 s idle timeout for established
# TCP (applied by a config reload, SIGHUP), a connection silent for 8 s is
# broken (the server's late data never reaches the client); with TCP keepalive
# every 2 s it survives; with reset-on-expiry the client gets a RST at 5 s.
reload_with() { # extra YAML appended to the lab config, or "" for the original
  local before
  before=$(grep -c 'config reloaded' "$D/sdev.log" || true)
  cp "$D/lab.base.yaml" "$D/lab.yaml"
  [ -z "$1" ] || printf '%s\n' "$1" >>"$D/lab.yaml"
  kill -HUP "$(cat "$D/sdev.pid")"
  for _ in $(seq 50); do
    if [ "$(grep -c 'config reloaded' "$D/sdev.log" || true)" -gt "$before" ]; then
      echo "config reloaded, sessions kept"
      return 0
    fi
    sleep 0.1
  done
  say "no 'config reloaded' after SIGHUP:"
  tail -n 5 "$D/sdev.log" >&2
  return 1
}

reload_then_idle() {
  reload_with $'sessions:\n  reset-on-expiry: true\n  timeouts: { tcp: { established: 5 } }' || return 1
  idle_conn 9003 0 reset
}

idle_conn() { # port keepalive-seconds expected-outcome
  local out
  bg_in "${P}srv1" "$D/idle$1.log" "$PY" "$D/tools.py" idle-server 10.0.2.11 "$1" 8
  for _ in $(seq 150); do
    ns_exec "${P}srv1" ss -Htln "sport = :$1" | grep -q . && break
    sleep 0.1
  done
  out=$(ns_exec "${P}client" "$PY" "$D/tools.py" idle-client 10.0.2.11 "$1" "$2" 12)
  echo "$out"
  [[ $out == "$3"* ]]
}

blocked() { # ns host port: passes when the connection is NOT established
  local out
  if out=$(ns_exec "$1" "$PY" "$D/tools.py" connect "$2" "$3" 2); then
    echo "connected: not blocked"
    return 1
  fi
  echo "blocked ($out)"
}

# (h) The control API of the running device: `sdev vs` shows both web reals with
# connections (those of scenario a), `sdev sessions` lists TCP sessions to the VIP.
control_api() {
  local cmd=${SDEV_LAB_SDEV:-node --import tsx src/cli/main.ts} vs sess n c1 c2
  # shellcheck disable=SC2086
  vs=$($cmd vs --socket "$D/control.sock") || { echo "sdev vs failed: $vs"; return 1; }
  # "  -> 10.0.2.11:8080  Masq  1  ActiveConn  InActConn": connections = the last two columns
  c1=$(awk '$2 == "10.0.2.11:8080" { print $5 + $6 }' <<<"$vs")
  c2=$(awk '$2 == "10.0.2.12:8080" { print $5 + $6 }' <<<"$vs")
  # shellcheck disable=SC2086
  sess=$($cmd sessions --socket "$D/control.sock" -p tcp -d 10.0.0.100 --dport 80) || {
    echo "sdev sessions failed: $sess"
    return 1
  }
  n=$(grep -c '^tcp .* dst=10\.0\.0\.100 sport=[0-9]* dport=80 ' <<<"$sess" || true)
  echo "vs: srv1 ${c1:-none}, srv2 ${c2:-none} conns; sessions: $n TCP to the VIP"
  [ "${c1:-0}" -gt 0 ] && [ "${c2:-0}" -gt 0 ] && [ "$n" -gt 0 ]
}

test_single() {
  local n=${SDEV_LAB_REQUESTS:-100}
  up_single
  say "lab $P up; running scenarios"
  wait_healthy
  check "e1 ping device 10.0.1.1 from client" ns_exec "${P}client" "$PY" "$D/tools.py" ping 10.0.1.1 3
  check "e2 ping srv1 10.0.2.11 through the device" ns_exec "${P}client" "$PY" "$D/tools.py" ping 10.0.2.11 3
  check "a  $n x GET http://10.0.0.100/ (rr over 2)" curl_many "$n"
  check "h  sdev vs / sessions over the control socket" control_api
  check "b  srv1 -> client 10.0.1.2:22 blocked" blocked "${P}srv1" 10.0.1.2 22
  check "g  20 x GET http://[fd00::100]/ (IPv6)" curl_many 20 'http://[fd00::100]/'
  check "d  iperf3 10 s to 10.0.0.100:5201" iperf_vip
  check "f1 srv1 killed: health checks take it out" health_failover
  check "f2 srv1 restarted: health checks bring it back" health_back
  check "c0 reload (SIGHUP): tcp established 5 s" reload_with $'sessions:\n  timeouts: { tcp: { established: 5 } }'
  check "c1 8 s idle > 5 s timeout: late data lost" idle_conn 9001 0 nothing
  check "c2 same, TCP keepalive every 2 s: delivered" idle_conn 9002 2 data
  check "c3 same with reset-on-expiry: client reset" reload_then_idle
  check "c4 reload (SIGHUP): the lab config again" reload_with ""
  echo
  printf '%-4s  %-46s %s\n' RES SCENARIO DETAIL
  printf '%s\n' "${RESULTS[@]}"
  echo
  if [ "$FAILED" -gt 0 ]; then
    echo "$FAILED scenario(s) failed"
    say "sdev log ($D/sdev.log):"
    tail -n 30 "$D/sdev.log" >&2 || true
    return 1
  fi
  echo "all ${#RESULTS[@]} scenarios passed"
}

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
  ip netns exec ${P}client $PY $D/tools.py ping 10.0.2.11 3
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
