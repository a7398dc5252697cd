// Issue 8, section 3: live reload applies fail-closed. Each failure path of a reload (a busy
// ListenPort, a DNS listener that cannot bind, an Endpoint that does not resolve, a metrics address
// that cannot bind, a file that does not parse) is combined in ONE edit with a peer removal or a
// rule tightening: the removed peer is cut off and the tightened one restricted at once, whatever
// fails; the failure shows in the status file, `wgts show` and the log; the reload is tried again
// until the cause is gone. Laptops: a stock one (wg-quick + wireguard-go) and a wgts one.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/parse.js';
import { addPeer, editConfigFile, removePeer, setKey } from '../../src/config/write.js';
import type { ConfigDocument } from '../../src/config/model.js';
import { statusPath } from '../../src/gateway/status.js';
import { Netns, sh, waitFor } from '../helpers/netns.js';
import { socketPath, uniqueIfname } from '../helpers/wg.js';
import { reloadedSince, startUp, statusOf, type UpProc, wgts, wgtsOk } from '../helpers/up.js';
import { guardResolvConf, stockLaptopUp, type StockLaptop } from '../helpers/stock-laptop.js';
import { startServers, tcpBanner } from '../helpers/probes.js';
import { internetBridge } from '../helpers/topology.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-reload-'));
const gwIf = uniqueIfname('gr');
const gwFile = join(work, `${gwIf}.conf`);
const laptopFile = (name: string): string => join(work, `${uniqueIfname(name.slice(0, 2))}.conf`);

let gw: Netns;
let proj: Netns;
let lapS: Netns;
let lapW: Netns;
let stock: StockLaptop | null = null;
let gateway: UpProc;
const procs: UpProc[] = [];

const APP = 'app:3000 ::ffff:10.124.0.1';
const DB = 'db:5432 ::ffff:10.124.0.1';

/** One atomic edit of the gateway file; returns the time before writing. */
async function edit(fn: (doc: ConfigDocument) => ConfigDocument): Promise<number> {
  const t0 = Date.now();
  const r = await editConfigFile(gwFile, fn);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return t0;
}

/** Adds laptop `name` with `args` and brings it up on the stock laptop namespace (replacing the one there). */
function stockPeer(name: string, args: string[] = []): StockLaptop {
  const file = laptopFile(name);
  wgtsOk(['peer', 'add', gwFile, name, '--out', file, ...args]);
  stock?.down();
  stock = stockLaptopUp(lapS, file);
  return stock;
}

/** Waits until the laptop in `ns` reaches app (the gateway applied the addition, a handshake happened). */
const reachesApp = (ns: Netns): Promise<unknown> => waitFor(() => tcpBanner(ns, '10.124.0.10', 3000) === APP, 10_000, 200, 'app reachable');

/** The gateway's peers over UAPI (real wg), sorted. */
const devicePeers = (): string[] => gw.exec('wg', ['show', gwIf, 'peers']).trim().split('\n').filter(Boolean).sort();
const fileKey = (name: string): string => {
  const r = parseConfig(readFileSync(gwFile, 'utf8'), gwFile);
  const p = r.ok ? r.config.peers.find((x) => x.name === name) : undefined;
  if (!p) throw new Error(`no peer ${name} in the file`);
  return p.publicKey;
};

test('setup: project (app, db), gateway, a stock laptop and a wgts laptop', async () => {
  gw = new Netns('rgw');
  proj = new Netns('rproj');
  lapS = new Netns('rlapS');
  lapW = new Netns('rlapW');
  guardResolvConf(gw); // an Endpoint host name below must never reach the host's resolvers
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24', '10.124.0.11/24'] });
  internetBridge(gw, [lapS, lapW], 'vr');
  await startServers(proj, 'app', [3000]);
  await startServers(proj, 'db', [5432]);
  wgtsOk(['gateway', 'init', gwFile, '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820']);
  const bobFile = join(work, `${uniqueIfname('bo')}.conf`);
  wgtsOk(['peer', 'add', gwFile, 'bob', '--out', bobFile]);
  gateway = await startUp(gw, gwFile, gwIf, procs);
  procs.push(await startUp(lapW, bobFile, bobFile.slice(work.length + 1, -5), []));
  stockPeer('alice');
  await reachesApp(lapS);
  assert.is(tcpBanner(lapW, '10.124.0.11', 5432), DB, 'bob (no Allow lines) reaches db');
});

