# shellcheck shell=bash
# The single-device lab's scenarios, sourced by scripts/netns-lab.sh and built
# from its helpers (ns_exec, bg_in, wait_web, check/result, $PY and $TOOLS,
# scripts/lab/tools.py; up_single builds the topology, teardown removes it):
# (e) ping, (a) HTTP to the VIP, (b) an inbound connection blocked, (g) HTTP
# over IPv6, (d) iperf3, (h) the control API, (f) health-check failover, (c)
# idle timeout, keepalive and reset-on-expiry after SIGHUP reloads.
# `test_single` runs them and prints the PASS/FAIL table.

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
  bg_in "${P}srv1" "$D/idle$1.log" "$PY" "$TOOLS" idle-server 10.0.2.11 "$1" 8
  for _ in $(seq 150); do
    ns_exec "${P}srv1" ss -Htln "sport = :$1" | grep -q . && break
    sleep 0.1
  done
  out=$(ns_exec "${P}client" "$PY" "$TOOLS" idle-client 10.0.2.11 "$1" "$2" 12)
  echo "$out"
  [[ $out == "$3"* ]]
}

blocked() { # ns host port: passes when the connection is NOT established
  local out
  if out=$(ns_exec "$1" "$PY" "$TOOLS" connect "$2" "$3" 2); then
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
  check "e1 ping device 10.0.1.1 from client" ns_exec "${P}client" "$PY" "$TOOLS" ping 10.0.1.1 3
  check "e2 ping srv1 10.0.2.11 through the device" ns_exec "${P}client" "$PY" "$TOOLS" ping 10.0.2.11 3
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
