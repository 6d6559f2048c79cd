# shellcheck shell=bash
# The HA pair lab (DESIGN.md, "Lab topologies"), sourced by scripts/netns-lab.sh
# and built from its helpers (need, ns_exec, bg_in, start_sdev, wait_web,
# check/result, $PY and $TOOLS; teardown removes it).
#
# Two devices, fw1 and fw2, in the root namespace, each with three TAPs moved
# into three bridge namespaces: ${P}lanbr (the client segment), ${P}srvbr (the
# servers) and ${P}habr (the fw1-fw2 link, sync and GRE). The client's gateway
# is fw1 (10.0.1.1), the servers' gateway is fw2 (10.0.2.1): every connection
# is asymmetric, client -> fw1 -> server and server -> fw2 -> client.
#
#   lan     10.0.1.0/24  client .2    fw1 .1 02:5d:01:00:01:01  fw2 .3 02:5d:02:00:01:01
#   servers 10.0.2.0/24  srv1 .11/.12 fw1 .2 02:5d:01:00:02:01  fw2 .1 02:5d:02:00:02:01
#   ha      10.0.3.0/24               fw1 .1 02:5d:01:00:03:01  fw2 .2 02:5d:02:00:03:01
#
# Modes (the ha: block of both devices): off, sync, sync+defer, mac-rewrite, gre.

PAIR_MODES=(off sync sync+defer mac-rewrite gre)
PAIR_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
PAIR_SEGS=(a:lanbr b:srvbr c:habr) # TAP suffix : bridge namespace (lan, servers, ha)
PAIR_HTTP=${SDEV_LAB_PAIR_REQUESTS:-200}
PAIR_HA=1 # 0 when this sdev refuses an ha: block (checked once by pair_probe_ha)

sdev_cmd() {
  # shellcheck disable=SC2086
  ${SDEV_LAB_SDEV:-node --import tsx src/cli/main.ts} "$@"
}

# ------------------------------------------------------------------ configs

# pfsync's defer timeout is 20 ms; the lab allows 100 ms (SDEV_LAB_DEFER_TIMEOUT, seconds),
# because on a loaded CI machine the sync round trip through two user-space
# devices and three bridges exceeds 20 ms often enough to lose a few SYN-ACKs.
PAIR_DEFER_TIMEOUT=${SDEV_LAB_DEFER_TIMEOUT:-0.1}

pair_config() { # node mode: writes $D/fw<node>.yaml
  local n=$1 mode=$2 o=$((3 - $1)) hamode=$2 defer=false
  local lan=(- 1 3) srv=(- 2 1) take=(- 10.0.2.1 10.0.1.1) # fw1, fw2; what each takes over from the other
  [ "$mode" = sync+defer ] && { hamode=sync; defer=true; }
  cat >"$D/fw$n.yaml" <<EOF
# sdev HA pair lab ($P), fw$n, mode $mode; written by scripts/lab/pair.sh
device:
  name: fw$n
control:
  socket: $D/fw$n.sock
zones:
  inside:
    networks: [10.0.1.0/24]
  dmz:
    networks: [10.0.2.0/24]
  ha:
    networks: [10.0.3.0/24]
ports:
  - { name: lan, zone: inside, tap: ${P}${n}a, mac: '02:5d:0$n:00:01:01', address: [10.0.1.${lan[n]}/24] }
  - { name: servers, zone: dmz, tap: ${P}${n}b, mac: '02:5d:0$n:00:02:01', address: [10.0.2.${srv[n]}/24] }
  - { name: ha, zone: ha, tap: ${P}${n}c, mac: '02:5d:0$n:00:03:01', address: [10.0.3.$n/24] }
policy:
  default: drop
  rules:
    - { name: inside-out, from: inside, to: any, action: accept }
EOF
  [ "$PAIR_HA" = 1 ] || return 0
  cat >>"$D/fw$n.yaml" <<EOF
ha:
  node: $n
  mode: $hamode
  link: ha
  key: '$PAIR_KEY'
  sync-port: 3780
  defer: $defer
  defer-timeout: $PAIR_DEFER_TIMEOUT
  peers:
    - name: fw$o
      node: $o
      address: 10.0.3.$o
      macs: { lan: '02:5d:0$o:00:01:01', servers: '02:5d:0$o:00:02:01', ha: '02:5d:0$o:00:03:01' }
      takeover: [${take[n]}]
EOF
}

