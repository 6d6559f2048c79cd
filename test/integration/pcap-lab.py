"""Helpers the pcap integration test runs inside its network namespaces (no ping, nc or ethtool needed).

  offloads-off IF...          turn off checksum offload, TSO, GSO and GRO (SIOCETHTOOL)
  ping DST COUNT              ICMP echo over a raw socket (tools.py's); prints "answered/count", status 0
  frames IF COUNT ETHERTYPE   send COUNT frames of that ethertype out of IF (AF_PACKET), byte 14 = index
  echo-inject IF SRCMAC DSTMAC SRC DST COUNT
                              send COUNT ICMP echo requests as raw frames out of IF
"""
import array, fcntl, os, socket, struct, sys

# csum and ping are the labs' own (scripts/lab/tools.py); no .pyc left in the repo.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'lab'))
from tools import csum, ping  # noqa: E402

SIOCETHTOOL = 0x8946
# ETHTOOL_S* commands: tx checksum, scatter-gather is left alone, TSO, GSO, GRO.
OFFLOAD_SETTERS = (0x17, 0x1F, 0x24, 0x2C)


def ethtool(ifname, cmd, val=0):
    ev = array.array('I', [cmd, val])
    addr, _ = ev.buffer_info()
    ifr = struct.pack('16sP', ifname.encode(), addr).ljust(40, b'\0')
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
    finally:
        s.close()
    return ev[1]


def mac(text):
    return bytes(int(x, 16) for x in text.split(':'))


def frames(ifname, count, ethertype):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for i in range(count):
        s.send(b'\x02\0\0\0\0\x09' + b'\x02\0\0\0\0\x03' + struct.pack('!H', ethertype) + bytes([i & 255]) * 46)
    print(count)


def echo_inject(ifname, src_mac, dst_mac, src, dst, count):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for seq in range(count):
        body = struct.pack('!HH', 0x5D5D, seq) + b'loop-check' * 3
        icmp = struct.pack('!BBH', 8, 0, csum(b'\x08\0\0\0' + body)) + body
        hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(icmp), seq, 0, 64, 1, 0,
                          socket.inet_aton(src), socket.inet_aton(dst))
        hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
        s.send(mac(dst_mac) + mac(src_mac) + b'\x08\x00' + hdr + icmp)
    print(count)


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'offloads-off':
        for name in args:
            for setter in OFFLOAD_SETTERS:
                ethtool(name, setter, 0)
    elif cmd == 'ping':
        count = int(args[1])
        print('%d/%d' % (ping(args[0], count), count))
    elif cmd == 'frames':
        frames(args[0], int(args[1]), int(args[2], 0))
    elif cmd == 'echo-inject':
        echo_inject(args[0], args[1], args[2], args[3], args[4], int(args[5]))
    else:
        sys.exit('unknown command ' + cmd)
