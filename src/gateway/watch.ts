// `wgts show --watch`: rates between two looks at the interfaces (bit/s from the UAPI byte counters,
// packets/s from the packet counters in the status file of `wgts up`), and the two ways to print
// them: a screen (a header, one row per peer, redrawn in place by src/cli/watch.ts) and plain
// `key=value` lines, one per peer and look, for pipes and logs. Pure functions: no terminal here.
import { isOnline } from './live.js';
import { prettyBytes, type ShowInterface } from './show.js';

/** The rates of one peer between two looks; null where a counter is missing or went backwards. */
export interface PeerRates {
  rxBitsPerSecond: number | null;
  txBitsPerSecond: number | null;
  rxPacketsPerSecond: number | null;
  txPacketsPerSecond: number | null;
}

/** One look at the interfaces, at a monotonic time (ms). */
export interface WatchSample {
  at: number;
  interfaces: ShowInterface[];
}

const rate = (now: number | null, before: number | null | undefined, seconds: number, scale = 1): number | null => {
  if (now === null || before === null || before === undefined || seconds <= 0 || now < before) return null;
  return ((now - before) * scale) / seconds;
};

/**
 * Rates per `interface/publicKey` between `prev` and `cur`. Packet rates use the status file's own
 * snapshot times (it is rewritten once a second); when it has not been rewritten since `prev`, the
 * packet rates of `last` (the previous result) are kept.
 */
export function computeRates(prev: WatchSample | null, cur: WatchSample, last: ReadonlyMap<string, PeerRates> = new Map()): Map<string, PeerRates> {
  const out = new Map<string, PeerRates>();
  for (const iface of cur.interfaces) {
    const before = prev?.interfaces.find((i) => i.name === iface.name);
    const seconds = prev ? (cur.at - prev.at) / 1000 : 0;
    const statusSeconds = before?.statusUpdated != null && iface.statusUpdated !== null ? (iface.statusUpdated - before.statusUpdated) / 1000 : 0;
    for (const p of iface.peers) {
      const key = `${iface.name}/${p.publicKey}`;
      const b = before?.peers.find((q) => q.publicKey === p.publicKey);
      const kept = last.get(key);
      const r: PeerRates = {
        rxBitsPerSecond: rate(p.rxBytes, b?.rxBytes, seconds, 8),
        txBitsPerSecond: rate(p.txBytes, b?.txBytes, seconds, 8),
        rxPacketsPerSecond: statusSeconds > 0 ? rate(p.rxPackets, b?.rxPackets, statusSeconds) : kept?.rxPacketsPerSecond ?? null,
        txPacketsPerSecond: statusSeconds > 0 ? rate(p.txPackets, b?.txPackets, statusSeconds) : kept?.txPacketsPerSecond ?? null,
      };
      out.set(key, r);
    }
  }
  return out;
}

/** `0 bit/s`, `850 bit/s`, `12.3 kbit/s`, `1.20 Mbit/s`, `2.50 Gbit/s` (SI, as iperf3 prints). */
export function prettyBits(bps: number | null): string {
  if (bps === null) return '-';
  const units: [number, string][] = [[1e9, 'Gbit/s'], [1e6, 'Mbit/s'], [1e3, 'kbit/s']];
  for (const [size, unit] of units) if (bps >= size) return `${(bps / size).toFixed(bps / size >= 100 ? 0 : bps / size >= 10 ? 1 : 2)} ${unit}`;
  return `${Math.round(bps)} bit/s`;
}

/** `0`, `37`, `1.2k`, `45k` packets per second. */
export function prettyRate(pps: number | null): string {
  if (pps === null) return '-';
  if (pps >= 10_000) return `${Math.round(pps / 1000)}k`;
  if (pps >= 1000) return `${(pps / 1000).toFixed(1)}k`;
  return pps >= 10 || pps === 0 ? String(Math.round(pps)) : pps.toFixed(1);
}

