// `wgts show`: reads interfaces over UAPI (`get=1` on /var/run/wireguard/IFNAME.sock, so it works
// for wgts up, wgts-go and wireguard-go alike), merges what the status file of a `wgts up` adds
// (peer names, denied packets, the config path), and renders it the way `wg show` does or as JSON.
// Secrets never leave this module: the private key only yields the public key, a preshared key
// only "is set".
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { keyFromHex, keyToBase64, publicKey } from '../crypto/keys.js';
import { DEFAULT_SOCKET_DIR } from '../device/uapi/server.js';
import type { RegistryHealth } from './source.js';
import { readStatus, STATUS_DIR, type ReloadStatus } from './status.js';

/** One peer as `wgts show` reports it. Keys are base64; times are Unix seconds. */
export interface ShowPeer {
  publicKey: string;
  /** From the status file of `wgts up`; null when unnamed or unknown. */
  name: string | null;
  hasPresharedKey: boolean;
  /** `ip:port` / `[ip]:port`, null when not known yet. */
  endpoint: string | null;
  allowedIps: string[];
  /** Unix seconds of the latest handshake, 0 when none. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
  /** Seconds, 0 when off. */
  persistentKeepalive: number;
  /** Packets from the peer refused by the access rules; null when no `wgts up` status is available. */
  denied: number | null;
  /** Packets to the peer refused (no flow it started, no AllowInbound); null without a status. */
  refused: number | null;
  /** Authenticated datagrams received / sent (the status file of `wgts up`); null without one. */
  rxPackets: number | null;
  txPackets: number | null;
}

/** A peer of the config file that is not on the interface (disabled, or past its Expires). */
export interface InactivePeer {
  publicKey: string;
  name: string | null;
  state: 'disabled' | 'expired';
  /** 2026-12-31T00:00:00Z, null when it has no Expires. */
  expires: string | null;
}

/** One interface as `wgts show` reports it. */
export interface ShowInterface {
  name: string;
  /** null when no private key is set. */
  publicKey: string | null;
  listenPort: number;
  fwmark: number;
  /** Config file of the `wgts up` process, null when the interface was not started by one. */
  config: string | null;
  /** Device drop counters from the status file, null without one. */
  counters: Record<string, number> | null;
  /** DNS counters of a gateway's `wgts up` (status file), absent otherwise. */
  dns?: Record<string, number>;
  /** The last reload of the config file (wgts up), null without a status. */
  reload: ReloadStatus | null;
  /** A gateway run from a registry: its reachability and revision (status file). */
  registry?: RegistryHealth;
  peers: ShowPeer[];
  /** Peers of the config file kept off the interface (wgts up of a gateway). */
  inactive: InactivePeer[];
  /** Unix time (ms) of the status file's snapshot (its packet counters), null without one. */
  statusUpdated: number | null;
}

/** How long one UAPI exchange may take (ms). */
const UAPI_TIMEOUT_MS = 5000;

/** Sends one UAPI request (e.g. `get=1\n\n`) to IFNAME's socket and resolves with the reply text. */
export function uapiRequest(ifname: string, request: string, socketDir = DEFAULT_SOCKET_DIR): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(join(socketDir, `${ifname}.sock`));
    let reply = '';
    const done = (err: Error | null): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply);
    };
    const timer = setTimeout(() => done(new Error(`${ifname}: no UAPI reply within ${UAPI_TIMEOUT_MS} ms`)), UAPI_TIMEOUT_MS);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d: string) => {
      reply += d;
      if (/(^|\n)errno=-?[0-9]+\n\n$/.test(reply)) done(null);
    });
    sock.on('error', (e) => done(new Error(`${ifname}: ${e.message}`)));
    sock.on('end', () => done(new Error(`${ifname}: the UAPI socket closed before the reply ended`)));
  });
}

/** Names of the interfaces with a UAPI socket, sorted. */
export function listUapiInterfaces(socketDir = DEFAULT_SOCKET_DIR): string[] {
  try {
    return readdirSync(socketDir).filter((f) => f.endsWith('.sock')).map((f) => f.slice(0, -5)).sort();
  } catch {
    return [];
  }
}

const hexToBase64 = (h: string): string => {
  const k = keyFromHex(h);
  if (!k) throw new Error(`bad key in UAPI reply: ${h.length} characters`);
  return keyToBase64(k);
};

