// `wgts ha kick IFNAME`: the gateway that just took over the endpoint address starts a handshake
// with every peer whose endpoint it knows (its own, or from a shared endpoints file for peers it has
// none for), so laptops move to it within a round trip instead of after their own timers (a laptop
// whose packets go unanswered starts a new handshake only after 15 s: Keepalive-Timeout 10 s +
// Rekey-Timeout 5 s).
//
// Only standard UAPI is used, so it works on any interface with a UAPI socket (wgts up, wgts-go,
// wireguard-go): a peer block that turns persistent keepalive on (from 0) makes the device send a
// keepalive at once (wireguard-go's handlePostConfig; wgts does the same), and a keepalive without
// a session is staged and starts a handshake. Peers keep their persistent keepalive: the block sets
// 0 and then the peer's own value (1 s for a peer without one, put back to 0 by a second set right
// after). Endpoints from the file are set only for peers the interface has none for.
import { keyFromBase64, keyToHex } from '../../crypto/keys.js';
import { parseGetReply, uapiRequest, type ShowPeer } from '../show.js';
import { readStatus } from '../status.js';
import type { EndpointMap } from './endpoints.js';

/** What `kick` did for one peer. */
export interface KickedPeer {
  publicKey: string;
  name: string | null;
  endpoint: string;
  /** Where the endpoint came from. */
  source: 'interface' | 'file';
  /** Milliseconds from the kick to the peer's new handshake; null when none came within the wait. */
  handshakeMs: number | null;
}

/** The outcome of `kick`. */
export interface KickResult {
  kicked: KickedPeer[];
  /** Peers with no endpoint anywhere (they come back by their own timers). */
  unknown: number;
}

const hex = (b64: string): string => {
  const k = keyFromBase64(b64);
  if (!k) throw new Error(`bad public key ${b64.slice(0, 12)}...`);
  return keyToHex(k);
};

/** One `set=1` exchange; throws unless errno=0. */
async function uapiSet(ifname: string, body: string, socketDir?: string): Promise<void> {
  const reply = await uapiRequest(ifname, `set=1\n${body}\n`, socketDir);
  if (!/(^|\n)errno=0\n\n$/.test(reply)) throw new Error(`${ifname}: UAPI set failed: ${reply.trim()}`);
}

/** The interface's peers over UAPI, named from the status file of its `wgts up` when there is one. */
async function peersOf(ifname: string, socketDir?: string): Promise<ShowPeer[]> {
  const iface = parseGetReply(ifname, await uapiRequest(ifname, 'get=1\n\n', socketDir));
  const status = readStatus(ifname);
  for (const p of iface.peers) p.name = status?.peers[p.publicKey]?.name ?? null;
  return iface.peers;
}

/**
 * Starts a handshake with every peer of `ifname` that has an endpoint (its own, else the one in
 * `shared`), then waits up to `waitMs` for their handshakes (UAPI latest handshake after the kick).
 */
export async function kick(ifname: string, shared: EndpointMap, waitMs: number, socketDir?: string): Promise<KickResult> {
  const peers = await peersOf(ifname, socketDir);
  const kicked: KickedPeer[] = [];
  let body = '';
  let restore = '';
  let unknown = 0;
  for (const p of peers) {
    const fromFile = p.endpoint === null ? shared.get(p.publicKey) : undefined;
    const endpoint = p.endpoint ?? fromFile;
    if (endpoint === undefined) {
      unknown++;
      continue;
    }
    kicked.push({ publicKey: p.publicKey, name: p.name, endpoint, source: fromFile === undefined ? 'interface' : 'file', handshakeMs: null });
    body += `public_key=${hex(p.publicKey)}\n${fromFile === undefined ? '' : `endpoint=${fromFile}\n`}`
      + `persistent_keepalive_interval=0\npersistent_keepalive_interval=${p.persistentKeepalive || 1}\n`;
    if (p.persistentKeepalive === 0) restore += `public_key=${hex(p.publicKey)}\npersistent_keepalive_interval=0\n`;
  }
  if (kicked.length === 0) return { kicked, unknown };
  // Handshake times are whole seconds over UAPI: compare with the second the kick started in.
  const t0 = Date.now();
  const since = Math.floor(t0 / 1000);
  const before = new Map(peers.map((p) => [p.publicKey, p.latestHandshake]));
  await uapiSet(ifname, body, socketDir);
  if (restore !== '') await uapiSet(ifname, restore, socketDir);
  const deadline = t0 + waitMs;
  while (kicked.some((k) => k.handshakeMs === null) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    const now = await peersOf(ifname, socketDir);
    for (const k of kicked) {
      if (k.handshakeMs !== null) continue;
      const p = now.find((x) => x.publicKey === k.publicKey);
      if (p && p.latestHandshake >= since && p.latestHandshake !== before.get(k.publicKey)) k.handshakeMs = Date.now() - t0;
    }
  }
  return { kicked, unknown };
}

/** Lines for the terminal: one per kicked peer, and the peers with no endpoint. */
export function formatKick(ifname: string, r: KickResult): string {
  const lines = r.kicked.map((k) => `${ifname}: ${k.name ?? `${k.publicKey.slice(0, 8)}...`} at ${k.endpoint}${k.source === 'file' ? ' (from the endpoints file)' : ''}: `
    + (k.handshakeMs === null ? 'handshake started, no answer yet' : `handshake in ${k.handshakeMs} ms`));
  if (r.kicked.length === 0) lines.push(`${ifname}: no peer with a known endpoint: nothing to kick`);
  if (r.unknown > 0) lines.push(`${ifname}: ${r.unknown} peer(s) without a known endpoint: they come back by their own timers (within about 15 s of sending)`);
  return `${lines.join('\n')}\n`;
}
