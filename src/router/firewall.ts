// A gateway's per-peer firewall, both directions, allocation-free per packet:
//
//   from a peer (decrypted, on its way to the TUN): a packet of a flow the table knows passes (the
//   flow's first packet was checked); otherwise the access rules decide (access.ts), and a passing
//   packet starts a flow. Later fragments of a datagram pass when its first fragment did; an ICMP
//   error passes when it quotes a known flow, else the rules decide.
//
//   to a peer (read from the TUN, on its way to be encrypted): only packets of a flow the table
//   knows pass (answers to what the peer started, ICMP errors quoting such a flow, later fragments
//   of a passed datagram), or packets the peer's inbound rules (AllowInbound) accept, which start
//   a flow the network side owns. Everything else is refused.
//
// Refused packets are counted per peer id (denied: from the peer; refused: to the peer). A peer's
// flows and counters are reset together (resetPeer) when its id changes owner or its rules change.
import { AccessTable, MODE_NONE } from './access.js';
import { DEFAULT_FLOW_CAPACITY, FlowTable, PARSE_FLOW, PARSE_FRAGMENT, PARSE_ICMP_ERROR } from './flows.js';

export class PeerFirewall {
  readonly access = new AccessTable();
  readonly flows: FlowTable;
  private denied = new Float64Array(64);
  private refused = new Float64Array(64);

  constructor(flowCapacity = DEFAULT_FLOW_CAPACITY) {
    this.flows = new FlowTable(flowCapacity);
  }

  /** May `peer` send this decrypted packet into the network? `now` in ms (monotonic). */
  fromPeer(peer: number, buf: Uint8Array, off: number, len: number, now: number): boolean {
    if (this.access.modeOf(peer) === MODE_NONE) return this.deny(peer);
    const f = this.flows;
    const kind = f.parse(peer, buf, off, len, true);
    if (kind === PARSE_FLOW) {
      if (this.known(now)) return true;
      if (!this.access.allowsPacket(peer, buf, off, len)) return this.deny(peer);
      return f.insert(now) ? true : this.deny(peer);
    }
    if ((kind === PARSE_FRAGMENT || kind === PARSE_ICMP_ERROR) && f.find(now) >= 0) return true;
    return this.access.allowsPacket(peer, buf, off, len) ? true : this.deny(peer);
  }

  /** May this packet from the network go to `peer`? `now` in ms (monotonic). */
  toPeer(peer: number, buf: Uint8Array, off: number, len: number, now: number): boolean {
    if (this.access.modeOf(peer) === MODE_NONE) return this.refuse(peer);
    const f = this.flows;
    const kind = f.parse(peer, buf, off, len, false);
    if (kind === PARSE_FLOW) {
      if (this.known(now)) return true;
      if (this.access.allowsInbound(peer, f.protocol, f.laptopPort, f.isEchoRequest) && f.insert(now)) return true;
      return this.refuse(peer);
    }
    if ((kind === PARSE_FRAGMENT || kind === PARSE_ICMP_ERROR) && f.find(now) >= 0) return true;
    return this.refuse(peer);
  }

  /** Whether the parsed packet belongs to a live flow; if so the flow saw it (and a first fragment is recorded). */
  private known(now: number): boolean {
    const f = this.flows;
    const s = f.find(now);
    if (s < 0) return false;
    f.touch(s, now);
    f.noteFirstFragment(now);
    return true;
  }

  /** Forgets the peer's flows and zeroes its counters (a new owner of the id, or new rules). */
  resetPeer(peer: number): void {
    this.flows.forgetPeer(peer);
    if (peer >= this.denied.length) {
      const size = Math.max(peer + 1, this.denied.length * 2);
      const d = new Float64Array(size);
      d.set(this.denied);
      this.denied = d;
      const r = new Float64Array(size);
      r.set(this.refused);
      this.refused = r;
    }
    this.denied[peer] = 0;
    this.refused[peer] = 0;
  }

  /** Forgets the peer's flows only (its rules tightened: what they allowed before must not linger). */
  forgetFlows(peer: number): void {
    this.flows.forgetPeer(peer);
  }

  /** Packets from the peer refused since its last reset. */
  deniedOf(peer: number): number {
    return peer >= 0 && peer < this.denied.length ? this.denied[peer] : 0;
  }

  /** Packets to the peer refused since its last reset. */
  refusedOf(peer: number): number {
    return peer >= 0 && peer < this.refused.length ? this.refused[peer] : 0;
  }

  private deny(peer: number): false {
    if (peer >= 0 && peer < this.denied.length) this.denied[peer]++;
    return false;
  }

  private refuse(peer: number): false {
    if (peer >= 0 && peer < this.refused.length) this.refused[peer]++;
    return false;
  }
}
