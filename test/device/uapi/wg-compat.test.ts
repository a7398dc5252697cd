// The real `wg` tool against a UapiServer (in-memory fake device) and, side by side, against the
// real wireguard-go running inside a network namespace of this test: the same commands must give
// the same output from both. Also raw protocol requests, byte for byte, against both sockets.
// Needs root, wg and wireguard-go (all present in CI). Nothing is sent on any network: wireguard-go
// lives in its own namespace with its link down, and our fake device has no sockets.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_SOCKET_DIR, UapiServer } from '../../../src/device/uapi/server.js';
import { Netns, requireRoot, sh, waitFor } from '../../helpers/netns.js';
import { connectable, talk } from './client.js';
import { FakeDevice } from './fake-target.js';

requireRoot();
const OURS = `wgtsu${process.pid}`;
const GO = `wgtsg${process.pid}`;
const oursPath = join(DEFAULT_SOCKET_DIR, `${OURS}.sock`);
const goPath = join(DEFAULT_SOCKET_DIR, `${GO}.sock`);
const tmp = mkdtempSync(join(tmpdir(), 'wgts-wgcompat-'));

const ns = new Netns('uapi');
const dev = new FakeDevice();
const server = new UapiServer(OURS, dev);
const wireguardGo = ns.spawn('wireguard-go', ['-f', GO]);
process.on('exit', () => {
  // After a failure: neither socket file may outlive the test (both names are ours: pid-based).
  for (const p of [oursPath, goPath]) {
    try {
      unlinkSync(p);
    } catch {
      // already removed
    }
  }
});