test('a busy ListenPort in the same edit: the removed peer is cut off at once, the failure is reported and retried until the port is free', async () => {
  const squatter = gw.spawn(process.execPath, ['-e', "require('dgram').createSocket('udp4').bind(51999, () => console.log('bound'))"]);
  let said = '';
  squatter.stdout?.on('data', (d: Buffer) => { said += d.toString(); });
  try {
    await waitFor(() => said.includes('bound'), 5000, 25, 'port 51999 taken');
    const alice = fileKey('alice');
    const t0 = await edit((doc) => removePeer(setKey(doc, 'Interface', 'ListenPort', '51999'), alice));
    const failed = await reloadedSince(gwIf, t0, false);
    assert.match(failed.errors.join('\n'), /51999/);
    assert.ok(failed.nextRetry !== undefined && failed.nextRetry > failed.at, 'a retry is scheduled');
    assert.is(tcpBanner(lapS, '10.124.0.10', 3000), null, 'alice is cut off although the edit failed half-way');
    assert.not.ok(devicePeers().includes(alice), 'and gone from the interface');
    assert.is(tcpBanner(lapW, '10.124.0.10', 3000), APP, 'bob is unaffected');
    assert.match(wgtsOk(['show', gwIf], gw), /reload: FAILED \(\d+ attempts?; next try in \d+ s\):\n {4}.*51999/);
    assert.match(gateway.out(), /reload of \S+ failed \(attempt 1\): peers removed from the file are cut off and rules tightened already; trying the rest again in 1 s/);
    await waitFor(() => (statusOf(gwIf).reload?.attempts ?? 0) >= 2, 5000, 50, 'a second attempt');
  } finally {
    squatter.kill('SIGKILL');
  }
  const t1 = Date.now();
  await reloadedSince(gwIf, t1 - 10_000, true, 15_000);
  assert.match(gw.exec('wg', ['show', gwIf, 'listen-port']), /^51999$/m, 'the port change applied once free');
  assert.match(gateway.out(), /reloaded \S+.*\(the earlier failure is resolved\)/);
  assert.not.match(wgtsOk(['show', gwIf], gw), 'reload: FAILED');
  // Back to the laptops' port for the next steps.
  const t2 = await edit((doc) => setKey(doc, 'Interface', 'ListenPort', '51820'));
  await reloadedSince(gwIf, t2, true);
});

test('a DNS listener that cannot bind, with a removal: the removal holds, DNS failure reported and retried', async () => {
  stockPeer('carol');
  await reachesApp(lapS);
  const carol = fileKey('carol');
  // Something else holds UDP port 53 on the gateway's project address: a wildcard DNS listener
  // (ListenDns = 0.0.0.0:53, a valid config) cannot bind next to it.
  const squatter = gw.spawn(process.execPath, ['-e', "require('dgram').createSocket('udp4').bind(53, '10.124.0.1', () => console.log('bound'))"]);
  let said = '';
  squatter.stdout?.on('data', (d: Buffer) => { said += d.toString(); });
  try {
    await waitFor(() => said.includes('bound'), 5000, 20, 'squatter on 10.124.0.1:53');
    const t0 = await edit((doc) => removePeer(setKey(doc, 'Gateway', 'ListenDns', '0.0.0.0:53'), carol));
    const failed = await reloadedSince(gwIf, t0, false);
    assert.match(failed.errors.join('\n'), /gateway: .*(0\.0\.0\.0|EADDRINUSE)/);
    assert.is(tcpBanner(lapS, '10.124.0.10', 3000), null, 'carol is cut off');
    assert.not.ok(devicePeers().includes(carol));
  } finally {
    squatter.kill('SIGKILL');
  }
  const t1 = await edit((doc) => setKey(doc, 'Gateway', 'ListenDns', null));
  await reloadedSince(gwIf, t1, true);
});

