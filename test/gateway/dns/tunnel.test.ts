// The gateway's DNS end to end, as laptops meet it: a stock laptop (wg-quick + wireguard-go, a
// resolv.conf holding ONLY the tunnel's DNS, as wg-quick + resolvconf and the mobile apps leave a
// machine) and a wgts laptop, both onboarded with `wgts peer add` from a gateway made by
// `wgts gateway init --address fd00:123::1/64 --address 10.123.0.1/24` (IPv6 first: laptops must
// still get a DNS address the gateway answers on) with one Host line.
//
// The gateway host's own resolver is Debian's dnsmasq on 127.0.0.53 inside the gateway's namespace
// (a systemd-resolved-style stub; the namespace's /etc/netns/NS/resolv.conf points at it, never at
// the host's resolvers). It answers an outside name (www.example.com) and, like a platform's
// internal DNS, bare project service names (`web`, and `api` as a CNAME to it) that no Host line
// holds. Checked: both laptops resolve the outside name and the bare names (NAME and NAME.zerops),
// Host lines answer first, HTTP by such a name works, the gateway re-reads its resolv.conf when it
// is edited, a project host with a route to the tunnel gets no answer (UDP or TCP) and is counted,
// and through the tunnel one laptop cannot hold more TCP connections than the per-source limit nor
// keep a dribbling connection past the message deadline.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readStatus, statusPath, type InterfaceStatus } from '../../../src/gateway/status.js';
import { startDnsmasq, type Dnsmasq } from './helpers/dnsmasq.js';
import { resolvedBinaries, startResolvedLaptop } from './helpers/resolved.js';
import { Netns, sh, sleep, waitFor } from '../../helpers/netns.js';
import { guardResolvConf, resolvPath, stockLaptopUp, type StockLaptop } from '../../helpers/stock-laptop.js';
import { startUp, type UpProc, wgtsOk } from '../../helpers/up.js';
import { socketPath, uniqueIfname, wgtsScript } from '../../helpers/wg.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-dnstun-'));
const gwIf = uniqueIfname('dg');
const stockIf = uniqueIfname('ds');
const lapIf = uniqueIfname('dl');
const resIf = uniqueIfname('dr');
const gwFile = join(work, `${gwIf}.conf`);
const conf = (ifname: string): string => join(work, `${ifname}.conf`);

let gw: Netns;
let proj: Netns;
let lapS: Netns;
let lapW: Netns;
let lapR: Netns;
let stub: Dnsmasq;
let other: Dnsmasq;
let lan: Dnsmasq;
let stock: StockLaptop | null = null;
const procs: UpProc[] = [];

const OUTSIDE = '198.51.100.7';
/** A name both the gateway host's resolver and the laptops' LAN resolver know, with different answers. */
const BOTH = 'both.example.com';
const BOTH_VIA_TUNNEL = '198.51.100.9';
const BOTH_VIA_LAN = '192.0.2.99';
const OUTSIDE_AFTER_EDIT = '198.51.100.8';
const WEB = '10.124.0.20';
const APP = '10.124.0.10';

function getent(ns: Netns, name: string): string {
  return ns.tryExec('getent', ['hosts', name], { timeoutMs: 20_000 }).stdout.trim().split(/\s+/)[0] ?? '';
}

const gwStatus = (): InterfaceStatus => {
  const s = readStatus(gwIf);
  if (!s) throw new Error('no gateway status file');
  return s;
};

