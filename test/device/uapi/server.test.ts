// UapiServer on a real UNIX socket (in a private temporary directory): socket life cycle (mode,
// stale and live sockets, removal detection, close) and the connection protocol framing. Expected
// bytes that mirror wireguard-go were recorded from wireguard-go 0.0.20220316; the cases where we
// deliberately differ (pipelining, bounded input) say so.

import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, watch, writeFileSync } from 'node:fs';
import { connect, createServer, Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isValidInterfaceName, UapiServer } from '../../../src/device/uapi/server.js';
import { waitFor } from '../../helpers/netns.js';
import { connectable, talk } from './client.js';
import { FakeDevice } from './fake-target.js';

const PUB = '4cceab43cdcffa2c49b2bd3589a13bfcb84632ef35be1b06a618fe4794970372';
const root = mkdtempSync(join(tmpdir(), 'wgts-uapi-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A started server with a fake device in its own fresh directory. */
async function start(opts: { maxLineBytes?: number; maxSetBytes?: number; maxConnections?: number; maxBufferedBytes?: number; idleTimeoutMs?: number } = {}): Promise<{
  server: UapiServer;
  dev: FakeDevice;
  dir: string;
}> {
  const dir = join(root, `d${n++}`, 'wireguard');
  const dev = new FakeDevice();
  const server = new UapiServer('wgtsu0', dev, { socketDir: dir, ...opts });
  await server.listen();
  return { server, dev, dir };
}

test('interface names follow the Linux rules', () => {
  for (const ok of ['wg0', 'a', 'wgtsu1234567890', 'x.y-z_1']) assert.ok(isValidInterfaceName(ok), ok);
  for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b', 'wgtsu12345678901']) assert.not.ok(isValidInterfaceName(bad), bad);
  assert.throws(() => new UapiServer('a/b', new FakeDevice()), /invalid interface name/);
});

test('socket file: directory 0755, socket 0600, no temporary left, close() removes it', async () => {
  const { server, dir } = await start();
  assert.is(server.path, join(dir, 'wgtsu0.sock'));
  assert.is(statSync(dir).mode & 0o777, 0o755);
  const st = lstatSync(server.path);
  assert.ok(st.isSocket());
  assert.is(st.mode & 0o777, 0o600);
  assert.equal(readdirSync(dir), ['wgtsu0.sock']);
  assert.is((await talk(server.path, ['get=1\n\n'])).text, 'errno=0\n\n');
  await server.close();
  assert.not.ok(existsSync(server.path));
  await server.close(); // idempotent
});

test('bound at its real path with umask 0177 in force whatever the inherited umask: no window with wider access', async () => {
  const dir = join(root, `d${n++}`, 'wireguard');
  mkdirSync(dir, { recursive: true });
  // Every name that appears in the directory while listening, and the umask each bind ran under.
  const seen = new Set<string>();
  const w = watch(dir, (_e, name) => { if (name) seen.add(String(name)); });
  const umasks: number[] = [];
  const listen = Server.prototype.listen;
  const previous = process.umask(0o000);
  Server.prototype.listen = function (this: Server, ...args: Parameters<Server['listen']>) {
    const u = process.umask(0o000);
    process.umask(u);
    umasks.push(u);
    return listen.apply(this, args);
  } as Server['listen'];
  const server = new UapiServer('wgtsu0', new FakeDevice(), { socketDir: dir });
  try {
    await server.listen();
    assert.is(process.umask(0o000), 0o000, 'the inherited umask is restored after the bind');
    assert.equal(umasks, [0o177], 'bind(2) ran under umask 0177');
    assert.is(lstatSync(server.path).mode & 0o777, 0o600);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal([...seen], ['wgtsu0.sock'], 'only the real path ever appears (no temporary name)');
  } finally {
    Server.prototype.listen = listen;
    process.umask(previous);
    w.close();
    await server.close();
  }
  assert.not.ok(existsSync(server.path));
});

test('a live socket is refused, a stale socket or leftover file is replaced', async () => {
  const { server, dir } = await start();
  const second = new UapiServer('wgtsu0', new FakeDevice(), { socketDir: dir });
  try {
    await second.listen();
    assert.unreachable('listen on a live socket must fail');
  } catch (e) {
    assert.match(String(e), /in use by a running process/);
  }
  assert.ok(await connectable(server.path), 'the first server is untouched');
  await server.close();

  // A stale socket: its listener was killed, the file stays and connecting is refused.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(server.path)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(lstatSync(server.path).isSocket(), 'stale socket file left behind');
  assert.not.ok(await connectable(server.path));
  const dev = new FakeDevice();
  dev.listenPort = 4242;
  const third = new UapiServer('wgtsu0', dev, { socketDir: dir });
  await third.listen();
  assert.is((await talk(third.path, ['get=1\n\n'])).text, 'listen_port=4242\nerrno=0\n\n');
  await third.close();

  // A regular file at the path is a leftover too.
  writeFileSync(third.path, 'junk');
  const fourth = new UapiServer('wgtsu0', new FakeDevice(), { socketDir: dir });
  await fourth.listen();
  assert.ok(lstatSync(fourth.path).isSocket());
  await fourth.close();
});

test("socket deletion and replacement emit 'socket-removed'; close() leaves a foreign file alone", async () => {
  const { server } = await start();
  let events = 0;
  server.on('socket-removed', () => events++);
  unlinkSync(server.path);
  await waitFor(() => events === 1, 5000, 20, 'socket-removed after unlink');

  const b = await start();
  let replaced = 0;
  b.server.on('socket-removed', () => replaced++);
  const foreign = join(b.dir, 'other');
  const other = createServer().listen(foreign);
  await new Promise((resolve) => other.once('listening', resolve));
  renameSync(foreign, b.server.path);
  await waitFor(() => replaced === 1, 5000, 20, 'socket-removed after replacement');
  await b.server.close();
  assert.ok(await connectable(b.server.path), "the other process's socket survives our close()");
  await new Promise((resolve) => other.close(resolve));
  await server.close();
  assert.is(events, 1, 'emitted once');
});

test('several operations per connection, also pipelined in one write', async () => {
  const { server, dev } = await start();
  const set = `set=1\nlisten_port=51820\npublic_key=${PUB}\nendpoint=127.0.0.1:5\n\n`;
  // Recorded from wireguard-go as two writes; one write (pipelined) works here too.
  const expected = `errno=0\n\nlisten_port=51820\npublic_key=${PUB}\npreshared_key=${'0'.repeat(64)}\nprotocol_version=1\nendpoint=127.0.0.1:5\n` +
    'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nerrno=0\n\n';
  let r = await talk(server.path, [set, 'get=1\n\n'], { replies: 2 });
  assert.equal(r, { text: expected, closed: false });
  dev.removeAllPeers();
  r = await talk(server.path, [set + 'get=1\n\nget=1\n\n'], { replies: 3 });
  assert.is(r.text, expected + expected.slice('errno=0\n\n'.length));
  assert.not.ok(r.closed);
  // Byte by byte.
  r = await talk(server.path, [...'get=1\n\n'], { gapMs: 5 });
  assert.match(r.text, /^listen_port=51820\n/);
  await server.close();
});

test('operation framing mirrors wireguard-go (recorded replies)', async () => {
  const { server, dev } = await start();
  dev.listenPort = 41724;
  const cases: [string[], string, boolean][] = [
    [['get=1\nx'], 'errno=-22\n\n', false],
    [['get=1\nx', 'get=1\n\n'], 'errno=-22\n\nlisten_port=41724\nerrno=0\n\n', false],
    [['get=1\nx\n'], 'errno=-22\n\n', true],
    [['get=1\r\n\r\n'], '', true],
    [['set=1\r\nlisten_port=51820\r\n\r\n'], '', true],
    [['foo\n'], '', true],
    [['get=2\n\n'], '', true],
    [['\n'], '', true],
    [['set=1\nbogus\nlisten_port=51823\n\n', 'get=1\n\n'], 'errno=-71\n\nlisten_port=41724\nerrno=0\n\n', false],
    [['set=1\nlisten_port=51821\r\n\r\n', 'get=1\n\n'], 'errno=0\n\nlisten_port=51821\nerrno=0\n\n', false],
  ];
  for (const [chunks, text, closed] of cases) {
    const replies = (text.match(/errno=/g) ?? []).length;
    const r = await talk(server.path, chunks, { replies });
    assert.equal(r, { text, closed }, JSON.stringify(chunks));
  }
  await server.close();
});

test('a set body ended by the client is applied and answered; get=1 without its blank line is dropped', async () => {
  const { server, dev } = await start();
  let r = await talk(server.path, ['set=1\nlisten_port=51822\nfwmark=7'], { end: true });
  assert.equal(r, { text: 'errno=0\n\n', closed: true });
  assert.is(dev.listenPort, 51822);
  assert.is(dev.fwmark, 7);
  r = await talk(server.path, ['get=1\n'], { end: true, replies: 0 });
  assert.equal(r, { text: '', closed: true });
  await server.close();
});

test('bounded input: long lines and large bodies answer -5 and close, earlier lines applied', async () => {
  const { server, dev } = await start({ maxLineBytes: 1000, maxSetBytes: 5000 });
  // wireguard-go (limit 65535): `listen_port=51825` applied, then errno=-5 and the connection closed.
  let r = await talk(server.path, [`set=1\nlisten_port=51825\nfoo=${'x'.repeat(1200)}\n\n`]);
  assert.equal(r, { text: 'errno=-5\n\n', closed: true });
  assert.is(dev.listenPort, 51825);
  // The same over several writes, the line never terminated.
  r = await talk(server.path, ['set=1\nlisten_port=51826\nfoo=', 'x'.repeat(600), 'x'.repeat(600)]);
  assert.equal(r, { text: 'errno=-5\n\n', closed: true });
  assert.is(dev.listenPort, 51826);
  const many = Array.from({ length: 400 }, (_, i) => `listen_port=${1000 + i}`).join('\n');
  r = await talk(server.path, [`set=1\n${many}\n\n`]);
  assert.equal(r, { text: 'errno=-5\n\n', closed: true });
  assert.ok(dev.listenPort > 1000 && dev.listenPort < 1399, `lines within the bound applied (${dev.listenPort})`);
  // An over-long operation line closes without a reply (wireguard-go: invalid operation).
  r = await talk(server.path, [`get${'x'.repeat(1200)}\n\n`], { replies: 0 });
  assert.equal(r, { text: '', closed: true });
  // The server still serves.
  assert.is((await talk(server.path, ['get=1\n\n'])).text, `listen_port=${dev.listenPort}\nerrno=0\n\n`);
  await server.close();
});

test('operations of all connections run one at a time, also around an asynchronous bind', async () => {
  const { server, dev } = await start();
  const gate: { release: (() => void) | null } = { release: null };
  dev.setListenPort = (port) =>
    new Promise<void>((resolve) => {
      gate.release = () => {
        dev.listenPort = port;
        resolve();
      };
    });
  const set = talk(server.path, ['set=1\nlisten_port=5555\nfwmark=9\n\n']);
  await waitFor(() => gate.release !== null, 5000, 5, 'the bind to start');
  const get = talk(server.path, ['get=1\n\n']);
  await new Promise((r) => setTimeout(r, 100));
  gate.release?.();
  assert.equal(await set, { text: 'errno=0\n\n', closed: false });
  assert.equal(await get, { text: 'listen_port=5555\nfwmark=9\nerrno=0\n\n', closed: false }, 'the get waited for the whole set');
  await server.close();
});

test('at maxConnections a newcomer evicts the longest-silent connection, or is refused when all are busy', async () => {
  const { server } = await start({ maxConnections: 2 });
  const open = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<ReturnType<typeof connect>>((resolve) => {
          const s = connect(server.path, () => resolve(s));
        }),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  const r = await talk(server.path, ['get=1\n\n'], { replies: 0 });
  assert.equal(r, { text: '', closed: true }, 'both others spoke (connected) within the last second: refused');
  // Once they have been silent for over a second, a newcomer closes the one silent longest.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const closes = open.map((c) => new Promise<boolean>((resolve) => {
    c.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 1000);
  }));
  assert.is((await talk(server.path, ['get=1\n\n'])).text, 'errno=0\n\n', 'served by evicting a silent connection');
  assert.is((await Promise.all(closes)).filter(Boolean).length, 1, 'one silent connection was closed, the other stays');
  for (const s of open) s.destroy();
  await waitFor(async () => (await talk(server.path, ['get=1\n\n'])).text === 'errno=0\n\n', 5000, 20, 'a free slot');
  await server.close();
});

