// The device's queue of handshake messages waiting for their (expensive: two X25519 each)
// processing, preallocated: each slot holds a message of at most INITIATION_SIZE bytes, its
// source address (16 bytes, IPv4 v4-mapped) and port, the local address it was sent to, and what
// the gate knew of its macs.
// Handshakes are taken from the queue with a time budget per event-loop turn, so that data
// packets received meanwhile are never starved; messages with a valid mac2 wait in their own
// queue, served first (whitepaper §5.3: proven return routability before anything else).
import { INITIATION_SIZE } from '../noise/constants.js';
import { LOCAL_ADDR_BYTES } from './endpoint.js';

/** A fixed-size FIFO of handshake messages; nothing is allocated after construction. */
export class HandshakeRing {
  readonly slab: Uint8Array;
  readonly lengths: Uint16Array;
  readonly addrs: Uint8Array;
  readonly ports: Uint16Array;
  /** The local address each was sent to (LOCAL_ADDR_BYTES each, see Endpoint.source). */
  readonly locals: Uint8Array;
  readonly macs: Uint8Array;
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.slab = new Uint8Array(capacity * INITIATION_SIZE);
    this.lengths = new Uint16Array(capacity);
    this.addrs = new Uint8Array(capacity * 16);
    this.ports = new Uint16Array(capacity);
    this.locals = new Uint8Array(capacity * LOCAL_ADDR_BYTES);
    this.macs = new Uint8Array(capacity);
  }

  get count(): number { return this.size; }

  /** Copies the message in; false when the ring is full (or the message too long). */
  push(data: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, local: Uint8Array, macs: number): boolean {
    if (this.size === this.capacity || len > INITIATION_SIZE) return false;
    const slot = (this.head + this.size) % this.capacity;
    const at = slot * INITIATION_SIZE;
    for (let i = 0; i < len; i++) this.slab[at + i] = data[off + i]!;
    for (let i = 0; i < 16; i++) this.addrs[slot * 16 + i] = addr[i]!;
    for (let i = 0; i < LOCAL_ADDR_BYTES; i++) this.locals[slot * LOCAL_ADDR_BYTES + i] = local[i] ?? 0;
    this.lengths[slot] = len;
    this.ports[slot] = port;
    this.macs[slot] = macs;
    this.size++;
    return true;
  }

  /** Slot of the oldest message (valid while count > 0): slab[slot * INITIATION_SIZE ..]. */
  get front(): number { return this.head; }

  /** Forgets the oldest message. */
  pop(): void {
    if (this.size === 0) return;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
  }
}

/** Byte offset of `slot` in a ring's slab. */
export const slotOffset = (slot: number): number => slot * INITIATION_SIZE;
