// Issue 8, section 2, end to end: a laptop reaches the project networks and nothing else, and is
// not reachable from them. A gateway namespace (`wgts up`, dual stack) between a project network
// (app 10.124.0.10 / fd00:124::10, whose host has a route back to the tunnel subnets) and a LAN
// that is NOT a project network (192.168.77.0/24, also routed back), with a TCP service on the
// gateway host itself (:2222 on every address); laptops on an "internet" bridge: a stock laptop
// (wg-quick + wireguard-go, no Allow lines) and a wgts laptop ("web": --allow app:3000 only,
// --allow-inbound 8080/tcp). Every refusal is checked against a control showing the path works
// when allowed, and against the gateway's per-peer counters (the packet reached the gateway and
// was refused there). Finally the rules' binding to public keys, through the real `wg` tool.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/parse.js';
import { statusPath, type InterfaceStatus } from '../../src/gateway/status.js';
import { Netns, waitFor } from '../helpers/netns.js';
import { genkey, ping, socketPath, uniqueIfname } from '../helpers/wg.js';
import { reloadedSince, startUp, statusOf, type UpProc, wgtsOk } from '../helpers/up.js';
import { resolvPath, stockLaptopUp, type StockLaptop } from '../helpers/stock-laptop.js';
import { startServers, tcpBanner, udpEcho } from '../helpers/probes.js';
import { internetBridge } from '../helpers/topology.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-iso-'));
const gwIf = uniqueIfname('gi');
const sIf = uniqueIfname('si');
const wIf = uniqueIfname('wi');
const conf = (ifname: string): string => join(work, `${ifname}.conf`);
const gwFile = conf(gwIf);

let gw: Netns;
let proj: Netns;
let lan: Netns;
let lapS: Netns;
let lapW: Netns;
let stock: StockLaptop | null = null;
const procs: UpProc[] = [];

const servers = startServers;
const tcp = tcpBanner;
const udp = udpEcho;

const status = (): InterfaceStatus => statusOf(gwIf);

/** The public key of a peer of the gateway file by name. */
function keyOf(name: string): string {
  const r = parseConfig(readFileSync(gwFile, 'utf8'), gwFile);
  if (!r.ok) throw new Error('gateway config does not parse');
  const p = r.config.peers.find((x) => x.name === name);
  if (!p) throw new Error(`no peer ${name}`);
  return p.publicKey;
}

const denied = (name: string): number => status().peers[keyOf(name)]?.denied ?? 0;
const refused = (name: string): number => status().peers[keyOf(name)]?.refused ?? 0;

/** Waits until the status file shows `count` more (denied|refused) packets for `name` than `before`. */
async function counted(what: 'denied' | 'refused', name: string, before: number): Promise<number> {
  const read = what === 'denied' ? denied : refused;
  return waitFor(() => { const n = read(name); return n > before ? n : 0; }, 10_000, 100, `${what} packets of ${name} counted`);
}

/** Rewrites the gateway file with `edit` and waits until the running gateway applied it. */
async function editGateway(edit: (text: string) => string): Promise<void> {
  const t0 = Date.now();
  writeFileSync(gwFile, edit(readFileSync(gwFile, 'utf8')));
  await reloadedSince(gwIf, t0, true);
}

/** Adds `line` to the [Peer] named `name`. */
const addLine = (name: string, line: string) => (text: string): string => text.replace(`Name = ${name}\n`, `Name = ${name}\n${line}\n`);

