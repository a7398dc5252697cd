// UAPI garbage: random byte streams and random set bodies against the server (in process, fake
// device) must only ever get well-formed errno answers or a closed connection; then the same
// hostile clients against running wgts-go and Debian's wireguard-go side by side, checking that
// wgts always keeps serving other `wg` commands (never a stuck daemon) and printing what
// wireguard-go does in each case (the README lists the differences).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UapiServer } from '../../../src/device/uapi/server.js';
import { Netns, sleep } from '../../helpers/netns.js';
import { memoryKiB } from '../../helpers/measure.js';
import { prng } from '../../helpers/prng.js';
import { type Impl, socketPath, startDaemon, uniqueIfname } from '../../helpers/wg.js';
import { talk } from './client.js';
import { FakeDevice } from './fake-target.js';

const root = mkdtempSync(join(tmpdir(), 'wgts-uapi-fuzz-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const KEYS = ['private_key', 'listen_port', 'fwmark', 'replace_peers', 'public_key', 'preshared_key', 'endpoint', 'persistent_keepalive_interval',
  'replace_allowed_ips', 'allowed_ip', 'update_only', 'remove', 'protocol_version', 'bogus', '', 'LISTEN_PORT'];
const VALUES = ['', '0', '1', 'true', 'false', '51820', '65536', '-1', 'a'.repeat(64), '0'.repeat(64), 'f'.repeat(64), '4cceab43cdcffa2c49b2bd3589a13bfcb84632ef35be1b06a618fe4794970372',
  '10.0.0.1:51820', '[::1]:5', '[fe80::1%lo]:5', 'host:1', '10.0.0.0/8', '-10.0.0.0/8', '::/0', '1.2.3.4/33', '\r', '=', 'x'.repeat(300)];

/** A random client stream: operation lines, set bodies from the vocabulary, raw bytes, cut anywhere. */
function hostileStream(r: () => number): Buffer {
  const parts: Buffer[] = [];
  for (let n = 1 + (r() % 6); n > 0; n--) {
    switch (r() % 6) {
      case 0: parts.push(Buffer.from('get=1\n\n')); break;
      case 1: {
        let body = 'set=1\n';
        for (let k = r() % 12; k > 0; k--) body += `${KEYS[r() % KEYS.length]}${r() % 9 ? '=' : ''}${VALUES[r() % VALUES.length]}\n`;
        parts.push(Buffer.from(r() % 4 ? `${body}\n` : body));
        break;
      }
      case 2: parts.push(Buffer.from(Array.from({ length: r() % 200 }, () => r() % 256))); break;
      case 3: parts.push(Buffer.from(['get=1\n', 'set=1\n', 'get=1\nx', '\n', 'get=2\n\n', 'set=1\r\n'][r() % 6] as string)); break;
      case 4: parts.push(Buffer.from(`${KEYS[r() % KEYS.length]}=${VALUES[r() % VALUES.length]}\n`)); break;
      default: parts.push(Buffer.alloc(r() % 3000, 0x41)); break;
    }
  }
  const all = Buffer.concat(parts);
  return all.subarray(0, r() % 5 === 0 ? r() % (all.length + 1) : all.length);
}

/** A reply stream is a sequence of get replies (key=value lines) and errno blocks, nothing else. */
const WELL_FORMED = /^(?:(?:[a-z_]+=[^\n]*\n)*errno=(0|-5|-12|-22|-71|-98|-110)\n\n)*$/;

test('600 random hostile clients (in process): only well-formed errno answers or a close; the server keeps serving', async () => {
  const dev = new FakeDevice();
  const server = new UapiServer('wgtsf0', dev, { socketDir: join(root, 'a'), idleTimeoutMs: 300 });
  await server.listen();
  const r = prng(424242);
  let closed = 0, answered = 0;
  try {
    for (let round = 0; round < 30; round++) {
      const batch = Array.from({ length: 20 }, () => {
        const data = hostileStream(r);
        const cuts = [0, ...Array.from({ length: r() % 4 }, () => r() % (data.length + 1)).sort((a, b) => a - b), data.length];
        const chunks = cuts.slice(1).map((c, i) => data.subarray(cuts[i] as number, c)).filter((c) => c.length > 0);
        return talk(server.path, chunks, { replies: 0, gapMs: 5, end: r() % 2 === 0, settleMs: 50, timeoutMs: 5000 });
      });
      for (const x of await Promise.all(batch)) {
        assert.match(x.text, WELL_FORMED, JSON.stringify(x.text.slice(0, 300)));
        if (x.closed) closed++;
        if (x.text !== '') answered++;
      }
    }
    const ok = await talk(server.path, ['get=1\n\n']);
    assert.match(ok.text, /errno=0\n\n$/);
    console.log(`  600 hostile clients: ${answered} got answers, ${closed} were closed by the server or themselves`);
  } finally {
    await server.close();
  }
});

/** One hostile case against a running daemon: what it got, and whether others were served meanwhile. */
interface CaseResult { reply: string; closed: boolean; othersServed: boolean; rssDeltaKiB: number }

/** Opens `n` connections, writes `data` on each, holds them `holdMs`, checks a get on another connection meanwhile. */
async function hostile(path: string, pid: number, data: Buffer, opts: { holdMs: number; connections?: number }): Promise<CaseResult> {
  const before = memoryKiB(pid)?.rss ?? NaN;
  const socks: Socket[] = [];
  let reply = '';
  let closed = false;
  for (let i = 0; i < (opts.connections ?? 1); i++) {
    const s = connect(path);
    socks.push(s);
    s.on('error', () => { closed = true; });
    if (i === 0) {
      s.on('data', (d: Buffer) => { reply += d.toString('latin1'); });
      s.on('close', () => { closed = true; });
    }
    await new Promise<void>((resolve) => { s.once('connect', () => resolve()); s.once('error', () => resolve()); });
    if (data.length > 0) s.write(data);
  }
  await sleep(opts.holdMs);
  const other = await talk(path, ['get=1\n\n'], { timeoutMs: 2000 }).catch(() => null);
  const rssDeltaKiB = (memoryKiB(pid)?.rss ?? NaN) - before;
  const closedByServer = closed;
  for (const s of socks) s.destroy();
  await sleep(100);
  return { reply: reply.slice(0, 40), closed: closedByServer, othersServed: other !== null && /errno=0\n\n$/.test(other.text), rssDeltaKiB };
}

const CASES: { name: string; data: () => Buffer; holdMs: number; connections?: number }[] = [
  { name: 'unknown operation line', data: () => Buffer.from('hello\n'), holdMs: 300 },
  { name: '4 KiB of random bytes', data: () => { const r = prng(7); return Buffer.from(Array.from({ length: 4096 }, () => r() % 256)); }, holdMs: 300 },
  { name: '32 MiB operation line, no newline', data: () => Buffer.alloc(32 << 20, 0x61), holdMs: 1500 },
  { name: 'set line of 100 KiB', data: () => Buffer.from(`set=1\nfwmark=${'1'.repeat(100 << 10)}\n\n`), holdMs: 300 },
  { name: 'half-written set, held open', data: () => Buffer.from('set=1\nfwmark=0\n'), holdMs: 300 },
  { name: 'get=1 without its blank line, held open', data: () => Buffer.from('get=1\n'), holdMs: 300 },
  { name: '100 idle connections', data: () => Buffer.alloc(0), holdMs: 1300, connections: 100 },
];

test('hostile UAPI clients against wgts-go and wireguard-go: wgts always serves the others', async () => {
  const ns = new Netns('uf');
  const results = new Map<string, Map<Impl, CaseResult>>();
  try {
    for (const impl of ['wgts', 'wireguard-go'] as const) {
      const d = await startDaemon(impl, ns, uniqueIfname('uf'), { LOG_LEVEL: 'silent' });
      try {
        for (const c of CASES) {
          const r = await hostile(socketPath(d.ifname), d.proc.pid as number, c.data(), c);
          if (!results.has(c.name)) results.set(c.name, new Map());
          results.get(c.name)?.set(impl, r);
          assert.ok(d.proc.exitCode === null, `${impl} still runs after: ${c.name}`);
        }
        assert.match((await talk(socketPath(d.ifname), ['get=1\n\n'])).text, /errno=0\n\n$/, `${impl} serves at the end`);
      } finally {
        await d.stop();
      }
    }
  } finally {
    ns.delete();
  }
  const show = (r: CaseResult | undefined): string => r === undefined ? '-' :
    `${r.reply ? JSON.stringify(r.reply.trim()) : 'no reply'}, ${r.closed ? 'closed' : 'left open'}, others ${r.othersServed ? 'served' : 'BLOCKED'}${Math.abs(r.rssDeltaKiB) > 4096 ? `, RSS ${r.rssDeltaKiB > 0 ? '+' : ''}${(r.rssDeltaKiB / 1024).toFixed(0)} MiB` : ''}`;
  for (const [name, byImpl] of results) console.log(`  ${name}:\n    wgts: ${show(byImpl.get('wgts'))}\n    wireguard-go: ${show(byImpl.get('wireguard-go'))}`);
  for (const [name, byImpl] of results) {
    const ours = byImpl.get('wgts') as CaseResult;
    assert.ok(ours.othersServed, `wgts served other clients during: ${name}`);
    assert.ok(ours.rssDeltaKiB < 16 * 1024, `wgts memory bounded during: ${name} (${ours.rssDeltaKiB} KiB)`);
  }
  const w = (name: string): CaseResult => results.get(name)?.get('wgts') as CaseResult;
  assert.ok(w('unknown operation line').closed && w('unknown operation line').reply === '');
  assert.ok(w('32 MiB operation line, no newline').closed, 'an over-long operation line closes the connection');
  assert.is(w('set line of 100 KiB').reply.trim(), 'errno=-5');
});

test.run();