/** Parses a `get=1` reply into the interface view (without status-file data). Throws on errno != 0. */
export function parseGetReply(name: string, text: string): ShowInterface {
  const iface: ShowInterface = { name, publicKey: null, listenPort: 0, fwmark: 0, config: null, counters: null, reload: null, peers: [], inactive: [], statusUpdated: null };
  let peer: ShowPeer | null = null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`bad UAPI reply line: ${line}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    const num = (): number => {
      if (!/^[0-9]+$/.test(value)) throw new Error(`bad number in UAPI reply: ${line}`);
      return Number(value);
    };
    if (key === 'errno') {
      if (value !== '0') throw new Error(`${name}: UAPI get failed with errno ${value}`);
      continue;
    }
    if (key === 'public_key') {
      peer = { publicKey: hexToBase64(value), name: null, hasPresharedKey: false, endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 0, denied: null, refused: null, rxPackets: null, txPackets: null };
      iface.peers.push(peer);
      continue;
    }
    if (peer === null) {
      if (key === 'private_key') {
        const k = keyFromHex(value);
        if (!k) throw new Error('bad private key in UAPI reply');
        iface.publicKey = keyToBase64(publicKey(k));
        k.fill(0);
      } else if (key === 'listen_port') iface.listenPort = num();
      else if (key === 'fwmark') iface.fwmark = num();
      continue;
    }
    switch (key) {
      case 'preshared_key': peer.hasPresharedKey = !/^0+$/.test(value); break;
      case 'endpoint': peer.endpoint = value; break;
      case 'allowed_ip': peer.allowedIps.push(value); break;
      case 'last_handshake_time_sec': peer.latestHandshake = num(); break;
      case 'rx_bytes': peer.rxBytes = num(); break;
      case 'tx_bytes': peer.txBytes = num(); break;
      case 'persistent_keepalive_interval': peer.persistentKeepalive = num(); break;
      default: break; // protocol_version, last_handshake_time_nsec
    }
  }
  return iface;
}

/** Reads one interface over UAPI and merges its status file when there is one. */
export async function showInterface(ifname: string, dirs: { socketDir?: string; statusDir?: string } = {}): Promise<ShowInterface> {
  const iface = parseGetReply(ifname, await uapiRequest(ifname, 'get=1\n\n', dirs.socketDir));
  const status = readStatus(ifname, dirs.statusDir ?? STATUS_DIR);
  if (status) {
    iface.config = status.config;
    iface.counters = status.counters;
    if (status.dns) iface.dns = status.dns;
    iface.reload = status.reload ?? null;
    if (status.registry) iface.registry = status.registry;
    iface.statusUpdated = status.updated;
    for (const p of iface.peers) {
      const s = status.peers[p.publicKey];
      p.name = s?.name ?? null;
      p.denied = s?.denied ?? 0;
      p.refused = s?.refused ?? 0;
      p.rxPackets = s?.rxPackets ?? null;
      p.txPackets = s?.txPackets ?? null;
    }
    for (const [publicKey, x] of Object.entries(status.inactive ?? {})) {
      iface.inactive.push({ publicKey, name: x.name ?? null, state: x.state, expires: x.expires ?? null });
    }
  }
  return iface;
}

/** `1 hour, 2 minutes, 3 seconds` (wg's style of spelling a duration). */
export function prettyDuration(seconds: number): string {
  const units: [number, string][] = [[365 * 24 * 3600, 'year'], [24 * 3600, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  const parts: string[] = [];
  let left = Math.floor(seconds);
  for (const [size, unit] of units) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return parts.join(', ');
}

/** `123 B`, `1.21 KiB`, `3.40 MiB`, ... (wg's style). */
export function prettyBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (n < 1024) return `${n} B`;
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(2)} ${units[i]}`;
}

/** How long ago a handshake at `at` was, as wg prints it. */
function ago(at: number, now: number): string {
  if (now === at) return 'Now';
  if (now < at) return '(System clock wound backward; connection problems may ensue.)';
  return `${prettyDuration(now - at)} ago`;
}

