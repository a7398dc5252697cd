// UDP edge against the real kernel. Most tests use loopback only (127.0.0.1 / ::1, kernel-picked
// ports) and need no privileges; fwmark and the namespace scenarios need root: the IPv6-disabled
// namespace, the IPv4-only fallback and the unprivileged-user errors run in
// fixtures/udp-agent.js inside namespaces created here.
import dgram from 'node:dgram';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Endpoint, formatIp, makeEndpoint, parseEndpoint, parseIp } from '../../src/device/endpoint.js';
import { UdpError, UdpSocket, type UdpSocketOptions } from '../../src/io/udp.js';
import { Netns, requireRoot, sh, sleep, waitFor } from '../helpers/netns.js';
import type { AgentReport } from './fixtures/udp-agent.js';

const AGENT = fileURLToPath(new URL('./fixtures/udp-agent.js', import.meta.url));
const WAIT_MS = 5000;

/** A received datagram; `local`: the local address it was sent to, `ifindex`: where it arrived. */
interface Got { data: Uint8Array; from: string; port: number; local: string; ifindex: number }

function gotLocal(local: Uint8Array): { local: string; ifindex: number } {
  return { local: formatIp(local), ifindex: new DataView(local.buffer, local.byteOffset + 16, 4).getUint32(0, true) };
}

/** Opens a socket on a kernel-picked port that records copies of what it receives. */
function receiver(opts?: UdpSocketOptions): { sock: UdpSocket; got: Got[] } {
  const sock = new UdpSocket(opts);
  const got: Got[] = [];
  sock.onReceive((data, off, len, addr, port, local) => {
    got.push({ data: data.slice(off, off + len), from: formatIp(addr), port, ...gotLocal(local) });
  });
  sock.open(0);
  return { sock, got };
}

function ep(text: string): Endpoint {
  const e = parseEndpoint(text);
  if (!e) throw new Error(`bad endpoint ${text}`);
  return e;
}

function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

const arrived = (got: Got[], n: number, what: string): Promise<boolean> => waitFor(() => got.length >= n, WAIT_MS, 5, what);

