// Who may ask the gateway's DNS: a set of prefixes (the tunnel subnets), checked against the
// source address of every datagram and TCP connection before anything of it is read. A source
// outside them is dropped unanswered, whatever address the service listens on, so the gateway is
// never an open resolver. IPv4-mapped IPv6 sources (a dual-stack socket) count as their IPv4
// address; an IPv6 zone (`fe80::1%eth0`) is ignored.
import { parseCidr, parseIP } from '../../config/ip.js';

interface Prefix {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** Loopback only: the default of a responder nobody told who its clients are. */
export const LOOPBACK_CLIENTS: readonly string[] = ['127.0.0.0/8', '::1/128'];

/** A fixed set of client prefixes. */
export class SourceFilter {
  private readonly v4: Prefix[] = [];
  private readonly v6: Prefix[] = [];

  /** `prefixes`: CIDR texts (a bare address is a single host); throws naming a bad one. */
  constructor(readonly prefixes: readonly string[]) {
    for (const text of prefixes) {
      const p = parseCidr(text, { prefixOptional: true, hostBits: 'mask' });
      if (!p.ok) throw new Error(`DNS client prefix '${text}': ${p.error}`);
      const bytes = parseIP(p.value.cidr.address) as Uint8Array;
      (bytes.length === 4 ? this.v4 : this.v6).push({ bytes, prefix: p.value.cidr.prefix });
    }
  }

  /** Whether `address` (as node reports a peer: IPv4, IPv6, IPv4-mapped, with or without zone) is inside a prefix. */
  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const pct = address.indexOf('%');
    const plain = pct < 0 ? address : address.slice(0, pct);
    const mapped = /^::ffff:([0-9.]+)$/i.exec(plain);
    const bytes = parseIP(mapped ? (mapped[1] as string) : plain);
    if (bytes === null) return false;
    for (const p of bytes.length === 4 ? this.v4 : this.v6) {
      if (matches(p, bytes)) return true;
    }
    return false;
  }
}

function matches(p: Prefix, bytes: Uint8Array): boolean {
  const full = p.prefix >> 3;
  for (let i = 0; i < full; i++) if (p.bytes[i] !== bytes[i]) return false;
  const rest = p.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((p.bytes[full] as number) & mask) === ((bytes[full] as number) & mask);
}