test('setup: project network, a non-project LAN, gateway host service, a stock and a wgts laptop', async () => {
  gw = new Netns('gw');
  proj = new Netns('proj');
  lan = new Netns('lan');
  lapS = new Netns('lapS');
  lapW = new Netns('lapW');
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24', 'fd00:124::1/64'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24', 'fd00:124::10/64'] });
  gw.link(lan, { ifname: 'lan0', addrs: ['192.168.77.1/24'] }, { ifname: 'eth0', addrs: ['192.168.77.10/24'] });
  // The project and the LAN route the tunnel subnets back through the gateway (a routed setup).
  proj.exec('ip', ['route', 'add', '10.123.0.0/24', 'via', '10.124.0.1']);
  proj.exec('ip', ['-6', 'route', 'add', 'fd00:123::/64', 'via', 'fd00:124::1']);
  lan.exec('ip', ['route', 'add', '10.123.0.0/24', 'via', '192.168.77.1']);
  internetBridge(gw, [lapS, lapW], 'vi');
  await servers(proj, 'app', [3000], [3001]);
  await servers(lan, 'lan', [8000]);
  await servers(gw, 'gwhost', [2222]);
  await servers(lapS, 'stock', [22], [5000]);
  await servers(lapW, 'web', [22, 8080]);

  wgtsOk(['gateway', 'init', gwFile, '--address', '10.123.0.1/24', '--address', 'fd00:123::1/64', '--network', '10.124.0.0/24',
    '--network', 'fd00:124::/64', '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10']);
  wgtsOk(['peer', 'add', gwFile, 'stock', '--out', conf(sIf)]);
  wgtsOk(['peer', 'add', gwFile, 'web', '--allow', '10.124.0.10:3000/tcp', '--allow', 'fd00:124::10/128:3000/tcp', '--allow-inbound', '8080/tcp', '--out', conf(wIf)]);
  const list = wgtsOk(['peer', 'list', gwFile]);
  assert.match(list, /stock .* 10\.124\.0\.0\/24, fd00:124::\/64 \(default\)\s+-\n/);
  assert.match(list, /web .* 10\.124\.0\.10:3000\/tcp, fd00:124::10\/128:3000\/tcp\s+8080\/tcp\n/);
  assert.match(list, "Every peer also reaches the gateway's DNS (10.123.0.1:53), and nothing else: not the gateway host (any of its addresses)");

  procs.push(await startUp(gw, gwFile, gwIf, []));
  stock = stockLaptopUp(lapS, conf(sIf));
  procs.push(await startUp(lapW, conf(wIf), wIf, []));
  // Controls: the gateway host's service and the LAN service exist and answer from the gateway itself.
  assert.match(tcp(gw, '10.123.0.1', 2222) ?? '', /^gwhost:2222 /);
  assert.match(tcp(gw, '10.124.0.1', 2222) ?? '', /^gwhost:2222 /);
  assert.match(tcp(gw, '192.168.77.10', 8000) ?? '', /^lan:8000 /);
});

test('everything a laptop starts works: TCP, UDP, ping, DNS, IPv4 and IPv6 (stock laptop; wgts laptop within its rules)', () => {
  assert.match(readFileSync(resolvPath(lapS), 'utf8'), /^nameserver 10\.123\.0\.1$/m, 'the stock laptop\'s only DNS is the gateway');
  assert.match(lapS.tryExec('getent', ['hosts', 'app'], { timeoutMs: 10_000 }).stdout, /^10\.124\.0\.10\s/);
  assert.is(tcp(lapS, '10.124.0.10', 3000), 'app:3000 ::ffff:10.124.0.1', 'TCP (masqueraded)');
  assert.is(tcp(lapS, 'fd00:124::10', 3000), 'app:3000 fd00:124::1', 'TCP over IPv6');
  assert.is(udp(lapS, '10.124.0.10', 3001), 'echo-me', 'UDP');
  assert.is(udp(lapS, 'fd00:124::10', 3001), 'echo-me', 'UDP over IPv6');
  assert.ok(ping(lapS, '10.124.0.10'), 'ping');
  assert.ok(ping(lapS, 'fd00:124::10'), 'ping6');
  assert.is(tcp(lapW, '10.124.0.10', 3000), 'app:3000 ::ffff:10.124.0.1', 'wgts laptop: TCP');
  assert.is(tcp(lapW, 'fd00:124::10', 3000), 'app:3000 fd00:124::1', 'wgts laptop: TCP over IPv6');
  assert.is(udp(lapW, '10.124.0.10', 3001), null, 'wgts laptop: outside its rules');
  assert.is(denied('stock'), 0);
});

