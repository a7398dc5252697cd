/**
 * TUN edge: a Linux layer-3 TUN device (IFF_TUN | IFF_NO_PI) driven by the native addon
 * (native/, built to native/build/Release/wgts_native.node).
 *
 * Reads are event-driven and batched: on each readiness event the addon drains up to one batch
 * of packets into a slab preallocated here and calls back once with `(slab, offsets, lengths,
 * count)`. Nothing is allocated per packet. Writes take one packet or a batch in the same shape.
 *
 * Offloads ({@link TunOpenOptions.offload}): the device is opened with a virtio-net header and
 * TSO (and USO where the kernel has it), so the kernel hands over TCP/UDP super-packets of up to
 * 64 KiB; the addon splits each into MTU-sized segments straight into the slab (consecutive
 * packets of one "train", see {@link TunBatchHandler}), and writeBatch coalesces TCP (and UDP)
 * segments of one flow back into super-packets the way the kernel's GRO would. A kernel or
 * device without them gets the plain path; {@link Tun.offloads} says which one is in use.
 *
 * Device lifetime: if the kernel detaches the device (`ip link del`, or its network namespace is
 * destroyed) the `onGone` listeners run once and the Tun is closed. Moving the device to another
 * namespace (`ip link set DEV netns NS`) is not "gone": the fd keeps carrying packets; only the
 * name-based queries (`mtu`, `ifindex`) then fail with ENODEV, as they look in this process's
 * namespace.
 */
import { checkCounterNames, loadAddon, type NativeAddon, type NativeTunHandle } from './native.js';

/**
 * Called once per batch of packets read from the TUN. Packet k is
 * `slab.subarray(offsets[k], offsets[k] + lengths[k])`; each packet starts 16-byte aligned with
 * at least `headroom` free bytes before it and `tailroom` after it (room to encrypt in place).
 * Packets come in trains: `trains[k]` at the first packet of a train is its length, the packets
 * k..k+trains[k]-1 are the segments of one super-packet (same addresses, ports and protocol,
 * equal sizes but the last); a packet read on its own is a train of 1.
 * The data is valid ONLY during the call: the next batch overwrites the slab. The handler may
 * modify packets in place and write them back (`writeBatch`) before returning; copy anything
 * that must outlive the call. The same slab/offsets/lengths/trains objects are passed every time.
 */
export type TunBatchHandler = (slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, trains: Uint32Array) => void;

/** Options for {@link Tun.open}. */
export interface TunOpenOptions {
  /** MTU to set right after opening (the device is closed again if that fails). */
  mtu?: number;
  /** Ask for the kernel offloads (see the module comment); default false. */
  offload?: boolean;
}

/** Which offloads an open Tun uses. */
export interface TunOffloads {
  /** Reads and writes carry a virtio-net header (the offload path is in use). */
  vnetHdr: boolean;
  /** Reads may be TCP super-packets (split by the addon). */
  tso: boolean;
  /** Reads may be UDP super-packets, and UDP is coalesced on writes. */
  uso: boolean;
  /** writeBatch coalesces (off for good after the kernel refused a super-packet). */
  coalesce: boolean;
}

/** Options for {@link Tun.start}. */
export interface TunReadOptions {
  /** Most packets per callback, 1..1024 (default 64; segments of a super-packet count singly). */
  batch?: number;
  /** Free bytes kept in front of each packet, 0..4096 (default 16: the WireGuard data header). */
  headroom?: number;
  /** Free bytes kept after each packet, 0..4096 (default 32: up to 15 bytes padding + 16-byte tag). */
  tailroom?: number;
}

/** Why a device went away, given to {@link Tun.onGone} listeners. */
export interface TunGone {
  /** Last known device name. */
  name: string;
  /** Symbolic errno that revealed it (EBADFD when the kernel detached the device). */
  code: string;
  errno: number;
}