# Until the device knows the ha: block, the lab runs with none (every mode then behaves as off).
pair_probe_ha() {
  local out
  pair_config 1 sync+defer
  out=$(sdev_cmd check-config "$D/fw1.yaml" 2>&1) && return 0
  PAIR_HA=0
  pair_config 1 off
  if sdev_cmd check-config "$D/fw1.yaml" >/dev/null 2>&1; then
    say "this sdev refuses the ha: block; running without one (every mode behaves as off):"
    grep -i 'ha' <<<"$out" | head -n 3 >&2
    return 0
  fi
  say "the pair config is refused:"
  echo "$out" >&2
  return 1
}

# ------------------------------------------------------------------ devices

pair_pids() { cat "$D"/sdev-fw*.pid 2>/dev/null || true; }

pair_taps_gone() {
  local n s
  for n in 1 2; do
    for s in "${PAIR_SEGS[@]}"; do
      ip link show dev "${P}$n${s%%:*}" >/dev/null 2>&1 && return 1
      ip -n "${P}${s#*:}" link show dev "${P}$n${s%%:*}" >/dev/null 2>&1 && return 1
    done
  done
  return 0
}

# Stops both devices by PID (TERM, KILL after 5 s) and waits until their TAPs are gone.
pair_stop() {
  local pid f
  for pid in $(pair_pids); do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    f=0
    for pid in $(pair_pids); do kill -0 "$pid" 2>/dev/null && f=1; done
    [ $f = 0 ] && break
    sleep 0.1
  done
  for pid in $(pair_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$D"/sdev-fw*.pid
  for _ in $(seq 100); do
    pair_taps_gone && return 0
    sleep 0.1
  done
  say "the devices' TAPs are still there after 10 s"
  return 1
}

# Moves fw<node>'s three TAPs into the bridge namespaces and enslaves them.
# Each bridge knows the device's MAC on its port from the start (a static
# entry, gone with the port): the bridge never floods the frames addressed to
# one device to the other one too, which a learning bridge would do for as
# long as a device sends nothing from that MAC (fw1 on lan, fw2 on servers).
pair_attach() {
  local n=$1 s tap ns i=0
  for s in "${PAIR_SEGS[@]}"; do
    tap=${P}$n${s%%:*} ns=${P}${s#*:} i=$((i + 1))
    ip link set dev "$tap" netns "$ns" || return 1
    ns_exec "$ns" ip link set "$tap" master "${P}br" || return 1
    ns_exec "$ns" bridge fdb replace "02:5d:0$n:00:0$i:01" dev "$tap" master static || return 1
    ns_exec "$ns" ip link set "$tap" up || return 1
  done
}

# One GET to each server, its result ignored: the devices resolve the servers'
# and the client's addresses (ARP) before the measurement. A device queues only
# a few packets per address while it resolves it (as Linux's old unres_qlen 3),
# so a burst of 20 SYNs into cold neighbour caches would lose most of them.
pair_warm() {
  ns_exec "${P}client" curl --parallel -s --max-time 1 -o /dev/null http://10.0.2.11:8080/ \
    -o /dev/null http://10.0.2.12:8080/ >/dev/null 2>&1 || true
}

# (Re)starts both devices in a mode; logs in $D/sdev-fw<node>.<tag, default the mode>.log.
pair_start() {
  local mode=$1 tag=${2:-$1} a b rc=0
  pair_stop || return 1
  pair_config 1 "$mode"
  pair_config 2 "$mode"
  start_sdev "sdev-fw1.$tag" "$D/fw1.yaml" --stats 5 &
  a=$!
  start_sdev "sdev-fw2.$tag" "$D/fw2.yaml" --stats 5 &
  b=$!
  wait $a || rc=1
  wait $b || rc=1
  [ $rc = 0 ] || return 1
  pair_attach 1 && pair_attach 2 && pair_warm
}

# ------------------------------------------------------------------ topology

pair_web() { # i: srv<i>'s web server (http.server, a backlog for 20 parallel clients, no DNS lookup at start)
  bg_in "${P}srv$1" "$D/http$1.log" "$PY" -c '
import http.server, sys
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 128
    def server_bind(self):
        import socketserver
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
h = lambda *a: H(*a, directory=sys.argv[2])
S((sys.argv[1], 8080), h).serve_forever()' "10.0.2.1$1" "$D/www$1"
}

pair_iperf_server() { # i: (re)starts iperf3 -s in srv<i> and waits until it listens
  local i=$1 old
  if [ -f "$D/iperf$i.pid" ]; then
    old=$(cat "$D/iperf$i.pid")
    kill -KILL "$old" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  fi
  bg_in "${P}srv$i" "$D/iperf$i.log" iperf3 -s -B "10.0.2.1$i" -p 5201
  for _ in $(seq 50); do
    ns_exec "${P}srv$i" ss -Htln "sport = :5201" | grep -q . && return 0
    sleep 0.1
  done
  say "iperf3 -s in srv$i does not listen"
  return 1
}

up_pair_topology() {
  need
  command -v iperf3 >/dev/null || { say "needs iperf3"; exit 1; }
  mkdir -p "$D"
  local n s ns i
  for n in 1 2; do
    for s in "${PAIR_SEGS[@]}"; do echo "${P}$n${s%%:*}" >>"$D/links"; done
  done
  for ns in client srv1 srv2 lanbr srvbr habr; do
    echo "${P}$ns" >>"$D/netns"
    ip netns add "${P}$ns"
    ns_exec "${P}$ns" ip link set lo up
    ns_exec "${P}$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  for ns in lanbr srvbr habr; do
    ns_exec "${P}$ns" ip link add "${P}br" type bridge
    ns_exec "${P}$ns" ip link set "${P}br" up
  done
  # the client on lanbr (gateway fw1), the servers on srvbr (gateway fw2)
  ip link add "${P}v0" netns "${P}client" type veth peer name "${P}b0" netns "${P}lanbr"
  ns_exec "${P}lanbr" ip link set "${P}b0" master "${P}br" up
  ns_exec "${P}client" ip addr add 10.0.1.2/24 dev "${P}v0"
  ns_exec "${P}client" ip link set "${P}v0" up
  ns_exec "${P}client" ip route add default via 10.0.1.1
  for i in 1 2; do
    ip link add "${P}v$i" netns "${P}srv$i" type veth peer name "${P}b$i" netns "${P}srvbr"
    ns_exec "${P}srvbr" ip link set "${P}b$i" master "${P}br" up
    ns_exec "${P}srv$i" ip addr add "10.0.2.1$i/24" dev "${P}v$i"
    ns_exec "${P}srv$i" ip link set "${P}v$i" up
    ns_exec "${P}srv$i" ip route add default via 10.0.2.1
    mkdir -p "$D/www$i"
    echo "srv$i" >"$D/www$i/index.html"
    pair_web "$i"
    pair_iperf_server "$i"
  done
  for i in 1 2; do
    wait_web $i || { say "web server srv$i did not start"; cat "$D/http$i.log" >&2; return 1; }
  done
  pair_probe_ha
}

up_pair() {
  local mode=${SDEV_LAB_HA_MODE:-sync+defer}
  [[ " ${PAIR_MODES[*]} " == *" $mode "* ]] || { say "SDEV_LAB_HA_MODE: one of ${PAIR_MODES[*]}"; exit 2; }
  up_pair_topology
  pair_start "$mode" || { say "the devices did not start"; exit 1; }
  cat <<EOF
HA pair lab $P is up, mode $mode (state and logs in $D)
  ip netns exec ${P}client curl http://10.0.2.11:8080/      # client -> fw1 -> srv1 -> fw2 -> client
  ip netns exec ${P}client iperf3 -c 10.0.2.12 -t 5
  sdev stats --socket $D/fw1.sock            # fw2: $D/fw2.sock
  tail -f $D/sdev-fw1.$mode.log $D/sdev-fw2.$mode.log
  SDEV_LAB_PREFIX=$P $0 down                 # another mode: SDEV_LAB_HA_MODE=gre $0 up pair
EOF
}

# ------------------------------------------------------------------ scenarios

pair_http() { # n: n GETs from the client alternating srv1 and srv2, 20 at a time; prints ok/n
  local n=$1 i out args=()
  for ((i = 0; i < n; i++)); do args+=(-o /dev/null "http://10.0.2.1$((1 + i % 2)):8080/"); done
  out=$(ns_exec "${P}client" curl --parallel --parallel-immediate --parallel-max 20 -s \
    --connect-timeout 1 --max-time 2 -w '%{http_code}\n' "${args[@]}" 2>/dev/null || true)
  echo "$(grep -c '^200$' <<<"$out" || true)/$n"
}

pair_iperf() { # [limit s, 15]: a 10 s iperf3 client -> srv1: prints "N Mbit/s" (status 0) or "failed (why)"
  local out limit=${1:-15}
  out=$(ns_exec "${P}client" timeout "$limit" iperf3 -c 10.0.2.11 -p 5201 -t 10 --connect-timeout 2000 -J 2>&1)
  "$PY" - "$out" "$limit" <<'PYEOF'
import json, sys
try:
    r = json.loads(sys.argv[1])
except ValueError:
    print('failed (no result)'); sys.exit(1)
if r.get('error'):
    e = r['error'].replace('unable to connect to server: ', 'connect: ')
    print('failed (%s)' % ('stalled, stopped at %s s' % sys.argv[2] if e.startswith('interrupt') else e[:48])); sys.exit(1)
s = r['end']['sum_received']
if s['bytes'] <= 0 or s['seconds'] < 9:
    print('failed (%d bytes in %.1f s)' % (s['bytes'], s['seconds'])); sys.exit(1)
print('%.0f Mbit/s' % (s['bits_per_second'] / 1e6))
PYEOF
}

pair_drops() { # node: its drops by reason from the control API ("no-session 412, ..."); status 1: no no-session/policy drop
  local out
  out=$(sdev_cmd stats --socket "$D/fw$1.sock" --json 2>&1) || { echo "no stats: $out"; return 1; }
  "$PY" - "$out" <<'PYEOF'
import json, sys
d = {k: v for k, v in json.loads(sys.argv[1])['dropsByReason'].items() if v}
print(', '.join('%s %d' % kv for kv in sorted(d.items(), key=lambda kv: -kv[1])) or 'none')
sys.exit(0 if d.get('no-session', 0) + d.get('policy-deny', 0) > 0 else 1)
PYEOF
}

pair_defer() { # node: the delay defer added to first packets there, from the control API
  local out
  out=$(sdev_cmd stats --socket "$D/fw$1.sock" --json 2>&1) || { echo "no stats: $out"; return 1; }
  "$PY" - "$out" <<'PYEOF'
import json, sys
d = (json.loads(sys.argv[1]).get('ha') or {}).get('defer')
if not d or not d.get('delays'):
    print('no deferred packets'); sys.exit(1)
print('defer added p50 %.1f ms, p99 %.1f ms (%d held, %d by timeout)' % (
    d['delayP50Ms'], d['delayP99Ms'], d['delays'], d.get('releasedByTimeout', 0)))
PYEOF
}

# One mode: both devices restarted in it, then HTTP and iperf3 from the client.
pair_mode() {
  local mode=$1 http ip ipok=0 drops
  pair_start "$mode" || { echo "the devices did not start"; return 1; }
  pair_iperf_server 1 || return 1
  http=$(pair_http "$PAIR_HTTP")
  ip=$(pair_iperf) && ipok=1
  case $mode in
    off)
      drops=$(pair_drops 2) || drops="none ($drops)"
      echo "HTTP $http, iperf3 $ip; fw2 dropped: $drops"
      [ "${http%/*}" = 0 ] && [ $ipok = 0 ] && [ "${drops%% *}" != none ]
      ;;
    sync) echo "HTTP $http, iperf3 $ip (measured only: sync without defer races)" ;;
    sync+defer)
      echo "HTTP $http, iperf3 $ip; $(pair_defer 1)"
      [ "$http" = "$PAIR_HTTP/$PAIR_HTTP" ] && [ $ipok = 1 ]
      ;;
    *)
      echo "HTTP $http, iperf3 $ip"
      [ "$http" = "$PAIR_HTTP/$PAIR_HTTP" ] && [ $ipok = 1 ]
      ;;
  esac
}

