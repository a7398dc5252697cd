// An in-memory UapiTarget that behaves like a wireguard-go device as far as UAPI can see it:
// private key clamped by the parser, a peer whose public key equals the device's own is removed when
// the private key changes, prefixes move between peers and re-adding one moves it last. Tests set
// counters and handshake times directly, and can make the listen port "in use".

import { publicKey } from '../../../src/crypto/keys.js';
import { formatPrefix, type Prefix } from '../../../src/router/prefix.js';
import type { UapiEndpoint, UapiPeer, UapiPeerState, UapiState, UapiTarget } from '../../../src/device/uapi/protocol.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export class FakePeer implements UapiPeer {
  presharedKey: Uint8Array | null = null;
  endpoint: UapiEndpoint | null = null;
  keepalive = 0;
  /** Canonical prefix text, insertion order. */
  allowedIps: string[] = [];
  lastHandshakeTimeSec = 0;
  lastHandshakeTimeNsec = 0;
  txBytes = 0;
  rxBytes = 0;

  constructor(readonly device: FakeDevice, readonly publicKey: Uint8Array) {}

  setPresharedKey(key: Uint8Array | null): void {
    this.presharedKey = key === null ? null : key.slice();
  }
  setEndpoint(endpoint: UapiEndpoint): void {
    this.endpoint = endpoint;
  }
  setPersistentKeepaliveInterval(seconds: number): number {
    const old = this.keepalive;
    this.keepalive = seconds;
    return old;
  }
  removeAllAllowedIps(): void {
    for (const p of this.allowedIps) this.device.owners.delete(p);
    this.allowedIps = [];
  }
  addAllowedIp(prefix: Prefix): void {
    const text = formatPrefix(prefix.addr, prefix.cidr);
    const owner = this.device.owners.get(text);
    if (owner !== undefined) owner.allowedIps = owner.allowedIps.filter((p) => p !== text);
    this.device.owners.set(text, this);
    this.allowedIps.push(text);
  }
  removeAllowedIp(prefix: Prefix): void {
    const text = formatPrefix(prefix.addr, prefix.cidr);
    if (this.device.owners.get(text) !== this) return;
    this.device.owners.delete(text);
    this.allowedIps = this.allowedIps.filter((p) => p !== text);
  }
  state(): UapiPeerState {
    return {
      publicKey: this.publicKey,
      presharedKey: this.presharedKey?.slice() ?? null,
      endpoint: this.endpoint,
      lastHandshakeTimeSec: this.lastHandshakeTimeSec,
      lastHandshakeTimeNsec: this.lastHandshakeTimeNsec,
      txBytes: this.txBytes,
      rxBytes: this.rxBytes,
      persistentKeepaliveInterval: this.keepalive,
      allowedIps: [...this.allowedIps],
      protocolVersion: 1,
    };
  }
}

export class FakeDevice implements UapiTarget {
  privateKey: Uint8Array | null = null;
  listenPort = 0;
  fwmark = 0;
  /** Peers by hex public key, in creation order. */
  readonly peers = new Map<string, FakePeer>();
  readonly owners = new Map<string, FakePeer>();
  /** Ports whose bind "fails" (setListenPort throws a plain Error, as a bind error would). */
  readonly portsInUse = new Set<number>();
  /** Every peerConfigured call, for assertions. */
  readonly configured: { publicKey: string; created: boolean; keepaliveTurnedOn: boolean }[] = [];

  setPrivateKey(key: Uint8Array | null): void {
    this.privateKey = key === null ? null : key.slice();
    const own = this.ownPublicKey();
    if (own !== null) this.removePeer(own);
  }
  setListenPort(port: number): void {
    if (this.portsInUse.has(port)) {
      this.listenPort = 0;
      throw new Error(`listen udp :${port}: bind: address already in use`);
    }
    this.listenPort = port;
  }
  setFwmark(mark: number): void {
    this.fwmark = mark;
  }
  removeAllPeers(): void {
    this.peers.clear();
    this.owners.clear();
  }
  ownPublicKey(): Uint8Array | null {
    return this.privateKey === null ? null : publicKey(this.privateKey);
  }
  findPeer(key: Uint8Array): FakePeer | undefined {
    return this.peers.get(hex(key));
  }
  createPeer(key: Uint8Array): FakePeer {
    const p = new FakePeer(this, key.slice());
    this.peers.set(hex(key), p);
    return p;
  }
  removePeer(key: Uint8Array): void {
    this.peers.get(hex(key))?.removeAllAllowedIps();
    this.peers.delete(hex(key));
  }
  peerConfigured(peer: UapiPeer, info: { created: boolean; keepaliveTurnedOn: boolean }): void {
    this.configured.push({ publicKey: hex((peer as FakePeer).publicKey), ...info });
  }
  /** Key copies, as the contract asks (getReply zeroes them after formatting). */
  getState(): UapiState {
    return {
      privateKey: this.privateKey?.slice() ?? null,
      listenPort: this.listenPort,
      fwmark: this.fwmark,
      peers: [...this.peers.values()].map((p) => p.state()),
    };
  }
  peer(hexKey: string): FakePeer {
    const p = this.peers.get(hexKey);
    if (p === undefined) throw new Error(`no peer ${hexKey}`);
    return p;
  }
}
