// UDP endpoints as the data plane keeps them: 16 address bytes (IPv4 as v4-mapped IPv6) + port,
// the scope of a link-local address, and the sticky source (the local address the peer last sent
// to, which replies and data leave from, like the kernel's and wireguard-go's endpoints); plus the
// printable form used by UAPI (`1.2.3.4:51820`, `[fd00::1]:51820`, `[fe80::1%eth0]:51820`).
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Bytes of a local address as the UDP edge passes it (native/udp_cmsg.h LocalAddr): the address
 * (16 bytes, IPv4 v4-mapped) then the interface index as a native-endian uint32; five words.
 */
export const LOCAL_ADDR_BYTES = 20;
export const LOCAL_ADDR_WORDS = 5;

export interface Endpoint {
  /** 16 bytes; IPv4 is stored v4-mapped (::ffff:a.b.c.d). */
  readonly addr: Uint8Array;
  readonly port: number;
  /** Address as dgram/net expect it: dotted quad for IPv4, plain IPv6 text otherwise. */
  readonly host: string;
  readonly family: 4 | 6;
  /** Interface index of a link-local IPv6 address (sin6_scope_id); 0 for other addresses. */
  readonly scope: number;
  /** The zone as configured (`eth0` of `[fe80::1%eth0]:51820`); '' when none was written. */
  readonly zone: string;
  /**
   * The sticky source, LOCAL_ADDR_BYTES: the local address this peer's last authenticated
   * datagram was sent to (which replies and data leave from) and the interface it arrived on.
   * All zero: none, the kernel picks. Changed in place (setSource / clearSource).
   */
  readonly source: Uint8Array;
  /** `source` as five words: four of address, the interface index. */
  readonly sourceWords: Uint32Array;
}

export function isV4Mapped(a: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 10; i++) if (a[off + i] !== 0) return false;
  return a[off + 10] === 0xff && a[off + 11] === 0xff;
}

/** IPv6 link-local (fe80::/10): meaningful only with the interface it belongs to. */
export function isLinkLocal(a: Uint8Array, off = 0): boolean {
  return a[off] === 0xfe && ((a[off + 1] as number) & 0xc0) === 0x80;
}

/** Parses an IPv4 or IPv6 literal into 16 bytes (v4-mapped for IPv4); null when invalid. */
export function parseIp(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  if (isIPv4(text)) {
    out[10] = 0xff; out[11] = 0xff;
    text.split('.').forEach((p, i) => { out[12 + i] = Number(p); });
    return out;
  }
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!isIPv6(s)) return null;
  // Embedded IPv4 tail (::ffff:1.2.3.4)
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail = s.slice(lastColon + 1).split('.').map(Number);
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = s.includes('::') ? s.split('::') as [string, string] : [s, null];
  const h = head ? head.split(':') : [];
  const r = rest === null ? [] : rest ? rest.split(':') : [];
  const groups = rest === null ? h : [...h, ...new Array<string>(8 - h.length - r.length).fill('0'), ...r];
  groups.forEach((g, i) => { const v = parseInt(g, 16); out[i * 2] = v >> 8; out[i * 2 + 1] = v & 0xff; });
  if (tail.length === 4) tail.forEach((b, i) => { out[12 + i] = b; });
  return out;
}

/** Formats 16 address bytes back to text (dotted quad for v4-mapped), RFC 5952 compressed for IPv6. */
export function formatIp(a: Uint8Array, off = 0): string {
  if (isV4Mapped(a, off)) return `${a[off + 12]}.${a[off + 13]}.${a[off + 14]}.${a[off + 15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((a[off + i * 2] as number) << 8) | (a[off + i * 2 + 1] as number));
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** An endpoint without a sticky source; `scope` counts only for a link-local address. */
export function makeEndpoint(addr: Uint8Array, port: number, scope = 0, zone = ''): Endpoint {
  const copy = new Uint8Array(16);
  copy.set(addr.subarray(0, 16));
  const v4 = isV4Mapped(copy);
  const source = new Uint8Array(LOCAL_ADDR_BYTES);
  return {
    addr: copy, port, host: formatIp(copy), family: v4 ? 4 : 6, scope: isLinkLocal(copy) ? scope : 0, zone,
    source, sourceWords: new Uint32Array(source.buffer),
  };
}

/** Whether `ep` has a sticky source (an address; the interface alone is none). */
export function hasSource(ep: Endpoint): boolean {
  const w = ep.sourceWords;
  return (w[0]! | w[1]! | w[2]! | w[3]!) !== 0;
}

/** Whether the sticky source of `ep` is the local address local[at, at + 5) (words as in sourceWords). */
export function sameSource(ep: Endpoint, local: Uint32Array, at: number): boolean {
  const w = ep.sourceWords;
  return w[0] === local[at] && w[1] === local[at + 1] && w[2] === local[at + 2] && w[3] === local[at + 3] && w[4] === local[at + 4];
}

/** Makes local[at, at + 5) (words as in sourceWords) the sticky source of `ep`. */
export function setSource(ep: Endpoint, local: Uint32Array, at: number): void {
  const w = ep.sourceWords;
  w[0] = local[at]!; w[1] = local[at + 1]!; w[2] = local[at + 2]!; w[3] = local[at + 3]!; w[4] = local[at + 4]!;
}

/** Forgets the sticky source of `ep`: the kernel picks the source address again. */
export function clearSource(ep: Endpoint): void {
  ep.sourceWords.fill(0);
}

/** The sticky source as text (`10.0.0.2`, `fe80::1%3`), '' when none; for logs and tests. */
export function formatSource(ep: Endpoint): string {
  if (!hasSource(ep)) return '';
  const ip = formatIp(ep.source);
  return isLinkLocal(ep.source) ? `${ip}%${ep.sourceWords[4]}` : ip;
}

/** Parses `ip:port` or `[ipv6]:port` (no host names: UAPI carries resolved addresses). */
export function parseEndpoint(text: string): Endpoint | null {
  let host: string, portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return null;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return null;
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  const addr = parseIp(host);
  if (!addr) return null;
  return makeEndpoint(addr, port);
}

/**
 * `1.2.3.4:51820`, `[fd00::1]:51820` or `[fe80::1%eth0]:51820` (the configured zone, else the
 * scope's number), as wireguard-go prints endpoints.
 */
export function formatEndpoint(e: Endpoint): string {
  if (e.family === 4) return `${e.host}:${e.port}`;
  const zone = e.zone !== '' ? e.zone : e.scope !== 0 ? String(e.scope) : '';
  return `[${e.host}${zone === '' ? '' : `%${zone}`}]:${e.port}`;
}

/** Whether `e` is the remote address addr[addrOff, addrOff + 16) port `port` with scope `scope` (0 unless link-local). */
export function sameEndpoint(e: Endpoint, addr: Uint8Array, addrOff: number, port: number, scope = 0): boolean {
  if (e.port !== port || e.scope !== scope) return false;
  for (let i = 0; i < 16; i++) if (e.addr[i] !== addr[addrOff + i]) return false;
  return true;
}