test('an unrestricted laptop cannot reach the gateway host: not its tunnel address, not its project address, not over IPv6', async () => {
  const before = denied('stock');
  assert.is(tcp(lapS, '10.123.0.1', 2222), null, 'a service on the gateway\'s tunnel address');
  assert.is(tcp(lapS, 'fd00:123::1', 2222), null, 'the same over IPv6');
  assert.is(tcp(lapS, '10.124.0.1', 2222), null, 'the gateway\'s own address inside the project network');
  assert.not.ok(ping(lapS, '10.123.0.1'), 'not even ping');
  await counted('denied', 'stock', before + 3);
  assert.is(tcp(lapW, '10.123.0.1', 2222), null, 'nor the restricted laptop');
});

test('nor a network behind the gateway that is not a project network, even after routing it into its own tunnel', async () => {
  const gwKey = (JSON.parse(wgtsOk(['show', gwIf, '--json'], gw)) as { publicKey: string }).publicKey;
  const allowed = lapS.exec('wg', ['show', sIf, 'allowed-ips']).trim().split('\t')[1]?.split(' ') ?? [];
  lapS.exec('wg', ['set', sIf, 'peer', gwKey, 'allowed-ips', [...allowed, '192.168.77.0/24'].join(',')]);
  lapS.exec('ip', ['route', 'add', '192.168.77.0/24', 'dev', sIf]);
  const before = denied('stock');
  assert.is(tcp(lapS, '192.168.77.10', 8000), null);
  await counted('denied', 'stock', before);
  // Control: the same packets pass once the file grants that network: the gateway's rules were all that stopped them.
  await editGateway(addLine('stock', 'Allow = 192.168.77.0/24:8000/tcp'));
  assert.match(tcp(lapS, '192.168.77.10', 8000) ?? '', /^lan:8000 /, 'granted explicitly, it is reachable');
  assert.is(tcp(lapS, '10.124.0.10', 3000), null, 'and with an Allow line the default (the networks) is gone');
  await editGateway((t) => t.replace('Allow = 192.168.77.0/24:8000/tcp\n', ''));
  assert.is(tcp(lapS, '192.168.77.10', 8000), null, 'revoked again: the flow table forgot the granted flow');
  assert.is(tcp(lapS, '10.124.0.10', 3000), 'app:3000 ::ffff:10.124.0.1');
});

test('Allow = gateway:2222/tcp opens the gateway\'s tunnel address (both families), nothing else of the host', async () => {
  await editGateway(addLine('web', 'Allow = gateway:2222/tcp'));
  assert.match(tcp(lapW, '10.123.0.1', 2222) ?? '', /^gwhost:2222 /);
  assert.match(tcp(lapW, 'fd00:123::1', 2222) ?? '', /^gwhost:2222 /);
  assert.is(tcp(lapW, '10.124.0.1', 2222), null, 'the alias names the tunnel address only');
  assert.is(tcp(lapS, '10.123.0.1', 2222), null, 'the rule is web\'s, not stock\'s');
  await editGateway((t) => t.replace('Allow = gateway:2222/tcp\n', ''));
  assert.is(tcp(lapW, '10.123.0.1', 2222), null);
});

test('the project cannot open a connection to a laptop (TCP, UDP, ping; IPv4, IPv6), nor can the gateway host', async () => {
  const before = refused('stock');
  assert.is(tcp(proj, '10.123.0.2', 22), null, 'project host -> stock laptop :22');
  assert.is(tcp(proj, 'fd00:123::2', 22), null, 'over IPv6');
  assert.is(udp(proj, '10.123.0.2', 5000), null, 'UDP to the laptop\'s echo server');
  assert.not.ok(ping(proj, '10.123.0.2'), 'ping');
  assert.is(tcp(gw, '10.123.0.2', 22), null, 'the gateway host itself');
  await counted('refused', 'stock', before + 4);
  // The laptop's own traffic still flows meanwhile.
  assert.is(udp(lapS, '10.124.0.10', 3001), 'echo-me');
  assert.is(tcp(lapS, '10.124.0.10', 3000), 'app:3000 ::ffff:10.124.0.1');
});

test('AllowInbound = 8080/tcp opens exactly that: :8080 from the project (both families), not :22, not ping', async () => {
  assert.match(tcp(proj, '10.123.0.3', 8080) ?? '', /^web:8080 ::ffff:10\.124\.0\.10$/, 'no masquerade toward laptops: the laptop sees the project host');
  assert.match(tcp(proj, 'fd00:123::3', 8080) ?? '', /^web:8080 fd00:124::10$/);
  const before = refused('web');
  assert.is(tcp(proj, '10.123.0.3', 22), null);
  assert.not.ok(ping(proj, '10.123.0.3'));
  await counted('refused', 'web', before + 1);
});