/** `12 queries (3 forwarded, 2 bare names asked upstream); dropped: 5 not from the tunnel, ...` */
function dnsLine(d: Record<string, number>): string {
  const n = (k: string): number => d[k] ?? 0;
  const up = [n('forwarded') ? `${n('forwarded')} forwarded` : '', n('fallback') ? `${n('fallback')} bare names asked upstream` : ''].filter(Boolean);
  const dropped = [
    n('forbidden') ? `${n('forbidden')} not from the tunnel` : '',
    n('tcpRejected') ? `${n('tcpRejected')} TCP over the connection limit` : '',
    n('tcpTimeouts') ? `${n('tcpTimeouts')} TCP past the message deadline` : '',
  ].filter(Boolean);
  return `${n('queries')} queries${up.length ? ` (${up.join(', ')})` : ''}${dropped.length ? `; dropped: ${dropped.join(', ')}` : ''}`;
}

/** `connected, revision 42 (no TLS, no etcd user)` or `UNREACHABLE for 12 s: ... (serving the state of revision 42)`. */
export function registryLine(h: RegistryHealth, nowSec: number): string {
  const resyncs = h.resyncs > 0 ? `, ${h.resyncs} resync${h.resyncs === 1 ? '' : 's'}` : '';
  if (h.connected) return `connected, revision ${h.revision}${resyncs} (${h.protection})`;
  const down = Math.max(0, nowSec - Math.floor(h.since / 1000));
  return `UNREACHABLE for ${down} s${h.error ? `: ${h.error}` : ''} (serving the last state, revision ${h.revision}${resyncs})`;
}

/** The `wg show`-style text of one interface (peers by latest handshake, newest first). */
export function formatShow(iface: ShowInterface, nowSec: number = Math.floor(Date.now() / 1000)): string {
  const out: string[] = [`interface: ${iface.name}`];
  if (iface.publicKey) out.push(`  public key: ${iface.publicKey}`, '  private key: (hidden)');
  if (iface.listenPort) out.push(`  listening port: ${iface.listenPort}`);
  if (iface.fwmark) out.push(`  fwmark: 0x${iface.fwmark.toString(16)}`);
  if (iface.config) out.push(`  config: ${iface.config}`);
  if (iface.registry) out.push(`  registry: ${registryLine(iface.registry, nowSec)}`);
  if (iface.reload && !iface.reload.ok) {
    const next = iface.reload.nextRetry === undefined ? 'when the file changes' : `in ${Math.max(0, Math.ceil((iface.reload.nextRetry - nowSec * 1000) / 1000))} s`;
    out.push(`  reload: FAILED (${iface.reload.attempts} attempt${iface.reload.attempts === 1 ? '' : 's'}; next try ${next}):`);
    for (const e of iface.reload.errors) out.push(`    ${e}`);
  }
  if (iface.counters && iface.counters.filtered) out.push(`  denied packets: ${iface.counters.filtered}`);
  if (iface.dns) out.push(`  dns: ${dnsLine(iface.dns)}`);
  if (iface.counters && iface.counters.outboundFiltered) out.push(`  refused packets (to peers): ${iface.counters.outboundFiltered}`);
  const peers = [...iface.peers].sort((a, b) => b.latestHandshake - a.latestHandshake);
  for (const p of peers) {
    out.push('', `peer: ${p.publicKey}`);
    if (p.name) out.push(`  name: ${p.name}`);
    if (p.hasPresharedKey) out.push('  preshared key: (hidden)');
    if (p.endpoint) out.push(`  endpoint: ${p.endpoint}`);
    out.push(`  allowed ips: ${p.allowedIps.length ? p.allowedIps.join(', ') : '(none)'}`);
    if (p.latestHandshake) out.push(`  latest handshake: ${ago(p.latestHandshake, nowSec)}`);
    if (p.rxBytes || p.txBytes) out.push(`  transfer: ${prettyBytes(p.rxBytes)} received, ${prettyBytes(p.txBytes)} sent`);
    if (p.persistentKeepalive) out.push(`  persistent keepalive: every ${prettyDuration(p.persistentKeepalive)}`);
    if (p.denied) out.push(`  denied packets: ${p.denied}`);
    if (p.refused) out.push(`  refused packets: ${p.refused}`);
  }
  for (const p of iface.inactive) {
    out.push('', `peer: ${p.publicKey}`);
    if (p.name) out.push(`  name: ${p.name}`);
    out.push(`  state: ${p.state === 'disabled' ? 'disabled' : `expired at ${p.expires ?? '?'}`} (in ${iface.config ?? 'the config'}, not on the interface)`);
  }
  return `${out.join('\n')}\n`;
}