test('an Endpoint that does not resolve, with a removal: the removal holds; fixing the file ends the retries', async () => {
  stockPeer('dave');
  await reachesApp(lapS);
  const dave = fileKey('dave');
  const ghost = sh('wg', ['pubkey'], { input: `${sh('wg', ['genkey']).trim()}\n` }).trim();
  const t0 = await edit((doc) => addPeer(removePeer(doc, dave), {
    name: 'ghost', publicKey: ghost, allowedIPs: [{ family: 4, address: '10.123.0.99', prefix: 32 }], endpoint: { host: 'nosuchhost.invalid', port: 51820 }, allow: [],
  }));
  const failed = await reloadedSince(gwIf, t0, false);
  assert.match(failed.errors.join('\n'), /cannot resolve endpoint host nosuchhost\.invalid/);
  assert.is(tcpBanner(lapS, '10.124.0.10', 3000), null, 'dave is cut off');
  assert.not.ok(devicePeers().includes(dave));
  const t1 = await edit((doc) => setKey(doc, { peer: 'ghost' }, 'Endpoint', null));
  await reloadedSince(gwIf, t1, true);
  assert.ok(devicePeers().includes(ghost), 'added once the file is fixed');
});

test('a metrics address that cannot bind, with a rule tightening: the tightening holds at once', async () => {
  assert.is(tcpBanner(lapW, '10.124.0.11', 5432), DB, 'bob reaches db before');
  const t0 = await edit((doc) => setKey(setKey(doc, { peer: 'bob' }, 'Allow', '10.124.0.10:3000/tcp'), 'Gateway', 'Metrics', '10.99.99.99:9586'));
  const failed = await reloadedSince(gwIf, t0, false);
  assert.match(failed.errors.join('\n'), /metrics: cannot serve metrics on 10\.99\.99\.99:9586/);
  assert.is(tcpBanner(lapW, '10.124.0.11', 5432), null, 'bob no longer reaches db: his flow went with the old rules');
  assert.is(tcpBanner(lapW, '10.124.0.10', 3000), APP, 'what the new rule allows still works');
  const t1 = await edit((doc) => setKey(doc, 'Gateway', 'Metrics', null));
  await reloadedSince(gwIf, t1, true);
});

test('a file that does not parse: nothing applied, reported as FILE:LINE, no retry until the file changes', async () => {
  const good = readFileSync(gwFile, 'utf8');
  const t0 = Date.now();
  writeFileSync(gwFile, `${good}this is not a config line\n`);
  const failed = await reloadedSince(gwIf, t0, false);
  assert.match(failed.errors[0] ?? '', new RegExp(`^${gwFile.replace(/[.]/g, '\\.')}:\\d+: `));
  assert.is(failed.nextRetry, undefined);
  assert.match(wgtsOk(['show', gwIf], gw), 'next try when the file changes');
  const t1 = Date.now();
  writeFileSync(gwFile, good);
  await reloadedSince(gwIf, t1, true);
  assert.is(tcpBanner(lapW, '10.124.0.10', 3000), APP);
});

test('peer remove says so when the running gateway does not apply it in time (the gateway stopped with SIGSTOP)', async () => {
  const ghost = fileKey('ghost');
  const pid = gateway.pid();
  process.kill(pid, 'SIGSTOP');
  let r: { status: number; stdout: string; stderr: string };
  try {
    r = wgts(['peer', 'remove', gwFile, 'ghost']);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  assert.is(r.status, 1);
  assert.match(r.stdout, `removed peer ghost from ${gwFile}`);
  assert.match(r.stderr, `wgts: the running gateway ${gwIf} (pid ${pid}) has not removed ghost within 10 s: `);
  await waitFor(() => !devicePeers().includes(ghost), 5000, 50, 'applied once the gateway runs again');
});

test.after(() => {
  for (const p of procs) if (p.exit() === null) p.kill('SIGKILL');
  try { stock?.down(); } catch { /* the namespace goes anyway */ }
  for (const ns of [gw, proj, lapS, lapW]) ns?.delete();
  rmSync(statusPath(gwIf), { force: true });
  rmSync(socketPath(gwIf), { force: true });
  for (const ns of [gw, lapS, lapW]) if (ns) rmSync(`/etc/netns/${ns.name}`, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test.run();
