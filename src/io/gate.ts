// The native handshake gate (native/gate.h) as the device sees it (device.ts HandshakeGate): mac1
// and mac2 checked, and cookie replies sent, in the UDP receive path before a batch reaches JS.
// Attach it with UdpSocket.setGate; the device tells it our public key and when it is under load.
import type { HandshakeGate } from '../device/device.js';
import { checkCounterNames, loadAddon, type NativeHandshakeGate } from './native.js';

const COUNTERS = ['handshakes', 'badMac1', 'mac2Valid', 'cookieReplies', 'replyDrops', 'repliesSpared'] as const;
const BAD_MAC1 = COUNTERS.indexOf('badMac1');
const COOKIE_REPLIES = COUNTERS.indexOf('cookieReplies');
const SPARED = COUNTERS.indexOf('repliesSpared');

/** Counter snapshot of a gate. */
export type GateStats = Record<(typeof COUNTERS)[number], number>;

export class NativeGate implements HandshakeGate {
  readonly verdicts: Uint8Array;
  readonly #counters = new Float64Array(COUNTERS.length);
  /** The addon object (UdpSocket.setGate hands it to the socket). */
  readonly handle: NativeHandshakeGate;

  /** `capacity`: the most datagrams one receive batch may deliver. */
  constructor(capacity: number) {
    const native = loadAddon();
    checkCounterNames(native.gateCounterNames, COUNTERS, 'src/io/gate.ts');
    this.verdicts = new Uint8Array(capacity);
    this.handle = new native.HandshakeGate(this.#counters, this.verdicts);
  }

  setKey(publicKey: Uint8Array | null): void { this.handle.setKey(publicKey); }
  setUnderLoad(on: boolean): void { this.handle.setUnderLoad(on); }
  get underLoad(): boolean { return this.handle.underLoad(); }
  /** What the gate would do with this datagram now: 0 not a handshake, 1 mac1 valid, 2 mac2 valid too, 3 bad mac1, 4 cookie reply due. */
  check(data: Uint8Array, off: number, len: number, addr: Uint8Array, port: number): number { return this.handle.check(data, off, len, addr, port); }
  cookieReply(data: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, out: Uint8Array): number {
    return this.handle.cookieReply(data, off, len, addr, port, out);
  }
  get badMac1(): number { return this.#counters[BAD_MAC1]!; }
  get cookieReplies(): number { return this.#counters[COOKIE_REPLIES]!; }
  get deflected(): number { return this.#counters[COOKIE_REPLIES]! + this.#counters[SPARED]!; }
  /** Snapshot of the counters (allocates). */
  get stats(): GateStats {
    const out = {} as GateStats;
    COUNTERS.forEach((k, i) => { out[k] = this.#counters[i]!; });
    return out;
  }
}

/** A gate's counters as status-file fields: `gate` + the counter name capitalised (gateBadMac1, ...). */
export function gateStats(stats: GateStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stats)) out[`gate${k[0]!.toUpperCase()}${k.slice(1)}`] = v;
  return out;
}