function closeAll(...socks: UdpSocket[]): void {
  for (const s of socks) s.close();
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

test('open(0) binds a kernel-picked port on one dual-stack socket with raised buffers', () => {
  const s = new UdpSocket();
  try {
    assert.is(s.isOpen, false);
    assert.is(s.port, 0);
    const port = s.open(0);
    assert.ok(port > 0 && port < 65536);
    assert.is(s.port, port);
    assert.is(s.isOpen, true);
    assert.is(s.family, 6);
    const line = sh('ss', ['-uaneH', 'sport', '=', `:${port}`]);
    assert.match(line, /\*:\d+ .*v6only:0/, 'bound to [::] with IPV6_V6ONLY=0');
    // The kernel reports twice the usable size; without root the request is capped by rmem_max.
    // Receive 16 MiB (a handshake flood waits there while the daemon waits for a CPU), send 4 MiB.
    const cap = (n: number): number => isRoot() ? n : Math.min(n, Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8')));
    const buffers = s.socketBuffers;
    assert.ok(buffers !== null && buffers.receive >= 2 * cap(16 << 20) && buffers.send >= 2 * cap(4 << 20), JSON.stringify(buffers));
  } finally {
    s.close();
  }
});

test('echo over IPv4 and IPv6 reports the exact source address and port', async () => {
  for (const host of ['127.0.0.1', '::1']) {
    const a = receiver();
    const b = new UdpSocket();
    const seenByB: Got[] = [];
    b.onReceive((data, off, len, addr, port, local) => {
      seenByB.push({ data: data.slice(off, off + len), from: formatIp(addr), port, ...gotLocal(local) });
      data[off] ^= 0xff; // answer in place, from the receive slab itself
      b.send(data, off, len, makeEndpoint(addr, port));
    });
    try {
      b.open(0);
      const msg = pattern(300, 7);
      assert.ok(a.sock.send(msg, 0, msg.length, ep(host.includes(':') ? `[${host}]:${b.port}` : `${host}:${b.port}`)));
      await arrived(a.got, 1, `echo over ${host}`);
      assert.is(seenByB.length, 1);
      assert.is(seenByB[0]?.from, host, 'IPv4 sources arrive v4-mapped and print as a dotted quad');
      assert.is(seenByB[0]?.port, a.sock.port);
      assert.equal(seenByB[0]?.data, msg);
      const expected = msg.slice();
      expected[0] ^= 0xff;
      assert.is(a.got[0]?.from, host);
      assert.is(a.got[0]?.port, b.port);
      assert.equal(a.got[0]?.data, expected);
    } finally {
      closeAll(a.sock, b);
    }
  }
});

test('the v4-mapped source bytes are handed over as 16 bytes', async () => {
  const a = new UdpSocket();
  const b = new UdpSocket();
  const addrs: string[] = [];
  b.onReceive((_d, _o, _l, addr) => { addrs.push(Buffer.from(addr).toString('hex')); });
  try {
    a.open(0);
    b.open(0);
    a.send(new Uint8Array(1), 0, 1, ep(`127.0.0.1:${b.port}`));
    await waitFor(() => addrs.length === 1, WAIT_MS, 5, 'datagram');
    assert.is(addrs[0], '00000000000000000000ffff7f000001');
  } finally {
    closeAll(a, b);
  }
});

test('1000 datagrams arrive complete and in order, many per batch, with no per-datagram objects', async () => {
  const a = new UdpSocket();
  const b = new UdpSocket();
  const seqs: number[] = [];
  const slabs = new Set<Uint8Array>();
  const addrs = new Set<Uint8Array>();
  b.onReceive((data, off, len, addr) => {
    slabs.add(data);
    addrs.add(addr);
    if (len === 200) seqs.push(data[off] | (data[off + 1] << 8));
  });
  try {
    a.open(0);
    b.open(0);
    const to = ep(`127.0.0.1:${b.port}`);
    const msg = new Uint8Array(200);
    for (let i = 0; i < 1000; i++) {
      msg[0] = i & 0xff;
      msg[1] = i >> 8;
      assert.ok(a.send(msg, 0, msg.length, to));
    }
    await waitFor(() => seqs.length === 1000, WAIT_MS, 5, '1000 datagrams');
    assert.equal(seqs, Array.from({ length: 1000 }, (_, i) => i));
    const s = b.stats;
    assert.is(s.rxDatagrams, 1000);
    assert.is(s.rxBytes, 200_000);
    assert.ok(s.rxBatches >= 16 && s.rxBatches < 500, `1000 datagrams in ${s.rxBatches} batches (at most 64 each)`);
    assert.is(slabs.size, 1, 'one slab for every batch');
    assert.is(addrs.size, 1, 'one reused address array');
    assert.is(a.stats.txDatagrams, 1000);
    assert.is(a.sendErrors, 0);
  } finally {
    closeAll(a, b);
  }
});

test('send copies the bytes before returning: the caller may reuse its buffer at once', async () => {
  const a = new UdpSocket();
  const b = receiver();
  try {
    a.open(0);
    const buf = pattern(64, 1);
    const to = ep(`127.0.0.1:${b.sock.port}`);
    a.send(buf, 0, 64, to);
    buf.fill(0);
    a.queue(pattern(64, 2), 0, 64, to);
    const q = pattern(64, 3);
    a.queue(q, 0, 64, to);
    q.fill(0);
    assert.is(a.flush(), 2);
    await arrived(b.got, 3, 'three datagrams');
    assert.equal(b.got.map((g) => g.data), [pattern(64, 1), pattern(64, 2), pattern(64, 3)]);
  } finally {
    closeAll(a, b.sock);
  }
});

test('queue sends with sendmmsg: auto-flush at 256 messages, flush() for the rest, both families', async () => {
  const a = new UdpSocket();
  const b = receiver();
  try {
    a.open(0);
    const targets = [ep(`127.0.0.1:${b.sock.port}`), ep(`[::1]:${b.sock.port}`)];
    const msg = new Uint8Array(1452);
    for (let i = 0; i < 600; i++) {
      msg[0] = i;
      a.queue(msg, 0, msg.length, targets[i & 1]);
    }
    assert.is(a.stats.txDatagrams, 512, 'two full queues went out on their own');
    assert.is(a.flush(), 88);
    assert.is(a.flush(), 0, 'nothing left');
    const s = a.stats;
    assert.is(s.txDatagrams, 600);
    assert.is(s.txBytes, 600 * 1452);
    assert.is(s.txBatches, 3);
    assert.is(s.txGso, 0, 'no GSO without offloads');
    await arrived(b.got, 600, '600 queued datagrams');
    assert.equal(b.got.map((g) => g.data[0]), Array.from({ length: 600 }, (_, i) => i & 0xff));
    assert.equal(b.got.slice(0, 2).map((g) => g.from), ['127.0.0.1', '::1']);
  } finally {
    closeAll(a, b.sock);
  }
});

/** A receiver that records whole batches: every datagram and the train lengths the addon reported. */
function batchReceiver(opts?: UdpSocketOptions): { sock: UdpSocket; got: Got[]; trains: number[] } {
  const sock = new UdpSocket(opts);
  const got: Got[] = [];
  const trains: number[] = [];
  sock.onReceiveBatch((b) => {
    for (let j = 0; j < b.count;) {
      const n = b.trains[j]!;
      trains.push(n);
      for (let k = j; k < j + n; k++) {
        got.push({
          data: b.slab.slice(b.offsets[k], b.offsets[k]! + b.lengths[k]!), from: formatIp(b.addrs.subarray(16 * k, 16 * k + 16)), port: b.ports[k]!,
          ...gotLocal(new Uint8Array(b.localWords.buffer, 20 * k, 20)),
        });
      }
      j += n;
    }
  });
  sock.open(0);
  return { sock, got, trains };
}

test('offloads: equal-sized datagrams to one destination leave as GSO trains and arrive as GRO trains, boundaries kept', async () => {
  const a = new UdpSocket({ offload: true });
  const b = batchReceiver({ offload: true });
  try {
    a.open(0);
    assert.equal(a.offloads, { gso4: true, gso6: true, gro: true });
    for (const [family, target] of [['127.0.0.1', ep(`127.0.0.1:${b.sock.port}`)], ['::1', ep(`[::1]:${b.sock.port}`)]] as const) {
      const before = b.got.length;
      const offsets = new Uint32Array(101);
      const lengths = new Uint32Array(101);
      const buf = new Uint8Array(101 * 1100);
      for (let i = 0; i < 101; i++) {
        offsets[i] = i * 1100;
        lengths[i] = i === 100 ? 333 : 1000;
        buf.set(pattern(lengths[i]!, i), offsets[i]!);
      }
      a.queueMany(buf, offsets, lengths, 0, 101, target);
      assert.is(a.flush(), 101);
      await arrived(b.got, before + 101, `101 datagrams from ${family}`);
      const got = b.got.slice(before);
      assert.equal(got.map((g) => g.data.length), [...Array<number>(100).fill(1000), 333]);
      assert.ok(got.every((g, i) => g.from === family && g.data.every((x, j) => x === pattern(g.data.length, i)[j])), 'bytes and order');
    }
    const s = a.stats;
    assert.is(s.txDatagrams, 202);
    // 64 + 36 + (the shorter last joins the second train): two trains per family.
    assert.is(s.txGso, 4);
    assert.ok(b.sock.stats.rxGro >= 2, `the receiver saw trains (${b.sock.stats.rxGro})`);
    assert.ok(b.trains.some((n) => n > 1) && b.trains.every((n) => n <= 64));
  } finally {
    closeAll(a, b.sock);
  }
});

test('offloads: a shorter datagram ends a train, a longer one or another destination starts a new message', async () => {
  const a = new UdpSocket({ offload: true });
  const b = receiver({ offload: true });
  const c = receiver();
  try {
    a.open(0);
    const tb = ep(`127.0.0.1:${b.sock.port}`);
    const tc = ep(`127.0.0.1:${c.sock.port}`);
    const sizes: [number, Endpoint][] = [[800, tb], [800, tb], [500, tb], [800, tb], [900, tb], [900, tb], [900, tc], [900, tb]];
    sizes.forEach(([n, to], i) => a.queue(pattern(n, i), 0, n, to));
    assert.is(a.flush(), 8);
    // Messages: [800 800 500] [800] [900 900] [900 -> c] [900]
    assert.is(a.stats.txGso, 2);
    assert.is(a.stats.txBatches, 1);
    await arrived(b.got, 7, 'b got its seven');
    await arrived(c.got, 1, 'c got its one');
    assert.equal(b.got.map((g) => g.data.length), [800, 800, 500, 800, 900, 900, 900], 'per-datagram delivery of GRO trains');
    assert.equal(c.got.map((g) => g.data.length), [900]);
  } finally {
    closeAll(a, b.sock, c.sock);
  }
});

/** `e` with the sticky source `ip` (no interface): sends to it leave from that address. */
function withSource(e: Endpoint, ip: string): Endpoint {
  const a = parseIp(ip);
  if (!a) throw new Error(`bad address ${ip}`);
  e.source.set(a);
  return e;
}

test('sticky sources: every datagram reports the local address it was sent to and its interface, also inside GRO trains', async () => {
  const a = new UdpSocket({ offload: true });
  const b = batchReceiver({ offload: true });
  try {
    a.open(0);
    const lo = Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8'));
    for (const target of ['127.0.0.1', '127.0.0.2', '::1']) {
      const before = b.got.length;
      const offsets = Uint32Array.from({ length: 20 }, (_, i) => i * 500);
      const lengths = new Uint32Array(20).fill(500);
      a.queueMany(new Uint8Array(20 * 500), offsets, lengths, 0, 20, ep(target.includes(':') ? `[${target}]:${b.sock.port}` : `${target}:${b.sock.port}`));
      a.flush();
      await arrived(b.got, before + 20, `20 datagrams to ${target}`);
      const got = b.got.slice(before);
      assert.ok(got.every((g) => g.local === target && g.ifindex === lo), `${target}: ${JSON.stringify(got.map((g) => [g.local, g.ifindex]))}`);
    }
    assert.ok(b.sock.stats.rxGro >= 1, 'trains were received');
  } finally {
    closeAll(a, b.sock);
  }
});

test('sticky sources: send, queue and GSO trains leave from the endpoint\'s source; a train never mixes sources', async () => {
  const a = new UdpSocket({ offload: true });
  const b = receiver({ offload: true });
  try {
    a.open(0);
    const msg = pattern(800, 3);
    assert.ok(a.send(msg, 0, msg.length, withSource(ep(`127.0.0.1:${b.sock.port}`), '127.0.0.5')));
    a.queue(msg, 0, msg.length, withSource(ep(`127.0.0.1:${b.sock.port}`), '127.0.0.6'));
    a.queue(msg, 0, msg.length, ep(`127.0.0.1:${b.sock.port}`)); // same size and destination, no source: a message of its own
    const offsets = Uint32Array.from({ length: 10 }, () => 0);
    const lengths = new Uint32Array(10).fill(msg.length);
    a.queueMany(msg, offsets, lengths, 0, 10, withSource(ep(`127.0.0.1:${b.sock.port}`), '127.0.0.7'));
    a.queue(msg, 0, msg.length, withSource(ep(`[::1]:${b.sock.port}`), '::1'));
    a.flush();
    await arrived(b.got, 14, '14 datagrams');
    assert.equal(b.got.map((g) => g.from), ['127.0.0.5', '127.0.0.6', '127.0.0.1', ...Array<string>(10).fill('127.0.0.7'), '::1']);
    assert.ok(a.stats.txGso >= 1, 'the ten went as a train');
    assert.is(a.stats.txSourceFallback, 0);
  } finally {
    closeAll(a, b.sock);
  }
});

test('sticky sources: a source that is not an address of this host is refused by the kernel and the datagram goes from its choice (counted)', async () => {
  const a = new UdpSocket({ offload: true });
  const b = receiver({ offload: true });
  try {
    a.open(0);
    const msg = pattern(600, 9);
    // Documentation prefixes: never addresses of this host; the datagrams go to loopback only.
    assert.ok(a.send(msg, 0, msg.length, withSource(ep(`127.0.0.1:${b.sock.port}`), '192.0.2.1')), 'send');
    assert.ok(a.send(msg, 0, msg.length, withSource(ep(`[::1]:${b.sock.port}`), '2001:db8::1')), 'send IPv6');
    const offsets = Uint32Array.from({ length: 5 }, () => 0);
    const lengths = new Uint32Array(5).fill(msg.length);
    a.queueMany(msg, offsets, lengths, 0, 5, withSource(ep(`127.0.0.1:${b.sock.port}`), '192.0.2.1'));
    a.queue(msg, 0, msg.length, withSource(ep(`[::1]:${b.sock.port}`), '2001:db8::1'));
    assert.is(a.flush(), 6);
    await arrived(b.got, 8, '8 datagrams');
    assert.equal(b.got.map((g) => g.from), ['127.0.0.1', '::1', ...Array<string>(5).fill('127.0.0.1'), '::1']);
    assert.is(a.stats.txSourceFallback, 8);
    assert.is(a.sourceFallbacks, 8);
    assert.is(a.sendErrors, 0);
  } finally {
    closeAll(a, b.sock);
  }
});

test('datagrams queued while handling a batch go out right after it (echo via queue)', async () => {
  const a = receiver();
  const b = new UdpSocket();
  b.onReceive((data, off, len, addr, port) => { b.queue(data, off, len, makeEndpoint(addr, port)); });
  try {
    b.open(0);
    const to = ep(`127.0.0.1:${b.port}`);
    for (let i = 0; i < 10; i++) a.sock.send(pattern(100, i), 0, 100, to);
    await arrived(a.got, 10, 'ten echoes');
    assert.equal(a.got.map((g) => g.data), Array.from({ length: 10 }, (_, i) => pattern(100, i)));
    assert.is(b.stats.txDatagrams, 10);
    assert.ok(b.stats.txBatches <= b.stats.rxBatches, 'one sendmmsg per receive batch at most');
  } finally {
    closeAll(a.sock, b);
  }
});

test('EADDRINUSE is thrown synchronously when another socket holds the port', () => {
  const a = new UdpSocket();
  const b = new UdpSocket();
  try {
    const port = a.open(0);
    let err: unknown;
    try { b.open(port); } catch (e) { err = e; }
    assert.ok(err instanceof UdpError, String(err));
    assert.is((err as UdpError).code, 'EADDRINUSE');
    assert.is((err as UdpError).errno, 98);
    assert.match((err as UdpError).message, String(port));
    assert.is(b.isOpen, false);
    assert.is(b.port, 0);
    assert.throws(() => b.open(70000), RangeError);
    assert.throws(() => b.open(1.5), RangeError);
  } finally {
    closeAll(a, b);
  }
});

test('EADDRINUSE also against a node:dgram IPv4 socket on the same port', async () => {
  const d = dgram.createSocket('udp4');
  const s = new UdpSocket();
  try {
    const port = await new Promise<number>((resolve) => d.bind(0, '127.0.0.1', () => resolve(d.address().port)));
    assert.throws(() => s.open(port), (e: unknown) => e instanceof UdpError && e.code === 'EADDRINUSE');
  } finally {
    s.close();
    d.close();
  }
});

test('rebind: the new socket serves, the old port is released, a failed rebind keeps the old socket', async () => {
  const a = receiver();
  const b = new UdpSocket();
  const holder = new UdpSocket();
  try {
    b.open(0);
    const p1 = a.sock.port;
    a.sock.queue(new Uint8Array([9]), 0, 1, ep(`127.0.0.1:${b.port}`));
    const bGot: number[] = [];
    b.onReceive((_d, _o, _l, _a, port) => { bGot.push(port); });
    const p2 = a.sock.open(0);
    assert.is.not(p2, p1);
    assert.is(a.sock.port, p2);
    await waitFor(() => bGot.length === 1, WAIT_MS, 5, 'the datagram queued before the rebind');
    assert.is(bGot[0], p1, 'queued datagrams leave through the old socket before it closes');
    holder.open(p1); // the old port is free again
    b.send(new Uint8Array([1]), 0, 1, ep(`127.0.0.1:${p2}`));
    await arrived(a.got, 1, 'datagram on the new port');

    assert.is(a.sock.open(p2), p2, 'asking for the bound port is a no-op');
    assert.throws(() => a.sock.open(p1), (e: unknown) => e instanceof UdpError && e.code === 'EADDRINUSE');
    assert.is(a.sock.port, p2);
    assert.is(a.sock.isOpen, true);
    b.send(new Uint8Array([2]), 0, 1, ep(`[::1]:${p2}`));
    await arrived(a.got, 2, 'datagram after the failed rebind');
    assert.equal(a.got.map((g) => g.data[0]), [1, 2]);
  } finally {
    closeAll(a.sock, b, holder);
  }
});

test('close is idempotent; sending after close is counted, not thrown', () => {
  const s = new UdpSocket();
  s.open(0);
  s.close();
  s.close();
  assert.is(s.isOpen, false);
  assert.is(s.port, 0);
  assert.is(s.family, null);
  assert.is(s.socketBuffers, null);
  const to = ep('127.0.0.1:9');
  assert.is(s.send(new Uint8Array(10), 0, 10, to), false);
  s.queue(new Uint8Array(10), 0, 10, to);
  assert.is(s.flush(), 0);
  assert.is(s.stats.txDropsClosed, 2);
  assert.is(s.sendErrors, 2);
  assert.is(new UdpSocket().send(new Uint8Array(1), 0, 1, to), false, 'never opened');
});

test('bad slices and destinations are counted as send errors, not thrown', async () => {
  const a = new UdpSocket();
  const b = receiver();
  try {
    a.open(0);
    const to = ep(`127.0.0.1:${b.sock.port}`);
    const buf = new Uint8Array(100);
    assert.is(a.send(buf, 90, 20, to), false, 'slice past the end');
    assert.is(a.send(buf, -1, 10, to), false, 'negative offset');
    assert.is(a.send(new Uint8Array(65536), 0, 65536, to), false, 'over 65535 bytes');
    assert.is(a.send(buf, 0, 10, ep('127.0.0.1:0')), false, 'port 0');
    a.queue(buf, 90, 20, to);
    assert.is(a.stats.txErrors, 5);
    assert.is(a.sendErrors, 5);
    assert.is(a.send(buf, 0, 0, to), true, 'an empty datagram is valid UDP');
    await arrived(b.got, 1, 'empty datagram');
    assert.is(b.got[0]?.data.length, 0);
  } finally {
    closeAll(a, b.sock);
  }
});

test('large datagrams arrive whole; with a smaller maxDatagram longer ones are dropped and counted', async () => {
  const a = new UdpSocket();
  const big = receiver();
  const small = receiver({ maxDatagram: 2048, batch: 8 });
  try {
    a.open(0);
    const sizes: [string, number][] = [['127.0.0.1', 9000], ['127.0.0.1', 65507], ['::1', 65527]];
    for (const [host, size] of sizes) {
      assert.ok(a.send(pattern(size, size), 0, size, ep(host === '::1' ? `[::1]:${big.sock.port}` : `${host}:${big.sock.port}`)), `${size} over ${host}`);
    }
    await arrived(big.got, 3, 'three large datagrams');
    assert.equal(big.got.map((g) => g.data), sizes.map(([, size]) => pattern(size, size)));
    assert.is(big.sock.stats.rxTruncated, 0);
    assert.is(a.send(pattern(65508, 0), 0, 65508, ep(`127.0.0.1:${big.sock.port}`)), false, 'too big for IPv4: EMSGSIZE');

    const to = ep(`127.0.0.1:${small.sock.port}`);
    for (const size of [9000, 2048, 2049, 1452]) a.send(pattern(size, 1), 0, size, to);
    await arrived(small.got, 2, 'the datagrams that fit');
    await sleep(50);
    assert.equal(small.got.map((g) => g.data), [pattern(2048, 1), pattern(1452, 1)]);
    assert.is(small.sock.stats.rxTruncated, 2);
    assert.is(small.sock.stats.rxDatagrams, 2);
    assert.throws(() => new UdpSocket({ maxDatagram: 65536 }), RangeError);
  } finally {
    closeAll(a, big.sock, small.sock);
  }
});

test('closing from inside the handler stops the rest of the batch', async () => {
  const a = new UdpSocket();
  const b = new UdpSocket();
  let delivered = 0;
  b.onReceive(() => { if (++delivered === 3) b.close(); });
  try {
    a.open(0);
    b.open(0);
    const to = ep(`127.0.0.1:${b.port}`);
    for (let i = 0; i < 10; i++) a.send(new Uint8Array(8), 0, 8, to);
    await waitFor(() => delivered >= 3, WAIT_MS, 5, 'three datagrams');
    await sleep(50);
    assert.is(delivered, 3);
    assert.is(b.isOpen, false);
  } finally {
    closeAll(a, b);
  }
});

test('an open socket keeps the process alive, a closed one does not', async () => {
  const run = (mode: string): { exited: Promise<number | null>; ready: Promise<void>; kill(): void } => {
    const child = spawn(process.execPath, [AGENT, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const ready = new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => { if ((JSON.parse(line) as AgentReport).ready) resolve(); });
    });
    return { exited, ready, kill: () => child.kill('SIGKILL') };
  };
  const closed = run('closed');
  const timeout = setTimeout(() => closed.kill(), WAIT_MS);
  assert.is(await closed.exited, 0, 'exits by itself after close()');
  clearTimeout(timeout);

  const open = run('open');
  let exitedEarly = false;
  void open.exited.then(() => { exitedEarly = true; });
  await open.ready;
  await sleep(1000);
  assert.is(exitedEarly, false, 'still running one second after binding');
  open.kill();
  await open.exited;
});

test('an environment tearing down with datagrams pending does not crash (worker threads)', () => {
  const r = spawnSync(process.execPath, [AGENT, 'teardown'], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout) as AgentReport, { ready: true });
});

