// The kernel offloads end to end, in network namespaces: TCP over the tunnel (iperf3, both
// directions, IPv4 and IPv6 inside and outside) between two wgts and between wgts and Debian's
// wireguard-go, with offloads on and off (WGTS_OFFLOAD=0). What the kernel counts on the links
// shows which path ran (super-packets are longer than the MTU on the TUN and the veth), and no
// namespace may count a checksum error (nstat). Turning TSO off on a running TUN (ethtool -K)
// and a route with a small advmss (tiny segments) keep traffic flowing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Netns } from '../helpers/netns.js';
import { A4, B4, B6, type End, type Pair, startPair } from '../helpers/pair.js';
import { waitFor } from '../helpers/netns.js';
import { iperf, ping } from '../helpers/wg.js';

const SECONDS = 2;
const wgtsOn: End = { impl: 'wgts' };
const wgtsOff: End = { impl: 'wgts', env: { WGTS_OFFLOAD: '0' } };
const debian: End = { impl: 'wireguard-go' };

interface LinkStats { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number }

function linkStats(ns: Netns, ifname: string): LinkStats {
  const [l] = JSON.parse(ns.exec('ip', ['-s', '-j', 'link', 'show', 'dev', ifname])) as { stats64: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } } }[];
  if (!l) throw new Error(`no link ${ifname}`);
  return { rxPackets: l.stats64.rx.packets, rxBytes: l.stats64.rx.bytes, txPackets: l.stats64.tx.packets, txBytes: l.stats64.tx.bytes };
}

function diff(after: LinkStats, before: LinkStats): LinkStats {
  return {
    rxPackets: after.rxPackets - before.rxPackets, rxBytes: after.rxBytes - before.rxBytes,
    txPackets: after.txPackets - before.txPackets, txBytes: after.txBytes - before.txBytes,
  };
}

/** Every *CsumErrors counter of the namespace that is not 0 (nstat -a: absolute, since the namespace exists). */
function checksumErrors(ns: Netns): string[] {
  const counters = (JSON.parse(ns.exec('nstat', ['-a', '-z', '-s', '-j'])) as { kernel: Record<string, number> }).kernel;
  const names = Object.keys(counters).filter((k) => /CsumErrors$/.test(k));
  if (names.length < 3) throw new Error(`nstat shows no checksum error counters: ${Object.keys(counters).join(' ')}`);
  return names.filter((k) => counters[k] !== 0).map((k) => `${k}=${counters[k]}`);
}

function assertNoChecksumErrors(p: Pair): void {
  assert.equal(checksumErrors(p.nsA), [], 'checksum errors in A');
  assert.equal(checksumErrors(p.nsB), [], 'checksum errors in B');
}

/** Link counters of A's and B's TUN and of the veth around `fn`. */
async function measured(p: Pair, fn: () => Promise<void>): Promise<{ tunA: LinkStats; tunB: LinkStats; vethA: LinkStats }> {
  const before = [linkStats(p.nsA, p.a.ifname), linkStats(p.nsB, p.b.ifname), linkStats(p.nsA, 'va')];
  await fn();
  const after = [linkStats(p.nsA, p.a.ifname), linkStats(p.nsB, p.b.ifname), linkStats(p.nsA, 'va')];
  return { tunA: diff(after[0]!, before[0]!), tunB: diff(after[1]!, before[1]!), vethA: diff(after[2]!, before[2]!) };
}

const avg = (bytes: number, packets: number): number => (packets === 0 ? 0 : bytes / packets);

async function bothWays(p: Pair, addr: string): Promise<void> {
  for (const reverse of [false, true]) {
    const bps = await iperf(p.nsB, p.nsA, addr, SECONDS, reverse);
    assert.ok(bps > 10e6, `iperf3 ${reverse ? 'B->A' : 'A->B'} to ${addr}: ${(bps / 1e6).toFixed(0)} Mbit/s`);
  }
}

function defineSuite(name: string, endA: End, endB: End, outer: 4 | 6, check: (s: { tunA: LinkStats; tunB: LinkStats; vethA: LinkStats }) => void): void {
  const s = suite(name);
  let p: Pair | undefined;
  const P = (): Pair => { if (!p) throw new Error('setup failed'); return p; };
  s.before(async () => {
    p = await startPair(endA, endB, { outer });
    assert.ok(await waitFor(() => ping(p!.nsA, B4), 10_000, 100, 'handshake'), 'first ping');
  });
  s.after(async () => { await p?.close(); });

  s('iperf3 both directions, IPv4 and IPv6 inside; no checksum errors', async () => {
    const stats = await measured(P(), async () => {
      await bothWays(P(), B4);
      await bothWays(P(), B6);
    });
    check(stats);
    assertNoChecksumErrors(P());
  });
  s.run();
}

