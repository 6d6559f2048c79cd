"""Helpers of scripts/bench-live.sh (run with python3, some inside a namespace).

  measure.py wait HOST PORT SECONDS       wait until a TCP connect to HOST:PORT succeeds
  measure.py http HOST PORT N WARMUP      N sequential GETs, each on a new TCP connection;
                                          prints JSON: n, errors, p50_ms, p90_ms, p99_ms, ...
  measure.py report DIR OUT.json          the table device vs kernel: medians over the rounds
                                          DIR/{device,kernel}/rN/ (iperf3 -J outputs, http.json);
                                          writes it with every round to OUT.json
"""

import json
import math
import os
import socket
import sys
import time


def wait(host, port, seconds):
    until = time.monotonic() + float(seconds)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return 0
        except OSError as e:
            if time.monotonic() > until:
                print(f"{host}:{port} not answering after {seconds} s: {e}", file=sys.stderr)
                return 1
            time.sleep(0.1)


def get_once(host, port, request):
    """One GET on a new connection; returns (seconds, body) or raises OSError."""
    t0 = time.perf_counter()
    s = socket.create_connection((host, port), timeout=3)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(request)
        chunks = []
        while True:
            b = s.recv(4096)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    t1 = time.perf_counter()
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise OSError(f"bad answer: {head[:60]!r}")
    return t1 - t0, body.strip().decode("ascii", "replace")


def pct(sorted_ms, p):
    """Nearest-rank percentile."""
    k = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[k - 1]


def http(host, port, n, warmup):
    port, n, warmup = int(port), int(n), int(warmup)
    request = f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
    for _ in range(warmup):
        try:
            get_once(host, port, request)
        except OSError:
            pass
    times, errors, by_body, last_error = [], 0, {}, None
    for _ in range(n):
        try:
            dt, body = get_once(host, port, request)
        except OSError as e:
            errors += 1
            last_error = str(e)
            continue
        times.append(dt * 1000)
        by_body[body] = by_body.get(body, 0) + 1
    times.sort()
    out = {"n": n, "errors": errors, "answeredBy": by_body}
    if last_error:
        out["lastError"] = last_error
    if times:
        out.update(
            p50_ms=pct(times, 50),
            p90_ms=pct(times, 90),
            p99_ms=pct(times, 99),
            mean_ms=sum(times) / len(times),
            max_ms=times[-1],
        )
    print(json.dumps(out))
    return 0 if errors == 0 else 1


# ------------------------------------------------------------------ report


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"{os.path.basename(path)}: {e}"}


def tcp_gbps(r):
    if r.get("error"):
        return None, r["error"]
    s = r["end"]["sum_received"]
    return s["bits_per_second"] / 1e9, None


def udp_figures(r):
    """Received packets per second, loss %, sent packets per second (receiver's view)."""
    if r.get("error"):
        return None, r["error"]
    end = r["end"]
    s = end.get("sum_received") or end["sum"]
    sent = end.get("sum_sent") or end["sum"]
    secs = s["seconds"] or 1
    received = s["packets"] - s["lost_packets"]
    return {
        "pps": received / secs,
        "loss_pct": 100 * s["lost_packets"] / s["packets"] if s["packets"] else 100.0,
        "sent_pps": sent["packets"] / (sent["seconds"] or 1),
    }, None


METRICS = [
    # key, label, unit, better (higher|lower)
    ("tcp_gbps", "iperf3 TCP, 1 stream, client -> VIP:5201", "Gbit/s", "higher"),
    ("tcp_p2_gbps", "iperf3 TCP, 2 streams, client -> VIP:5201", "Gbit/s", "higher"),
    ("udp_up_pps", "UDP 64 B payload, client -> srv1, received", "pps", "higher"),
    ("udp_up_loss_pct", "  loss", "%", "lower"),
    ("udp_down_pps", "UDP 64 B payload, srv1 -> client, received", "pps", "higher"),
    ("udp_down_loss_pct", "  loss", "%", "lower"),
    ("http_p50_ms", "HTTP GET on a new connection to VIP:80, p50", "ms", "lower"),
    ("http_p99_ms", "HTTP GET on a new connection to VIP:80, p99", "ms", "lower"),
]