/** Counter snapshot. Drops are split by reason. */
export interface TunStats {
  rxPackets: number;
  rxBytes: number;
  /** Batch callbacks made; rxPackets / rxBatches is the mean batch size. */
  rxBatches: number;
  /** Read failures on a live device (other than "nothing to read"). */
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  /** Writes refused with EAGAIN (kernel queue full), including the rest of a batch. */
  txDropsFull: number;
  /** Writes refused with EIO: the interface is down (e.g. right after a move to another netns). */
  txDropsDown: number;
  /** Bad slices (out of range, empty) and packets the kernel rejects (EINVAL: not IPv4/IPv6). */
  txDropsInvalid: number;
  /** Offloads: reads that were super-packets (each split into segments counted in rxPackets). */
  rxSuperPackets: number;
  /** Offloads: reads with an unusable virtio header or packet (dropped). */
  rxDropsInvalid: number;
  /** Offloads: writes that carried coalesced segments. */
  txSuperPackets: number;
  /** Offloads: packets merged into another packet's write (txPackets still counts them). */
  txCoalesced: number;
}

const COUNTERS = [
  'rxPackets', 'rxBytes', 'rxBatches', 'rxErrors', 'txPackets', 'txBytes', 'txDropsFull', 'txDropsDown', 'txDropsInvalid',
  'rxSuperPackets', 'rxDropsInvalid', 'txSuperPackets', 'txCoalesced',
] as const satisfies readonly (keyof TunStats)[];

const DEFAULT_BATCH = 64;
const DEFAULT_HEADROOM = 16;
const DEFAULT_TAILROOM = 32;
/** Packet size the slab is laid out for when the MTU cannot be read. */
const DEFAULT_MTU_HINT = 1500;
/** Linux IFNAMSIZ minus the terminator. */
const MAX_IFNAME = 15;

let countersChecked = false;

/** The addon, once its TUN counter slots are known to match {@link COUNTERS}. */
function tunAddon(): NativeAddon {
  const native = loadAddon();
  if (!countersChecked) {
    checkCounterNames(native.counterNames, COUNTERS, 'src/io/tun.ts');
    countersChecked = true;
  }
  return native;
}

const align16 = (n: number): number => (n + 15) & ~15;

