// The data the gateway's DNS responder is authoritative for: the project's host table and its
// domain, and the classification of a query name against them. Pure (no I/O) and immutable: a
// live update builds a new DnsZone and the responder swaps its reference, so a query never sees a
// half-applied table.
import { isIP } from 'node:net';

/** Addresses of one name, split by family. Both empty for an empty non-terminal (e.g. `b` of `a.b`). */
export interface NameRecords {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** Host table input: name -> addresses (IPv4 and/or IPv6 text). Names are case-insensitive. */
export type HostsInput = ReadonlyMap<string, readonly string[]> | Readonly<Record<string, readonly string[]>>;

/** The gateway's own entry: `name` (default `gateway`) resolves to `address` (merged with a host of that name). */
export interface GatewayName {
  name?: string;
  address: string | readonly string[];
}

/** A one-label name of our namespace that no Host line holds: `bare` may exist in the project's own DNS. */
export interface BareName {
  readonly bare: string;
}

/**
 * What a query name is to the zone: the apex of the domain, a name with records (possibly none of
 * the asked type), a bare service name we do not hold (`NAME` or `NAME.DOMAIN`), a name that does
 * not exist in our namespace, or a name outside it (forwarded).
 */
export type Lookup = NameRecords | BareName | 'apex' | 'nxdomain' | 'outside';

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** ASCII-only lower case: DNS names compare case-insensitively over A-Z only (RFC 4343), never Unicode folds. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Validates and normalizes a DNS name (lower case, no trailing dot); throws naming the bad input. */
export function normalizeName(text: string, what: string): string {
  const n = asciiLower(text.endsWith('.') ? text.slice(0, -1) : text);
  if (n.length === 0 || n.length > 253 || !n.split('.').every((l) => LABEL.test(l))) {
    throw new Error(`${what} '${text}' is not a valid DNS name`);
  }
  return n;
}

function entriesOf(hosts: HostsInput): Iterable<readonly [string, readonly string[]]> {
  return hosts instanceof Map ? hosts.entries() : Object.entries(hosts);
}

/** One immutable version of the responder's data (see the file comment). */
export class DnsZone {
  /** Lower-case domain without trailing dot, or undefined (then only the host names themselves answer). */
  readonly domain: string | undefined;
  /** Lower-case name of the gateway's own entry (also the SOA MNAME / NS target label). */
  readonly gatewayName: string;
  private readonly suffix: string;
  private readonly names = new Map<string, NameRecords>();

  /** Builds the zone; throws on an invalid domain, host name or address (configuration errors). */
  constructor(domain: string | undefined, hosts: HostsInput, gateway?: GatewayName) {
    this.domain = domain === undefined || domain === '' ? undefined : normalizeName(domain, 'domain');
    this.suffix = this.domain === undefined ? '' : `.${this.domain}`;
    this.gatewayName = normalizeName(gateway?.name ?? 'gateway', 'gateway name');
    const table = new Map<string, { v4: string[]; v6: string[] }>();
    const add = (rawName: string, addresses: readonly string[]): void => {
      const name = normalizeName(rawName, 'host name');
      if (name === this.domain) throw new Error(`host name '${rawName}' is the domain itself`);
      let rec = table.get(name);
      if (!rec) table.set(name, (rec = { v4: [], v6: [] }));
      for (const a of addresses) {
        const family = isIP(a);
        if (family === 0) throw new Error(`address '${a}' of host '${rawName}' is not an IP address`);
        const list = family === 4 ? rec.v4 : rec.v6;
        if (!list.includes(a)) list.push(a);
      }
    };
    for (const [name, addresses] of entriesOf(hosts)) add(name, addresses);
    if (gateway) add(this.gatewayName, typeof gateway.address === 'string' ? [gateway.address] : gateway.address);
    const empty: NameRecords = { v4: [], v6: [] };
    for (const name of table.keys()) {
      // Ancestors of multi-label names exist (empty non-terminals): NODATA, not NXDOMAIN (RFC 8020).
      for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
        const parent = name.slice(dot + 1);
        if (!table.has(parent) && parent !== this.domain) this.names.set(parent, empty);
      }
    }
    for (const [name, rec] of table) this.names.set(name, rec);
  }

  /** Records of a name exactly as stored (relative), e.g. for the NS glue of the gateway name. */
  records(name: string): NameRecords | undefined {
    return this.names.get(name);
  }

  /**
   * Classifies a query name (as decoded: no trailing dot, `.` for the root). Order: the apex, a host
   * name as written (`app`, or a dotted host name), a name under the domain (`app.zerops`: the part
   * before the domain is a host; else one label is a bare name, more are NXDOMAIN), an unknown
   * single label (a bare name), otherwise outside our namespace.
   */
  lookup(qname: string): Lookup {
    if (qname === '.' || qname === '') return 'outside';
    const n = asciiLower(qname.endsWith('.') ? qname.slice(0, -1) : qname);
    if (this.domain !== undefined && n === this.domain) return 'apex';
    const direct = this.names.get(n);
    if (direct) return direct;
    if (this.suffix !== '' && n.endsWith(this.suffix)) {
      const rel = n.slice(0, -this.suffix.length);
      return this.names.get(rel) ?? (rel.includes('.') ? 'nxdomain' : { bare: rel });
    }
    return n.includes('.') ? 'outside' : { bare: n };
  }
}