def one_round(d):
    """The figures of one round of one side (a directory of iperf3 -J outputs and http.json)."""
    m, errors = {}, []
    for key, name in (("tcp_gbps", "tcp1"), ("tcp_p2_gbps", "tcp2")):
        m[key], err = tcp_gbps(load(f"{d}/{name}.json"))
        if err:
            errors.append(f"{name}: {err}")
    for key, name in (("udp_up", "udp-up"), ("udp_down", "udp-down")):
        v, err = udp_figures(load(f"{d}/{name}.json"))
        for k in ("pps", "loss_pct", "sent_pps"):
            m[f"{key}_{k}"] = v[k] if v else None
        if err:
            errors.append(f"{name}: {err}")
    h = load(f"{d}/http.json")
    m["http_p50_ms"] = h.get("p50_ms")
    m["http_p99_ms"] = h.get("p99_ms")
    m["http_answered_by"] = h.get("answeredBy")
    try:
        with open(f"{d}/load") as f:
            m["load_1min"] = float(f.read())
    except (OSError, ValueError):
        m["load_1min"] = None
    if h.get("error"):
        errors.append(f"http: {h['error']}")
    elif h.get("errors"):
        errors.append(f"http: {h['errors']} of {h['n']} failed: {h.get('lastError', '')}")
    return m, errors


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def side(d):
    """Every round of a side: the median of each figure, the rounds, the errors."""
    rounds, errors = [], []
    names = [r for r in os.listdir(d) if r[1:].isdigit()] if os.path.isdir(d) else []
    for r in sorted(names, key=lambda r: int(r[1:])):
        m, errs = one_round(f"{d}/{r}")
        rounds.append(m)
        errors += [f"{r} {e}" for e in errs]
    if not rounds:
        errors.append("no rounds measured")
    keys = [k for k in (rounds[0] if rounds else {}) if k != "http_answered_by"]
    med = {k: median([m[k] for m in rounds]) for k in keys}
    return med, rounds, errors


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "pps":
        return f"{v / 1000:,.0f} k"
    if unit == "%":
        return f"{v:.1f}"
    return f"{v:.2f}"


def report(d, out_path):
    dev, dev_rounds, dev_err = side(f"{d}/device")
    ker, ker_rounds, ker_err = side(f"{d}/kernel")
    rows = []
    print(f"{len(dev_rounds)} round(s) each, medians")
    print(f"{'metric':<46} {'unit':>6} {'device':>10} {'kernel':>10} {'dev/kern':>9}")
    for key, label, unit, better in METRICS:
        a, b = dev.get(key), ker.get(key)
        ratio = a / b if a is not None and b and unit != "%" else None
        rows.append({"metric": key, "label": label.strip(), "unit": unit, "better": better,
                     "device": a, "kernel": b, "ratio": ratio})
        r = "-" if ratio is None else f"{ratio:.2f}"
        print(f"{label:<46} {unit:>6} {fmt(a, unit):>10} {fmt(b, unit):>10} {r:>9}")
    for name, m, rs in (("device", dev, dev_rounds), ("kernel", ker, ker_rounds)):
        tcp = ", ".join(fmt(r["tcp_gbps"], "") for r in rs)
        loads = ", ".join(fmt(r["load_1min"], "") for r in rs)
        print(f"{name}: load average (1 min) at the start of each round: {loads}")
        print(f"{name}: UDP offered {fmt(m.get('udp_up_sent_pps'), 'pps')}pps up, "
              f"{fmt(m.get('udp_down_sent_pps'), 'pps')}pps down; TCP 1 stream by round: {tcp}; "
              f"HTTP answered by {rs[-1]['http_answered_by'] if rs else None}")
    g, k = dev.get("tcp_gbps"), ker.get("tcp_gbps")
    if g is not None:
        print(f"first target 1 Gbit/s (TCP, 1 stream): {'met' if g >= 1 else 'not met'} ({g:.2f})")
        if k:
            print(f"goal half the kernel: {'met' if g >= k / 2 else 'not met'} ({g / k:.2f} of the kernel)")
    for e in dev_err:
        print(f"device error: {e}")
    for e in ker_err:
        print(f"kernel error: {e}")
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "linux": os.uname().release,
        "rows": rows,
        "rounds": {"device": dev_rounds, "kernel": ker_rounds},
        "errors": {"device": dev_err, "kernel": ker_err},
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"results: {out_path}")
    return 1 if dev_err or ker_err else 0


if __name__ == "__main__":
    cmds = {"wait": wait, "http": http, "report": report}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    fn = cmds[sys.argv[1]]
    if len(sys.argv) - 2 != fn.__code__.co_argcount:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(fn(*sys.argv[2:]))
