// One running WireGuard interface: the TUN, the UDP socket, the device (engine + routing) and the
// UAPI socket wired together, plus the timer loop and the shutdown conditions wireguard-go has
// (signal, UAPI socket deleted, TUN gone). This is what `wgts-go IFNAME` runs.
import { getCrypto } from '../crypto/index.js';
import { keyToBase64 } from '../crypto/keys.js';
import type { CryptoBackend } from '../crypto/types.js';
import { Device, TUN_BATCH, TUN_HEADROOM, TUN_TAILROOM, UDP_BATCH } from '../device/device.js';
import { type Endpoint, makeEndpoint } from '../device/endpoint.js';
import { type Logger } from '../device/log.js';
import { UapiErrno, UapiError, type UapiEndpoint, type UapiPeer, type UapiPeerState, type UapiState, type UapiTarget } from '../device/uapi/protocol.js';
import { UapiServer } from '../device/uapi/server.js';
import type { Prefix } from '../router/prefix.js';
import { OFFLOAD_ENV, offloadWanted } from './offload.js';
import { Tun } from './tun.js';
import { UdpSocket } from './udp.js';

/** How often the timer loop runs the engine's timers (ms). */
const TICK_MS = 100;
/** How often the TUN's MTU is re-read (ms) so padding and buffers follow `ip link set mtu`. */
const MTU_POLL_MS = 1000;

export interface RunningInterface {
  readonly name: string;
  readonly device: Device;
  readonly udp: UdpSocket;
  readonly tun: Tun;
  /** The device as UAPI configures it: apply a config with applySet(body, target), as `wg setconf` does. */
  readonly target: UapiTarget;
  /** Resolves with the reason once the interface has shut down. */
  readonly closed: Promise<string>;
  close(reason?: string): Promise<void>;
}

/**
 * Opens TUN `ifname`, the UDP socket (random port until configured) and the UAPI socket. Both
 * edges use the kernel offloads unless WGTS_OFFLOAD=0 (see io/offload.ts).
 */
export async function runInterface(ifname: string, log: Logger, crypto: CryptoBackend = getCrypto()): Promise<RunningInterface> {
  const offload = offloadWanted(process.env[OFFLOAD_ENV]);
  const tun = Tun.open(ifname, { mtu: 1420, offload });
  const udp = new UdpSocket({ offload, batch: UDP_BATCH });
  const device = new Device({
    crypto,
    log,
    tun,
    udp,
  });
  try { device.setMtu(tun.mtu); } catch { /* keep the default */ }
  const target = new InterfaceTarget(device, udp, log);
  const uapi = new UapiServer(ifname, target, { logger: log });
  try {
    udp.open(0);
    await uapi.listen();
  } catch (e) {
    udp.close();
    tun.close();
    throw e;
  }
  udp.onReceive(device.onDatagram);
  udp.onReceiveBatch(device.onDatagramBatch);
  tun.start(device.onTunBatch, { headroom: TUN_HEADROOM, tailroom: TUN_TAILROOM, batch: TUN_BATCH });
  const t = tun.offloads, u = udp.offloads;
  log.verbose(`Interface ${ifname} is up (crypto: ${crypto.name}; offloads: TUN ${t.vnetHdr ? `tso ${t.tso} uso ${t.uso}` : 'off'}, ` +
    `UDP ${offload ? `gso ${u.gso4 || u.gso6} gro ${u.gro}` : 'off'})`);

  let done = false;
  let resolveClosed: (why: string) => void = () => undefined;
  const closed = new Promise<string>((r) => { resolveClosed = r; });
  let lastMtuPoll = 0;
  const timer = setInterval(() => {
    device.tick();
    const now = performance.now();
    if (now - lastMtuPoll >= MTU_POLL_MS) {
      lastMtuPoll = now;
      try {
        const mtu = tun.mtu;
        if (mtu !== device.mtu) { log.verbose(`MTU of ${ifname} is now ${mtu}`); device.setMtu(mtu); }
      } catch { /* moved to another namespace: the name is not visible here; keep the last MTU */ }
    }
  }, TICK_MS);

  const close = async (reason = 'closed'): Promise<void> => {
    if (done) return;
    done = true;
    clearInterval(timer);
    udp.close();
    tun.close();
    await uapi.close();
    log.verbose(`Device closing: ${reason}`);
    resolveClosed(reason);
  };
  tun.onGone((g) => { void close(`TUN ${g.name} went away (${g.code})`); });
  uapi.on('socket-removed', () => { void close('UAPI socket removed'); });
  return { name: ifname, device, udp, tun, target, closed, close };
}

/** One peer as a UAPI set operation sees it. */
class PeerHandle implements UapiPeer {
  constructor(private readonly t: InterfaceTarget, readonly id: number) {}
  setPresharedKey(key: Uint8Array | null): void { this.t.device.engine.setPresharedKey(this.id, key); }
  setEndpoint(ep: UapiEndpoint): void { this.t.device.setEndpoint(this.id, fromUapiEndpoint(ep)); }
  setPersistentKeepaliveInterval(seconds: number): number {
    const info = this.t.device.engine.peerInfo(this.id);
    this.t.device.engine.setPersistentKeepalive(this.id, seconds);
    return info ? info.persistentKeepalive : 0;
  }
  removeAllAllowedIps(): void { this.t.device.allowed.removePeer(this.id); }
  addAllowedIp(p: Prefix): void { this.t.device.allowed.insert(p.addr, p.cidr, this.id); }
  removeAllowedIp(p: Prefix): void { this.t.device.allowed.remove(p.addr, p.cidr, this.id); }
}

