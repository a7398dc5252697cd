// Text forms of addresses used in config files: IPv4/IPv6 literals, CIDR prefixes, HOST:PORT
// endpoints and DNS names. Parsers are strict (what inet_pton accepts, decimal ports only) and
// return a reason instead of throwing; formatters produce one canonical spelling (RFC 5952 for
// IPv6) so equal values compare equal as strings.

/** A parse outcome: the value, or a human-readable reason it was rejected. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** An IP prefix: canonical address text, its family, and the prefix length. */
export interface Cidr {
  family: 4 | 6;
  address: string;
  prefix: number;
}

/** A host (canonical IP literal without brackets, or a lower-case DNS name) and a port. */
export interface HostPort {
  host: string;
  port: number;
}

const DEC_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parses a dotted-quad IPv4 literal (no leading zeros, like inet_pton) into 4 bytes. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!DEC_OCTET.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses the 16-bit groups of one side of an IPv6 `::`; a dotted IPv4 tail is allowed when `last`. */
function ipv6Groups(text: string, last: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (last && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIPv4(p);
      if (!v4) return null;
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (HEX_GROUP.test(p)) {
      groups.push(parseInt(p, 16));
    } else {
      return null;
    }
  }
  return groups;
}

/** Parses an IPv6 literal (with at most one `::`, optional dotted IPv4 tail, no zone) into 16 bytes. */
export function parseIPv6(text: string): Uint8Array | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = ipv6Groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? ipv6Groups(halves[1], true) : [];
  if (!head || !tail) return null;
  const given = head.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  const words = [...head, ...new Array<number>(8 - given).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 literal into 4 or 16 bytes. */
export function parseIP(text: string): Uint8Array | null {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** Formats 4 or 16 address bytes canonically (dotted quad; RFC 5952 lower-case with `::`). */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  // The longest run of at least two zero words (the first one on a tie) becomes `::`.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Canonical text of an IP literal, or null when it is not one. */
export function canonicalIP(text: string): string | null {
  const bytes = parseIP(text);
  return bytes ? formatIP(bytes) : null;
}

/** How parseCidr treats a missing prefix and bits set after the prefix. */
export interface CidrRules {
  /** A bare address means a single host (/32, /128) when true; otherwise the prefix is required. */
  prefixOptional: boolean;
  /** 'keep': an interface address like 10.0.0.1/24; 'mask': clear them; 'reject': a network must be aligned. */
  hostBits: 'keep' | 'mask' | 'reject';
}

/** The result of parseCidr: the prefix and whether host bits were set (and cleared, under 'mask'). */
export interface ParsedCidr {
  cidr: Cidr;
  hadHostBits: boolean;
}

/** Clears every bit after `prefix` in place and reports whether any was set. */
function maskBytes(bytes: Uint8Array, prefix: number): boolean {
  let changed = false;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    const masked = bytes[i] & ((0xff << (8 - keep)) & 0xff);
    if (masked !== bytes[i]) { changed = true; bytes[i] = masked; }
  }
  return changed;
}

/** Parses `ADDRESS[/PREFIX]` under the given rules. */
export function parseCidr(text: string, rules: CidrRules): Parsed<ParsedCidr> {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIP(addrText);
  if (!bytes) return fail(`'${addrText}' is not an IP address`);
  const bits = bytes.length * 8;
  let prefix = bits;
  if (slash < 0) {
    if (!rules.prefixOptional) return fail(`'${text}' needs a /prefix length`);
  } else {
    const p = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > bits) return fail(`'${text}' has a bad prefix length (0-${bits})`);
    prefix = Number(p);
  }
  const family: 4 | 6 = bytes.length === 4 ? 4 : 6;
  let hadHostBits = false;
  if (rules.hostBits !== 'keep') {
    hadHostBits = maskBytes(bytes, prefix);
    if (hadHostBits && rules.hostBits === 'reject') {
      return fail(`'${text}' has host bits set (the network is ${formatIP(bytes)}/${prefix})`);
    }
  }
  return ok({ cidr: { family, address: formatIP(bytes), prefix }, hadHostBits });
}

/** `ADDRESS/PREFIX` text of a Cidr. */
export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

/** Parses a decimal port in [min, 65535] (no service names, no signs). */
export function parsePort(text: string, min: number): Parsed<number> {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535 || Number(text) < min) {
    return fail(`'${text}' is not a port (${min}-65535)`);
  }
  return ok(Number(text));
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** True for a DNS name: dot-separated labels of letters, digits, '-' and '_', last label not numeric. */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.split('.');
  return labels.every((l) => LABEL.test(l)) && !/^[0-9]+$/.test(labels[labels.length - 1]);
}

/**
 * Parses `HOST:PORT` where HOST is an IPv4 literal, a bracketed IPv6 literal (`[fd00::1]:51820`;
 * brackets are required so the port is never ambiguous) or, when allowed, a DNS name.
 */
export function parseHostPort(text: string, allowHostname: boolean): Parsed<HostPort> {
  let hostText: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return fail(`'${text}' is not [IPv6]:PORT`);
    hostText = text.slice(1, close);
    if (!parseIPv6(hostText)) return fail(`'${hostText}' is not an IPv6 address`);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return fail(`'${text}' has no :PORT`);
    hostText = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (hostText.includes(':')) return fail(`'${text}': put an IPv6 address in brackets, [ADDRESS]:PORT`);
    if (!parseIPv4(hostText) && !(allowHostname && isHostname(hostText))) {
      return fail(`'${hostText}' is not ${allowHostname ? 'an IP address or host name' : 'an IP address'}`);
    }
  }
  const port = parsePort(portText, 1);
  if (!port.ok) return port;
  return ok({ host: canonicalIP(hostText) ?? hostText.toLowerCase(), port: port.value });
}

/** `HOST:PORT` text of a HostPort (IPv6 in brackets). */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** The port every stock client sends DNS to (a wg-quick `DNS =` line has no port). */
export const DNS_PORT = 53;

/** Parses a DNS server `IP`, `IPv4:PORT` or `[IPv6]:PORT` (port 53 when absent). */
export function parseDnsServer(text: string): Parsed<HostPort> {
  const ip = canonicalIP(text);
  if (ip !== null) return ok({ host: ip, port: DNS_PORT });
  const hp = parseHostPort(text, false);
  if (hp.ok) return hp;
  // A good address with a bad port: say what is wrong with the port.
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return colon > 0 && parseIP(host) !== null ? hp : fail(`'${text}' is not IP, IPv4:PORT or [IPv6]:PORT`);
}

/** Text of a DNS server: the bare IP for port 53, else HOST:PORT (IPv6 in brackets). */
export function formatDnsServer(hp: HostPort): string {
  return hp.port === DNS_PORT ? hp.host : formatHostPort(hp);
}
