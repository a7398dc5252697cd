// The host as `wgts doctor` looks at it, read-only: listening sockets (`ss`), routes and links
// (`ip -j`), sysctls (/proc/sys), the firewall (`iptables -C` / `-S`, `nft -j`), and small DNS
// exchanges (a query to a resolver, or to the gateway's own DNS from its tunnel address). Nothing
// here changes the host; every exchange is bounded in time.
import dgram from 'node:dgram';
import { promises as fsp, statSync } from 'node:fs';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { RCODE } from '../dns/message.js';
import { jsonRows, sysctlPath, type CommandRunner } from '../netcfg.js';

/** One listening socket of `ss -Hlnp`. */
export interface Listener {
  proto: 'udp' | 'tcp';
  /** The local address without brackets or `%dev`; `*` or `0.0.0.0` / `::` for wildcards. */
  host: string;
  port: number;
  /** `name (pid N)` of the owners, when ss could tell. */
  owners: string[];
  pids: number[];
}

/** Parses `ss -Hlnp` output lines (`UNCONN 0 0 0.0.0.0:53 0.0.0.0:* users:(("dnsmasq",pid=9,fd=4))`). */
export function parseListeners(text: string, proto: 'udp' | 'tcp'): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5) continue;
    const local = cols[3] as string;
    const colon = local.lastIndexOf(':');
    if (colon < 0) continue;
    const port = Number(local.slice(colon + 1));
    if (!Number.isInteger(port)) continue;
    const host = local.slice(0, colon).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    const users = cols.slice(5).join(' ');
    const owners = [...users.matchAll(/\("([^"]*)",pid=([0-9]+)/g)].map((m) => `${m[1] as string} (pid ${m[2] as string})`);
    const pids = [...users.matchAll(/pid=([0-9]+)/g)].map((m) => Number(m[1]));
    out.push({ proto, host, port, owners: [...new Set(owners)], pids: [...new Set(pids)] });
  }
  return out;
}

/** Sockets listening on `port` (UDP or TCP) in this network namespace. */
export async function listenersOn(run: CommandRunner, proto: 'udp' | 'tcp', port: number): Promise<Listener[]> {
  const text = await run('ss', ['-Hlnp', proto === 'udp' ? '-u' : '-t', `sport = :${port}`]);
  return parseListeners(text, proto);
}

const isWildcard = (host: string): boolean => host === '*' || host === '0.0.0.0' || host === '::';

/**
 * Whether a socket bound to `listener` keeps another from binding `host` on the same port: the
 * same address, or a wildcard on either side covering the other's family (`*` and `::` cover
 * both, as a dual-stack socket does).
 */
export function conflicts(listener: Listener, host: string): boolean {
  if (listener.host === host) return true;
  const v6 = (h: string): boolean => h.includes(':');
  const covers = (wild: string, other: string): boolean => wild === '*' || wild === '::' || (wild === '0.0.0.0' && !v6(other));
  if (isWildcard(listener.host) && covers(listener.host, host)) return true;
  return isWildcard(host) && covers(host, listener.host);
}

/** The route `ip route get ADDR` picks: device, kind, MTU of the route if set; null when none. */
export interface RouteInfo {
  dev: string | null;
  /** `unicast`, `local`, `unreachable`, ... */
  type: string;
  gateway: string | null;
  mtu: number | null;
}

export async function routeGet(run: CommandRunner, address: string): Promise<RouteInfo | null> {
  let text: string;
  try {
    text = await run('ip', [address.includes(':') ? '-6' : '-4', '-j', 'route', 'get', address]);
  } catch {
    return null;
  }
  const row = jsonRows(text)[0];
  if (!row) return null;
  const metrics = Array.isArray(row.metrics) ? row.metrics as Record<string, unknown>[] : [];
  const mtu = metrics.map((m) => m.mtu).find((v): v is number => typeof v === 'number') ?? null;
  return {
    dev: typeof row.dev === 'string' ? row.dev : null,
    type: typeof row.type === 'string' ? row.type : 'unicast',
    gateway: typeof row.gateway === 'string' ? row.gateway : null,
    mtu,
  };
}

