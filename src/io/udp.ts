/**
 * UDP edge: one listen socket driven by the native addon (native/udp_*.cc), batched and
 * synchronous.
 *
 * - Socket: AF_INET6 with IPV6_V6ONLY=0 bound to [::]:port, so IPv4 peers appear as
 *   ::ffff:a.b.c.d; AF_INET on 0.0.0.0:port only when the kernel has no IPv6 at all (booted with
 *   ipv6.disable=1). `sysctl net.ipv6.conf.all.disable_ipv6=1` does NOT remove AF_INET6: the
 *   dual-stack socket keeps serving IPv4 there, and IPv6 sends fail (counted) instead.
 *   Non-blocking, close-on-exec, 16 MiB receive and 4 MiB send buffers (forced past net.core.*mem_max as root;
 *   the receive side holds a handshake flood while the daemon waits for a CPU, issue 10 §1).
 * - Receive: each readiness event drains up to `batch` messages with one recvmmsg into a slab
 *   allocated here, then either {@link UdpBatchHandler} runs once for the whole batch or
 *   {@link UdpReceiveHandler} once per datagram. Nothing is allocated per datagram.
 * - Send: {@link UdpSocket.send} is one synchronous sendmsg, {@link UdpSocket.queue} /
 *   {@link UdpSocket.queueMany} + {@link UdpSocket.flush} batch datagrams into sendmmsg calls.
 *   Either way the bytes are copied before the call returns, so callers may reuse their buffer at
 *   once. Failures are counted ({@link UdpStats}), never thrown.
 * - Offloads ({@link UdpSocketOptions.offload}): receives use UDP_GRO, so one message may be a
 *   train of datagrams of one flow (cut in place by their segment size, delivered as consecutive
 *   datagrams); the queue sends consecutive equal-sized datagrams to one destination as one
 *   UDP_SEGMENT (GSO) message of up to 64 datagrams / 65507 bytes (a shorter datagram ends a
 *   train). A kernel without them gets the plain path; a train the kernel refuses is sent
 *   datagram by datagram, and EIO (no checksum offload on the way out) turns GSO off for that
 *   address family.
 * - Sticky source addresses: every received datagram comes with the local address it was sent to
 *   and the interface it arrived on (IPV6_RECVPKTINFO; IPv4 datagrams v4-mapped), and every send
 *   leaves from the endpoint's sticky source when it has one (IP_PKTINFO / IPV6_PKTINFO, in GSO
 *   trains too; see Endpoint.source). When the kernel refuses that source (the address left the
 *   host) the datagram goes again from the kernel's choice, counted in `txSourceFallback`; the
 *   device then forgets the source (see io/routes.ts).
 *
 * Receive slab layout: `batch` slots of `maxDatagram` bytes (rounded up to 16), default 64 slots
 * of 65536 bytes. With the default no datagram is ever truncated (like wireguard-go's 64 KiB
 * message buffers), and the 4 MiB slab costs address space, not memory: only the pages the
 * kernel writes to become resident (about one page per slot for typical 1.5 KB datagrams),
 * and draining 1452-byte datagrams measured no slower than with 2 KiB slots.
 * A smaller `maxDatagram` gives a denser slab; longer datagrams are then dropped whole and
 * counted in `rxTruncated` (the kernel flags them MSG_TRUNC), never delivered cut short.
 */
import { type Endpoint, LOCAL_ADDR_BYTES, LOCAL_ADDR_WORDS } from '../device/endpoint.js';
import type { NativeGate } from './gate.js';
import { checkCounterNames, loadAddon, type NativeAddon, type NativeUdpHandle } from './native.js';

/**
 * Called once per received datagram: `data[off, off+len)` from `addr` (16 bytes, IPv4 as
 * v4-mapped ::ffff:a.b.c.d) port `port`, sent to the local address `local` (LOCAL_ADDR_BYTES:
 * address and arrival interface, see Endpoint.source). `data` is the whole receive slab, `addr`
 * and `local` reused arrays: all are valid ONLY during the call (the handler may decrypt in place;
 * copy whatever must outlive it). Sends (`send`, `queue`) made from inside are allowed; datagrams queued
 * while a batch is delivered are flushed right after that batch. A throw is reported as an
 * uncaught exception and loses the rest of that batch.
 */
export type UdpReceiveHandler = (data: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, local: Uint8Array) => void;

