/**
 * The one reused decode result. `decodeFrame` (src/wire/decode.ts) fills it in
 * place; nothing here is allocated per packet. Addresses are four 32-bit words
 * each (network order, word 0 first). IPv4 addresses are stored IPv4-mapped:
 * words 0,1 = 0, word 2 = 0x0000ffff, word 3 = the address, so IPv4 and IPv6
 * share one key layout in the session table.
 *
 * Offsets are byte offsets into `buf` (which is the whole frame, starting at
 * `base`). A field whose header is absent is 0 (or -1 where 0 is meaningful).
 */
export class Packet {
  /** The frame bytes and where the frame starts and ends inside them. */
  buf: Uint8Array = EMPTY;
  base = 0;
  end = 0;
  /** Link type the frame was decoded as (pcap LINKTYPE_*). */
  linkType = 1;
  /** 0 when the whole frame decoded; else a DecodeError code (errors.ts). */
  error = 0;
  /** Byte offset (from base) where decoding failed. */
  errorOffset = 0;
  /**
   * Offset one past the last captured byte (the same as `end` after
   * decodeFrame/decodeIp). Byte reads of the frame must stay below it.
   */
  capEnd = 0;
  /**
   * True when the frame was cut by a capture's snaplen (decodeFrame's wireLen
   * > len). Then ipEnd, l4Len and payloadLen are the lengths on the wire and
   * may reach past capEnd: only the bytes before capEnd exist.
   */
  snapped = false;
  /**
   * Offloads still to be done on this frame (live, from a TAP with
   * IFF_VNET_HDR; src/wire/offload.ts): flags | gsoType << 8 | gsoSize << 16.
   * Non-zero only for a GSO TCP frame with its checksum partial. Set by the
   * device after decoding, 0 otherwise.
   */
  vnet = 0;

  // ---- L2 ----
  /** Offset of the Ethernet header, -1 when the link type has none (raw IP, SLL). */
  ethOff = -1;
  /** EtherType after all VLAN tags (e.g. 0x0800, 0x86dd, 0x0806). */
  etherType = 0;
  /** Number of 802.1Q / 802.1ad tags (0..2 stored; more counted). */
  vlanCount = 0;
  /** Outer and inner VLAN IDs (12 bits), 0 when absent. */
  vlanOuter = 0;
  vlanInner = 0;
  /** Offset of the L3 header (IP or ARP). */
  l3Off = 0;

  // ---- ARP (etherType 0x0806) ----
  arpOp = 0;
  /** Sender / target protocol addresses (IPv4, host number). */
  arpSpa = 0;
  arpTpa = 0;

  // ---- IP ----
  /** 4, 6, or 0 when not IP. */
  ipVersion = 0;
  ipHeaderLen = 0;
  /**
   * Offset one past the IP datagram's last byte (from total/payload length).
   * For a snapped frame this may be past capEnd (see `snapped`).
   */
  ipEnd = 0;
  ttl = 0;
  tos = 0;
  ipId = 0;
  /** Fragment offset in bytes, more-fragments flag, don't-fragment flag. */
  fragOffset = 0;
  moreFragments = false;
  dontFragment = false;
  /** True when this datagram is a fragment (offset > 0 or MF set, or an IPv6 Fragment header). */
  isFragment = false;
  /** Offset of the IPv6 Fragment header, -1 when absent. */
  ip6FragOff = -1;
  /** Source and destination address words (see class doc). */
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  /** Final upper-layer protocol (after IPv6 extension headers). */
  l4Proto = 0;
  /** Offset of the upper-layer header; l4Len = ipEnd - l4Off. */
  l4Off = 0;
  l4Len = 0;

  // ---- TCP / UDP ----
  srcPort = 0;
  dstPort = 0;
  // TCP
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  tcpHeaderLen = 0;
  /** TCP options seen: MSS (0 none), window scale (-1 none), SACK permitted, timestamps. */
  mss = 0;
  wscale = -1;
  sackPermitted = false;
  hasTimestamps = false;
  tsVal = 0;
  tsEcr = 0;
  /** Highest right edge of SACK blocks in this segment, when present (hasSack). */
  hasSack = false;
  sackMaxRight = 0;
  /** Upper-layer payload (TCP/UDP data, ICMP body) offset and length. */
  payloadOff = 0;
  payloadLen = 0;

  // ---- ICMP / ICMPv6 ----
  icmpType = 0;
  icmpCode = 0;
  /** Echo identifier and sequence for echo request/reply. */
  icmpId = 0;
  icmpSeq = 0;
  /** For ICMP errors: true and the quoted datagram decoded into the inner fields. */
  icmpIsError = false;
  innerL3Off = 0;
  innerIpVersion = 0;
  innerL4Proto = 0;
  innerL4Off = 0;
  readonly innerSrc = new Uint32Array(4);
  readonly innerDst = new Uint32Array(4);
  innerSrcPort = 0;
  innerDstPort = 0;
  /** Quoted ICMP echo id (for errors about echo requests). */
  innerIcmpId = 0;
  innerIcmpType = 0;
  /** Neighbour discovery: target address of NS/NA (ICMPv6 135/136). */
  readonly ndTarget = new Uint32Array(4);

  // ---- GRE (IP protocol 47) ----
  greOff = -1;
  greFlags = 0;
  greProto = 0;
  greHasKey = false;
  greKey = 0;
  greHasSeq = false;
  greSeq = 0;
  greHasChecksum = false;
  /** Offset of the GRE payload (the encapsulated packet). */
  grePayloadOff = 0;
}

const EMPTY = new Uint8Array(0);

/** TCP flag bits. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_IPV6 = 0x86dd;
export const ETH_VLAN = 0x8100;
export const ETH_QINQ = 0x88a8;

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_GRE = 47;
export const PROTO_ICMPV6 = 58;

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
