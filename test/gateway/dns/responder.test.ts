// The gateway DNS responder, black-box: queries encoded with dns-packet over UDP and TCP, the real
// `dig`, and glibc (`getent hosts`) inside a network namespace this test creates. Every server here
// is a DnsResponder on loopback or inside that namespace; no real resolver is ever contacted.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import net from 'node:net';
import { promisify } from 'node:util';
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet, type RecordType } from 'dns-packet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DnsResponder, type DnsCounters, type DnsResponderOptions } from '../../../src/gateway/dns/responder.js';
import { FrameReader, frame } from '../../../src/gateway/dns/tcp.js';
import { parseUpstream } from '../../../src/gateway/dns/upstream.js';
import { Netns, sleep, waitFor } from '../../helpers/netns.js';

const execFileP = promisify(execFile);
const DNS_MODULE = new URL('../../../src/gateway/dns/responder.js', import.meta.url).href;

const BIG = Array.from({ length: 40 }, (_, i) => `10.125.0.${i + 1}`);
const HOSTS: Record<string, string[]> = {
  app: ['10.124.0.10'],
  db: ['10.124.0.11', 'fd00:124::11'],
  v6only: ['fd00:124::12'],
  kafka: ['10.124.0.13'],
  'api.internal': ['10.124.0.20'],
  big: BIG,
};
const GATEWAY = '10.123.0.1';
const BASE: DnsResponderOptions = { domain: 'zerops', hosts: HOSTS, gateway: { address: GATEWAY } };

const NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5;
const RD = dnsPacket.RECURSION_DESIRED;

// ---------------------------------------------------------------- client helpers

let nextId = 1;
interface QueryOpts { id?: number; edns?: number | false; cls?: 'IN' | 'CH'; flags?: number }

function encodeQuery(name: string, type: RecordType, o: QueryOpts = {}): Buffer {
  const additionals: OptAnswer[] = o.edns === false || o.edns === undefined ? [] : [{
    type: 'OPT', name: '.', udpPayloadSize: o.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [],
  }];
  const packet: Packet = {
    type: 'query', id: o.id ?? (nextId = (nextId % 65000) + 1), flags: o.flags ?? RD,
    questions: [{ name, type, class: o.cls ?? 'IN' }], additionals,
  };
  return dnsPacket.encode(packet);
}

async function udpExchange(port: number, msg: Buffer, timeoutMs = 2000, from?: string, to = '127.0.0.1'): Promise<Buffer | null> {
  const sock = dgram.createSocket('udp4');
  try {
    if (from !== undefined) await new Promise<void>((r) => sock.bind(0, from, () => r()));
    return await new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      sock.on('message', (m) => { clearTimeout(timer); resolve(m); });
      sock.send(msg, port, to);
    });
  } finally {
    sock.close();
  }
}

async function udpQuery(port: number, name: string, type: RecordType, o: QueryOpts = {}): Promise<DecodedPacket> {
  const q = encodeQuery(name, type, o);
  const raw = await udpExchange(port, q);
  assert.ok(raw, `no UDP answer for ${name} ${type}`);
  const r = dnsPacket.decode(raw);
  assert.is(r.id, dnsPacket.decode(q).id, 'response ID = query ID');
  return r;
}

/** A TCP client speaking length-framed DNS; collects messages and notices the close. */
class TcpClient {
  private readonly reader = new FrameReader(65535);
  private readonly inbox: Buffer[] = [];
  private wake: (() => void) | null = null;
  closedAt = 0;
  readonly closed: Promise<void>;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (chunk: Buffer) => {
      this.reader.push(chunk, (m) => { this.inbox.push(Buffer.from(m)); return true; });
      this.wake?.();
    });
    sock.on('error', () => { /* reset by the server: seen as close */ });
    this.closed = new Promise((resolve) => sock.on('close', () => { this.closedAt = Date.now(); this.wake?.(); resolve(); }));
  }

  static connect(port: number, localAddress = '127.0.0.1'): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port, localAddress }, () => { sock.off('error', reject); resolve(new TcpClient(sock)); });
      sock.once('error', reject);
    });
  }

  send(msg: Buffer): void {
    this.sock.write(frame(msg));
  }

  async next(timeoutMs = 2000): Promise<DecodedPacket> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      if (this.closedAt || Date.now() > deadline) throw new Error(this.closedAt ? 'connection closed' : 'no TCP answer');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => { clearTimeout(t); resolve(); };
      });
      this.wake = null;
    }
    return dnsPacket.decode(this.inbox.shift() as Buffer);
  }

  async waitClosed(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs))]);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

async function tcpQuery(port: number, name: string, type: RecordType, o: QueryOpts = {}): Promise<DecodedPacket> {
  const c = await TcpClient.connect(port);
  try {
    const q = encodeQuery(name, type, o);
    c.send(q);
    const r = await c.next();
    assert.is(r.id, dnsPacket.decode(q).id);
    return r;
  } finally {
    c.destroy();
  }
}

const rcode = (p: DecodedPacket): number => (p.flags ?? 0) & 0xf;
const opcode = (p: DecodedPacket): number => ((p.flags ?? 0) >> 11) & 0xf;
const addrs = (p: DecodedPacket): string[] =>
  (p.answers ?? []).flatMap((a) => (a.type === 'A' || a.type === 'AAAA' ? [a.data] : []));

function soaOf(p: DecodedPacket): { name: string; minimum: number; serial: number } | null {
  const a = (p.authorities ?? [])[0];
  if (!a || a.type !== 'SOA') return null;
  return { name: a.name, minimum: a.data.minimum ?? -1, serial: a.data.serial ?? -1 };
}

function delta(before: Readonly<DnsCounters>, after: Readonly<DnsCounters>): Partial<DnsCounters> {
  const out: Partial<DnsCounters> = {};
  for (const k of Object.keys(after) as (keyof DnsCounters)[]) if (after[k] !== before[k]) out[k] = after[k] - before[k];
  return out;
}

