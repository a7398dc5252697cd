// The live side of a gateway file for `wgts peer list`: which `wgts up` processes run it, and per
// peer what their interfaces report over UAPI (latest handshake, endpoint, transfer), with
// "online" meaning a handshake within the last 3 minutes (a session lives at most 180 s without
// one: REJECT_AFTER_TIME; laptops keep it fresh with their 25 s keepalive).
import { runningFor } from './applied.js';
import { showInterface } from './show.js';

/** A handshake at most this many seconds old counts as online. */
export const ONLINE_WITHIN_S = 180;

/** Whether a latest handshake (Unix seconds, 0 = never) counts as online at `nowSec`. */
export function isOnline(latestHandshake: number, nowSec: number): boolean {
  return latestHandshake > 0 && nowSec - latestHandshake <= ONLINE_WITHIN_S;
}

/** One peer as a running interface reports it. */
export interface LivePeer {
  interface: string;
  /** Unix seconds, 0 = never. */
  latestHandshake: number;
  online: boolean;
  endpoint: string | null;
  rxBytes: number;
  txBytes: number;
}

/** The running gateways of `file` and their peers by public key; errors name an interface that did not answer. */
export async function livePeers(file: string, nowSec = Math.floor(Date.now() / 1000)): Promise<{ interfaces: string[]; peers: Map<string, LivePeer>; errors: string[] }> {
  const peers = new Map<string, LivePeer>();
  const errors: string[] = [];
  const interfaces: string[] = [];
  for (const s of runningFor(file)) {
    try {
      const iface = await showInterface(s.interface);
      interfaces.push(s.interface);
      for (const p of iface.peers) {
        peers.set(p.publicKey, {
          interface: s.interface,
          latestHandshake: p.latestHandshake,
          online: isOnline(p.latestHandshake, nowSec),
          endpoint: p.endpoint,
          rxBytes: p.rxBytes,
          txBytes: p.txBytes,
        });
      }
    } catch (e) {
      errors.push(`${s.interface}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { interfaces, peers, errors };
}