test('setup: gateway namespace with its own resolver (dnsmasq on 127.0.0.53), project host, two laptops; configs by gateway init + peer add', async () => {
  gw = new Netns('dgw');
  proj = new Netns('dproj');
  lapS = new Netns('dls');
  lapW = new Netns('dlw');
  lapR = new Netns('dlr');
  for (const ns of [gw, lapS, lapW, lapR]) guardResolvConf(ns);
  writeFileSync(resolvPath(gw), 'nameserver 127.0.0.53\n');
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: [`${APP}/24`, `${WEB}/24`] });
  // The project host may route to the tunnel subnet: it must still get no DNS answer.
  proj.exec('ip', ['route', 'add', '10.123.0.0/24', 'via', '10.124.0.1']);
  gw.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
  gw.exec('ip', ['addr', 'add', '10.200.0.1/24', 'dev', 'br0']);
  gw.exec('ip', ['link', 'set', 'br0', 'up']);
  [lapS, lapW, lapR].forEach((lap, i) => {
    sh('ip', ['link', 'add', `vd${i}`, 'netns', gw.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lap.name]);
    gw.exec('ip', ['link', 'set', `vd${i}`, 'master', 'br0', 'up']);
    lap.exec('ip', ['addr', 'add', `10.200.0.${10 + i}/24`, 'dev', 'eth0']);
    lap.exec('ip', ['link', 'set', 'eth0', 'up']);
  });
  stub = await startDnsmasq(gw, '127.0.0.53', {
    host: { 'www.example.com': OUTSIDE, web: WEB, app: '10.9.9.9', [BOTH]: BOTH_VIA_TUNNEL },
    cname: { api: 'web' },
  });
  other = await startDnsmasq(gw, '127.0.0.54', { host: { 'www.example.com': OUTSIDE_AFTER_EDIT } });
  // The laptops' own network's resolver (on the "internet" bridge), for the systemd-resolved laptop.
  lan = await startDnsmasq(gw, '10.200.0.1', { host: { [BOTH]: BOTH_VIA_LAN } });
  const http = proj.spawn(process.execPath, ['-e', `require('http').createServer((q, s) => s.end('hello from web')).listen(80, '${WEB}', () => console.log('ready'))`]);
  let said = '';
  http.stdout?.on('data', (d: Buffer) => { said += d.toString(); });
  await waitFor(() => said.includes('ready'), 10_000, 25, 'web server');

  wgtsOk(['gateway', 'init', gwFile, '--domain', 'zerops', '--address', 'fd00:123::1/64', '--address', '10.123.0.1/24', '--network', '10.124.0.0/24',
    '--endpoint', '10.200.0.1:51820', '--host', `app=${APP}`]);
  for (const [name, ifname] of [['stock', stockIf], ['lap', lapIf], ['resolved', resIf]] as const) {
    wgtsOk(['peer', 'add', gwFile, name, '--out', conf(ifname)]);
    assert.match(readFileSync(conf(ifname), 'utf8'), /^DNS = 10\.123\.0\.1, zerops$/m, 'the IPv4 tunnel address, though IPv6 came first');
  }
  const g = await startUp(gw, gwFile, gwIf, procs);
  await waitFor(() => g.out().includes('DNS on [fd00:123::1]:53, 10.123.0.1:53 for zerops, 1 host(s), answering fd00:123::/64, 10.123.0.0/24; other names: 127.0.0.53:53 (from /etc/resolv.conf)'),
    10_000, 25, `DNS start logged:\n${g.out()}`);
});

test('stock laptop, only the tunnel DNS: an outside name, bare project names without Host lines (NAME, NAME.zerops, a CNAME), Host lines first', async () => {
  stock = stockLaptopUp(lapS, conf(stockIf));
  assert.is(stock.resolvConf(), 'nameserver 10.123.0.1\nsearch zerops\n', 'wg-quick left only the tunnel DNS');
  assert.is(getent(lapS, 'www.example.com'), OUTSIDE, 'a name outside the project, from the gateway host\'s resolver');
  for (const name of ['web', 'web.zerops', 'api', 'API.zerops']) assert.is(getent(lapS, name), WEB, name);
  assert.is(getent(lapS, 'app'), APP, 'the Host line, not the resolver\'s app');
  assert.is(getent(lapS, 'nosuchservice'), '');
  assert.is(lapS.tryExec('curl', ['-s', '-m', '5', 'http://web/'], { timeoutMs: 10_000 }).stdout, 'hello from web');
  // The resolver's log arrives through a pipe this process reads between the commands.
  const wanted = ['web A', 'www.example.com A', 'api A'];
  await waitFor(() => wanted.every((q) => stub.queries().includes(q)), 10_000, 25, `${wanted.join(', ')} asked: ${stub.queries().join(', ')}`);
  await sleep(200); // and anything that should not have been asked has had the same time to show
  const asked = stub.queries();
  assert.not.ok(asked.some((q) => q.startsWith('app ')), 'names with a Host line never go upstream');
  assert.not.ok(asked.some((q) => q.includes('zerops')), 'the bare name is asked, not NAME.zerops');
  // The gateway answers on its IPv6 tunnel address as well.
  assert.is(lapS.exec('dig', ['+short', '+time=2', '+tries=1', '@fd00:123::1', 'web.zerops', 'A'], { timeoutMs: 10_000 }).trim(), WEB);
  const dig = lapS.exec('dig', ['+time=2', '+tries=1', '@10.123.0.1', 'www.example.com', 'A'], { timeoutMs: 10_000 });
  assert.match(dig, /status: NOERROR/);
  assert.match(dig, /flags: [a-z ]*\bra\b/, 'recursion available');
});