test('fwmark: applied at open and on rebind, read back from the kernel, cleared with 0 (root)', () => {
  requireRoot();
  const s = new UdpSocket();
  try {
    s.setFwmark(0x1234);
    assert.is(s.fwmark, 0x1234, 'remembered while closed');
    const port = s.open(0);
    assert.is(s.fwmark, 0x1234);
    assert.match(sh('ss', ['-uaneH', 'sport', '=', `:${port}`]), /fwmark:0x1234/);
    const port2 = s.open(0);
    assert.is(s.fwmark, 0x1234, 'the rebound socket carries the mark');
    assert.match(sh('ss', ['-uaneH', 'sport', '=', `:${port2}`]), /fwmark:0x1234/);
    s.setFwmark(0xffffffff);
    assert.is(s.fwmark, 0xffffffff);
    s.setFwmark(0);
    assert.is(s.fwmark, 0);
    assert.not.match(sh('ss', ['-uaneH', 'sport', '=', `:${port2}`]), /fwmark/);
    assert.throws(() => s.setFwmark(-1), RangeError);
    assert.throws(() => s.setFwmark(2 ** 32), RangeError);
  } finally {
    s.close();
  }
});

/** Runs fixtures/udp-agent.js `mode` inside `ns`, optionally under a wrapper command. */
function agent(ns: Netns, mode: string, wrapper: string[] = []): AgentReport {
  const [cmd, ...args] = [...wrapper, process.execPath, '--enable-source-maps', AGENT, mode];
  return JSON.parse(ns.exec(cmd as string, args, { timeoutMs: 20_000 })) as AgentReport;
}

