// The gateway's access rules, from config to data plane: the `Allow =` strings of each [Peer] are
// compiled with router/access.ts (errors at FILE:LINE of the Allow line), loaded into an
// AccessTable under the peer's device id, and checked by `filter`, the Device.inboundFilter hook,
// for every decrypted packet before it reaches the TUN.
//
// Semantics: a peer without Allow lines may send anything the device lets through; a peer with
// Allow lines only packets matching one of them, except DNS to the gateway itself (UDP or TCP to
// the DNS listener's address and port), which is always allowed so that names resolve. Refused
// packets are counted per peer (`denied`) in a typed array indexed by peer id; the filter
// allocates nothing.
import type { InboundFilter } from '../device/device.js';
import type { PeerConfig } from '../config/model.js';
import { AccessTable, parseAccessRule, type AccessRule } from '../router/access.js';
import { dstPort, ipProtocol, PROTO_TCP, PROTO_UDP, readDst } from '../router/packet.js';
import { parseAddr } from '../router/prefix.js';

/** The compiled rules of every peer: null = no Allow lines = allow all. */
export type CompiledAccess = ReadonlyMap<string, readonly AccessRule[] | null>;

/** Outcome of compileAccess: the rules by public key, or every bad rule as `FILE:LINE: reason`. */
export type CompileResult = { ok: true; rules: CompiledAccess } | { ok: false; errors: string[] };

/** Compiles the Allow lines of `peers` (from the file `file`). */
export function compileAccess(peers: readonly PeerConfig[], file: string): CompileResult {
  const rules = new Map<string, readonly AccessRule[] | null>();
  const errors: string[] = [];
  for (const p of peers) {
    if (p.allow.length === 0) {
      rules.set(p.publicKey, null);
      continue;
    }
    const list: AccessRule[] = [];
    p.allow.forEach((text, i) => {
      const r = parseAccessRule(text);
      if (r.ok) {
        list.push(r.value);
        return;
      }
      const line = p.source?.allowLines[i] ?? p.source?.line ?? 0;
      errors.push(line > 0 ? `${file}:${line}: ${r.error}` : `${file}: ${r.error}`);
    });
    rules.set(p.publicKey, list);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules };
}

/** Where the gateway's DNS listens: packets to it are always allowed. */
export interface DnsTarget {
  /** IP literal. */
  readonly address: string;
  readonly port: number;
}

/** Peer access state of one gateway interface: rules per peer id, the filter, denied counters. */
export class PeerAccess {
  readonly table = new AccessTable();
  /** Denied packets per peer id. */
  private denied = new Float64Array(64);
  /** Public key currently owning each peer id (ids are reused after removals). */
  private readonly keyOfId: (string | undefined)[] = [];
  private readonly dst = new Uint32Array(4);
  private readonly dnsWords = new Uint32Array(4);
  private dnsVersion = 0;
  private dnsPort = -1;

  /** Sets (or, with null, clears) the always-allowed DNS listener. */
  setDnsTarget(target: DnsTarget | null): void {
    this.dnsVersion = 0;
    if (target === null) return;
    const a = parseAddr(target.address);
    if (!a.ok) throw new Error(`bad DNS address ${target.address}: ${a.error}`);
    const bytes = a.value;
    for (let w = 0; w < bytes.length / 4; w++) {
      this.dnsWords[w] = ((bytes[4 * w] << 24) | (bytes[4 * w + 1] << 16) | (bytes[4 * w + 2] << 8) | bytes[4 * w + 3]) >>> 0;
    }
    this.dnsVersion = bytes.length === 4 ? 4 : 6;
    this.dnsPort = target.port;
  }

  /**
   * Loads compiled rules: every peer of `rules` gets its rules under its current device id
   * (`idOf` returns -1 for a peer the device does not have: skipped); every other id is cleared.
   * A peer id that now belongs to another public key starts its denied counter from zero.
   */
  apply(rules: CompiledAccess, idOf: (publicKey: string) => number): void {
    const ids = new Map<number, string>();
    for (const key of rules.keys()) {
      const id = idOf(key);
      if (id >= 0) ids.set(id, key);
    }
    const top = Math.max(this.keyOfId.length, ...[...ids.keys()].map((id) => id + 1));
    if (top > this.denied.length) {
      const grown = new Float64Array(Math.max(top, this.denied.length * 2));
      grown.set(this.denied);
      this.denied = grown;
    }
    for (let id = 0; id < top; id++) {
      const key = ids.get(id);
      if (this.keyOfId[id] !== key) this.denied[id] = 0;
      this.keyOfId[id] = key;
      const list = key === undefined ? null : rules.get(key) ?? null;
      if (list === null) this.table.clearPeer(id);
      else this.table.setRules(id, list);
    }
  }

  /** Device.inboundFilter: may `peer` send this decrypted packet into the network? */
  readonly filter: InboundFilter = (peer, pkt, off, len) => {
    if (!this.table.hasRules(peer)) return true;
    if (this.isDns(pkt, off, len)) return true;
    if (this.table.allowsPacket(peer, pkt, off, len)) return true;
    if (peer >= 0 && peer < this.denied.length) this.denied[peer]++;
    return false;
  };

  private isDns(pkt: Uint8Array, off: number, len: number): boolean {
    const v = readDst(pkt, off, len, this.dst);
    if (v === 0 || v !== this.dnsVersion) return false;
    const d = this.dst;
    const w = this.dnsWords;
    if (d[0] !== w[0] || (v === 6 && (d[1] !== w[1] || d[2] !== w[2] || d[3] !== w[3]))) return false;
    const proto = ipProtocol(pkt, off, len);
    return (proto === PROTO_UDP || proto === PROTO_TCP) && dstPort(pkt, off, len) === this.dnsPort;
  }

  /** Denied packets of the peer that now owns `publicKey`'s id (0 when unknown). */
  deniedOf(publicKey: string): number {
    const id = this.keyOfId.indexOf(publicKey);
    return id < 0 ? 0 : this.denied[id];
  }

  /** Denied packets by public key, for every peer loaded by apply(). */
  deniedByPeer(): Map<string, number> {
    const out = new Map<string, number>();
    this.keyOfId.forEach((key, id) => { if (key !== undefined) out.set(key, this.denied[id]); });
    return out;
  }
}