test('idle connections are closed; an unfinished set is discarded (-110) and holds up nobody', async () => {
  const { server, dev } = await start({ idleTimeoutMs: 1000 });
  dev.listenPort = 1111;
  const t0 = Date.now();
  // A half-written set: its lines are not applied, the other connections are served meanwhile.
  const half = talk(server.path, ['set=1\nlisten_port=2222\nfwmark=3\n'], { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 50));
  const other = await talk(server.path, ['get=1\n\n']);
  assert.is(other.text, 'listen_port=1111\nerrno=0\n\n', 'a get on another connection is answered at once');
  assert.ok(Date.now() - t0 < 1000, 'before the idle limit');
  assert.equal(await half, { text: 'errno=-110\n\n', closed: true });
  assert.ok(Date.now() - t0 >= 990, `closed after the idle limit (${Date.now() - t0} ms)`);
  assert.is(dev.listenPort, 1111, 'nothing of the unfinished set applied');
  assert.is(dev.fwmark, 0);
  // An idle connection, and one stuck in an operation line: closed without a reply.
  assert.equal(await talk(server.path, [], { replies: 0, settleMs: 5000 }), { text: '', closed: true });
  assert.equal(await talk(server.path, ['get='], { replies: 0, settleMs: 5000 }), { text: '', closed: true });
  // Activity keeps a connection open past the limit.
  const slow = await talk(server.path, ['set=1\n', 'listen_port=3333\n', 'fwmark=4\n', '\n'], { gapMs: 400 }); // 1.2 s in all, each gap well inside the limit
  assert.equal(slow, { text: 'errno=0\n\n', closed: false });
  assert.is(dev.listenPort, 3333);
  await server.close();
});

