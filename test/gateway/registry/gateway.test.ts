// `wgts up etcd://...` end to end in namespaces (issue 12, the registry half): a one-member etcd in
// its own namespace (reg), a gateway namespace reaching it over a veth, a project network with an
// app, and stock wg-quick + wireguard-go laptops. Commands run in reg (another machine as far as
// the network goes). A peer added there appears live on the gateway (its laptop reaches the app),
// removed it is cut off; etcd stopped: the gateway keeps serving and says so (show, status,
// metrics, log); etcd back: a change made after the restart applies; the gateway cut off from etcd
// while changes are made and the history compacted: it reads the state again whole (resync).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readStatus } from '../../../src/gateway/status.js';
import { Netns, waitFor } from '../../helpers/netns.js';
import { startEtcd, type TestEtcd } from '../../helpers/etcd.js';
import { startServers, tcpBanner } from '../../helpers/probes.js';
import { guardResolvConf, stockLaptopUp, type StockLaptop } from '../../helpers/stock-laptop.js';
import { internetBridge } from '../../helpers/topology.js';
import { startUp, stopUps, wgts, wgtsOk, type UpProc } from '../../helpers/up.js';
import { uniqueIfname } from '../../helpers/wg.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-regup-'));
const gwIf = uniqueIfname('rg');
// Laptop configs named after unique interfaces: wireguard-go's UAPI sockets share /var/run/wireguard.
const aFile = join(work, `${uniqueIfname('ra')}.conf`);
const bFile = join(work, `${uniqueIfname('rb')}.conf`);
const METRICS = '127.0.0.1:9593';
let reg: Netns;
let gw: Netns;
let proj: Netns;
let lapA: Netns;
let lapB: Netns;
let etcd: TestEtcd;
let url: string;
let gateway: UpProc;
const procs: UpProc[] = [];
const laptops: StockLaptop[] = [];

const APP = 'app:3000 ::ffff:10.124.0.1';
const app = (ns: Netns): string | null => tcpBanner(ns, '10.124.0.10', 3000);
const devicePeers = (): string[] => gw.exec('wg', ['show', gwIf, 'peers']).trim().split('\n').filter(Boolean);
const keyOf = (name: string): string => {
  const p = (JSON.parse(wgtsOk(['peer', 'list', url, '--json'], reg)) as { name: string; publicKey: string }[]).find((x) => x.name === name);
  if (!p) throw new Error(`no peer ${name}`);
  return p.publicKey;
};
/** Waits until the gateway's output (read while the event loop runs) matches `re`. */
const logged = (re: RegExp, ms = 5000): Promise<unknown> => waitFor(() => re.test(gateway.out()), ms, 50, `the gateway log line ${re}`);
const health = (): NonNullable<ReturnType<typeof readStatus>>['registry'] => readStatus(gwIf)?.registry;
const metric = (name: string): string | null => {
  const text = gw.tryExec('curl', ['-s', '--max-time', '3', `http://${METRICS}/metrics`]).stdout;
  return new RegExp(`^${name}\\{interface="${gwIf}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? null;
};

test('setup: etcd in its own namespace, a registry gateway, a stock laptop reaching the app', async () => {
  reg = new Netns('rreg');
  gw = new Netns('rgw');
  proj = new Netns('rproj');
  lapA = new Netns('rlapA');
  lapB = new Netns('rlapB');
  guardResolvConf(gw);
  gw.link(reg, { ifname: 'reg0', addrs: ['10.210.0.1/24'] }, { ifname: 'eth0', addrs: ['10.210.0.2/24'] });
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24'] });
  internetBridge(gw, [lapA, lapB], 'vr');
  await startServers(proj, 'app', [3000]);
  etcd = await startEtcd(reg, '10.210.0.2', 2379);
  url = etcd.url(`wgts/${gwIf}`);
  const init = wgts(['gateway', 'init', url, '--name', 'shop', '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10', '--upstream', 'none'], reg);
  assert.is(init.status, 0, init.stderr);
  assert.match(init.stderr, /^wgts: warning: etcd:\/\/10\.210\.0\.2:2379\/\S+ is reached without TLS: the gateway's private key and the peers' preshared keys cross the network in the clear/);
  // An edit straight in etcd (no command sets Metrics): the gateway serves metrics on the gw namespace's loopback.
  const settings = etcd.ctl(['get', `/wgts/${gwIf}/settings`, '--print-value-only']).replace(/\n+$/, '');
  etcd.ctl(['put', `/wgts/${gwIf}/settings`, `${settings}\nMetrics = ${METRICS}\n`]);
  wgtsOk(['peer', 'add', url, 'alice', '--out', aFile], reg);
  gateway = await startUp(gw, url, gwIf, procs, {}, ['--ifname', gwIf]);
  await logged(/is reached without TLS: the gateway's private key/);
  laptops.push(stockLaptopUp(lapA, aFile));
  await waitFor(() => app(lapA) === APP, 15_000, 200, 'alice reaches app');
  const h = health();
  assert.is(h?.connected, true);
  assert.is(h?.location, url);
  assert.is(readStatus(gwIf)?.config, url);
  assert.is(metric('wgts_registry_connected'), '1');
});

test('a peer added from another machine appears live (its stock laptop reaches the app); removed, it is cut off', async () => {
  const t0 = Date.now();
  wgtsOk(['peer', 'add', url, 'bob', '--out', bFile], reg);
  const bob = keyOf('bob');
  await waitFor(() => devicePeers().includes(bob), 10_000, 20, 'bob on the gateway');
  console.log(`  peer add in another namespace -> on the gateway's device: ${Date.now() - t0} ms (command included)`);
  const b = stockLaptopUp(lapB, bFile);
  laptops.push(b);
  await waitFor(() => app(lapB) === APP, 15_000, 200, 'bob reaches app');
  const out = wgtsOk(['peer', 'remove', url, 'bob'], reg);
  assert.match(out, new RegExp(`^the running gateway ${gwIf} \\(pid \\d+\\) cut bob off \\(\\d+ ms\\)$`, 'm'));
  assert.not.ok(devicePeers().includes(bob));
  assert.is(app(lapB), null, 'bob is cut off');
  b.down();
});