/**
 * One received batch, handed to a {@link UdpBatchHandler}: datagram j < count is
 * `slab[offsets[j], offsets[j]+lengths[j])` from `addrs[16j, 16j+16)` (IPv4 v4-mapped; also as
 * four words at `addrWords[4j..]`) port `ports[j]`, sent to the local address
 * `localWords[5j, 5j+5)` (four words of address, the arrival interface; see Endpoint.source);
 * `trains[j]` at the first datagram of each received message is the number of datagrams it held
 * (a GRO train shares one source and one local address).
 * Everything is reused: valid ONLY during the call.
 */
export interface UdpBatch {
  readonly slab: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly trains: Uint32Array;
  readonly addrs: Uint8Array;
  readonly addrWords: Uint32Array;
  readonly ports: Uint16Array;
  readonly localWords: Uint32Array;
  count: number;
}

/** Called once per received batch (see {@link UdpBatch}); sends from inside are allowed as for UdpReceiveHandler. */
export type UdpBatchHandler = (batch: UdpBatch) => void;

/** A socket call that failed, with the symbolic errno (`EADDRINUSE`, `EACCES`, `EPERM`, ...). */
export class UdpError extends Error {
  constructor(message: string, readonly code: string, readonly errno: number) { super(message); }
}

/** Options for {@link UdpSocket}; they apply to every socket it opens. */
export interface UdpSocketOptions {
  /** Most messages per receive batch, 1..1024 (default 64). */
  batch?: number;
  /** Use UDP GSO/GRO where the kernel has them (see the module comment); default false. */
  offload?: boolean;
  /**
   * Largest datagram accepted, 1..65535 (default 65535: nothing is truncated). Longer ones are
   * dropped and counted in `rxTruncated`.
   */
  maxDatagram?: number;
}

/** Counter snapshot; it survives rebinds and close. Drops are split by reason. */
export interface UdpStats {
  rxDatagrams: number;
  rxBytes: number;
  /** Batch deliveries; rxDatagrams / rxBatches is the mean batch size. */
  rxBatches: number;
  /** Datagrams longer than `maxDatagram`: dropped. */
  rxTruncated: number;
  /** Receive failures other than "nothing to read". */
  rxErrors: number;
  txDatagrams: number;
  txBytes: number;
  /** sendmmsg calls made by queue/flush. */
  txBatches: number;
  /** EAGAIN / ENOBUFS: socket buffer or device queue full. */
  txDropsFull: number;
  /** IPv6 destinations on the IPv4-only fallback socket. */
  txDropsFamily: number;
  /** send/queue while closed. */
  txDropsClosed: number;
  /** Anything else: bad slice, over 65535 bytes, port 0, unreachable, EPERM from a firewall, ... */
  txErrors: number;
  /** Offloads: received messages that held a train of datagrams (UDP_GRO). */
  rxGro: number;
  /** Offloads: sent messages that held a train of datagrams (UDP_SEGMENT). */
  txGso: number;
  /** Offloads: trains the kernel refused whole, sent datagram by datagram instead. */
  txGsoFallback: number;
  /** Datagrams whose sticky source the kernel refused (the address left the host), sent again from its own choice. */
  txSourceFallback: number;
}

/** Which offloads an open socket uses. */
export interface UdpOffloads {
  /** GSO trains to IPv4 / IPv6 destinations (each turns off by itself after an EIO). */
  gso4: boolean;
  gso6: boolean;
  /** Receives may hold GRO trains. */
  gro: boolean;
}

const COUNTERS = [
  'rxDatagrams', 'rxBytes', 'rxBatches', 'rxTruncated', 'rxErrors', 'txDatagrams', 'txBytes', 'txBatches',
  'txDropsFull', 'txDropsFamily', 'txDropsClosed', 'txErrors', 'rxGro', 'txGso', 'txGsoFallback', 'txSourceFallback',
] as const satisfies readonly (keyof UdpStats)[];
const TX_DROPS_CLOSED = COUNTERS.indexOf('txDropsClosed');
const TX_SOURCE_FALLBACK = COUNTERS.indexOf('txSourceFallback');
const SEND_ERROR_SLOTS = (['txDropsFull', 'txDropsFamily', 'txDropsClosed', 'txErrors'] as const).map((c) => COUNTERS.indexOf(c));