async function cleanup(): Promise<void> {
  await server.close();
  if (wireguardGo.exitCode === null) {
    wireguardGo.kill('SIGTERM');
    await Promise.race([new Promise((r) => wireguardGo.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
  }
  ns.delete();
  try {
    unlinkSync(goPath); // left only if wireguard-go had to be killed
  } catch {
    // removed by wireguard-go itself
  }
  rmSync(tmp, { recursive: true, force: true });
}

function file(name: string, content: string): string {
  const p = join(tmp, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

const key = (): string => sh('wg', ['genkey']).trim();
const pub = (k: string): string => sh('wg', ['pubkey'], { input: k }).trim();
const b64hex = (k: string): string => Buffer.from(k, 'base64').toString('hex');

const k1 = key();
const k2 = key();
const p1 = pub(key());
const p2 = pub(key());
const p3 = pub(key());
const psk = sh('wg', ['genpsk']).trim();
const k1File = file('k1', k1);
const pskFile = file('psk', psk);

/**
 * Runs wg with `IFNAME` in args replaced by the interface; resolves status and output with the
 * interface name put back to `IFNAME`. Asynchronous: our server answers from this same process.
 */
function wg(ifname: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('wg', args.map((a) => (a === 'IFNAME' ? ifname : a)), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const unname = (t: string): string => t.split(ifname).join('IFNAME');
      resolve({ status: code ?? -1, stdout: unname(stdout), stderr: unname(stderr) });
    });
  });
}

/** Output with peer-dependent order removed: wireguard-go lists peers in Go map order. */
function normalize(args: string[], text: string): string {
  if (args[0] === 'showconf') {
    const [head, ...peers] = text.split('\n[Peer]\n');
    return [head, ...peers.sort()].join('\n[Peer]\n');
  }
  if (args.includes('dump')) {
    const [head, ...peers] = text.trimEnd().split('\n');
    return [head, ...peers.sort()].join('\n');
  }
  return text.trimEnd().split('\n').sort().join('\n');
}

/**
 * wireguard-go's device counts as up in its namespace, so with an endpoint and persistent keepalive
 * it sends handshake initiations (to loopback inside its namespace, unanswered): its transfer
 * counters move while our fake's stay 0. Counters are zeroed in its output before comparing.
 */
function uncount(args: string[], text: string): string {
  const zero = (line: string, cols: number[]): string => {
    const f = line.split('\t');
    for (const c of cols) if (f.length > c) f[c] = '0';
    return f.join('\t');
  };
  if (args.includes('dump')) return text.split('\n').map((l, i) => (i === 0 ? l : zero(l, [5, 6]))).join('\n');
  if (args.includes('transfer')) return text.split('\n').map((l) => zero(l, [1, 2])).join('\n');
  return text.replace(/^(tx|rx)_bytes=\d+$/gm, '$1_bytes=0');
}

/** Runs the same wg command against both daemons and asserts identical results. */
async function same(args: string[]): Promise<string> {
  const a = await wg(OURS, args);
  const b = await wg(GO, args);
  assert.is(a.status, b.status, `exit status of wg ${args.join(' ')}: ${a.stderr} / ${b.stderr}`);
  assert.is(a.stderr, b.stderr, `stderr of wg ${args.join(' ')}`);
  assert.is(normalize(args, a.stdout), normalize(args, uncount(args, b.stdout)), `stdout of wg ${args.join(' ')}`);
  return a.stdout;
}

const SHOW = [
  ['show', 'IFNAME', 'dump'],
  ['showconf', 'IFNAME'],
  ...['public-key', 'private-key', 'listen-port', 'fwmark', 'peers', 'preshared-keys', 'endpoints', 'allowed-ips', 'latest-handshakes', 'transfer', 'persistent-keepalive'].map(
    (w) => ['show', 'IFNAME', w],
  ),
];

/** Every read-only view is the same on both. */
async function sameEverywhere(): Promise<void> {
  for (const args of SHOW) await same(args);
}

/** A get=1 reply with peer blocks sorted (wireguard-go's peer order is random). */
function sortedGet(text: string): string {
  const end = 'errno=0\n\n';
  if (!text.endsWith(end)) return text;
  const blocks = text.slice(0, -end.length).split(/(?=^public_key=)/m);
  const head = blocks[0]?.startsWith('public_key=') ? '' : (blocks.shift() as string);
  return head + blocks.sort().join('') + end;
}

test('setup: wireguard-go in a namespace and our server, both reachable by wg', async () => {
  await server.listen();
  await waitFor(() => connectable(goPath), 10_000, 50, 'wireguard-go socket');
  const list = sh('wg', ['show', 'interfaces']).split(/\s+/);
  assert.ok(list.includes(OURS) && list.includes(GO), list.join(' '));
});

test('wg set / show / showconf give identical results', async () => {
  await same(['set', 'IFNAME', 'private-key', k1File, 'listen-port', '51820', 'fwmark', '0x10', 'peer', p1, 'preshared-key', pskFile,
    'allowed-ips', '10.0.0.0/24,fd00::1/128', 'endpoint', '127.0.0.1:51821', 'persistent-keepalive', '25']);
  await sameEverywhere();
  await same(['set', 'IFNAME', 'peer', p2, 'allowed-ips', '10.0.1.7/24,0.0.0.0/0', 'endpoint', '[::1]:51822']);
  // A prefix moves from p1 to p3.
  await same(['set', 'IFNAME', 'peer', p3, 'allowed-ips', '10.0.0.0/24', 'endpoint', '[::ffff:127.0.0.1]:7']);
  await sameEverywhere();
  const conf = await same(['showconf', 'IFNAME']);
  assert.match(conf, `[Interface]\nListenPort = 51820\nFwMark = 0x10\nPrivateKey = ${k1}\n`);
  assert.match(conf, `[Peer]\nPublicKey = ${p2}\nAllowedIPs = 10.0.1.0/24, 0.0.0.0/0\nEndpoint = [::1]:51822\n`);
  await same(['set', 'IFNAME', 'fwmark', 'off', 'listen-port', '51830', 'peer', p1, 'remove', 'peer', p2, 'persistent-keepalive', 'off', 'allowed-ips', '']);
  await sameEverywhere();
  assert.is(dev.peers.size, 2);
});

test('wg setconf, addconf and syncconf give identical results', async () => {
  const conf1 = file('c1.conf', `[Interface]\nPrivateKey = ${k2}\nListenPort = 51840\n\n[Peer]\nPublicKey = ${p1}\nAllowedIPs = 10.1.0.0/16, fd01::/64\n` +
    `Endpoint = 127.0.0.1:1000\nPersistentKeepalive = 5\n\n[Peer]\nPublicKey = ${p2}\nPresharedKey = ${psk}\nAllowedIPs = 10.2.0.1/32\n`);
  await same(['setconf', 'IFNAME', conf1]);
  await sameEverywhere();
  assert.is(dev.listenPort, 51840);
  const conf2 = file('c2.conf', `[Peer]\nPublicKey = ${p3}\nAllowedIPs = 10.3.0.0/16\n`);
  await same(['addconf', 'IFNAME', conf2]);
  await sameEverywhere();
  const conf3 = file('c3.conf', `[Interface]\nPrivateKey = ${k2}\nListenPort = 51841\n\n[Peer]\nPublicKey = ${p1}\nAllowedIPs = 10.1.0.0/16\n` +
    `Endpoint = [::1]:1001\n\n[Peer]\nPublicKey = ${p3}\nAllowedIPs = 10.3.0.0/16, 10.4.0.0/16\n`);
  await same(['syncconf', 'IFNAME', conf3]);
  await sameEverywhere();
  assert.equal([...dev.peers.values()].map((p) => p.allowedIps), [['10.1.0.0/16'], ['10.3.0.0/16', '10.4.0.0/16']]);
});

test('errors reach wg identically: a listen port in use', async () => {
  // Hold UDP port 40000 inside wireguard-go's namespace; make the fake refuse it the same way.
  const holder = ns.spawn('ncat', ['-u', '-l', '40000']);
  dev.portsInUse.add(40000);
  try {
    await waitFor(() => ns.exec('ss', ['-Hunl', 'sport = :40000']).trim() !== '', 5000, 20, 'ncat bound to udp 40000');
    const go = await wg(GO, ['set', 'IFNAME', 'listen-port', '40000']);
    const ours = await wg(OURS, ['set', 'IFNAME', 'listen-port', '40000']);
    assert.is(go.status, 1);
    assert.equal(ours, go);
    assert.match(ours.stderr, 'Address already in use');
    await sameEverywhere(); // both now have no listen port
  } finally {
    holder.kill('SIGKILL');
  }
});

test('raw protocol: identical reply bytes and resulting state for valid and invalid requests', async () => {
  const hex2 = b64hex(p2);
  const requests = [
    'set=1\nbogus\n\n',
    'set=1\nfoo=bar\n\n',
    'set=1\nlisten_port=+80\n\n',
    'set=1\nfwmark=4294967296\n\n',
    'set=1\nreplace_peers=TRUE\n\n',
    `set=1\nprivate_key=${'f'.repeat(64)}\nlisten_port=51850\n\n`,
    `set=1\npublic_key=${hex2.toUpperCase()}\nendpoint=[FE80::AB]:05\nallowed_ip=10.9.8.7/20\nallowed_ip=::ffff:1.2.3.4/120\n\n`,
    `set=1\npublic_key=${hex2}\nendpoint=[1.2.3.4]:5\n\n`,
    `set=1\npublic_key=${hex2}\nallowed_ip=1.2.3.4\n\n`,
    `set=1\npublic_key=${hex2}\nupdate_only=true\npersistent_keepalive_interval=65535\n\n`,
    `set=1\npublic_key=${b64hex(p3)}\nupdate_only=true\nendpoint=1.1.1.1:1\n\n`,
    `set=1\npublic_key=${hex2}\nreplace_allowed_ips=true\nallowed_ip=0.0.0.0/0\nprotocol_version=2\n\n`,
    `set=1\npublic_key=${b64hex(p1)}\nremove=true\nendpoint=3.3.3.3:3\n\n`,
    'set=1\nlisten_port=51851\nfwmark=x\n\n',
    'get=1\nx',
  ];
  for (const req of requests) {
    const a = await talk(oursPath, [req, 'get=1\n\n'], { replies: 2 });
    const b = await talk(goPath, [req, 'get=1\n\n'], { replies: 2 });
    const [aSet, aGet] = [a.text.slice(0, a.text.indexOf('\n\n') + 2), a.text.slice(a.text.indexOf('\n\n') + 2)];
    const [bSet, bGet] = [b.text.slice(0, b.text.indexOf('\n\n') + 2), b.text.slice(b.text.indexOf('\n\n') + 2)];
    assert.is(aSet, bSet, `reply to ${JSON.stringify(req)}`);
    assert.is(sortedGet(aGet), sortedGet(uncount([], bGet)), `state after ${JSON.stringify(req)}`);
    assert.is(a.closed, b.closed);
  }
  for (const invalid of ['foo\n', 'get=1\r\n\r\n', 'get=1\nx\n']) {
    const a = await talk(oursPath, [invalid], { replies: 0 });
    const b = await talk(goPath, [invalid], { replies: 0 });
    assert.equal(a, b, JSON.stringify(invalid));
    assert.ok(a.closed);
  }
});

test('where we follow current wireguard-go, the Debian build differs as recorded', async () => {
  const hex2 = b64hex(p2);
  const removal = `set=1\npublic_key=${hex2}\nallowed_ip=-0.0.0.0/0\n\n`;
  assert.is((await talk(goPath, [removal])).text, 'errno=-22\n\n');
  assert.is((await talk(oursPath, [removal])).text, 'errno=0\n\n');
  assert.not.match((await talk(oursPath, ['get=1\n\n'])).text, 'allowed_ip=0.0.0.0/0');
  const zeroPadded = `set=1\npublic_key=${hex2}\nallowed_ip=10.0.0.0/08\n\n`;
  assert.is((await talk(goPath, [zeroPadded])).text, 'errno=0\n\n');
  assert.is((await talk(oursPath, [zeroPadded])).text, 'errno=-22\n\n');
});

test('handshake times and counters from the device reach wg', async () => {
  const hex2 = b64hex(p2);
  const peer = dev.peer(hex2);
  const now = Math.floor(Date.now() / 1000);
  peer.lastHandshakeTimeSec = now - 42;
  peer.lastHandshakeTimeNsec = 500_000_000;
  peer.rxBytes = 123456;
  peer.txBytes = 654321;
  assert.match((await wg(OURS, ['show', 'IFNAME', 'latest-handshakes'])).stdout, `${p2}\t${now - 42}\n`);
  assert.match((await wg(OURS, ['show', 'IFNAME', 'transfer'])).stdout, `${p2}\t123456\t654321\n`);
  const dump = (await wg(OURS, ['show', 'IFNAME', 'dump'])).stdout.split('\n').find((l) => l.startsWith(p2));
  assert.ok(dump);
  assert.equal(dump.split('\t').slice(4, 7), [String(now - 42), '123456', '654321']);
  const pretty = (await wg(OURS, ['show', 'IFNAME'])).stdout;
  assert.match(pretty, /latest handshake: 4\d seconds ago/);
  assert.match(pretty, 'transfer: 120.56 KiB received, 638.99 KiB sent');
});

test('deleting the socket file is noticed, as wireguard-go exits on it', async () => {
  let removed = false;
  server.once('socket-removed', () => {
    removed = true;
  });
  unlinkSync(oursPath);
  unlinkSync(goPath);
  await waitFor(() => removed, 5000, 20, "our 'socket-removed'");
  await waitFor(() => wireguardGo.exitCode !== null, 10_000, 50, 'wireguard-go exit');
});

test('teardown', async () => {
  await cleanup();
});

test.run();