# sync+defer: a 10 s iperf3 through the pair; fw1 killed (SIGKILL) after 3 s;
# fw2 takes over 10.0.1.1 and forwards the synced session both ways. The
# transfer must have been flowing through fw1 before the kill (over 1 MB acked
# by the server), else it would only show that fw2 alone carries a new one.
pair_failover() {
  local ip ipok=0 job mac acked
  pair_start sync+defer failover || { echo "the devices did not start"; return 1; }
  pair_iperf_server 1 || return 1
  pair_iperf 25 >"$D/failover.out" &
  job=$!
  sleep 2.9
  acked=$(ns_exec "${P}client" ss -tin dst 10.0.2.11:5201 | grep -o 'bytes_acked:[0-9]*' | cut -d: -f2 | sort -n | tail -n1)
  local killed took
  killed=$(date +%s.%N)
  kill -KILL "$(cat "$D/sdev-fw1.failover.pid")"
  wait $job && ipok=1
  # When fw2 took over: its log line's time, after the kill.
  took=$("$PY" - "$killed" "$D/sdev-fw2.failover.log" <<'PYEOF'
import datetime, json, sys
for line in open(sys.argv[2]):
    try: r = json.loads(line)
    except ValueError: continue
    if 'took over' in r.get('msg', ''):
        t = datetime.datetime.fromisoformat(r['time'].replace('Z', '+00:00')).timestamp()
        print('takeover %d ms after the kill' % round((t - float(sys.argv[1])) * 1000)); break
else: print('no takeover logged')
PYEOF
)
  ip=$(cat "$D/failover.out")
  mac=$(ns_exec "${P}client" ip neigh show 10.0.1.1 | grep -o 'lladdr [0-9a-f:]*' || echo "no entry")
  echo "iperf3 $ip; $((${acked:-0} / 1000000)) MB acked before the kill; client's 10.0.1.1: ${mac#lladdr }; $took"
  [ $ipok = 1 ] && [ "${acked:-0}" -gt 1000000 ] && [ "${mac#lladdr }" = 02:5d:02:00:01:01 ]
}

test_pair() {
  local m
  up_pair_topology
  say "HA pair lab $P up; running the modes (each restarts both devices)"
  for m in "${PAIR_MODES[@]}"; do check "$m" pair_mode "$m"; done
  check "failover (sync+defer, fw1 killed at 3 s)" pair_failover
  echo
  printf '%-4s  %-46s %s\n' RES MODE "HTTP /$PAIR_HTTP, IPERF3 10 s"
  printf '%s\n' "${RESULTS[@]}"
  echo
  if [ "$FAILED" -gt 0 ]; then
    echo "$FAILED scenario(s) failed (device logs: $D/sdev-fw*.log, SDEV_LAB_KEEP=1 keeps them)"
    return 1
  fi
  echo "all ${#RESULTS[@]} scenarios passed"
}