function disableIpv6(ns: Netns): void {
  ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.lo.disable_ipv6=1']);
}

test('IPv6 disabled by sysctl: the dual-stack socket still serves IPv4; IPv6 sends are counted (root, netns)', () => {
  requireRoot();
  const ns = new Netns('udp6off');
  try {
    disableIpv6(ns);
    const r = agent(ns, 'netns');
    assert.equal(r.families, [6, 6]);
    const [a, b] = r.ports ?? [];
    assert.equal(r.echo, [
      { from: '127.0.0.1', port: a, text: 'ping' },
      { from: '127.0.0.1', port: b, text: 'pong' },
    ]);
    assert.is(r.v6Sent, false);
    assert.is(r.flushed, 2, 'the refused IPv6 datagram in the middle of the batch is skipped');
    assert.equal(r.queuedSeen, ['one', 'two']);
    assert.is(r.stats?.txErrors, 2);
    assert.is(r.stats?.txDropsFamily, 0);
    assert.is(r.stats?.txDatagrams, 3);
  } finally {
    ns.delete();
  }
});

test('no AF_INET6 at all: falls back to an IPv4-only socket (root, netns, strace fault injection)', () => {
  requireRoot();
  const ns = new Netns('udp4only');
  try {
    disableIpv6(ns);
    // The first socket(2) of the process (the first UdpSocket's AF_INET6 attempt) fails as on a
    // kernel booted with ipv6.disable=1; the second socket opens normally.
    const r = agent(ns, 'fallback', ['strace', '-qq', '-o', '/dev/null', '-e', 'trace=socket', '-e', 'inject=socket:error=EAFNOSUPPORT:when=1']);
    assert.equal(r.families, [4, 6]);
    const [a, b] = r.ports ?? [];
    assert.equal(r.echo, [
      { from: '127.0.0.1', port: a, text: 'ping' },
      { from: '127.0.0.1', port: b, text: 'pong' },
    ], 'IPv4 sources on the IPv4 socket are handed over v4-mapped too');
    assert.is(r.v6Sent, false);
    assert.is(r.flushed, 2);
    assert.equal(r.queuedSeen, ['one', 'two']);
    assert.is(r.stats?.txDropsFamily, 2, 'IPv6 destinations dropped by family, send and queue');
    assert.is(r.stats?.txErrors, 0);
  } finally {
    ns.delete();
  }
});

