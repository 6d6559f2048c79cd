"""Small network tools the labs and integration tests run inside their network namespaces
(no ping, nc or iperf needed for these). One command per run:

  ping DST COUNT              ICMP echo over a raw socket, up to 3 s per reply; prints "answered/COUNT",
                              status 0 only when all answered
  connect HOST PORT TIMEOUT   one TCP connection, closed at once; prints "connected" (status 0),
                              or "timed out" / the error text, e.g. "Connection refused" (status 1)
  listen HOST PORT            accepts TCP connections and closes them, forever
  echo-server HOST PORT       TCP echo server (a thread per connection), forever
  idle-server HOST PORT SILENCE
                              one connection: reads the greeting, stays silent SILENCE s, sends "late\\n"
  idle-client HOST PORT KEEPALIVE WAIT
                              connects (TCP keepalive every KEEPALIVE s unless 0), sends "hello\\n", waits
                              up to WAIT s; prints "data after X s", "closed after X s", "reset after X s"
                              or "nothing after N s"
  session HOST PORT           one connection to an echo server kept open; prints "open", then reads stdin:
                              "send TEXT" -> "echo TEXT" ("echo closed", "error WHY"),
                              "new" -> "new connected" / "new timed out" / "new WHY", "quit"
  bulk HOST PORT NBYTES       NBYTES through an echo server, compared; prints "same N bytes in X s"
                              (status 0) or "DIFFERENT N bytes in X s" (status 1)
  serve ADDR...               on each ADDR:8080 sends its own address to every connection, UDP echo on
                              0.0.0.0:9999; prints "ready"
  clients N HOLD HOLD_S       N connections to 10.0.0.100:80 opened and closed, HOLD more kept open, 3 UDP
                              datagrams from 10.0.1.2:40000 to 10.0.2.11:9999; prints each connection's
                              answer, then "udp ECHOED"; sleeps HOLD_S s

Usable as a module too (test/integration/pcap-lab.py imports csum and ping).
"""
import hashlib
import os
import select
import socket
import struct
import sys
import threading
import time