/** `12 s`, `3 min`, `2 h`, `never`: a handshake age in one short unit. */
export function shortAge(latestHandshake: number, nowSec: number): string {
  if (latestHandshake === 0) return 'never';
  const s = Math.max(0, nowSec - latestHandshake);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** Pads and joins cells into aligned columns (the last one unpadded). */
function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

const counter = (n: number | null): string => (n === null ? '-' : String(n));

/** The screen of one look: a line per interface, then a table of its peers (inactive ones last). */
export function renderScreen(sample: WatchSample, rates: ReadonlyMap<string, PeerRates>, opts: { intervalMs: number; nowSec: number; clock: string }): string[] {
  const lines = [`wgts show --watch   every ${opts.intervalMs / 1000} s   ${opts.clock}   (q or Ctrl-C quits)`];
  if (sample.interfaces.length === 0) lines.push('', 'no interfaces');
  for (const iface of sample.interfaces) {
    const online = iface.peers.filter((p) => isOnline(p.latestHandshake, opts.nowSec)).length;
    const facts = [`${iface.peers.length} peer${iface.peers.length === 1 ? '' : 's'} (${online} online)`];
    if (iface.listenPort) facts.unshift(`port ${iface.listenPort}`);
    if (iface.inactive.length) facts.push(`${iface.inactive.length} off`);
    if (iface.counters) facts.push(`denied ${iface.counters.filtered ?? 0}`, `refused ${iface.counters.outboundFiltered ?? 0}`);
    if (iface.reload && !iface.reload.ok) facts.push('RELOAD FAILED');
    if (iface.registry && !iface.registry.connected) facts.push('REGISTRY UNREACHABLE');
    lines.push('', `interface ${iface.name}: ${facts.join(', ')}`);
    const rows: string[][] = [['PEER', 'STATE', 'HANDSHAKE', 'ENDPOINT', 'RX', 'TX', 'RX PKT/S', 'TX PKT/S', 'DENIED', 'REFUSED', 'TOTAL RX / TX']];
    const peers = [...iface.peers].sort((a, b) => (a.name ?? a.publicKey).localeCompare(b.name ?? b.publicKey));
    for (const p of peers) {
      const r = rates.get(`${iface.name}/${p.publicKey}`);
      rows.push([
        p.name ?? `${p.publicKey.slice(0, 8)}…`,
        isOnline(p.latestHandshake, opts.nowSec) ? 'online' : 'offline',
        shortAge(p.latestHandshake, opts.nowSec),
        p.endpoint ?? '-',
        prettyBits(r?.rxBitsPerSecond ?? null),
        prettyBits(r?.txBitsPerSecond ?? null),
        prettyRate(r?.rxPacketsPerSecond ?? null),
        prettyRate(r?.txPacketsPerSecond ?? null),
        counter(p.denied),
        counter(p.refused),
        `${prettyBytes(p.rxBytes)} / ${prettyBytes(p.txBytes)}`,
      ]);
    }
    for (const p of iface.inactive) rows.push([p.name ?? `${p.publicKey.slice(0, 8)}…`, p.state, '-', '-', '-', '-', '-', '-', '-', '-', '-']);
    lines.push(...columns(rows));
  }
  return lines;
}

/** Plain lines of one look: `TIME IFACE NAME state=... handshake=... rx=... ...`, one per peer. */
export function renderPlain(sample: WatchSample, rates: ReadonlyMap<string, PeerRates>, opts: { nowSec: number; clock: string }): string[] {
  const out: string[] = [];
  for (const iface of sample.interfaces) {
    for (const p of iface.peers) {
      const r = rates.get(`${iface.name}/${p.publicKey}`);
      const age = p.latestHandshake ? `${Math.max(0, opts.nowSec - p.latestHandshake)}s` : 'never';
      out.push([
        opts.clock, iface.name, p.name ?? p.publicKey,
        `state=${isOnline(p.latestHandshake, opts.nowSec) ? 'online' : 'offline'}`, `handshake=${age}`, `endpoint=${p.endpoint ?? '-'}`,
        `rx=${prettyBits(r?.rxBitsPerSecond ?? null).replace(' ', '')}`, `tx=${prettyBits(r?.txBitsPerSecond ?? null).replace(' ', '')}`,
        `rx_pps=${prettyRate(r?.rxPacketsPerSecond ?? null)}`, `tx_pps=${prettyRate(r?.txPacketsPerSecond ?? null)}`,
        `denied=${counter(p.denied)}`, `refused=${counter(p.refused)}`, `rx_bytes=${p.rxBytes}`, `tx_bytes=${p.txBytes}`,
      ].join(' '));
    }
    for (const p of iface.inactive) out.push(`${opts.clock} ${iface.name} ${p.name ?? p.publicKey} state=${p.state}${p.expires ? ` expires=${p.expires}` : ''}`);
  }
  return out;
}