test('offloads: EIO for a train (a way out without checksum offload) turns GSO off for that family and resends it datagram by datagram (root, netns, strace fault injection)', () => {
  requireRoot();
  const ns = new Netns('udpgso');
  try {
    // Kernels before 5.x said EIO for UDP_SEGMENT through a device without checksum offload;
    // newer ones checksum in software, so the first two sendmmsg(2) calls are failed here.
    const r = agent(ns, 'gso-eio', ['strace', '-qq', '-o', '/dev/null', '-e', 'trace=sendmmsg', '-e', 'inject=sendmmsg:error=EIO:when=1..2']);
    assert.equal(r.queuedSeen, Array.from({ length: 40 }, (_, i) => `${i < 20 ? 'v4' : 'v6'} ${String(i).padStart(2, '0')}`), 'every datagram arrived, in order');
    assert.is(r.stats?.txGsoFallback, 2, 'one refused train per family');
    assert.is(r.stats?.txGso, 0);
    assert.is(r.stats?.txDatagrams, 40);
    assert.equal(r.offloads, [{ gso4: true, gso6: true, gro: true }, { gso4: false, gso6: true, gro: true }, { gso4: false, gso6: false, gro: true }]);
  } finally {
    ns.delete();
  }
});

test('without privileges: fwmark throws EPERM, a port below 1024 EACCES (root, netns, setpriv)', () => {
  requireRoot();
  const ns = new Netns('udpnocap');
  try {
    // Root's uid with every capability gone (inheritable, ambient and bounding set cleared, so the
    // exec grants none): the kernel checks both operations by capability (CAP_NET_ADMIN/RAW for
    // SO_MARK, CAP_NET_BIND_SERVICE for ports below 1024), and unlike a switch to nobody this
    // still reads the build in a clone that only root may enter (mktemp -d is 0700).
    const r = agent(ns, 'nocap', ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all']);
    assert.equal(r.errors, { fwmark: 'EPERM', privilegedPort: 'EACCES' });
    assert.is(r.fwmarkAfter, 0, 'the failed setFwmark left the mark alone');
    assert.equal(r.families, [6]);
  } finally {
    ns.delete();
  }
});

test.run();