def csum(b):
    """The Internet checksum (RFC 1071) of bytes b."""
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(dst, count, wait=3.0, gap=0.1):
    """Sends COUNT echo requests to dst (IPv4), one at a time; returns how many were answered."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident, got = os.getpid() & 0xFFFF, 0
    try:
        for seq in range(1, count + 1):
            body = struct.pack('!HH', ident, seq) + b'sdev-lab' * 4
            s.sendto(struct.pack('!BBH', 8, 0, csum(b'\x08\0\0\0' + body)) + body, (dst, 0))
            until = time.time() + wait
            while time.time() < until:
                r, _, _ = select.select([s], [], [], max(0.0, until - time.time()))
                if not r:
                    break
                pkt, addr = s.recvfrom(2048)
                icmp = pkt[(pkt[0] & 15) * 4:]
                if addr[0] == dst and icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (ident, seq):
                    got += 1
                    break
            if seq < count:
                time.sleep(gap)
    finally:
        s.close()
    return got


def ping_cmd(dst, count):
    got = ping(dst, count)
    print('%d/%d' % (got, count), flush=True)
    return 0 if got == count else 1


def connect(host, port, timeout):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        print('connected', flush=True)
        return 0
    except socket.timeout:
        print('timed out', flush=True)
    except OSError as e:
        print(e.strerror or str(e), flush=True)
    return 1


def listening(host, port, backlog):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s


def listen(host, port):
    s = listening(host, port, 16)
    while True:
        s.accept()[0].close()


def echo_server(host, port):
    s = listening(host, port, 16)

    def serve(c):
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d)
        c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def idle_server(host, port, silence):
    # one connection: read the greeting, stay silent, then send one more line
    s = listening(host, port, 1)
    c = s.accept()[0]
    c.recv(100)
    time.sleep(silence)
    try:
        c.sendall(b'late\n')
    except OSError:
        pass
    time.sleep(30)


def idle_client(host, port, keepalive, wait):
    c = socket.create_connection((host, port), timeout=5)
    if keepalive:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, keepalive)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5)
    c.sendall(b'hello\n')
    t0 = time.time()
    c.settimeout(wait)
    try:
        d = c.recv(100)
        print('%s after %.1f s' % ('data' if d else 'closed', time.time() - t0), flush=True)
    except socket.timeout:
        print('nothing after %.0f s' % (time.time() - t0), flush=True)
    except ConnectionResetError:
        print('reset after %.1f s' % (time.time() - t0), flush=True)


def roundtrip(s, text):
    s.sendall(text.encode() + b'\n')
    got = b''
    while not got.endswith(b'\n'):
        d = s.recv(4096)
        if not d:
            return 'closed'
        got += d
    return got.decode().strip()


def session(host, port):
    # One connection kept open across commands read from stdin:
    #   send TEXT   -> "echo TEXT" (or why not)   new -> a second connection's fate
    s = socket.create_connection((host, port), timeout=3)
    print('open', flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(' ')
        if cmd == 'send':
            try:
                print('echo ' + roundtrip(s, arg), flush=True)
            except OSError as e:
                print('error ' + (e.strerror or str(e)), flush=True)
        elif cmd == 'new':
            try:
                socket.create_connection((host, port), timeout=3).close()
                print('new connected', flush=True)
            except socket.timeout:
                print('new timed out', flush=True)
            except OSError as e:
                print('new ' + (e.strerror or str(e)), flush=True)
        elif cmd == 'quit':
            break
    s.close()


def bulk(host, port, n):
    # n bytes of pseudo-random data through the echo server, read back and compared.
    data = hashlib.sha256(b'sdev').digest() * (n // 32 + 1)
    data = bytes((b + i) & 0xFF for i, b in enumerate(data[:65536])) * (n // 65536 + 1)
    data = data[:n]
    s = socket.create_connection((host, port), timeout=10)
    t0 = time.time()
    threading.Thread(target=lambda: s.sendall(data), daemon=True).start()
    got = bytearray()
    while len(got) < n:
        d = s.recv(262144)
        if not d:
            break
        got += d
    dt = time.time() - t0
    s.close()
    ok = bytes(got) == data
    print('%s %d bytes in %.2f s' % ('same' if ok else 'DIFFERENT', len(got), dt), flush=True)
    return 0 if ok else 1


def serve(*addrs):
    def tcp(a):
        s = listening(a, 8080, 64)
        while True:
            c, _ = s.accept()
            threading.Thread(target=answer, args=(c,), daemon=True).start()

    def answer(c):
        c.sendall(c.getsockname()[0].encode())
        c.recv(100)
        c.close()

    for a in addrs:
        threading.Thread(target=tcp, args=(a,), daemon=True).start()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(('0.0.0.0', 9999))
    print('ready', flush=True)
    while True:
        d, peer = u.recvfrom(2048)
        u.sendto(d, peer)


def clients(n, hold, hold_s):
    got = []
    for _ in range(n):
        c = socket.create_connection(('10.0.0.100', 80), timeout=3)
        got.append(c.recv(100).decode())
        c.close()
    held = []
    for _ in range(hold):
        c = socket.create_connection(('10.0.0.100', 80), timeout=3)
        got.append(c.recv(100).decode())
        held.append(c)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(('10.0.1.2', 40000))
    u.settimeout(3)
    echoed = 0
    for i in range(3):
        u.sendto(b'hello %d' % i, ('10.0.2.11', 9999))
        echoed += u.recv(100) == b'hello %d' % i
    print(' '.join(got), 'udp', echoed, flush=True)
    time.sleep(hold_s)


# name: (function, argument names and types; a trailing '...' takes the rest, at least one)
COMMANDS = {
    'ping': (ping_cmd, [('DST', str), ('COUNT', int)]),
    'connect': (connect, [('HOST', str), ('PORT', int), ('TIMEOUT', float)]),
    'listen': (listen, [('HOST', str), ('PORT', int)]),
    'echo-server': (echo_server, [('HOST', str), ('PORT', int)]),
    'idle-server': (idle_server, [('HOST', str), ('PORT', int), ('SILENCE', float)]),
    'idle-client': (idle_client, [('HOST', str), ('PORT', int), ('KEEPALIVE', int), ('WAIT', float)]),
    'session': (session, [('HOST', str), ('PORT', int)]),
    'bulk': (bulk, [('HOST', str), ('PORT', int), ('NBYTES', int)]),
    'serve': (serve, [('ADDR', str), '...']),
    'clients': (clients, [('N', int), ('HOLD', int), ('HOLD_S', int)]),
}


def usage(name=None):
    names = [name] if name in COMMANDS else sorted(COMMANDS)
    lines = []
    for n in names:
        spec = COMMANDS[n][1]
        lines.append(' '.join([n] + [a[0] if a != '...' else '...' for a in spec]))
    return 'usage: tools.py ' + '\n       tools.py '.join(lines)


def parse(name, argv):
    """The command's arguments converted, or a message saying what was expected."""
    spec = COMMANDS[name][1]
    rest = spec[-1] == '...'
    fixed = spec[:-1] if rest else spec
    if len(argv) != len(fixed) and not (rest and len(argv) >= len(fixed)):
        return None, usage(name)
    types = [t for _, t in fixed] + [fixed[-1][1]] * (len(argv) - len(fixed))
    names = [a for a, _ in fixed] + [fixed[-1][0]] * (len(argv) - len(fixed))
    out = []
    for v, t, a in zip(argv, types, names):
        try:
            out.append(t(v))
        except ValueError:
            what = 'an integer' if t is int else 'a number'
            return None, 'tools.py %s: %s: expected %s, got %r' % (name, a, what, v)
    return out, None


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        if argv:
            print('tools.py: unknown command %r' % argv[0], file=sys.stderr)
        print(usage(), file=sys.stderr)
        return 2
    args, err = parse(argv[0], argv[1:])
    if err:
        print(err, file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]][0](*args) or 0
    except OSError as e:  # e.g. a refused connection where the command needs one
        print('tools.py %s: %s' % (argv[0], e.strerror or e), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