test('wgts laptop (wgts up): the same names through the resolv.conf wgts up wrote', async () => {
  await startUp(lapW, conf(lapIf), lapIf, procs);
  assert.match(readFileSync(resolvPath(lapW), 'utf8'), /^nameserver 10\.123\.0\.1\nsearch zerops\n/m);
  assert.is(getent(lapW, 'www.example.com'), OUTSIDE);
  assert.is(getent(lapW, 'web'), WEB);
  assert.is(getent(lapW, 'api.zerops'), WEB);
  assert.is(getent(lapW, 'app.zerops'), APP);
});

test('laptop with a real systemd-resolved: bare names through the search domain, the tunnel is not the default DNS route', async () => {
  const bins = resolvedBinaries();
  if ('unavailable' in bins) {
    // Only where the Debian package cannot be had at all (another distribution).
    assert.not.ok(existsSync('/usr/bin/apt-get'), `systemd-resolved is needed on Debian: ${bins.unavailable}`);
    console.log(`  systemd-resolved laptop NOT run: ${bins.unavailable}`);
    return;
  }
  console.log(`  systemd-resolved: ${bins.source}`);
  const lap = await startResolvedLaptop(lapR, bins, '10.200.0.1', [process.execPath, wgtsScript, 'up', conf(resIf)]);
  try {
    await waitFor(() => { if (lap.exit() !== null) throw new Error(lap.out()); return lap.out().includes(`${resIf}: up: `); }, 15_000, 25, `wgts up with resolved:\n${lap.out()}`);
    assert.match(lap.out(), `${resIf}: DNS: 10.123.0.1 for zerops via resolvectl`);
    const link = lap.exec('resolvectl', ['status', resIf]).stdout;
    assert.match(link, /-DefaultRoute/, `not a default DNS route:\n${link}`);
    assert.match(link, /DNS Servers: 10\.123\.0\.1/);
    assert.match(link, /DNS Domain: zerops$/m, 'a search domain, not only the routing domain ~zerops');
    const query = (name: string): string => {
      const r = lap.exec('resolvectl', ['--legend=no', '--cache=no', 'query', name]);
      return /: ([0-9.]+)/.exec(r.stdout)?.[1] ?? `(${r.stdout.trim()} ${r.stderr.trim()})`;
    };
    assert.is(query('app'), APP, 'a bare Host name: app -> app.zerops -> the gateway');
    assert.is(query('web'), WEB, 'a bare project name without Host line');
    assert.is(query('api.zerops'), WEB);
    await sleep(200);
    const before = stub.queries().filter((q) => q.startsWith(BOTH)).length;
    assert.is(query(BOTH), BOTH_VIA_LAN, 'other names stay on the LAN resolver');
    await sleep(200);
    assert.is(stub.queries().filter((q) => q.startsWith(BOTH)).length, before, 'and never reach the tunnel');
    assert.ok(lan.queries().some((q) => q.startsWith(BOTH)));
    // glibc through resolved's stub (127.0.0.53, whose resolv.conf carries the search domain).
    lap.exec('mount', ['--bind', '/run/systemd/resolve/stub-resolv.conf', '/etc/resolv.conf']);
    for (const [name, ip] of [['app', APP], ['web', WEB], [BOTH, BOTH_VIA_LAN]] as const) {
      assert.is(lap.exec('getent', ['hosts', name]).stdout.trim().split(/\s+/)[0], ip, `getent hosts ${name}`);
    }
    lap.kill('SIGTERM');
    await waitFor(() => lap.exit() !== null, 5000, 25, 'wgts up exit');
    assert.is(lap.exit(), 0, lap.out());
    assert.not.match(lap.out(), 'undo dns', 'resolvectl revert ran cleanly');
  } finally {
    if (lap.exit() === null) lap.kill('SIGKILL');
  }
});

test('the gateway re-reads its resolv.conf when it changes: outside names move to the new resolver', async () => {
  const g = procs[0];
  writeFileSync(resolvPath(gw), 'nameserver 127.0.0.54\n');
  await waitFor(() => getent(lapS, 'www.example.com') === OUTSIDE_AFTER_EDIT, 10_000, 200, 'the answer of the new resolver');
  await waitFor(() => g?.out().includes('DNS: other names now go to 127.0.0.54:53 (from /etc/resolv.conf)'), 10_000, 50, 'change logged');
  assert.ok(other.queries().includes('www.example.com A'));
  writeFileSync(resolvPath(gw), 'nameserver 127.0.0.53\n');
  await waitFor(() => getent(lapS, 'www.example.com') === OUTSIDE, 10_000, 200, 'back to the first resolver');
});