test('set bodies of all connections share one bound: beyond it -12, nothing applied, others unharmed', async () => {
  const { server, dev } = await start({ maxBufferedBytes: 3000 });
  const open: Socket[] = [];
  try {
    // Two clients hold 2 x 1200 bytes of unfinished bodies.
    for (let i = 0; i < 2; i++) {
      const s = connect(server.path);
      open.push(s);
      await new Promise((r) => s.once('connect', r));
      s.write(`set=1\n${Array.from({ length: 100 }, () => 'fwmark=10').join('\n')}\n`);
    }
    await new Promise((r) => setTimeout(r, 100));
    const third = await talk(server.path, [`set=1\nlisten_port=4444\n${Array.from({ length: 100 }, () => 'fwmark=11').join('\n')}\n\n`]);
    assert.equal(third, { text: 'errno=-12\n\n', closed: true });
    assert.is(dev.listenPort, 0, 'nothing of the refused body applied');
    for (const s of open) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    // Once they are gone (their bytes given back), the same body fits.
    assert.is((await talk(server.path, [`set=1\nlisten_port=4444\n${Array.from({ length: 100 }, () => 'fwmark=11').join('\n')}\n\n`])).text, 'errno=0\n\n');
    assert.is(dev.listenPort, 4444);
  } finally {
    for (const s of open) s.destroy();
    await server.close();
  }
});

test.run();