/** The device as the UAPI protocol configures it. */
class InterfaceTarget implements UapiTarget {
  private readonly handles = new Map<number, PeerHandle>();
  private fwmark = 0;
  /** A private key was set during the current set operation (see setDone). */
  private keySet = false;

  constructor(readonly device: Device, private readonly udp: UdpSocket, private readonly log: Logger) {}

  setPrivateKey(key: Uint8Array | null): void {
    for (const id of this.device.engine.setPrivateKey(key)) this.dropPeer(id);
    if (key !== null) this.keySet = true;
  }

  setListenPort(port: number): void {
    if (port === this.udp.port && port !== 0) return;
    try {
      this.udp.open(port);
    } catch (e) {
      // wireguard-go answers EADDRINUSE for any bind failure.
      throw new UapiError(UapiErrno.ADDRINUSE, `failed to bind listen port ${port}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.log.verbose(`UDP bind has been updated (port ${this.udp.port})`);
  }

  setFwmark(mark: number): void {
    try {
      this.udp.setFwmark(mark);
    } catch (e) {
      throw new UapiError(UapiErrno.ADDRINUSE, `failed to set fwmark ${mark}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.fwmark = mark;
  }

  removeAllPeers(): void {
    for (const id of this.device.engine.peerIds()) this.dropPeer(id);
  }

  ownPublicKey(): Uint8Array | null { return this.device.engine.publicKey; }

  findPeer(publicKey: Uint8Array): UapiPeer | undefined {
    const id = this.device.engine.peerIdOf(publicKey);
    return id < 0 ? undefined : this.handle(id);
  }

  createPeer(publicKey: Uint8Array): UapiPeer {
    const id = this.device.addPeer(publicKey);
    if (id < 0) throw new UapiError(UapiErrno.INVAL, 'cannot add our own public key as a peer');
    this.log.verbose('UAPI: Created', { event: 'peer-created', peer: keyToBase64(publicKey) });
    return this.handle(id);
  }

  removePeer(publicKey: Uint8Array): void {
    const id = this.device.engine.peerIdOf(publicKey);
    if (id >= 0) this.dropPeer(id);
  }

  /** wireguard-go's handlePostConfig: keepalive if just turned on, then what is staged for the peer. */
  peerConfigured(peer: UapiPeer, info: { created: boolean; keepaliveTurnedOn: boolean }): void {
    this.device.peerConfigured((peer as PeerHandle).id, info.keepaliveTurnedOn);
  }

  /**
   * After a set operation that set a private key: packets staged while there was none (a
   * persistent keepalive configured first, say) leave now, as the kernel does since 2023
   * (wireguard-go waits for its retransmit timer, about 5 s). Done at the end of the operation, not
   * at the private_key line, so that the peers' endpoints of the same body are known by then.
   */
  setDone(): void {
    if (!this.keySet) return;
    this.keySet = false;
    this.device.sendAllStaged();
  }

  getState(): UapiState {
    const engine = this.device.engine;
    const peers: UapiPeerState[] = [];
    for (const id of engine.peerIds()) {
      const p = engine.peerInfo(id);
      if (!p) continue;
      const ns = p.lastHandshakeWallNs;
      const ep = this.device.endpointOf(id);
      peers.push({
        publicKey: p.publicKey,
        presharedKey: engine.presharedKey(id),
        endpoint: ep ? toUapiEndpoint(ep) : null,
        lastHandshakeTimeSec: Number(ns / 1_000_000_000n),
        lastHandshakeTimeNsec: Number(ns % 1_000_000_000n),
        txBytes: p.txBytes,
        rxBytes: p.rxBytes,
        persistentKeepaliveInterval: p.persistentKeepalive,
        allowedIps: this.device.allowed.listPeerText(id),
        protocolVersion: 1,
      });
    }
    return { privateKey: this.privateKey(), listenPort: this.udp.port, fwmark: this.fwmark, peers };
  }

  private privateKey(): Uint8Array | null { return this.device.engine.privateKey; }

  private handle(id: number): PeerHandle {
    let h = this.handles.get(id);
    if (!h) { h = new PeerHandle(this, id); this.handles.set(id, h); }
    return h;
  }

  private dropPeer(id: number): void {
    this.device.removePeer(id);
    this.handles.delete(id);
  }
}

function fromUapiEndpoint(ep: UapiEndpoint): Endpoint {
  if (ep.addr.length === 4) {
    const a = new Uint8Array(16);
    a[10] = 0xff; a[11] = 0xff; a.set(ep.addr, 12);
    return makeEndpoint(a, ep.port);
  }
  return makeEndpoint(ep.addr, ep.port);
}

function toUapiEndpoint(ep: Endpoint): UapiEndpoint {
  return { addr: ep.family === 4 ? ep.addr.slice(12, 16) : ep.addr.slice(), zone: '', port: ep.port };
}
