/**
 * The embedded default config: a classic stateful firewall. RFC 1918, ULA and
 * link-local addresses are inside; everything else is outside. Sessions
 * started from inside are allowed; from outside, dropped.
 */
export const DEFAULT_CONFIG_YAML = `# sdev default: stateful firewall
sessions:
  max: 262144
  zone-by-vlan: true
  tcp:
    liberal: false
    loose: true
zones:
  inside:
    networks: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, fc00::/7, fe80::/10]
  outside:
    default: true
policy:
  default: drop
  rules:
    - name: inside-out
      from: inside
      action: accept
`;
