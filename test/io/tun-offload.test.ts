// The TUN edge with offloads against the real kernel (root): a UDP GSO train routed into the TUN
// arrives as a USO super-packet and is delivered split, as one train of valid datagrams; a batch
// of datagrams of one flow written with writeBatch reaches the kernel as coalesced writes, and a
// datagram with a broken checksum among them is written alone and dropped by the kernel only; a
// super-packet longer than a read batch survives pause/resume, and deletion while paused.
// Runs fixtures/tun-offload-agent.js inside a namespace created here.
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Netns, requireRoot } from '../helpers/netns.js';
import type { TunOffloadReport } from './fixtures/tun-offload-agent.js';

const AGENT = fileURLToPath(new URL('./fixtures/tun-offload-agent.js', import.meta.url));

test('offloads: USO super-packets read as trains, UDP datagrams of one flow written coalesced (root, netns)', () => {
  requireRoot();
  const ns = new Netns('tunoff');
  try {
    const r = JSON.parse(ns.exec(process.execPath, [AGENT], { timeoutMs: 20_000 })) as TunOffloadReport;
    assert.equal(r.offloads, { vnetHdr: true, tso: true, uso: true, coalesce: true });
    assert.equal(r.sizes, [...Array<number>(30).fill(1000), 100], 'every datagram, in order');
    assert.ok(r.allValid, 'valid checksums and payloads');
    assert.ok(r.trains.length >= 1 && r.trains.reduce((a, n) => a + n, 0) >= 31, `trains: ${r.trains.join()}`);
    assert.ok(r.stats.rxSuperPackets >= 1, 'the kernel handed over a super-packet');
    assert.equal(r.received, [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19], 'the broken one is dropped by the kernel, the rest in order');
    // [0..6] coalesced, [7] alone (bad checksum), [8..19] coalesced.
    assert.is(r.kernelRxPackets, 3);
    assert.is(r.stats.txSuperPackets, 2);
    assert.is(r.stats.txCoalesced, 17);
    assert.is(r.stats.txPackets, 20);
    assert.match(ns.exec('nstat', ['-a', '-s']), /UdpInCsumErrors +1\b/);
    assert.ok(r.pausedAt >= 1 && r.pausedAt <= 4, `pause in the first callback holds the rest of the super-packet (${r.pausedAt} delivered)`);
    assert.is(r.afterResume, 31, 'resume delivers the rest');
    assert.ok(r.goneWhilePaused, 'a device deleted while paused mid super-packet is noticed');
  } finally {
    ns.delete();
  }
});

test.run();
