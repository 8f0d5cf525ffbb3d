/**
 * The libp2p multiaddrs a provider's file metadata advertises (its hub's and its own channel
 * node's), and the bounds both sides apply to them. A node listening on `0.0.0.0` reports one
 * address per interface — loopback, container bridges, IPv6 link-local — which can be more than a
 * client takes, in an order that puts unreachable ones first. Pure string work; no I/O.
 */

/** At most this many multiaddrs of one peer are advertised, and taken by a client. */
export const MAX_MULTIADDRS = 8;
/** Longest multiaddr string advertised or taken. */
export const MAX_MULTIADDR_LENGTH = 256;

/** A multiaddr string as metadata may carry it: starting with `/`, at most {@link MAX_MULTIADDR_LENGTH} characters. */
export function isMultiaddrString(x: unknown): x is string {
  return typeof x === 'string' && x.startsWith('/') && x.length <= MAX_MULTIADDR_LENGTH;
}

/** 0 public (or a DNS name), 1 private / link-local, 2 loopback; undefined: never useful to a peer (unspecified address). */
export function multiaddrReach(ma: string): 0 | 1 | 2 | undefined {
  const m = /^\/(ip4|ip6)\/([^/]+)/.exec(ma);
  if (m === null) return 0; // /dns4/…, /dns6/…, /dnsaddr/…: a name someone chose to publish
  const [, family, host] = m as unknown as [string, string, string];
  if (family === 'ip4') {
    const o = host.split('.').map(Number);
    if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return 1;
    const [a, b] = o as [number, number, number, number];
    if (a === 0) return undefined;
    if (a === 127) return 2;
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127)) return 1;
    return 0;
  }
  const h = host.toLowerCase();
  if (h === '::' || h === '0:0:0:0:0:0:0:0') return undefined;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return 2;
  if (/^fe[89ab]/.test(h) || /^f[cd]/.test(h)) return 1;
  return 0;
}

/**
 * What to advertise of `addrs`: well-formed (starting with `/`, at most
 * {@link MAX_MULTIADDR_LENGTH} characters), no unspecified addresses, no duplicates, public before
 * private before loopback (stable otherwise), at most {@link MAX_MULTIADDRS}.
 */
export function advertisedMultiaddrs(addrs: Iterable<string>): string[] {
  const seen = new Set<string>();
  const ranked: { ma: string; reach: number; i: number }[] = [];
  for (const ma of addrs) {
    if (!isMultiaddrString(ma) || seen.has(ma)) continue;
    seen.add(ma);
    const reach = multiaddrReach(ma);
    if (reach !== undefined) ranked.push({ ma, reach, i: ranked.length });
  }
  ranked.sort((x, y) => x.reach - y.reach || x.i - y.i);
  return ranked.slice(0, MAX_MULTIADDRS).map((r) => r.ma);
}