test('a query from outside the tunnel subnets gets no answer, over UDP or TCP, whatever it asks; it is counted', async () => {
  const before = gwStatus().dns?.forbidden ?? 0;
  for (const [proto, extra] of [['udp', []], ['tcp', ['+tcp']]] as const) {
    const r = proj.tryExec('dig', ['+time=1', '+tries=1', ...extra, '@10.123.0.1', `${proto}.probe.example.com`, 'A'], { timeoutMs: 10_000 });
    assert.is.not(r.status, 0, `${proto}: dig got no answer`);
    assert.not.match(r.stdout, /status:/, `${proto}: no DNS message came back`);
  }
  await waitFor(() => (gwStatus().dns?.forbidden ?? 0) >= before + 2, 10_000, 100, 'forbidden counted in the status file');
  assert.match(wgtsOk(['show', gwIf], gw), /^ {2}dns: \d+ queries \(\d+ forwarded, \d+ bare names asked upstream\); dropped: [1-9]\d* not from the tunnel$/m, 'and in wgts show');
  await sleep(200);
  assert.not.ok(stub.queries().some((q) => q.includes('probe.example.com')), 'nothing was forwarded for them');
});

test('through the tunnel, one laptop: at most 8 TCP connections, and a connection dribbling bytes closes at the 10 s message deadline', async () => {
  const script = `
const net = require('net');
const t0 = Date.now();
const results = [];
let open = 0;
const conns = [];
for (let i = 0; i < 9; i++) {
  const s = net.connect({ host: '10.123.0.1', port: 53 });
  conns.push(s);
  s.on('connect', () => {
    open++;
    if (i === 0) {
      s.write(Buffer.of(1, 44));
      const t = setInterval(() => { if (!s.destroyed) s.write(Buffer.of(0x41)); else clearInterval(t); }, 250);
    }
  });
  s.on('error', () => {});
  s.on('close', () => { results.push({ i, closedMs: Date.now() - t0 }); if (results.length === 9) { console.log(JSON.stringify(results)); process.exit(0); } });
}
setTimeout(() => { console.log(JSON.stringify(results)); process.exit(1); }, 15000);
`;
  const s0 = gwStatus().dns ?? {};
  const r = lapW.tryExec(process.execPath, ['-e', script], { timeoutMs: 30_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  const closed = (JSON.parse(r.stdout) as { i: number; closedMs: number }[]).sort((a, b) => a.closedMs - b.closedMs);
  assert.ok((closed[0]?.closedMs ?? 0) < 1500, `one connection refused at once (${JSON.stringify(closed)})`);
  assert.ok((closed[1]?.closedMs ?? 0) > 9000, 'the other eight were accepted');
  const dribbler = closed.find((c) => c.i === 0);
  assert.ok(dribbler && dribbler.closedMs > 9000 && dribbler.closedMs < 12_500, `the dribbling connection closed at the deadline (${dribbler?.closedMs} ms), not kept open by its bytes`);
  await waitFor(() => {
    const d = gwStatus().dns ?? {};
    return (d.tcpRejected ?? 0) - (s0.tcpRejected ?? 0) === 1 && (d.tcpTimeouts ?? 0) - (s0.tcpTimeouts ?? 0) === 8;
  }, 3000, 100, 'tcpRejected +1 and tcpTimeouts +8 in the status file');
  assert.is(getent(lapW, 'web'), WEB, 'the laptop still resolves (UDP)');
});

test('down: laptops and gateway', async () => {
  stock?.down();
  wgtsOk(['down', lapIf], lapW);
  const g = procs[0];
  wgtsOk(['down', gwIf], gw);
  await waitFor(() => g?.exit() !== null, 5000, 25, 'gateway exit');
  assert.not.match(gw.exec('ss', ['-lnu']), '10.123.0.1:53');
});

test.after(() => {
  for (const p of procs) if (p.exit() === null) p.kill('SIGKILL');
  try { stock?.down(); } catch { /* already down */ }
  stub?.stop();
  other?.stop();
  lan?.stop();
  for (const ns of [gw, proj, lapS, lapW, lapR]) ns?.delete();
  for (const ifname of [gwIf, stockIf, lapIf, resIf]) {
    rmSync(statusPath(ifname), { force: true });
    rmSync(socketPath(ifname), { force: true });
  }
  rmSync(work, { recursive: true, force: true });
});

test.run();