/** The MTU of a link, or null. */
export async function linkMtu(run: CommandRunner, dev: string): Promise<number | null> {
  try {
    const row = jsonRows(await run('ip', ['-j', 'link', 'show', 'dev', dev]))[0];
    return typeof row?.mtu === 'number' ? row.mtu : null;
  } catch {
    return null;
  }
}

/** Whether a link of this name exists here, and whether it is up. */
export async function linkState(run: CommandRunner, dev: string): Promise<{ exists: boolean; up: boolean }> {
  try {
    const row = jsonRows(await run('ip', ['-j', 'link', 'show', 'dev', dev]))[0];
    const flags = Array.isArray(row?.flags) ? row.flags : [];
    return { exists: row !== undefined, up: flags.includes('UP') };
  } catch {
    return { exists: false, up: false };
  }
}

/** Addresses of this namespace by device (`ip -j address`), without link-local IPv6. */
export async function localAddresses(run: CommandRunner): Promise<{ dev: string; address: string }[]> {
  const out: { dev: string; address: string }[] = [];
  for (const row of jsonRows(await run('ip', ['-j', 'address', 'show']))) {
    const dev = typeof row.ifname === 'string' ? row.ifname : '';
    const infos = Array.isArray(row.addr_info) ? row.addr_info as Record<string, unknown>[] : [];
    for (const a of infos) {
      if (typeof a.local === 'string' && a.scope !== 'link') out.push({ dev, address: a.local });
    }
  }
  return out;
}

/** A sysctl's value, or null when it does not exist here. */
export async function readSysctl(name: string): Promise<string | null> {
  try {
    return (await fsp.readFile(sysctlPath(name), 'utf8')).trim();
  } catch {
    return null;
  }
}

/** Whether process `pid` runs in this network namespace (true when that cannot be read). */
export function sameNetns(pid: number): boolean {
  try {
    const theirs = statSync(`/proc/${pid}/ns/net`);
    const ours = statSync('/proc/self/ns/net');
    return theirs.ino === ours.ino && theirs.dev === ours.dev;
  } catch {
    return true;
  }
}

/** The outcome of one DNS exchange. */
export type DnsProbe = { ok: true; rcode: string; answers: string[]; ms: number } | { ok: false; error: string };

/**
 * Asks `server`:`port` for `name`/`type` over UDP (from `source` when given) and waits at most
 * `timeoutMs` for the matching reply.
 */
export function dnsQuery(server: string, port: number, name: string, type: 'A' | 'NS', opts: { source?: string; timeoutMs?: number } = {}): Promise<DnsProbe> {
  const timeoutMs = opts.timeoutMs ?? 1500;
  const family = net.isIP(server.replace(/%.*$/, '')) === 6 ? 'udp6' : 'udp4';
  const id = Math.floor(Math.random() * 65536);
  const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
  const started = Date.now();
  return new Promise((resolve) => {
    const sock = dgram.createSocket(family);
    let done = false;
    const finish = (r: DnsProbe): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { sock.close(); } catch { /* closed after an error */ }
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    sock.on('error', (e) => finish({ ok: false, error: e.message }));
    sock.on('message', (msg) => {
      try {
        const r = dnsPacket.decode(msg);
        if (r.id !== id || !r.flag_qr) return;
        const answers = (r.answers ?? []).map((a) => ('data' in a ? String(a.data) : ''));
        const code = (r.flags ?? 0) & 0xf;
        const rcode = Object.entries(RCODE).find(([, v]) => v === code)?.[0] ?? `RCODE${code}`;
        finish({ ok: true, rcode, answers, ms: Date.now() - started });
      } catch {
        // not a DNS message: keep waiting
      }
    });
    // Connected, so an ICMP port unreachable ends the wait at once (ECONNREFUSED).
    const send = (): void => sock.connect(port, server, () => sock.send(query, (e) => { if (e) finish({ ok: false, error: e.message }); }));
    if (opts.source !== undefined) sock.bind({ address: opts.source, port: 0 }, send);
    else send();
  });
}
