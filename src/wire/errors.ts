/**
 * Decode errors: a closed list. Code 0 is "no error". The device turns each
 * into a drop reason of the same name (src/device/reasons.ts).
 */
export const DECODE_ERRORS = [
  'ok',
  'truncated-frame', // shorter than the link header
  'truncated-vlan', // VLAN tag cut short
  'unsupported-linktype',
  'malformed-arp',
  'truncated-ipv4', // shorter than 20 bytes or than IHL*4
  'malformed-ipv4', // version != 4, IHL < 5, bad option lengths
  'bad-ipv4-length', // total length < IHL*4 or beyond the frame
  'truncated-ipv6',
  'malformed-ipv6', // version != 6, payload length beyond the frame
  'bad-ipv6-ext', // extension header chain runs past the packet or is bogus
  'malformed-fragment', // fragment header/offset inconsistent (e.g. zero-length fragment)
  'truncated-tcp',
  'malformed-tcp', // data offset < 5 or beyond the segment
  'bad-tcp-option', // option length 0/1 or past the header end
  'truncated-udp',
  'malformed-udp', // UDP length < 8 or beyond the datagram
  'truncated-icmp',
  'malformed-icmp', // ICMP error whose quoted header cannot be decoded
  'truncated-gre',
  'malformed-gre', // reserved bits / version set, or header beyond the packet
] as const;

export type DecodeErrorName = (typeof DECODE_ERRORS)[number];

export const E_OK = 0;
export const E_TRUNCATED_FRAME = 1;
export const E_TRUNCATED_VLAN = 2;
export const E_UNSUPPORTED_LINKTYPE = 3;
export const E_MALFORMED_ARP = 4;
export const E_TRUNCATED_IPV4 = 5;
export const E_MALFORMED_IPV4 = 6;
export const E_BAD_IPV4_LENGTH = 7;
export const E_TRUNCATED_IPV6 = 8;
export const E_MALFORMED_IPV6 = 9;
export const E_BAD_IPV6_EXT = 10;
export const E_MALFORMED_FRAGMENT = 11;
export const E_TRUNCATED_TCP = 12;
export const E_MALFORMED_TCP = 13;
export const E_BAD_TCP_OPTION = 14;
export const E_TRUNCATED_UDP = 15;
export const E_MALFORMED_UDP = 16;
export const E_TRUNCATED_ICMP = 17;
export const E_MALFORMED_ICMP = 18;
export const E_TRUNCATED_GRE = 19;
export const E_MALFORMED_GRE = 20;

export function decodeErrorName(code: number): DecodeErrorName {
  return DECODE_ERRORS[code] ?? 'ok';
}
