// Two WireGuard interfaces in two network namespaces joined by a veth pair, configured with the
// real `wg` tool as peers of each other: the setup of the interop tests and the tunnel benchmark.
// Tunnel addresses: A 10.78.0.1 / fd78::1, B 10.78.0.2 / fd78::2, MTU 1420; outer (veth)
// addresses 10.77.0.x and fd77::x, the endpoints on the family asked for.
import { Netns } from './netns.js';
import { type Daemon, type Impl, genkey, secretFile, startDaemon, uniqueIfname, wg } from './wg.js';

export const A4 = '10.78.0.1', B4 = '10.78.0.2', A6 = 'fd78::1', B6 = 'fd78::2';
export const PORT_A = 51820, PORT_B = 51821;

/** One end: which implementation, its environment, and for wireguard-go which binary. */
export interface End {
  impl: Impl;
  env?: NodeJS.ProcessEnv;
  binary?: string;
}

export interface PairOptions {
  /** Endpoint address family on the veth (default 4). */
  outer?: 4 | 6;
  /** Log level of both daemons (default: startDaemon's, verbose). */
  logLevel?: string;
}

export interface Pair {
  nsA: Netns;
  nsB: Netns;
  a: Daemon;
  b: Daemon;
  keyA: { priv: string; pub: string };
  keyB: { priv: string; pub: string };
  /** Stops both daemons and deletes both namespaces. */
  close(): Promise<void>;
}

/** Starts `endA` and `endB` in fresh namespaces and makes them peers; cleans up if that fails. */
export async function startPair(endA: End, endB: End, opts: PairOptions = {}): Promise<Pair> {
  const nsA = new Netns('a');
  const nsB = new Netns('b');
  const started: Daemon[] = [];
  try {
    nsA.link(nsB, { ifname: 'va', addrs: ['10.77.0.1/24', 'fd77::1/64'] }, { ifname: 'vb', addrs: ['10.77.0.2/24', 'fd77::2/64'] });
    const log = opts.logLevel === undefined ? {} : { LOG_LEVEL: opts.logLevel };
    const a = await startDaemon(endA.impl, nsA, uniqueIfname('wa'), { ...log, ...endA.env }, endA.binary);
    started.push(a);
    const b = await startDaemon(endB.impl, nsB, uniqueIfname('wb'), { ...log, ...endB.env }, endB.binary);
    started.push(b);
    const keyA = genkey();
    const keyB = genkey();
    const epA = opts.outer === 6 ? `[fd77::1]:${PORT_A}` : `10.77.0.1:${PORT_A}`;
    const epB = opts.outer === 6 ? `[fd77::2]:${PORT_B}` : `10.77.0.2:${PORT_B}`;
    wg(a, ['set', a.ifname, 'private-key', secretFile(keyA.priv), 'listen-port', String(PORT_A),
      'peer', keyB.pub, 'allowed-ips', `${B4}/32,${B6}/128`, 'endpoint', epB]);
    wg(b, ['set', b.ifname, 'private-key', secretFile(keyB.priv), 'listen-port', String(PORT_B),
      'peer', keyA.pub, 'allowed-ips', `${A4}/32,${A6}/128`, 'endpoint', epA]);
    for (const [ns, d, v4, v6] of [[nsA, a, A4, A6], [nsB, b, B4, B6]] as const) {
      ns.exec('ip', ['addr', 'add', `${v4}/24`, 'dev', d.ifname]);
      ns.exec('ip', ['addr', 'add', `${v6}/64`, 'dev', d.ifname, 'nodad']);
      ns.exec('ip', ['link', 'set', d.ifname, 'mtu', '1420', 'up']);
    }
    const close = async (): Promise<void> => {
      await a.stop();
      await b.stop();
      nsA.delete();
      nsB.delete();
    };
    return { nsA, nsB, a, b, keyA, keyB, close };
  } catch (e) {
    for (const d of started) await d.stop();
    nsA.delete();
    nsB.delete();
    throw e;
  }
}