function checkInt(v: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

/**
 * One open TUN device. Create with {@link Tun.open}; release with {@link Tun.close}.
 * While reading (started, not paused) it keeps the event loop alive, like a socket; an idle or
 * paused Tun does not.
 */
export class Tun {
  readonly #handle: NativeTunHandle;
  readonly #counters: Float64Array;
  #goneListeners: ((gone: TunGone) => void)[] = [];
  #gone: TunGone | undefined;
  #closed = false;
  #started = false;
  #paused = false;

  private constructor(create: (onGone: (errno: number, code: string) => void) => NativeTunHandle, counters: Float64Array) {
    this.#counters = counters;
    this.#handle = create((errno, code) => this.#deviceGone(errno, code));
  }

  /**
   * Opens the TUN `name` (created if absent, attached if a persistent one exists; a "%d" in the
   * name lets the kernel pick a number: read the result from {@link Tun.name}). Non-blocking.
   * Throws an Error with `code` (EBUSY: another fd owns it, EPERM: no CAP_NET_ADMIN, ...).
   */
  static open(name: string, opts: TunOpenOptions = {}): Tun {
    if (Buffer.byteLength(name) > MAX_IFNAME) throw new RangeError(`interface name '${name}' is longer than ${MAX_IFNAME} bytes`);
    const native = tunAddon();
    const counters = new Float64Array(COUNTERS.length);
    const tun = new Tun((onGone) => new native.TunHandle(name, counters, onGone, opts.offload === true), counters);
    if (opts.mtu !== undefined) {
      try {
        tun.mtu = opts.mtu;
      } catch (e) {
        tun.close();
        throw e;
      }
    }
    return tun;
  }

  /** Current kernel name of the device (follows renames; the last known name once closed). */
  get name(): string {
    return this.#handle.name();
  }

  /** Device MTU, read and set through the name in this process's network namespace. */
  get mtu(): number {
    return this.#handle.mtu();
  }

  set mtu(mtu: number) {
    this.#handle.setMtu(checkInt(mtu, 1, 65535, 'MTU'));
  }

  /** Interface index in this process's network namespace. */
  get ifindex(): number {
    return this.#handle.ifindex();
  }

  /** Which offloads this Tun uses (all false without {@link TunOpenOptions.offload}). */
  get offloads(): TunOffloads {
    const m = this.#closed ? 0 : this.#handle.offloads();
    return { vnetHdr: (m & 1) !== 0, tso: (m & 2) !== 0, uso: (m & 4) !== 0, coalesce: (m & 8) !== 0 };
  }

  /** True after close() or once the device is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Set once the device went away (see {@link Tun.onGone}). */
  get gone(): TunGone | undefined {
    return this.#gone;
  }

  /** True while readiness events deliver batches (started and not paused). */
  get reading(): boolean {
    return this.#started && !this.#paused && !this.#closed;
  }

  /**
   * Starts delivering packets to `onBatch` (see {@link TunBatchHandler}); allowed once. The slab
   * is laid out for `batch` packets of the current MTU plus room for one maximal (65535-byte)
   * read, so reads never truncate; larger packets just make a batch shorter.
   */
  start(onBatch: TunBatchHandler, opts: TunReadOptions = {}): void {
    if (this.#closed) throw Object.assign(new Error(`TUN ${this.name} is closed`), { code: 'EBADF' });
    if (this.#started) throw new Error(`TUN ${this.name}: reading already started`);
    const batch = checkInt(opts.batch ?? DEFAULT_BATCH, 1, 1024, 'batch');
    const headroom = checkInt(opts.headroom ?? DEFAULT_HEADROOM, 0, 4096, 'headroom');
    const tailroom = checkInt(opts.tailroom ?? DEFAULT_TAILROOM, 0, 4096, 'tailroom');
    const stride = align16(this.#mtuHint() + tailroom + headroom);
    const buffer = new ArrayBuffer(align16(headroom) + (batch - 1) * stride + tunAddon().maxPacket + tailroom);
    const slab = new Uint8Array(buffer);
    const offsets = new Uint32Array(batch);
    const lengths = new Uint32Array(batch);
    const trains = new Uint32Array(batch);
    this.#handle.start(buffer, offsets, lengths, trains, headroom, tailroom, (count) => onBatch(slab, offsets, lengths, count, trains));
    this.#started = true;
  }

  /** Stops reading (backpressure): packets queue in the kernel (and drop once its queue is full). */
  pause(): void {
    this.#paused = true;
    this.#handle.pause();
  }

  /** Resumes reading after {@link Tun.pause}. */
  resume(): void {
    this.#paused = false;
    this.#handle.resume();
  }

  /**
   * Writes one IP packet `buf[off, off+len)` to the kernel. False when it was dropped: queue
   * full, interface down, bad slice/packet (see {@link TunStats}), or the Tun is closed/gone.
   */
  write(buf: Uint8Array, off: number, len: number): boolean {
    return this.#handle.write(buf, off, len) === 0;
  }

  /**
   * Writes packets k < count, `slab[offsets[k], offsets[k]+lengths[k])`: one write(2) each, or
   * with offloads one writev(2) per coalesced super-packet (the headers of a merged head packet
   * are rewritten in place). Returns how many packets the kernel took; bad ones are skipped and,
   * if the kernel queue fills (EAGAIN), the rest are dropped. Every drop is counted in
   * {@link Tun.stats}.
   */
  writeBatch(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    return this.#handle.writeBatch(slab, offsets, lengths, count);
  }

  /**
   * Registers `cb` to run once when the device goes away (deleted, or its namespace destroyed);
   * the Tun is closed by then. Runs on the next microtask if that already happened. Not called
   * for {@link Tun.close}.
   */
  onGone(cb: (gone: TunGone) => void): void {
    const gone = this.#gone;
    if (gone) queueMicrotask(() => cb(gone));
    else if (!this.#closed) this.#goneListeners.push(cb);
  }

  /** Closes the fd (a non-persistent device disappears). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#goneListeners = [];
    this.#handle.close();
  }

  /** Snapshot of the counters (allocates: not for the per-packet path). */
  get stats(): TunStats {
    const stats = {} as TunStats;
    COUNTERS.forEach((key, i) => { stats[key] = this.#counters[i]; });
    return stats;
  }

  #mtuHint(): number {
    try {
      return Math.max(this.mtu, 1);
    } catch {
      return DEFAULT_MTU_HINT; // device moved to another namespace: its MTU is not visible here
    }
  }

  #deviceGone(errno: number, code: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const gone: TunGone = { name: this.name, code, errno };
    this.#gone = gone;
    const listeners = this.#goneListeners;
    this.#goneListeners = [];
    for (const cb of listeners) cb(gone);
  }
}