const DEFAULT_BATCH = 64;
/** Batch limit of the addon (kUdpMaxBatch in native/udp_handle.h). */
const MAX_BATCH = 1024;
/** The 16-bit UDP length field's limit; the kernel refuses longer sends (EMSGSIZE) anyway. */
const MAX_DATAGRAM = 65535;
/** Most datagrams in one GRO message (kUdpMaxSegments in native/udp_handle.h). */
const MAX_SEGMENTS = 64;

let countersChecked = false;

/** The addon, once its UDP counter slots are known to match {@link COUNTERS}. */
function udpAddon(): NativeAddon {
  const native = loadAddon();
  if (!countersChecked) {
    checkCounterNames(native.udpCounterNames, COUNTERS, 'src/io/udp.ts');
    countersChecked = true;
  }
  return native;
}

function checkInt(v: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

/** Native errors carry `code` and `errno`; anything else (a TypeError, ...) passes unchanged. */
function udpError(e: unknown, what: string): unknown {
  if (!(e instanceof Error)) return e;
  const { code, errno } = e as Error & { code?: unknown; errno?: unknown };
  if (typeof code !== 'string' || typeof errno !== 'number') return e;
  return new UdpError(`${what}: ${e.message}`, code, errno);
}

/** Receive slab plus the per-datagram arrays the addon fills; shared by every socket opened. */
class ReceiveBuffers implements UdpBatch {
  readonly buffer: ArrayBuffer;
  readonly slab: Uint8Array;
  readonly stride: number;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly trains: Uint32Array;
  readonly addrs: Uint8Array;
  /** `addrs` as words: four per datagram. */
  readonly addrWords: Uint32Array;
  readonly ports: Uint16Array;
  readonly locals: Uint8Array;
  readonly localWords: Uint32Array;
  /** The arrays handed to handlers as `addr` and `local`, and their words. */
  readonly addr = new Uint8Array(16);
  readonly addrOut = new Uint32Array(this.addr.buffer);
  readonly local = new Uint8Array(LOCAL_ADDR_BYTES);
  readonly localOut = new Uint32Array(this.local.buffer);
  count = 0;

  /** `batch` message slots of `slot` bytes; per-datagram arrays for `perSlot` datagrams a slot. */
  constructor(batch: number, readonly slot: number, perSlot: number) {
    this.stride = (slot + 15) & ~15;
    this.buffer = new ArrayBuffer((batch - 1) * this.stride + slot);
    this.slab = new Uint8Array(this.buffer);
    const n = batch * perSlot;
    this.offsets = new Uint32Array(n);
    this.lengths = new Uint32Array(n);
    this.trains = new Uint32Array(n);
    this.addrs = new Uint8Array(n * 16);
    this.addrWords = new Uint32Array(this.addrs.buffer);
    this.ports = new Uint16Array(n);
    this.locals = new Uint8Array(n * LOCAL_ADDR_BYTES);
    this.localWords = new Uint32Array(this.locals.buffer);
  }
}

/**
 * The listen socket. `open` binds (and rebinds); while open it keeps the event loop alive, like
 * a dgram socket; after `close` it does not.
 */
export class UdpSocket {
  readonly #batch: number;
  readonly #slot: number;
  readonly #offload: boolean;
  readonly #counters = new Float64Array(COUNTERS.length);
  #rx: ReceiveBuffers | null = null;
  #handle: NativeUdpHandle | null = null;
  #handler: UdpReceiveHandler = () => undefined;
  #batchHandler: UdpBatchHandler | null = null;
  #port = 0;
  #family: 4 | 6 | null = null;
  #mark = 0;
  #gate: NativeGate | null = null;

  constructor(opts: UdpSocketOptions = {}) {
    this.#batch = checkInt(opts.batch ?? DEFAULT_BATCH, 1, MAX_BATCH, 'batch');
    this.#slot = checkInt(opts.maxDatagram ?? MAX_DATAGRAM, 1, MAX_DATAGRAM, 'maxDatagram');
    this.#offload = opts.offload === true;
  }

  /** Which offloads the open socket uses (all false when closed or without `offload`). */
  get offloads(): UdpOffloads {
    const m = this.#handle ? this.#handle.offloads() : 0;
    return { gso4: (m & 1) !== 0, gso6: (m & 2) !== 0, gro: (m & 4) !== 0 };
  }

  /** Bound port while open, 0 when closed. */
  get port(): number { return this.#port; }

  get isOpen(): boolean { return this.#handle !== null; }

  /** 6: dual-stack socket, 4: IPv4-only fallback, null: closed. */
  get family(): 4 | 6 | null { return this.#family; }

  /** Datagrams whose sticky source the kernel refused so far (see UdpStats.txSourceFallback); no allocation. */
  get sourceFallbacks(): number { return this.#counters[TX_SOURCE_FALLBACK]!; }

  /** Datagrams not sent: every tx drop and error counter summed. */
  get sendErrors(): number {
    let n = 0;
    for (const i of SEND_ERROR_SLOTS) n += this.#counters[i];
    return n;
  }

  /** Snapshot of the counters (allocates: not for the per-packet path). */
  get stats(): UdpStats {
    const stats = {} as UdpStats;
    COUNTERS.forEach((key, i) => { stats[key] = this.#counters[i]; });
    return stats;
  }

  /**
   * The socket's SO_MARK as the kernel reports it while open; when closed, the mark the next
   * socket will get.
   */
  get fwmark(): number { return this.#handle ? this.#handle.mark() : this.#mark; }

  /** SO_RCVBUF / SO_SNDBUF as the kernel reports them (twice the usable bytes); null when closed. */
  get socketBuffers(): { receive: number; send: number } | null {
    if (!this.#handle) return null;
    const [receive, send] = this.#handle.bufferSizes();
    return { receive, send };
  }

  /** The most datagrams one receive batch delivers (the size a gate's verdicts array needs). */
  get batchCapacity(): number {
    return this.#batch * (this.#offload && this.#slot === MAX_DATAGRAM ? MAX_SEGMENTS : 1);
  }

  /**
   * Received batches pass `gate` (io/gate.ts) before any handler sees them: handshake messages
   * with a bad mac1 are dropped, and under load those without a valid mac2 answered with a cookie
   * reply (sent with the batch's sendmmsg); the gate's `verdicts` describe the datagrams
   * delivered. Kept across rebinds; null removes it.
   */
  setGate(gate: NativeGate | null): void {
    if (gate !== null && gate.verdicts.length < this.batchCapacity) throw new RangeError('the gate must hold a verdict per datagram of a batch');
    this.#gate = gate;
    this.#handle?.setGate(gate === null ? null : gate.handle);
  }

  /** Sets the per-datagram handler (replaces the previous one; applies from the next datagram). */
  onReceive(handler: UdpReceiveHandler): void { this.#handler = handler; }

  /**
   * Sets a handler that gets each received batch whole (see {@link UdpBatch}); while one is set
   * the per-datagram handler is not called. null goes back to per-datagram delivery.
   */
  onReceiveBatch(handler: UdpBatchHandler | null): void { this.#batchHandler = handler; }

  /**
   * Binds [::]:port (0 = the kernel picks) and starts receiving; returns the bound port. When a
   * socket is already open this rebinds: the new socket is bound first and the old one (its
   * queue flushed) closed only then, so on failure the old one keeps serving. Asking for the
   * port already bound is a no-op. Synchronous; throws a {@link UdpError} (EADDRINUSE, EACCES,
   * EPERM when the fwmark cannot be applied, ...).
   */
  open(port: number): number {
    checkInt(port, 0, 65535, 'port');
    const old = this.#handle;
    if (old && port !== 0 && port === this.#port) return port;
    const native = udpAddon();
    let next: NativeUdpHandle;
    try {
      next = new native.UdpHandle(port, this.#counters, this.#offload);
    } catch (e) {
      throw udpError(e, `listen port ${port}`);
    }
    try {
      if (this.#mark !== 0) next.setMark(this.#mark);
      this.#startReceiving(next);
    } catch (e) {
      next.close();
      throw udpError(e, `listen port ${port}`);
    }
    this.#handle = next;
    this.#port = next.port();
    this.#family = next.family();
    old?.close();
    return this.#port;
  }

  /**
   * Sends `data[off, off+len)` to `ep` with one sendto, from its sticky source when it has one.
   * When this returns the kernel holds its own copy: the caller may overwrite `data`
   * immediately. True when the datagram was taken; false when it was dropped (counted in
   * {@link UdpStats}: full buffers, IPv6 on the IPv4 fallback, closed socket, bad slice,
   * unreachable, ...). Never throws for such failures. IPv4 endpoints go out v4-mapped on the
   * dual-stack socket.
   */
  send(data: Uint8Array, off: number, len: number, ep: Endpoint): boolean {
    const h = this.#handle;
    if (h === null) {
      this.#counters[TX_DROPS_CLOSED]++;
      return false;
    }
    return h.send(data, off, len, ep.addr, ep.port, ep.scope, ep.source) === 0;
  }

  /**
   * Copies `data[off, off+len)` for `ep` into the send queue (the caller may reuse `data` at
   * once). The queue goes out with sendmmsg when it holds 64 datagrams or 128 KiB, on
   * {@link UdpSocket.flush}, after each receive batch, and on close or rebind. Failures are
   * counted like {@link UdpSocket.send}'s.
   */
  queue(data: Uint8Array, off: number, len: number, ep: Endpoint): void {
    const h = this.#handle;
    if (h === null) {
      this.#counters[TX_DROPS_CLOSED]++;
      return;
    }
    h.queue(data, off, len, ep.addr, ep.port, ep.scope, ep.source);
  }

  /**
   * {@link UdpSocket.queue} for the datagrams `data[offsets[k], offsets[k]+lengths[k])` with
   * start <= k < start + count, all to `ep`, in one call; entries of length 0 are skipped.
   * Consecutive equal-sized datagrams go out as GSO trains where the socket has GSO.
   */
  queueMany(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, count: number, ep: Endpoint): void {
    const h = this.#handle;
    if (h === null) {
      this.#counters[TX_DROPS_CLOSED] += count;
      return;
    }
    h.queueMany(data, offsets, lengths, start, count, ep.addr, ep.port, ep.scope, ep.source);
  }

  /** Sends everything queued now; returns how many datagrams the kernel took. */
  flush(): number {
    return this.#handle ? this.#handle.flush() : 0;
  }

  /**
   * Sets SO_MARK on the socket (0 clears it) and on every socket opened later; a no-op when the
   * mark is unchanged. While closed the mark is only remembered. Throws a {@link UdpError}
   * (EPERM without CAP_NET_ADMIN), keeping the previous mark.
   */
  setFwmark(mark: number): void {
    checkInt(mark, 0, 0xffffffff, 'fwmark');
    if (mark === this.#mark) return;
    if (this.#handle) {
      try {
        this.#handle.setMark(mark);
      } catch (e) {
        throw udpError(e, `fwmark ${mark}`);
      }
    }
    this.#mark = mark;
  }

  /** Sends what is queued and closes the socket. Idempotent. */
  close(): void {
    const h = this.#handle;
    if (!h) return;
    this.#handle = null;
    this.#port = 0;
    this.#family = null;
    h.close();
  }

  #startReceiving(h: NativeUdpHandle): void {
    const perSlot = this.#offload && this.#slot === MAX_DATAGRAM ? MAX_SEGMENTS : 1;
    const rx = (this.#rx ??= new ReceiveBuffers(this.#batch, this.#slot, perSlot));
    h.start(rx.buffer, rx.stride, rx.slot, rx.offsets, rx.lengths, rx.addrs, rx.ports, rx.locals, rx.trains, (count) => this.#deliver(h, rx, count));
    if (this.#gate !== null) h.setGate(this.#gate.handle);
  }

  /** Hands one batch to the handler(s); stops if a per-datagram handler closed or rebound. */
  #deliver(h: NativeUdpHandle, rx: ReceiveBuffers, count: number): void {
    const batchHandler = this.#batchHandler;
    if (batchHandler !== null) {
      rx.count = count;
      batchHandler(rx);
      return;
    }
    const { slab, offsets, lengths, addrWords, ports, addr, addrOut, localWords, local, localOut } = rx;
    for (let j = 0; j < count; j++) {
      const w = j << 2;
      addrOut[0] = addrWords[w];
      addrOut[1] = addrWords[w + 1];
      addrOut[2] = addrWords[w + 2];
      addrOut[3] = addrWords[w + 3];
      const l = j * LOCAL_ADDR_WORDS;
      for (let i = 0; i < LOCAL_ADDR_WORDS; i++) localOut[i] = localWords[l + i]!;
      this.#handler(slab, offsets[j], lengths[j], addr, ports[j], local);
      if (this.#handle !== h) return;
    }
  }
}
