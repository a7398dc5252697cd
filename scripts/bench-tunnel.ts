// Tunnel benchmark: ping RTT and one-stream TCP throughput (iperf3) through a WireGuard tunnel
// between two network namespaces, for wireguard-go <-> wireguard-go, wgts <-> wgts,
// wgts <-> wireguard-go and wgts <-> wgts on the pure TypeScript crypto (WGTS_CRYPTO=pure),
// measured in one run so the numbers compare. Needs root.
// Usage: node dist/scripts/bench-tunnel.js [seconds per iperf3 run, default 5]
import { Netns } from '../src/io/netns.js';
import { type Impl, genkey, iperf, pingRtt, secretFile, startDaemon, uniqueIfname, wg } from '../test/helpers/wg.js';

const seconds = Math.min(30, Math.max(1, Number(process.argv[2] ?? 5)));

interface Result { pair: string; rttMs: number; upMbit: number; downMbit: number; cpuNote: string }

/** `env` goes to both daemons (wireguard-go ignores it); `label` names the variant in the table. */
async function measure(implA: Impl, implB: Impl, env: NodeJS.ProcessEnv = {}, label = ''): Promise<Result> {
  const nsA = new Netns('ba');
  const nsB = new Netns('bb');
  try {
    nsA.link(nsB, { ifname: 'va', addrs: ['10.77.0.1/24'] }, { ifname: 'vb', addrs: ['10.77.0.2/24'] });
    const a = await startDaemon(implA, nsA, uniqueIfname('ba'), { LOG_LEVEL: 'error', ...env });
    const b = await startDaemon(implB, nsB, uniqueIfname('bb'), { LOG_LEVEL: 'error', ...env });
    const ka = genkey(), kb = genkey();
    wg(a, ['set', a.ifname, 'private-key', secretFile(ka.priv), 'listen-port', '51820', 'peer', kb.pub, 'allowed-ips', '10.78.0.2/32', 'endpoint', '10.77.0.2:51821']);
    wg(b, ['set', b.ifname, 'private-key', secretFile(kb.priv), 'listen-port', '51821', 'peer', ka.pub, 'allowed-ips', '10.78.0.1/32', 'endpoint', '10.77.0.1:51820']);
    nsA.exec('ip', ['addr', 'add', '10.78.0.1/24', 'dev', a.ifname]);
    nsB.exec('ip', ['addr', 'add', '10.78.0.2/24', 'dev', b.ifname]);
    nsA.exec('ip', ['link', 'set', a.ifname, 'mtu', '1420', 'up']);
    nsB.exec('ip', ['link', 'set', b.ifname, 'mtu', '1420', 'up']);
    pingRtt(nsA, '10.78.0.2', 3); // handshake
    const rttMs = pingRtt(nsA, '10.78.0.2', 20);
    const upMbit = (await iperf(nsB, nsA, '10.78.0.2', seconds, false)) / 1e6;
    const downMbit = (await iperf(nsB, nsA, '10.78.0.2', seconds, true)) / 1e6;
    await a.stop();
    await b.stop();
    return { pair: `${implA}${label} <-> ${implB}${label}`, rttMs, upMbit, downMbit, cpuNote: '' };
  } finally {
    nsA.delete();
    nsB.delete();
  }
}

const results: Result[] = [];
for (const [x, y] of [['wireguard-go', 'wireguard-go'], ['wgts', 'wgts'], ['wgts', 'wireguard-go']] as const) {
  results.push(await measure(x, y));
}
results.push(await measure('wgts', 'wgts', { WGTS_CRYPTO: 'pure' }, ' (pure)'));
console.log(`\nTunnel between two network namespaces (veth), MTU 1420, iperf3 one TCP stream ${seconds} s per direction, ping 20 x 56 B\n`);
console.log('| pair | ping RTT avg | TCP A->B | TCP B->A |');
console.log('|---|---|---|---|');
for (const r of results) console.log(`| ${r.pair} | ${r.rttMs.toFixed(3)} ms | ${r.upMbit.toFixed(0)} Mbit/s | ${r.downMbit.toFixed(0)} Mbit/s |`);
const base = results[0] as Result;
const ours = results[1] as Result;
const pure = results[3] as Result;
const ratio = (r: Result): string => ((r.upMbit + r.downMbit) / (base.upMbit + base.downMbit)).toFixed(2);
console.log(`\nwgts/wireguard-go throughput ratio: ${ratio(ours)}`);
console.log(`wgts (WGTS_CRYPTO=pure)/wireguard-go throughput ratio: ${ratio(pure)}`);