// A sends to B: A's TUN transmits (the kernel hands wgts A) super-packets, the veth carries GSO
// trains, B's TUN receives coalesced super-packets; and the other way round for the ACKs' peer.
defineSuite('wgts <-> wgts, offloads on, IPv4 outside', wgtsOn, wgtsOn, 4, ({ tunA, tunB, vethA }) => {
  assert.ok(avg(tunA.txBytes, tunA.txPackets) > 3000, `A's TUN hands over super-packets (avg ${avg(tunA.txBytes, tunA.txPackets).toFixed(0)} B)`);
  assert.ok(avg(tunB.rxBytes, tunB.rxPackets) > 3000, `B's TUN takes coalesced writes (avg ${avg(tunB.rxBytes, tunB.rxPackets).toFixed(0)} B)`);
  assert.ok(avg(vethA.txBytes, vethA.txPackets) > 3000, `the veth carries GSO trains (avg ${avg(vethA.txBytes, vethA.txPackets).toFixed(0)} B)`);
});

defineSuite('wgts <-> wgts, offloads on, IPv6 outside', wgtsOn, wgtsOn, 6, ({ tunA, vethA }) => {
  assert.ok(avg(tunA.txBytes, tunA.txPackets) > 3000, 'super-packets on the TUN');
  assert.ok(avg(vethA.txBytes, vethA.txPackets) > 3000, 'GSO trains over IPv6');
});

defineSuite('wgts <-> wgts, WGTS_OFFLOAD=0', wgtsOff, wgtsOff, 4, ({ tunA, tunB, vethA }) => {
  for (const [what, s] of [['A TUN', tunA], ['B TUN', tunB]] as const) {
    assert.ok(avg(s.txBytes, s.txPackets) <= 1420 && avg(s.rxBytes, s.rxPackets) <= 1420, `${what}: packets of at most the MTU`);
  }
  assert.ok(avg(vethA.txBytes, vethA.txPackets) <= 1500, 'one datagram per packet on the veth');
});

defineSuite('wgts (offloads on) <-> Debian wireguard-go', wgtsOn, debian, 4, ({ tunA }) => {
  assert.ok(avg(tunA.txBytes, tunA.txPackets) > 3000, 'wgts still reads super-packets');
});

defineSuite('Debian wireguard-go <-> wgts (offloads on), IPv6 outside', debian, wgtsOn, 6, ({ tunB }) => {
  assert.ok(avg(tunB.txBytes, tunB.txPackets) > 3000, 'wgts reads super-packets');
});

const edge = suite('wgts <-> wgts: TSO turned off mid-run; tiny segments through a small advmss');
let p: Pair | undefined;
edge.before(async () => {
  p = await startPair(wgtsOn, wgtsOn);
  assert.ok(await waitFor(() => ping(p!.nsA, B4), 10_000, 100, 'handshake'), 'first ping');
});
edge.after(async () => { await p?.close(); });

edge('ethtool -K TSO off on the wgts TUN while iperf3 runs: every second still carries data', async () => {
  const { nsA, nsB, a } = p!;
  const srv = nsB.spawn('iperf3', ['-s', '-1', '-B', B4, '-p', '5201']);
  try {
    await waitFor(() => nsB.tryExec('ss', ['-Hltn', 'sport = :5201']).stdout.includes(':5201'), 5000, 20, 'iperf3 server');
    const client = nsA.spawn('iperf3', ['-c', B4, '-p', '5201', '-t', '4', '-J']);
    let out = '';
    client.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    const done = new Promise<void>((resolve) => client.on('exit', () => resolve()));
    await new Promise((r) => setTimeout(r, 1500));
    nsA.exec('ethtool', ['-K', a.ifname, 'tso', 'off']);
    assert.match(nsA.exec('ethtool', ['-k', a.ifname]), /tcp-segmentation-offload: off/);
    await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
    const r = JSON.parse(out) as { intervals: { sum: { bytes: number } }[]; end: { sum_received: { bits_per_second: number } } };
    assert.ok(r.intervals.length >= 4, 'four intervals');
    for (const [i, iv] of r.intervals.entries()) assert.ok(iv.sum.bytes > 0, `interval ${i} carried data`);
    const before = linkStats(nsA, a.ifname);
    assert.ok(ping(nsA, B4), 'still reachable');
    const after = linkStats(nsA, a.ifname);
    assert.ok(after.txPackets > before.txPackets);
    nsA.exec('ethtool', ['-K', a.ifname, 'tso', 'on']);
  } finally {
    srv.kill('SIGKILL');
  }
  assertNoChecksumErrors(p!);
});

edge('a route with advmss 200 both ways: small segments split and coalesced correctly', async () => {
  const { nsA, nsB, a, b } = p!;
  nsA.exec('ip', ['route', 'add', `${B4}/32`, 'dev', a.ifname, 'advmss', '200']);
  nsB.exec('ip', ['route', 'add', `${A4}/32`, 'dev', b.ifname, 'advmss', '200']);
  const stats = await measured(p!, () => bothWays(p!, B4));
  // The kernel still hands over super-packets, now of many 200-byte segments each.
  assert.ok(avg(stats.tunA.txBytes, stats.tunA.txPackets) > 1000, 'super-packets of small segments');
  assertNoChecksumErrors(p!);
});

edge.run();