async function dig(port: number, args: string[]): Promise<string> {
  const { stdout } = await execFileP('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], { timeout: 20_000 });
  return stdout;
}
const digStatus = (out: string): string => /status: ([A-Z]+)/.exec(out)?.[1] ?? '?';
const digFlags = (out: string): string[] => (/;; flags: ([a-z ]+);/.exec(out)?.[1] ?? '').trim().split(' ');
const lines = (out: string): string[] => out.split('\n').map((l) => l.trim()).filter(Boolean);

/** Deterministic xorshift32 so random-input tests are reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}
function randomBytes(next: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

async function withResponder<T>(opts: DnsResponderOptions, fn: (r: DnsResponder) => Promise<T>): Promise<T> {
  const r = new DnsResponder(opts);
  await r.listen('127.0.0.1', 0);
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

// ---------------------------------------------------------------- the shared responder

let main: DnsResponder;
test.before(async () => {
  main = new DnsResponder(BASE);
  await main.listen('127.0.0.1', 0);
});
test.after(async () => {
  await main.close();
});

// ---------------------------------------------------------------- tests

test('A for NAME and NAME.domain, case-insensitive, question echoed, AA/RD/RA bits', async () => {
  assert.ok(main.port > 1024);
  for (const name of ['app', 'app.zerops', 'APP', 'ApP.ZeRoPs', 'app.zerops.']) {
    const r = await udpQuery(main.port, name, 'A');
    assert.is(rcode(r), NOERROR, name);
    assert.equal(addrs(r), ['10.124.0.10'], name);
    assert.is(r.questions?.[0]?.name, name.replace(/\.$/, ''), 'question copied with its case');
    assert.is(r.answers?.[0]?.name, name.replace(/\.$/, ''));
    assert.is(r.answers?.[0]?.type === 'A' ? r.answers[0].ttl : -1, 30);
    assert.ok(r.flag_aa, 'authoritative');
    assert.ok(r.flag_rd, 'RD echoed');
    assert.not.ok(r.flag_ra, 'no upstream: RA clear');
  }
  const noRd = await udpQuery(main.port, 'app', 'A', { flags: 0 });
  assert.not.ok(noRd.flag_rd, 'RD clear when the query had it clear');
  assert.equal(addrs(await udpQuery(main.port, 'gateway', 'A')), [GATEWAY]);
  assert.equal(addrs(await udpQuery(main.port, 'Gateway.Zerops', 'A')), [GATEWAY]);
  assert.equal(addrs(await udpQuery(main.port, 'api.internal', 'A')), ['10.124.0.20'], 'dotted host name');
  assert.equal(addrs(await udpQuery(main.port, 'api.internal.zerops', 'A')), ['10.124.0.20']);
});

test('AAAA; NODATA with SOA for a name lacking the type (v4-only AAAA, v6-only A, MX, TXT, ANY)', async () => {
  assert.equal(addrs(await udpQuery(main.port, 'db.zerops', 'AAAA')), ['fd00:124::11']);
  assert.equal(addrs(await udpQuery(main.port, 'db', 'A')), ['10.124.0.11']);
  assert.equal(addrs(await udpQuery(main.port, 'v6only', 'AAAA')), ['fd00:124::12']);
  for (const [name, type] of [['app', 'AAAA'], ['app.zerops', 'AAAA'], ['v6only', 'A'], ['app', 'MX'], ['app', 'TXT'], ['app.zerops', 'ANY'], ['internal.zerops', 'A']] as const) {
    // 'ANY' is a query type dns-packet knows but its typings omit.
    const r = await udpQuery(main.port, name, type as RecordType);
    assert.is(rcode(r), NOERROR, `${name} ${type}: NOERROR, not NXDOMAIN`);
    assert.is(r.answers?.length, 0, `${name} ${type}: empty answer`);
    assert.ok(r.flag_aa);
    assert.equal(soaOf(r)?.name, 'zerops', `${name} ${type}: SOA in authority`);
    assert.is(soaOf(r)?.minimum, 30, 'negative TTL = ttl');
  }
});

test('NXDOMAIN with SOA for unknown names in the domain and unknown single labels', async () => {
  for (const name of ['nope.zerops', 'nope', 'NOPE', 'x.app.zerops', 'gateway2']) {
    const r = await udpQuery(main.port, name, 'A');
    assert.is(rcode(r), NXDOMAIN, name);
    assert.is(r.answers?.length, 0);
    assert.ok(r.flag_aa);
    assert.is(soaOf(r)?.name, 'zerops', `${name}: SOA`);
  }
  // DNS case folding is ASCII only: KELVIN SIGN (U+212A) must not match 'kafka'.
  assert.equal(addrs(await udpQuery(main.port, 'KAFKA.zerops', 'A')), ['10.124.0.13']);
  assert.is(rcode(await udpQuery(main.port, '\u212Aafka.zerops', 'A')), NXDOMAIN);
});

test('the apex: NODATA for A, SOA and NS (with glue) answered', async () => {
  const a = await udpQuery(main.port, 'zerops', 'A');
  assert.is(rcode(a), NOERROR);
  assert.is(a.answers?.length, 0);
  assert.is(soaOf(a)?.name, 'zerops');
  const soa = await udpQuery(main.port, 'ZEROPS', 'SOA');
  const s = soa.answers?.[0];
  assert.ok(s && s.type === 'SOA');
  if (s?.type === 'SOA') {
    assert.is(s.name, 'ZEROPS');
    assert.is(s.data.mname, 'gateway.zerops');
    assert.is(s.data.rname, 'hostmaster.zerops');
    assert.is(s.data.minimum, 30);
  }
  const ns = await udpQuery(main.port, 'zerops', 'NS');
  assert.equal(ns.answers?.map((x) => (x.type === 'NS' ? x.data : '')), ['gateway.zerops']);
  assert.equal(ns.additionals?.filter((x) => x.type === 'A').map((x) => (x.type === 'A' ? `${x.name} ${x.data}` : '')), [`gateway.zerops ${GATEWAY}`]);
});

test('REFUSED outside the domain without upstream; CH class and AXFR refused', async () => {
  for (const name of ['example.com', 'www.example.org', '.']) {
    const before = main.counters;
    const r = await udpQuery(main.port, name, 'A');
    assert.is(rcode(r), REFUSED, name);
    assert.not.ok(r.flag_aa);
    assert.not.ok(r.flag_ra);
    assert.equal(delta(before, main.counters), { queries: 1, refused: 1 });
  }
  assert.is(rcode(await udpQuery(main.port, 'app', 'TXT', { cls: 'CH' })), REFUSED);
  assert.is(rcode(await tcpQuery(main.port, 'zerops', 'AXFR')), REFUSED);
});

test('opcode != QUERY -> NOTIMP, several/zero questions -> FORMERR, EDNS version 1 -> BADVERS, responses dropped', async () => {
  const before = main.counters;
  const notify = await udpQuery(main.port, 'app', 'A', { flags: 4 << 11 });
  assert.is(rcode(notify), NOTIMP);
  assert.is(opcode(notify), 4, 'opcode echoed');
  const two = dnsPacket.encode({ type: 'query', id: 4242, flags: RD, questions: [{ name: 'app', type: 'A' }, { name: 'db', type: 'A' }] });
  const r2 = dnsPacket.decode((await udpExchange(main.port, two)) as Buffer);
  assert.is(r2.id, 4242);
  assert.is(rcode(r2), FORMERR);
  const none = dnsPacket.encode({ type: 'query', id: 4243, flags: RD, questions: [] });
  assert.is(rcode(dnsPacket.decode((await udpExchange(main.port, none)) as Buffer)), FORMERR);
  // A label containing a dot ("app.zerops" as ONE label) must not be answered as app.zerops.
  const dotted = encodeQuery('appXzerops', 'A');
  dotted[dotted.indexOf('X', 12)] = 0x2e;
  const r3 = dnsPacket.decode((await udpExchange(main.port, dotted)) as Buffer);
  assert.is(rcode(r3), FORMERR);
  assert.is(r3.answers?.length, 0);
  const v1 = encodeQuery('app', 'A', { edns: 1232 });
  v1[v1.length - 5] = 1; // OPT: name(1) type(2) size(2) extRcode(1) VERSION(1) flags(2) rdlen(2)
  const r4 = dnsPacket.decode((await udpExchange(main.port, v1)) as Buffer);
  const opt = r4.additionals?.find((x): x is OptAnswer => x.type === 'OPT');
  assert.is((opt?.extendedRcode ?? 0) * 16 + rcode(r4), 16, 'BADVERS');
  const resp = dnsPacket.encode({ type: 'response', id: 4244, flags: 0, questions: [{ name: 'app', type: 'A' }] });
  assert.is(await udpExchange(main.port, resp, 300), null, 'a response is not answered');
  assert.equal(delta(before, main.counters), { queries: 6, notimp: 1, formerr: 4, malformed: 1 });
});

test('EDNS: OPT echoed; over-size UDP answers are truncated (TC), complete over TCP', async () => {
  const e = await udpQuery(main.port, 'app', 'A', { edns: 4096 });
  const opt = e.additionals?.find((x): x is OptAnswer => x.type === 'OPT');
  assert.is(opt?.udpPayloadSize, 1232);
  const noEdns = await udpQuery(main.port, 'app', 'A');
  assert.is(noEdns.additionals?.length, 0, 'no OPT when the query had none');
  const small = await udpQuery(main.port, 'big.zerops', 'A');
  assert.ok(small.flag_tc, '40 A records do not fit 512 bytes');
  assert.is(small.answers?.length, 0);
  assert.is(small.questions?.[0]?.name, 'big.zerops');
  const large = await udpQuery(main.port, 'big.zerops', 'A', { edns: 4096 });
  assert.not.ok(large.flag_tc);
  assert.equal(addrs(large), BIG);
  const tcp = await tcpQuery(main.port, 'big.zerops', 'A');
  assert.not.ok(tcp.flag_tc);
  assert.equal(addrs(tcp), BIG);
});

test('dig: A, AAAA NODATA, case, NXDOMAIN+SOA, REFUSED, TCP, truncation retried over TCP', async () => {
  const p = main.port;
  assert.equal(lines(await dig(p, ['app.zerops', 'A', '+short'])), ['10.124.0.10']);
  assert.equal(lines(await dig(p, ['app', 'A', '+short'])), ['10.124.0.10']);
  assert.equal(lines(await dig(p, ['aPp.ZEROPS', 'A', '+short'])), ['10.124.0.10']);
  assert.equal(lines(await dig(p, ['db', 'AAAA', '+short'])), ['fd00:124::11']);
  assert.equal(lines(await dig(p, ['app.zerops', 'A', '+short', '+tcp'])), ['10.124.0.10']);
  const nodata = await dig(p, ['app.zerops', 'AAAA', '+noall', '+comments', '+authority']);
  assert.is(digStatus(nodata), 'NOERROR');
  assert.match(nodata, /ANSWER: 0, AUTHORITY: 1/);
  assert.match(nodata, /^zerops\.\s+30\s+IN\s+SOA\s+gateway\.zerops\. hostmaster\.zerops\. \d+ 3600 600 86400 30$/m);
  assert.ok(digFlags(nodata).includes('aa'));
  const nx = await dig(p, ['nope.zerops', 'A', '+noall', '+comments', '+authority']);
  assert.is(digStatus(nx), 'NXDOMAIN');
  assert.match(nx, /^zerops\.\s+30\s+IN\s+SOA\s/m);
  assert.is(digStatus(await dig(p, ['nope', 'A'])), 'NXDOMAIN');
  const refused = await dig(p, ['example.com', 'A']);
  assert.is(digStatus(refused), 'REFUSED');
  assert.not.ok(digFlags(refused).includes('ra'));
  const trunc = await dig(p, ['big.zerops', 'A', '+noedns', '+ignore']);
  assert.ok(digFlags(trunc).includes('tc'));
  assert.equal(lines(await dig(p, ['big.zerops', 'A', '+noedns', '+short'])).sort(), [...BIG].sort(), 'dig retried over TCP');
});

test('forwarding to an upstream DnsResponder: UDP and TCP, ID preserved, answers and errors relayed', async () => {
  await withResponder({ domain: 'example', hosts: { www: ['192.0.2.80'], many: BIG } }, async (up) => {
    await withResponder({ ...BASE, upstream: `127.0.0.1:${up.port}` }, async (gw) => {
      const b0 = gw.counters, u0 = up.counters;
      const r = await udpQuery(gw.port, 'www.example', 'A', { id: 0xbeef });
      assert.is(r.id, 0xbeef);
      assert.equal(addrs(r), ['192.0.2.80']);
      const t = await tcpQuery(gw.port, 'WWW.example', 'A', { id: 0x1234 });
      assert.is(t.id, 0x1234);
      assert.equal(addrs(t), ['192.0.2.80']);
      assert.is(rcode(await udpQuery(gw.port, 'missing.example', 'A')), NXDOMAIN, 'upstream NXDOMAIN relayed');
      assert.is(rcode(await udpQuery(gw.port, 'elsewhere.org', 'A')), REFUSED, 'upstream REFUSED relayed');
      assert.equal(delta(b0, gw.counters), { queries: 4, forwarded: 4 });
      assert.equal(delta(u0, up.counters), { queries: 4, answered: 2, nxdomain: 1, refused: 1 });
      const own = await udpQuery(gw.port, 'app', 'A');
      assert.ok(own.flag_ra, 'RA set when an upstream is configured');
      assert.ok(own.flag_aa);
      // Truncated UDP reply from upstream: the gateway re-asks over TCP; the full answer does not fit
      // the client's 512 bytes, so the client gets TC and retries over TCP itself (dig does).
      const u1 = up.counters;
      const tc = await udpQuery(gw.port, 'many.example', 'A');
      assert.ok(tc.flag_tc);
      assert.equal(delta(u1, up.counters), { queries: 2, answered: 2 }, 'upstream asked over UDP, then TCP');
      assert.equal(lines(await dig(gw.port, ['many.example', 'A', '+noedns', '+short'])).sort(), [...BIG].sort());
      assert.equal(lines(await dig(gw.port, ['www.example', 'A', '+short'])), ['192.0.2.80']);
    });
  });
});

test('forwarding failures: silent upstream -> SERVFAIL after the timeout, maxForwards, unreachable upstream', async () => {
  const hole = dgram.createSocket('udp4');
  const seen: number[] = [];
  hole.on('message', (m) => seen.push(dnsPacket.decode(m).id ?? -1));
  await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
  try {
    await withResponder({ ...BASE, upstream: `127.0.0.1:${hole.address().port}`, upstreamTimeoutMs: 300, maxForwards: 1 }, async (gw) => {
      const b0 = gw.counters;
      const t0 = Date.now();
      const first = udpQuery(gw.port, 'slow.example', 'A', { id: 777 });
      await waitFor(() => seen.length === 1, 10_000, 10, 'query at the upstream');
      assert.equal(seen, [777], 'forwarded with the client ID');
      const second = await udpQuery(gw.port, 'other.example', 'A');
      assert.is(rcode(second), SERVFAIL, 'over maxForwards: immediate SERVFAIL');
      const r = await first;
      assert.is(rcode(r), SERVFAIL);
      assert.ok(Date.now() - t0 >= 290, 'waited for the upstream timeout');
      assert.equal(delta(b0, gw.counters), { queries: 2, forwarded: 1, servfail: 2 });
    });
  } finally {
    hole.close();
  }
  // A loopback port with nothing bound: the kernel answers port unreachable.
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const deadPort = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  await withResponder({ ...BASE, upstream: `127.0.0.1:${deadPort}`, upstreamTimeoutMs: 5000 }, async (gw) => {
    const t0 = Date.now();
    assert.is(rcode(await udpQuery(gw.port, 'www.example', 'A')), SERVFAIL);
    assert.ok(Date.now() - t0 < 2000, `port unreachable noticed at once (${Date.now() - t0} ms)`);
  });
});

test('setUpstream: REFUSED becomes forwarded live', async () => {
  await withResponder({ domain: 'example', hosts: { www: ['192.0.2.80'] } }, async (up) => {
    await withResponder(BASE, async (gw) => {
      assert.is(rcode(await udpQuery(gw.port, 'www.example', 'A')), REFUSED);
      gw.setUpstream(`127.0.0.1:${up.port}`);
      assert.equal(addrs(await udpQuery(gw.port, 'www.example', 'A')), ['192.0.2.80']);
      gw.setUpstream('none');
      assert.is(rcode(await udpQuery(gw.port, 'www.example', 'A')), REFUSED);
    });
  });
});

test('TCP: several queries per connection (pipelined and split), idle timeout, connection bound', async () => {
  await withResponder({ ...BASE, tcpMessageTimeoutMs: 300, maxTcpConnections: 2 }, async (r) => {
    const c = await TcpClient.connect(r.port);
    const names = ['app', 'db.zerops', 'gateway', 'nope.zerops'];
    const qs = names.map((n, i) => encodeQuery(n, 'A', { id: 100 + i }));
    c.sock.write(Buffer.concat(qs.map((q) => frame(q)))); // all four in one segment
    const got = new Map<number, DecodedPacket>();
    for (let i = 0; i < names.length; i++) { const a = await c.next(); got.set(a.id ?? -1, a); }
    assert.equal(addrs(got.get(100) as DecodedPacket), ['10.124.0.10']);
    assert.equal(addrs(got.get(101) as DecodedPacket), ['10.124.0.11']);
    assert.equal(addrs(got.get(102) as DecodedPacket), [GATEWAY]);
    assert.is(rcode(got.get(103) as DecodedPacket), NXDOMAIN);
    // One query dribbled a byte at a time, then another on the same connection.
    const slow = frame(encodeQuery('db', 'AAAA', { id: 200 }));
    for (const byte of slow) { c.sock.write(Buffer.of(byte)); await new Promise((res) => setTimeout(res, 2)); }
    assert.equal(addrs(await c.next()), ['fd00:124::11']);
    c.send(encodeQuery('app', 'A', { id: 201 }));
    assert.is((await c.next()).id, 201);
    const idleFrom = Date.now();
    assert.ok(await c.waitClosed(2000), 'idle connection closed');
    assert.ok(c.closedAt - idleFrom >= 250 && c.closedAt - idleFrom < 1500, `closed after ${c.closedAt - idleFrom} ms idle`);

    const held = [await TcpClient.connect(r.port), await TcpClient.connect(r.port)];
    held[0]?.send(encodeQuery('app', 'A'));
    await held[0]?.next();
    const third = await TcpClient.connect(r.port);
    assert.ok(await third.waitClosed(1000), 'third connection dropped (maxTcpConnections 2)');
    for (const h of held) h.destroy();
  });
});

test('malformed input: deterministic cases counted exactly, random bytes never crash (UDP and TCP)', async () => {
  await withResponder(BASE, async (r) => {
    const before = r.counters;
    const truncatedName = encodeQuery('app.zerops', 'A').subarray(0, 18);
    for (const bad of [Buffer.alloc(0), Buffer.from('hello'), truncatedName, Buffer.alloc(5000)]) {
      assert.is(await udpExchange(r.port, bad, 150), null, 'no answer to garbage');
    }
    assert.equal(delta(before, r.counters), { queries: 4, malformed: 4 });

    const next = rng(0x5eed);
    const N = 300;
    const sock = dgram.createSocket('udp4');
    const b1 = r.counters;
    try {
      for (let i = 0; i < N; i++) {
        const n = next() % 300;
        const pkt = randomBytes(next, n);
        if (i % 2 === 0 && n >= 12) { pkt[2] = (pkt[2] as number) & 0x07; pkt[4] = 0; pkt[5] = 1; } // look like a 1-question query
        sock.send(pkt, r.port, '127.0.0.1');
        // Paced: loopback UDP drops bursts beyond the socket buffer, and every datagram must arrive.
        if (i % 20 === 19) await new Promise((res) => setTimeout(res, 5));
      }
      await waitFor(() => r.counters.queries - b1.queries === N, 5000, 20, 'all random datagrams handled');
    } finally {
      sock.close();
    }
    const d = delta(b1, r.counters);
    assert.ok((d.malformed ?? 0) > N / 2, `most random datagrams are malformed (${JSON.stringify(d)})`);
    const outcomes = (['answered', 'nxdomain', 'refused', 'forwarded', 'malformed', 'formerr', 'notimp', 'servfail'] as const)
      .reduce((s, k) => s + (d[k] ?? 0), 0);
    assert.is(outcomes, N, 'every datagram has exactly one outcome');

    const b2 = r.counters;
    let closedCount = 0;
    for (let i = 0; i < 20; i++) {
      const c = await TcpClient.connect(r.port);
      c.sock.write(frame(randomBytes(next, 5 + (next() % 200))));
      await Promise.race([c.next(1000).catch(() => undefined), c.closed]);
      if (await c.waitClosed(50)) closedCount++;
      c.destroy();
    }
    const d2 = delta(b2, r.counters);
    assert.is(d2.queries, 20);
    assert.is(closedCount, d2.malformed ?? 0, 'each malformed TCP message closed its connection');
    assert.ok((d2.malformed ?? 0) > 10, JSON.stringify(d2));

    const over = await TcpClient.connect(r.port);
    over.sock.write(Buffer.of(0xff, 0xff, 1, 2, 3)); // declares 65535 bytes: over the bound
    assert.ok(await over.waitClosed(1000), 'oversize length prefix closes the connection');
    const junk = await TcpClient.connect(r.port);
    junk.send(Buffer.from('not dns at all'));
    assert.ok(await junk.waitClosed(1000), 'undecodable message closes the connection');
    assert.equal(addrs(await udpQuery(r.port, 'app', 'A')), ['10.124.0.10'], 'still serving over UDP');
    assert.equal(addrs(await tcpQuery(r.port, 'app', 'A')), ['10.124.0.10'], 'still serving over TCP');
  });
});

test('live setHosts / setDomain without rebinding; invalid updates rejected, old table kept', async () => {
  await withResponder(BASE, async (r) => {
    const port = r.port;
    const serial0 = soaOf(await udpQuery(port, 'nope.zerops', 'A'))?.serial ?? -1;
    r.setHosts(new Map([['web', ['10.124.0.30', 'fd00:124::30']], ['APP', ['10.124.0.99']]]));
    assert.equal(addrs(await udpQuery(port, 'web.zerops', 'A')), ['10.124.0.30']);
    assert.equal(addrs(await udpQuery(port, 'web', 'AAAA')), ['fd00:124::30']);
    assert.equal(addrs(await udpQuery(port, 'app', 'A')), ['10.124.0.99'], 'upper-case host name normalized');
    assert.is(rcode(await udpQuery(port, 'db.zerops', 'A')), NXDOMAIN, 'removed host gone');
    assert.equal(addrs(await udpQuery(port, 'gateway', 'A')), [GATEWAY], 'gateway kept');
    const serial1 = soaOf(await udpQuery(port, 'nope.zerops', 'A'))?.serial ?? -1;
    assert.ok(serial1 !== serial0, 'SOA serial changes with the data');
    assert.throws(() => r.setHosts({ 'bad name!': ['10.0.0.1'] }), /not a valid DNS name/);
    assert.throws(() => r.setHosts({ ok: ['10.0.0.300'] }), /not an IP address/);
    assert.equal(addrs(await udpQuery(port, 'web', 'A')), ['10.124.0.30'], 'old table kept after a failed update');
    r.setDomain('Corp.Example');
    assert.equal(addrs(await udpQuery(port, 'web.corp.example', 'A')), ['10.124.0.30']);
    assert.is(soaOf(await udpQuery(port, 'nope.corp.example', 'A'))?.name, 'corp.example');
    assert.is(rcode(await udpQuery(port, 'web.zerops', 'A')), REFUSED, 'old domain is outside now');
    r.setDomain(undefined);
    assert.equal(addrs(await udpQuery(port, 'web', 'A')), ['10.124.0.30']);
    const nx = await udpQuery(port, 'nope', 'A');
    assert.is(rcode(nx), NXDOMAIN);
    assert.is(nx.authorities?.length, 0, 'no domain: no SOA to claim');
    assert.is(r.port, port, 'same sockets throughout');
  });
});

test('configuration is validated up front', () => {
  assert.throws(() => new DnsResponder({ domain: 'bad domain' }), /domain/);
  assert.throws(() => new DnsResponder({ hosts: { app: ['nope'] } }), /not an IP address/);
  assert.throws(() => new DnsResponder({ upstream: 'resolver.example' }), /upstream/);
  assert.throws(() => new DnsResponder({ ttl: -1 }), /ttl/);
  assert.equal(parseUpstream('192.0.2.53'), { host: '192.0.2.53', port: 53, family: 4 });
  assert.equal(parseUpstream('192.0.2.53:5353'), { host: '192.0.2.53', port: 5353, family: 4 });
  assert.equal(parseUpstream('[fd00::53]:5353'), { host: 'fd00::53', port: 5353, family: 6 });
  assert.equal(parseUpstream('fd00::53'), { host: 'fd00::53', port: 53, family: 6 });
  for (const bad of ['192.0.2.53:0', '192.0.2.53:70000', '[192.0.2.53]:53', '192.0.2.53:', 'x:53']) {
    assert.throws(() => parseUpstream(bad), /upstream/, bad);
  }
});

// ---------------------------------------------------------------- clients, TCP limits, failover, fallback

test('only clients inside the prefixes are answered, on every address, UDP and TCP; others are dropped unread and counted', async () => {
  const r = new DnsResponder({ ...BASE, clients: ['127.0.0.2/32', '10.123.0.0/24'] });
  await r.listen(['127.0.0.1', '127.0.0.3'], 0);
  try {
    assert.equal(r.addresses, ['127.0.0.1', '127.0.0.3']);
    for (const at of ['127.0.0.1', '127.0.0.3']) {
      const ok = await udpExchange(r.port, encodeQuery('app', 'A'), 1000, '127.0.0.2', at);
      assert.equal(ok && addrs(dnsPacket.decode(ok)), ['10.124.0.10'], `a client gets an answer on ${at}`);
      assert.is(await udpExchange(r.port, encodeQuery('app', 'A'), 300, '127.0.0.1', at), null, `127.0.0.1 gets none on ${at}`);
    }
    const outsider = await TcpClient.connect(r.port, '127.0.0.1');
    outsider.send(encodeQuery('app', 'A'));
    assert.ok(await outsider.waitClosed(1000), 'a TCP connection from outside is closed');
    assert.is(await outsider.next(100).then(() => 'answered', () => 'no answer'), 'no answer');
    const client = await TcpClient.connect(r.port, '127.0.0.2');
    client.send(encodeQuery('db', 'A'));
    assert.equal(addrs(await client.next()), ['10.124.0.11']);
    client.destroy();
    const c = r.counters;
    assert.equal([c.forbidden, c.queries, c.answered], [3, 3, 3], JSON.stringify(c));
  } finally {
    await r.close();
  }
  // A wildcard listener answers no more than the clients: nothing on loopback for tunnel-only clients.
  const wild = new DnsResponder({ ...BASE, clients: ['10.123.0.0/24'] });
  await wild.listen('0.0.0.0', 0);
  try {
    assert.is(await udpExchange(wild.port, encodeQuery('app', 'A'), 300), null);
    assert.equal([wild.counters.forbidden, wild.counters.queries], [1, 0]);
  } finally {
    await wild.close();
  }
  // A dual-stack '::' listener sees IPv4 clients as ::ffff:a.b.c.d: still matched as IPv4.
  const dual = new DnsResponder({ ...BASE, clients: ['127.0.0.2/32'] });
  await dual.listen('::', 0);
  try {
    const ok = await udpExchange(dual.port, encodeQuery('app', 'A'), 1000, '127.0.0.2');
    assert.equal(ok && addrs(dnsPacket.decode(ok)), ['10.124.0.10']);
    assert.is(await udpExchange(dual.port, encodeQuery('app', 'A'), 300, '127.0.0.1'), null);
    assert.is(dual.counters.forbidden, 1);
  } finally {
    await dual.close();
  }
});

test('TCP: a per-source connection limit; a deadline per message, so a connection dribbling bytes is cut like an idle one', async () => {
  await withResponder({ ...BASE, clients: ['127.0.0.0/8'], maxTcpPerSource: 2, tcpMessageTimeoutMs: 400 }, async (r) => {
    const a = await TcpClient.connect(r.port, '127.0.0.1');
    const b = await TcpClient.connect(r.port, '127.0.0.1');
    const c = await TcpClient.connect(r.port, '127.0.0.1');
    assert.ok(await c.waitClosed(500), 'a third connection from the same source is closed at once');
    assert.is(r.counters.tcpRejected, 1);
    const other = await TcpClient.connect(r.port, '127.0.0.5');
    other.send(encodeQuery('app', 'A', { id: 7 }));
    assert.is((await other.next()).id, 7, 'another source is still served');
    a.destroy();
    await a.closed;
    await sleep(50);
    const again = await TcpClient.connect(r.port, '127.0.0.1');
    again.send(encodeQuery('app', 'A', { id: 8 }));
    assert.is((await again.next()).id, 8, 'a closed connection frees its slot');
    for (const x of [b, again, other]) x.destroy();

    // slowloris: a 200-byte message announced, then one byte every 50 ms. The deadline is not moved.
    const slow = await TcpClient.connect(r.port, '127.0.0.6');
    const t0 = Date.now();
    slow.sock.write(Buffer.of(0, 200));
    const dribble = setInterval(() => { if (!slow.sock.destroyed) slow.sock.write(Buffer.of(0x41)); }, 50);
    try {
      assert.ok(await slow.waitClosed(2000), 'the dribbling connection is closed');
    } finally {
      clearInterval(dribble);
    }
    const held = slow.closedAt - t0;
    assert.ok(held >= 350 && held < 1000, `closed ${held} ms after it opened (deadline 400 ms), despite a byte every 50 ms`);
    assert.is(r.counters.tcpTimeouts, 1);

    // A client that sends complete queries keeps its connection beyond the deadline.
    const steady = await TcpClient.connect(r.port, '127.0.0.7');
    for (let i = 0; i < 4; i++) {
      steady.send(encodeQuery('app', 'A', { id: 300 + i }));
      assert.is((await steady.next()).id, 300 + i);
      await sleep(250);
    }
    assert.not.ok(steady.sock.destroyed, 'still open after 1 s of queries 250 ms apart');
    steady.destroy();
  });
});

/** A UDP socket on loopback that reads queries and never answers; `seen` holds their names. */
async function silentUpstream(): Promise<{ port: number; seen: string[]; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const seen: string[] = [];
  sock.on('message', (m) => { try { seen.push(dnsPacket.decode(m).questions?.[0]?.name ?? '?'); } catch { /* not DNS */ } });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { port: sock.address().port, seen, close: () => sock.close() };
}

/** A loopback UDP port nothing listens on (the kernel answers port unreachable). */
async function deadPort(): Promise<number> {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

test('several upstreams: asked in order; the next after a timeout, an unreachable port, SERVFAIL or REFUSED; a silent one goes last', async () => {
  const hole = await silentUpstream();
  const dead = await deadPort();
  try {
    await withResponder({ domain: 'example', hosts: { www: ['192.0.2.80'] } }, async (good) => {
      await withResponder({ domain: 'other' }, async (refuser) => {
        await withResponder({ domain: 'other', upstream: `127.0.0.1:${dead}` }, async (servfailer) => {
          const at = (p: number): string => `127.0.0.1:${p}`;
          await withResponder({ ...BASE, upstream: [at(hole.port), at(refuser.port), at(good.port)], upstreamTimeoutMs: 1000 }, async (gw) => {
            assert.equal(gw.upstreams().map((u) => u.port), [hole.port, refuser.port, good.port]);
            let t0 = Date.now();
            assert.equal(addrs(await udpQuery(gw.port, 'www.example', 'A')), ['192.0.2.80']);
            assert.ok(Date.now() - t0 >= 950, 'waited for the silent first server');
            assert.equal(hole.seen, ['www.example']);
            assert.is(refuser.counters.refused, 1, 'then the second, which refused');
            t0 = Date.now();
            assert.equal(addrs(await udpQuery(gw.port, 'www.example', 'A')), ['192.0.2.80']);
            // No timeout waited (1 s): a generous bound, since a loaded machine can be slow anyway.
            assert.ok(Date.now() - t0 < 700, `the silent server is tried last now (${Date.now() - t0} ms)`);
            assert.equal(hole.seen, ['www.example'], 'and was not asked again');
          });
          await withResponder({ ...BASE, upstream: [at(dead), at(servfailer.port), at(good.port)], upstreamTimeoutMs: 2000 }, async (gw) => {
            const t0 = Date.now();
            assert.equal(addrs(await udpQuery(gw.port, 'www.example', 'A')), ['192.0.2.80']);
            assert.ok(Date.now() - t0 < 1000, `port unreachable and SERVFAIL move on at once (${Date.now() - t0} ms)`);
            assert.is(servfailer.counters.servfail, 1);
          });
          await withResponder({ ...BASE, upstream: [at(refuser.port)] }, async (gw) => {
            assert.is(rcode(await udpQuery(gw.port, 'www.example', 'A')), REFUSED, 'when every server fails, the last answer is relayed');
          });
        });
      });
    });
  } finally {
    hole.close();
  }
});

/** A UDP upstream answering from a table (name -> answers; absent -> NXDOMAIN); records each question. */
async function tableUpstream(table: Record<string, Answer[]>): Promise<{ port: number; asked: string[]; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const asked: string[] = [];
  sock.on('message', (m, rinfo) => {
    const q = dnsPacket.decode(m);
    const question = q.questions?.[0];
    if (!question) return;
    asked.push(`${question.name} ${question.type}${q.flag_rd ? ' rd' : ''}`);
    const answers = table[question.name.toLowerCase()];
    sock.send(dnsPacket.encode({
      type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE | (answers ? 0 : NXDOMAIN), questions: [question],
      answers: (answers ?? []).filter((a) => a.type === question.type || a.type === 'CNAME'),
    }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { port: sock.address().port, asked, close: () => sock.close() };
}

test('bare names no Host line holds: NAME and NAME.domain asked upstream as NAME, answered under the question; Host lines first', async () => {
  const up = await tableUpstream({
    web: [{ type: 'A', name: 'web', ttl: 40, class: 'IN', data: '10.124.0.20' }],
    api: [{ type: 'CNAME', name: 'api', ttl: 20, class: 'IN', data: 'api-1.svc.internal' }, { type: 'A', name: 'api-1.svc.internal', ttl: 60, class: 'IN', data: '10.124.0.21' }],
    app: [{ type: 'A', name: 'app', ttl: 40, class: 'IN', data: '10.9.9.9' }],
  });
  try {
    const upstream = `127.0.0.1:${up.port}`;
    await withResponder({ ...BASE, upstream }, async (gw) => {
      const b0 = gw.counters;
      const r = await udpQuery(gw.port, 'web.zerops', 'A');
      assert.equal(addrs(r), ['10.124.0.20']);
      assert.is(r.answers?.[0]?.name, 'web.zerops');
      assert.is(r.answers?.[0]?.type === 'A' ? r.answers[0].ttl : -1, 40);
      assert.not.ok(r.flag_aa, 'not authoritative: the data is the project DNS\'s');
      assert.ok(r.flag_ra);
      assert.equal(up.asked, ['web A rd'], 'the upstream was asked for the bare name');
      const bare = await udpQuery(gw.port, 'WEB', 'A');
      assert.equal([bare.answers?.[0]?.name, addrs(bare)], ['WEB', ['10.124.0.20']]);
      const api = await udpQuery(gw.port, 'api.zerops', 'A');
      assert.equal(api.answers?.map((x) => `${x.name} ${x.type} ${x.type === 'A' ? x.data : ''} ${x.type === 'A' ? x.ttl : ''}`), ['api.zerops A 10.124.0.21 20'],
        'CNAME chain flattened, smallest TTL');
      assert.equal(addrs(await udpQuery(gw.port, 'app.zerops', 'A')), ['10.124.0.10'], 'a Host line answers first');
      assert.not.ok(up.asked.some((x) => x.startsWith('app ')), 'and the upstream is not asked');
      const nx = await udpQuery(gw.port, 'nope.zerops', 'A');
      assert.equal([rcode(nx), soaOf(nx)?.name], [NXDOMAIN, 'zerops']);
      const nodata = await udpQuery(gw.port, 'web', 'AAAA');
      assert.equal([rcode(nodata), nodata.answers?.length, soaOf(nodata)?.name], [NOERROR, 0, 'zerops']);
      const asked = up.asked.length;
      assert.is(rcode(await udpQuery(gw.port, 'x.web.zerops', 'A')), NXDOMAIN, 'two labels under the domain are not a bare name');
      assert.is(up.asked.length, asked, 'not asked upstream');
      assert.equal(delta(b0, gw.counters), { queries: 7, fallback: 5, answered: 1, nxdomain: 1 });
    });
    // No Host lines at all: the project's DNS alone.
    await withResponder({ domain: 'zerops', upstream }, async (gw) => {
      assert.equal(addrs(await udpQuery(gw.port, 'web.zerops', 'A')), ['10.124.0.20']);
      assert.equal(addrs(await udpQuery(gw.port, 'app', 'A')), ['10.9.9.9']);
    });
    // Without an upstream the names stay unknown.
    assert.is(rcode(await udpQuery(main.port, 'web.zerops', 'A')), NXDOMAIN);
  } finally {
    up.close();
  }
  // A large answer: truncated for a 512-byte client, complete over TCP (the fallback runs again over TCP).
  await withResponder({ hosts: { big: BIG } }, async (project) => {
    await withResponder({ ...BASE, hosts: {}, upstream: `127.0.0.1:${project.port}` }, async (gw) => {
      const small = await udpQuery(gw.port, 'big.zerops', 'A');
      assert.ok(small.flag_tc);
      const full = await tcpQuery(gw.port, 'big.zerops', 'A');
      assert.equal(addrs(full).sort(), [...BIG].sort());
      assert.ok(full.answers?.every((x) => x.name === 'big.zerops'));
      assert.equal(lines(await dig(gw.port, ['big.zerops', 'A', '+noedns', '+short'])).sort(), [...BIG].sort(), 'dig retried over TCP');
    });
  });
});

// ---------------------------------------------------------------- child-process responders

/** Starts a DnsResponder in a child node process (optionally inside a namespace); resolves with its port. */
async function startChild(opts: DnsResponderOptions, address: string, port: number, ns?: Netns): Promise<{ child: ChildProcess; port: number }> {
  const code = [
    `import { DnsResponder } from ${JSON.stringify(DNS_MODULE)};`,
    'const r = new DnsResponder(JSON.parse(process.env.WGTS_DNS_OPTS));',
    'await r.listen(process.env.WGTS_DNS_ADDR, Number(process.env.WGTS_DNS_PORT));',
    "process.on('SIGTERM', () => { void r.close().then(() => process.exit(0)); });",
    "process.stdout.write('READY ' + r.port + '\\n');",
  ].join('\n');
  const env = { ...process.env, WGTS_DNS_OPTS: JSON.stringify(opts), WGTS_DNS_ADDR: address, WGTS_DNS_PORT: String(port) };
  const args = ['--input-type=module', '-e', code];
  const child = ns ? ns.spawn(process.execPath, args, { env }) : spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const m = await waitFor(() => /READY (\d+)/.exec(out) ?? (child.exitCode !== null ? Promise.reject(new Error(err)) : null), 10_000, 20, 'child responder');
  return { child, port: Number((m as RegExpExecArray)[1]) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

test('glibc in a network namespace: getent hosts app / app.zerops through the responder on port 53', async () => {
  const ns = new Netns('dns');
  const addr = '10.123.0.1';
  ns.exec('ip', ['addr', 'add', `${addr}/32`, 'dev', 'lo']);
  const hadEtcNetns = existsSync('/etc/netns');
  const dir = `/etc/netns/${ns.name}`;
  let child: ChildProcess | undefined;
  try {
    child = (await startChild({ ...BASE, gateway: { address: addr }, clients: ['10.123.0.0/24'] }, addr, 53, ns)).child;
    mkdirSync(dir, { recursive: true });
    writeFileSync(dir + '/resolv.conf', `nameserver ${addr}\nsearch zerops\n`);
    for (const name of ['app', 'app.zerops', 'APP.zerops']) {
      const out = ns.exec('getent', ['hosts', name], { timeoutMs: 15_000 });
      assert.match(out, /^10\.124\.0\.10\s+app\.zerops/i, `getent hosts ${name}: ${out}`);
    }
    assert.match(ns.exec('getent', ['hosts', 'gateway'], { timeoutMs: 15_000 }), new RegExp(`^${addr.replace(/\./g, '\\.')}\\s`));
    assert.match(ns.exec('getent', ['hosts', 'v6only'], { timeoutMs: 15_000 }), /^fd00:124::12\s/);
    const missing = ns.tryExec('getent', ['hosts', 'nope'], { timeoutMs: 15_000 });
    assert.is(missing.status, 2, 'getent: key not found');
    assert.match(ns.exec('dig', ['+short', 'db.zerops', 'A'], { timeoutMs: 15_000 }), /^10\.124\.0\.11$/m, 'dig via the namespace resolv.conf');
  } finally {
    if (child) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    if (!hadEtcNetns && existsSync('/etc/netns') && readdirSync('/etc/netns').length === 0) rmdirSync('/etc/netns');
    ns.delete();
  }
});

test('upstream "system": the resolv.conf nameservers (loopback stubs on port 53) in a namespace, re-read when edited; never itself', async () => {
  const ns = new Netns('dnssys');
  const conf = join(mkdtempSync(join(tmpdir(), 'wgts-sysres-')), 'resolv.conf');
  const children: ChildProcess[] = [];
  try {
    writeFileSync(conf, '# the service itself: must not be used\nnameserver 127.0.0.1\n');
    for (const [addr, www] of [['127.0.0.53', '192.0.2.53'], ['127.0.0.54', '192.0.2.54']] as const) {
      children.push((await startChild({ domain: 'example', hosts: { www: [www] } }, addr, 53, ns)).child);
    }
    children.push((await startChild({ ...BASE, upstream: 'system', resolvConf: conf }, '127.0.0.1', 53, ns)).child);
    const ask = (name: string): { status: string; answer: string; ms: number } => {
      const t0 = Date.now();
      const out = ns.exec('dig', ['@127.0.0.1', '+time=3', '+tries=1', name, 'A'], { timeoutMs: 10_000 });
      return { status: digStatus(out), answer: /^\S+\s+\d+\s+IN\s+A\s+(\S+)$/m.exec(out)?.[1] ?? '', ms: Date.now() - t0 };
    };
    const self = ask('www.example');
    assert.equal([self.status, self.answer], ['SERVFAIL', ''], 'resolv.conf names only the service itself: no forwarding loop');
    assert.ok(self.ms < 1500, `answered at once (${self.ms} ms)`);
    writeFileSync(conf, 'nameserver 127.0.0.53\n');
    await waitFor(() => ask('www.example').answer === '192.0.2.53', 5000, 300, 'the first stub after the edit');
    writeFileSync(conf, 'nameserver 127.0.0.54\nnameserver 127.0.0.53\n');
    await waitFor(() => ask('www.example').answer === '192.0.2.54', 5000, 300, 'the new first server after the second edit');
    assert.equal(ask('app.zerops').answer, '10.124.0.10', 'own names still answered locally');
  } finally {
    for (const c of children) await stopChild(c);
    rmSync(dirname(conf), { recursive: true, force: true });
    ns.delete();
  }
});

test('throughput: 20000 UDP queries on loopback (responder in its own process)', async () => {
  const { child, port } = await startChild(BASE, '127.0.0.1', 0);
  try {
    const TOTAL = 20_000, WINDOW = 64;
    const names = ['app', 'db.zerops', 'nope.zerops', 'gateway'];
    const queries = names.map((n) => encodeQuery(n, 'A', { id: 1 }));
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    let sent = 0, received = 0, wrong = 0;
    const send = (): void => {
      const q = queries[sent % queries.length] as Buffer;
      q.writeUInt16BE(sent & 0xffff, 0);
      sent++;
      sock.send(q, port, '127.0.0.1');
    };
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      let last = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - last > 2000) { clearInterval(watchdog); reject(new Error(`stalled at ${received}/${TOTAL}`)); }
      }, 200);
      sock.on('message', (m) => {
        last = Date.now();
        const r = dnsPacket.decode(m);
        const expectNx = names[(r.id ?? 0) % names.length] === 'nope.zerops';
        if (rcode(r) !== (expectNx ? NXDOMAIN : NOERROR) || (!expectNx && r.answers?.length !== 1)) wrong++;
        received++;
        if (received === TOTAL) { clearInterval(watchdog); resolve(); } else if (sent < TOTAL) send();
      });
      for (let i = 0; i < WINDOW; i++) send();
    });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    sock.close();
    assert.is(wrong, 0, 'every answer correct');
    console.log(`  dns throughput: ${TOTAL} UDP queries in ${secs.toFixed(3)} s = ${Math.round(TOTAL / secs)} queries/s (window ${WINDOW})`);
  } finally {
    await stopChild(child);
  }
});

test.run();
