/**
 * Loader and typed surface of the native addon (native/, built to
 * native/build/Release/wgts_native.node): the fd-level halves of the TUN and UDP edges.
 * Only src/io edges import this; they wrap the raw handles in their own classes.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's TunHandle: one open TUN fd (see native/tun_handle.h). */
export interface NativeTunHandle {
  name(): string;
  mtu(): number;
  setMtu(mtu: number): void;
  ifindex(): number;
  /** Bit mask: 1 virtio header, 2 TSO (TCP super-packets), 4 USO (UDP super-packets), 8 write coalescing. */
  offloads(): number;
  start(
    slab: ArrayBuffer, offsets: Uint32Array, lengths: Uint32Array, trains: Uint32Array, headroom: number, tailroom: number,
    onBatch: (count: number) => void,
  ): void;
  pause(): void;
  resume(): void;
  /** 0 when the kernel took the packet, else the errno. */
  write(buf: Uint8Array, off: number, len: number): number;
  /** Packets the kernel took (with offloads: coalesced into super-packets where GRO would). */
  writeBatch(slab: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  close(): void;
}

/** The addon's UdpHandle: one bound UDP socket (see native/udp_handle.h). */
export interface NativeUdpHandle {
  /** Bound port (getsockname). */
  port(): number;
  /** 6 for the dual-stack socket, 4 for the IPv4-only fallback. */
  family(): 4 | 6;
  /** Bit mask: 1 GSO to IPv4 destinations, 2 GSO to IPv6 destinations, 4 GRO on receive. */
  offloads(): number;
  /**
   * Starts receiving: each readiness event drains up to one message per slot of `slab` (slots
   * `[k*stride, k*stride+slot)`) with recvmmsg and calls `onBatch(count)`; datagram j is
   * `slab[offsets[j], offsets[j]+lengths[j])` from `addrs[16j, 16j+16)` (IPv4 v4-mapped) port
   * `ports[j]`, sent to the local address `locals[20j, 20j+16)` and arrived on interface
   * `locals[20j+16, 20j+20)` (a native-endian uint32; see LOCAL_ADDR_BYTES), and `trains[j]` is
   * set at the first datagram of each message to the datagrams it held (a UDP_GRO train is cut
   * in place). Messages longer than `slot` are dropped (counted). Anything queued during the
   * call is flushed after it.
   */
  start(
    slab: ArrayBuffer, stride: number, slot: number, offsets: Uint32Array, lengths: Uint32Array,
    addrs: Uint8Array, ports: Uint16Array, locals: Uint8Array, trains: Uint32Array, onBatch: (count: number) => void,
  ): void;
  /**
   * sendto; 0 once the kernel holds a copy, else the errno (counted, never thrown). `scope` is the
   * destination's scope id (link-local IPv6), `src` the local address to leave from (20 bytes as
   * in `locals`; all-zero address: the kernel's choice, also when the kernel refuses `src`).
   */
  send(buf: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, scope?: number, src?: Uint8Array): number;
  /** Copies the datagram into the send queue (sendmmsg when full, on flush or close). */
  queue(buf: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, scope?: number, src?: Uint8Array): void;
  /** queue() for buf[offsets[k], offsets[k]+lengths[k]), start <= k < start+count, to one destination; length 0 = skipped. */
  queueMany(
    buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, count: number, addr: Uint8Array, port: number,
    scope?: number, src?: Uint8Array,
  ): void;
  /** Sends the queue; returns how many datagrams went out. */
  flush(): number;
  /** SO_MARK; throws an Error with `code` (EPERM without CAP_NET_ADMIN). */
  setMark(mark: number): void;
  mark(): number;
  /** [SO_RCVBUF, SO_SNDBUF] as the kernel reports them. */
  bufferSizes(): [number, number];
  close(): void;
  /** Received batches pass `gate` (native/gate.h) before onBatch; null removes it. Call after start. */
  setGate(gate: NativeHandshakeGate | null): void;
}

/**
 * The addon's HandshakeGate (native/gate.h): mac1/mac2 checks and cookie replies on received
 * batches, before JS. Verdicts: 0 not a handshake, 1 valid mac1, 2 valid mac1 and mac2,
 * 3 bad mac1, 4 under load without mac2 (a cookie reply is due).
 */
export interface NativeHandshakeGate {
  setKey(publicKey: Uint8Array | null): void;
  setUnderLoad(on: boolean): void;
  underLoad(): boolean;
  check(buf: Uint8Array, off: number, len: number, addr: Uint8Array, port: number): number;
  /** Writes the 64-byte cookie reply to `out`: 64, or 0 (not a handshake message, no key). */
  cookieReply(buf: Uint8Array, off: number, len: number, addr: Uint8Array, port: number, out: Uint8Array): number;
}

/** The addon's RouteWatch (see native/route_watch.h): route and address changes, route queries. */
export interface NativeRouteWatch {
  /** Whether anything about links, addresses, routes or rules was announced since the last call. */
  changed(): boolean;
  /** The interface index the kernel routes `dst` through from `src` with `mark`, or -errno. */
  lookup(dst: Uint8Array, scope: number, src: Uint8Array | null, mark: number): number;
  /** Whether `addr` (16 bytes) is an address of this host (`ifindex`: a link-local address's interface). */
  isLocal(addr: Uint8Array, ifindex: number): boolean;
  close(): void;
}

/** What native/build/Release/wgts_native.node exports. */
export interface NativeAddon {
  TunHandle: new (name: string, counters: Float64Array, onGone: (errno: number, code: string) => void, offload?: boolean) => NativeTunHandle;
  /** Slot names of a TunHandle's counters array, in order. */
  counterNames: readonly string[];
  /** Largest packet a TUN read can return. */
  maxPacket: number;
  /** Binds a socket (see UdpOpen in native/udp_fd.h) or throws an Error with `code` and `errno`. */
  UdpHandle: new (port: number, counters: Float64Array, offload?: boolean) => NativeUdpHandle;
  /** Slot names of a UdpHandle's counters array, in order. */
  udpCounterNames: readonly string[];
  /** A handshake gate counting into `counters` and writing a verdict per delivered datagram into `verdicts`. */
  HandshakeGate: new (counters: Float64Array, verdicts: Uint8Array) => NativeHandshakeGate;
  /** Slot names of a HandshakeGate's counters array, in order. */
  gateCounterNames: readonly string[];
  /** Opens the two netlink sockets or throws an Error with `code`. */
  RouteWatch: new () => NativeRouteWatch;
  /** if_nametoindex: 0 when no such interface. */
  ifIndex(name: string): number;
  /** if_indextoname: null when no such interface. */
  ifName(index: number): string | null;
  /**
   * The TUN read side's offload logic on a buffer (tests): the packets a read of `vnet` (10-byte
   * virtio header) + `packet` turns into, or the code (> 0) of the reason it is dropped.
   */
  offloadSplit(vnet: Uint8Array, packet: Uint8Array): Uint8Array[] | number;
  /**
   * The TUN write side's coalescing on a buffer (tests): the writes packets k < count turn into
   * (heads of merged units are rewritten in `buf`).
   */
  offloadCoalesce(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, udp: boolean): OffloadUnit[];
  /**
   * Sends one datagram `message` to the AF_UNIX socket `socketPath` (absolute, or `@name` for an
   * abstract one), as sd_notify(3) does: 0 once sent, else the errno (see native/notify.h).
   */
  sdNotify(socketPath: string, message: string): number;
}

/** One write of the coalescing TUN: its virtio header and the bytes after it. */
export interface OffloadUnit {
  vnet: Uint8Array;
  bytes: Uint8Array;
  /** Index of the head packet in the input. */
  head: number;
  /** Input packets it carries. */
  packets: number;
}

const ADDON_PATH = ['native', 'build', 'Release', 'wgts_native.node'] as const;

let addon: NativeAddon | undefined;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

function addonPath(): string {
  return join(packageRoot(), ...ADDON_PATH);
}

function isNativeAddon(v: unknown): v is NativeAddon {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.TunHandle === 'function' && Array.isArray(o.counterNames) && typeof o.maxPacket === 'number' &&
    typeof o.UdpHandle === 'function' && Array.isArray(o.udpCounterNames) && typeof o.HandshakeGate === 'function' && typeof o.offloadSplit === 'function' &&
    typeof o.offloadCoalesce === 'function' && typeof o.sdNotify === 'function' && typeof o.RouteWatch === 'function' &&
    typeof o.ifIndex === 'function' && typeof o.ifName === 'function';
}

/** Loads the addon once, checking it has the expected exports (a stale build is a clear error). */
export function loadAddon(): NativeAddon {
  if (addon) return addon;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(`wgts native addon missing at ${path}: run \`npm run build\` (needs g++, make, python3 and node headers)`);
  }
  const loaded: unknown = createRequire(import.meta.url)(path);
  if (!isNativeAddon(loaded)) {
    throw new Error(`wgts native addon at ${path} does not match src/io/native.ts: rebuild it with \`npm run build\``);
  }
  addon = loaded;
  return loaded;
}

/**
 * Throws unless the addon's counter slot names are exactly `expected` (the edge module `user`
 * maps slots to its stats by position, so a stale build would mislabel counters).
 */
export function checkCounterNames(names: readonly string[], expected: readonly string[], user: string): void {
  if (names.join() !== expected.join()) {
    throw new Error(`wgts native addon at ${addonPath()} does not match ${user}: rebuild it with \`npm run build\``);
  }
}
