// IP address and prefix text <-> bytes, for configuration and display (not the packet path).
// Parsing never throws: it returns a Parsed result whose error names the offending token.
// Formatting is canonical: IPv4 dotted decimal; IPv6 lowercase with the longest run (>= 2) of zero
// groups compressed to "::" (the first such run on a tie, RFC 5952) and IPv4-mapped addresses
// written "::ffff:a.b.c.d", exactly as Go's net/netip prints them (so as wireguard-go's UAPI does).

/** An IP prefix: 4 (IPv4) or 16 (IPv6) address bytes and a prefix length in bits. */
export interface Prefix {
  addr: Uint8Array;
  cidr: number;
}

/** Result of a parse: the value, or a human-readable reason naming the bad token. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A failed Parsed result. */
export function fail<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

/** Big-endian 32-bit word at addr[at..at+4), as int32 bits (the form the tables store). */
export function addrWord(addr: Uint8Array, at: number): number {
  return (addr[at] << 24) | (addr[at + 1] << 16) | (addr[at + 2] << 8) | addr[at + 3];
}

/** Writes the IPv4 dotted quad `s` into out[at..at+4); returns an error string or null. */
function parseV4Into(s: string, out: Uint8Array, at: number): string | null {
  const parts = s.split('.');
  if (parts.length !== 4) return `"${s}" is not a dotted-quad IPv4 address`;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    // Decimal only, no sign, no leading zero (an octal reading would be ambiguous), 0..255.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return `bad IPv4 octet "${p}" in "${s}"`;
    const v = Number(p);
    if (v > 255) return `IPv4 octet "${p}" in "${s}" exceeds 255`;
    out[at + i] = v;
  }
  return null;
}

/** Writes IPv6 groups (hex, or a final dotted IPv4) into out from byte `at`; returns bytes or an error. */
function parseGroups(groups: string[], out: Uint8Array, at: number, last: boolean, s: string): number | string {
  let n = at;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (last && i === groups.length - 1 && g.includes('.')) {
      if (n > 12) return `too many groups before embedded IPv4 "${g}" in "${s}"`;
      const err = parseV4Into(g, out, n);
      if (err !== null) return err;
      n += 4;
    } else if (!/^[0-9a-fA-F]{1,4}$/.test(g)) {
      return `bad IPv6 group "${g}" in "${s}"`;
    } else if (n >= 16) {
      return `more than 8 groups in "${s}"`;
    } else {
      const v = parseInt(g, 16);
      out[n] = v >> 8;
      out[n + 1] = v & 0xff;
      n += 2;
    }
  }
  return n;
}

/** Parses a full IPv6 address (hex groups, at most one "::", optional trailing dotted IPv4). */
function parseV6(s: string): Uint8Array | string {
  const halves = s.split('::');
  if (halves.length > 2) return `more than one "::" in "${s}"`;
  const split = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const out = new Uint8Array(16);
  const left = parseGroups(split(halves[0]), out, 0, halves.length === 1, s);
  if (typeof left === 'string') return left;
  if (halves.length === 1) return left === 16 ? out : `"${s}" has ${left / 2} groups, IPv6 needs 8 (or "::")`;
  const tail = new Uint8Array(16);
  const right = parseGroups(split(halves[1]), tail, 0, true, s);
  if (typeof right === 'string') return right;
  if (left + right >= 16) return `"::" stands for no group in "${s}"`;
  out.set(tail.subarray(0, right), 16 - right);
  return out;
}

/** Parses an IPv4 or IPv6 address (no zone, no brackets) into 4 or 16 bytes. */
export function parseAddr(s: string): Parsed<Uint8Array> {
  if (s.includes(':')) {
    if (s.includes('%')) return fail(`IPv6 zone not allowed in "${s}"`);
    const r = parseV6(s);
    return typeof r === 'string' ? fail(`invalid IPv6 address: ${r}`) : { ok: true, value: r };
  }
  const out = new Uint8Array(4);
  const err = parseV4Into(s, out, 0);
  return err === null ? { ok: true, value: out } : fail(`invalid IPv4 address: ${err}`);
}

/** Parses a prefix length for an address of `bits` bits: plain decimal 0..bits, no leading zero. */
export function parseCidr(s: string, bits: number): Parsed<number> {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(s) || Number(s) > bits) {
    return fail(`prefix length "${s}" is not an integer in 0..${bits}`);
  }
  return { ok: true, value: Number(s) };
}

/**
 * Parses "addr/len" (e.g. "10.0.0.0/24", "fd00::/64") into masked bytes and the length. A bare
 * address is a host prefix (/32 or /128), as `wg` accepts it. Host bits are cleared, as the kernel
 * and wireguard-go do when such a prefix is configured.
 */
export function parsePrefix(s: string): Parsed<Prefix> {
  const slash = s.indexOf('/');
  const a = parseAddr(slash < 0 ? s : s.slice(0, slash));
  if (!a.ok) return fail(`invalid prefix "${s}": ${a.error}`);
  const bits = a.value.length * 8;
  if (slash < 0) return { ok: true, value: { addr: a.value, cidr: bits } };
  const c = parseCidr(s.slice(slash + 1), bits);
  if (!c.ok) return fail(`invalid prefix "${s}": ${c.error}`);
  maskInPlace(a.value, c.value);
  return { ok: true, value: { addr: a.value, cidr: c.value } };
}

/** Clears every bit of `addr` after the first `cidr` bits, in place; returns addr. */
export function maskInPlace(addr: Uint8Array, cidr: number): Uint8Array {
  for (let i = 0; i < addr.length; i++) {
    const keep = cidr - i * 8;
    if (keep <= 0) addr[i] = 0;
    else if (keep < 8) addr[i] &= 0xff00 >> keep;
  }
  return addr;
}

/** Canonical text of a 4- or 16-byte address (see the module comment for the IPv6 form). */
export function formatAddr(addr: Uint8Array): string {
  if (addr.length === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  let mapped = addr[10] === 0xff && addr[11] === 0xff;
  for (let i = 0; i < 10; i++) if (addr[i] !== 0) mapped = false;
  if (mapped) return `::ffff:${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((addr[i] << 8) | addr[i + 1]);
  // The longest run of two or more zero groups, the first one on a tie.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/** Canonical "addr/len" text with host bits cleared, as `wg show allowed-ips` prints it. */
export function formatPrefix(addr: Uint8Array, cidr: number): string {
  return `${formatAddr(maskInPlace(addr.slice(), cidr))}/${cidr}`;
}