test('etcd stopped: the gateway keeps serving the last state and says so (status, show, metrics, log)', async () => {
  await etcd.stop();
  await waitFor(() => health()?.connected === false, 10_000, 50, 'the gateway notices');
  assert.match(gw.exec(process.execPath, [join(process.cwd(), 'dist/src/cli/wgts.js'), 'show', gwIf]), /^ {2}registry: UNREACHABLE for \d+ s: .*\(serving the last state, revision \d+\)$/m);
  assert.is(metric('wgts_registry_connected'), '0');
  await logged(/registry etcd:\/\/\S+ unreachable \(.*\): serving the last state \(revision \d+\) until it is back/);
  assert.is(app(lapA), APP, 'alice still reaches the app');
  const r = wgts(['peer', 'add', url, 'carol'], reg);
  assert.is(r.status, 1);
  assert.match(r.stderr, /the registry is unreachable/);
});

test('etcd back: the gateway catches up, and a change made after the restart applies (and the command waits for it)', async () => {
  await etcd.start();
  const out = wgtsOk(['peer', 'disable', url, 'alice'], reg);
  assert.match(out, new RegExp(`^the running gateway ${gwIf} \\(pid \\d+\\) cut alice off \\(\\d+ ms\\)$`, 'm'));
  await waitFor(() => health()?.connected === true, 10_000, 50, 'connected again in the status file');
  assert.is(metric('wgts_registry_connected'), '1');
  await logged(/registry etcd:\/\/\S+ reachable again after \d+ s: catching up from revision \d+/);
  assert.is(app(lapA), null, 'alice is cut off');
  wgtsOk(['peer', 'enable', url, 'alice'], reg);
  await waitFor(() => app(lapA) === APP, 20_000, 250, 'alice reaches app again');
});

test('cut off from etcd (connection gone) while peers change and the history is compacted: a resync reads the state whole', async () => {
  const before = health()?.resyncs ?? 0;
  gw.exec('ip', ['link', 'set', 'reg0', 'down']);
  try {
    await waitFor(() => health()?.connected === false, 10_000, 50, 'the gateway notices');
    wgtsOk(['peer', 'add', url, 'dave'], reg);
    wgtsOk(['peer', 'add', url, 'erin'], reg);
    wgtsOk(['peer', 'remove', url, 'erin'], reg);
    const rev = (JSON.parse(etcd.ctl(['get', 'x', '-w', 'json'])) as { header: { revision: number } }).header.revision;
    etcd.ctl(['compact', String(rev)]);
    // The gateway's connection is torn down meanwhile (ss -K), so it must watch anew from its old
    // revision, which is compacted. (Without this, TCP delivers the old watch's pending events
    // once the link is back, and no resync is needed: the resume case.)
    gw.exec('ss', ['-K', 'dst', '10.210.0.2', 'dport', '=', '2379']);
  } finally {
    gw.exec('ip', ['link', 'set', 'reg0', 'up']);
  }
  const dave = keyOf('dave');
  await waitFor(() => devicePeers().includes(dave), 20_000, 100, 'dave on the gateway after the resync');
  // The status file is written after the reload that put dave on the device: wait for it too.
  await waitFor(() => (health()?.resyncs ?? 0) > before && health()?.connected === true, 10_000, 50, `a resync in the status file: ${JSON.stringify(health())}`);
  await logged(/registry watch canceled by etcd: its history after revision \d+ is compacted \(or access was withdrawn\); reading the whole state again/);
  assert.equal(devicePeers().length, 2, 'alice and dave, erin never applied or gone');
  assert.is(Number(metric('wgts_registry_resyncs')), health()?.resyncs);
  assert.is(app(lapA), APP);
});

test('teardown', async () => {
  if (process.env.WGTS_TEST_DEBUG) { await new Promise((r) => setTimeout(r, 500)); console.log(gateway.out()); }
  for (const l of laptops) { try { l.down(); } catch { /* gone */ } }
  const key = etcd.ctl(['get', `/wgts/${gwIf}/identity`, '--print-value-only']).trim();
  assert.match(key, /^[A-Za-z0-9+/]{43}=$/);
  const status = JSON.stringify(readStatus(gwIf));
  const metrics = gw.tryExec('curl', ['-s', '--max-time', '3', `http://${METRICS}/metrics`]).stdout;
  await stopUps(procs);
  assert.ok(status.length > 100 && metrics.includes('wgts_registry_connected'));
  for (const [what, text] of [['log', gateway.out()], ['status file', status], ['metrics', metrics]] as const) {
    assert.not.ok(text.includes(key), `the ${what} never holds the private key`);
  }
  await etcd.remove();
  for (const ns of [lapA, lapB, proj, gw, reg]) ns.delete();
  rmSync(work, { recursive: true, force: true });
});

test.run();