test('rules belong to the public key: peers removed and re-added through UAPI (real wg) never inherit rules or flows', async () => {
  const S = keyOf('stock');
  const W = keyOf('web');
  const r = parseConfig(readFileSync(gwFile, 'utf8'), gwFile);
  assert.ok(r.ok);
  if (!r.ok) return;
  const pskFile = join(work, 'web.psk');
  writeFileSync(pskFile, `${r.config.peers.find((p) => p.publicKey === W)?.presharedKey ?? ''}\n`, { mode: 0o600 });
  // stock has a flow to app:3000 and the default access (all of 10.124.0.0/24, UDP, ping).
  assert.is(udp(lapS, '10.124.0.10', 3001), 'echo-me');
  gw.exec('wg', ['set', gwIf, 'peer', S, 'remove']);
  gw.exec('wg', ['set', gwIf, 'peer', W, 'remove']);
  // web comes back first and gets the id stock had.
  gw.exec('wg', ['set', gwIf, 'peer', W, 'preshared-key', pskFile, 'allowed-ips', '10.123.0.3/32,fd00:123::3/128']);
  // The laptop still holds the session the gateway forgot: restart it for a fresh handshake.
  wgtsOk(['down', wIf], lapW);
  procs.push(await startUp(lapW, conf(wIf), wIf, []));
  assert.is(tcp(lapW, '10.124.0.10', 3000), 'app:3000 ::ffff:10.124.0.1', 'web is back, with its own rule');
  assert.is(udp(lapW, '10.124.0.10', 3001), null, 'web keeps its own rules, not stock\'s default');
  assert.not.ok(ping(lapW, '10.124.0.10'));
  // A key the file does not hold, on stock's address: a stock laptop with a new key.
  const m = genkey();
  gw.exec('wg', ['set', gwIf, 'peer', m.pub, 'allowed-ips', '10.123.0.2/32']);
  stock?.down();
  const mConf = join(work, `${uniqueIfname('mi')}.conf`);
  writeFileSync(mConf, readFileSync(conf(sIf), 'utf8').replace(/^PrivateKey = .*$/m, `PrivateKey = ${m.priv}`).replace(/^PresharedKey = .*\n/m, ''), { mode: 0o600 });
  stock = stockLaptopUp(lapS, mConf);
  await waitFor(() => Number(lapS.exec('wg', ['show', stock?.ifname ?? '', 'latest-handshakes']).trim().split('\t')[1] ?? 0) > 0, 10_000, 100, 'mallory handshakes');
  assert.is(tcp(lapS, '10.124.0.10', 3000), null, 'a key the file does not hold reaches nothing');
  assert.is(lapS.tryExec('getent', ['hosts', 'app'], { timeoutMs: 10_000 }).stdout, '', 'not even DNS');
  await waitFor(() => (status().peers[m.pub]?.denied ?? 0) > 0, 10_000, 100, 'mallory\'s denied packets');
  // A reload (SIGHUP) brings the device back to the file: mallory out, stock back.
  procs[0].kill('SIGHUP');
  await waitFor(() => {
    const keys = gw.exec('wg', ['show', gwIf, 'peers']).trim().split('\n').sort();
    return JSON.stringify(keys) === JSON.stringify([S, W].sort());
  }, 5000, 50, 'the device holds the file\'s peers again');
});

test.after(() => {
  for (const p of procs) if (p.exit() === null) p.kill('SIGKILL');
  try { stock?.down(); } catch { /* the namespace goes anyway */ }
  for (const ns of [gw, proj, lan, lapS, lapW]) ns?.delete();
  for (const ifname of [gwIf, wIf]) {
    rmSync(statusPath(ifname), { force: true });
    rmSync(socketPath(ifname), { force: true });
  }
  for (const ns of [lapS, lapW]) if (ns) rmSync(`/etc/netns/${ns.name}`, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test.run();
