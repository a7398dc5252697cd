// Issue 11, section 5: several projects on one laptop. Two gateways (projects "shop" and "blog",
// each with its own project network and app) made with `gateway init --name`, and one laptop:
// - a stock laptop brings both client configs up with wg-quick side by side: two interfaces named
//   after the projects, both networks routed, each app reached, each config with its own domain;
// - a wgts laptop with a real systemd-resolved runs two `wgts up` side by side: separate routes,
//   split DNS per link (app.shop and app.blog answered by their own gateways), and a third project
//   whose network overlaps shop's is refused with a message that names the tunnel in the way;
// - in a plain namespace (one resolv.conf), the second `wgts up` leaves the first one's DNS alone.
// Project names carry this process's id: UAPI sockets and status files are machine-wide.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/parse.js';
import { statusPath } from '../../src/gateway/status.js';
import { Netns, waitFor } from '../helpers/netns.js';
import { socketPath, wgtsScript } from '../helpers/wg.js';
import { startUp, type UpProc, wgtsOk } from '../helpers/up.js';
import { GUARD_RESOLV_CONF, guardResolvConf, resolvPath, stockLaptopUp } from '../helpers/stock-laptop.js';
import { startServers, tcpBanner } from '../helpers/probes.js';
import { internetBridge } from '../helpers/topology.js';
import { resolvedBinaries, startResolvedLaptop } from './dns/helpers/resolved.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-projects-'));
const tag = String(process.pid % 100000);
const SHOP = `shop-${tag}`;
const BLOG = `blog-${tag}`;
const CLASH = `clash-${tag}`;
const gwFile = (p: string): string => join(work, `${p}-gw.conf`);
/** The gateway's interface: its file name (`shop-123-gw`). */
const gwIfOf = (p: string): string => `${p}-gw`;
/** Where a laptop keeps a project's client config: the file name the config's header proposes. */
const lapDir = join(work, 'laptop');

let gwS: Netns;
let gwB: Netns;
let projS: Netns;
let projB: Netns;
let lap: Netns;
const procs: UpProc[] = [];

test('setup: two gateways with their own project networks, configs issued as PROJECT.conf', async () => {
  gwS = new Netns('pgwS');
  gwB = new Netns('pgwB');
  projS = new Netns('pprojS');
  projB = new Netns('pprojB');
  lap = new Netns('plap');
  for (const g of [gwS, gwB]) guardResolvConf(g);
  gwS.link(projS, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24'] });
  gwB.link(projB, { ifname: 'proj0', addrs: ['10.134.0.1/24'] }, { ifname: 'eth0', addrs: ['10.134.0.10/24'] });
  internetBridge(gwS, [lap], 'vp');
  // The second gateway on the same "internet" bridge.
  gwS.link(gwB, { ifname: 'vpb', addrs: [] }, { ifname: 'eth1', addrs: ['10.200.0.2/24'] });
  gwS.exec('ip', ['link', 'set', 'vpb', 'master', 'br0']);
  await startServers(projS, 'shop-app', [3000]);
  await startServers(projB, 'blog-app', [3000]);
  wgtsOk(['gateway', 'init', gwFile(SHOP), '--name', SHOP, '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10']);
  wgtsOk(['gateway', 'init', gwFile(BLOG), '--name', BLOG, '--address', '10.133.0.1/24', '--network', '10.134.0.0/24', '--endpoint', '10.200.0.2:51820', '--host', 'app=10.134.0.10']);
  // Another project using shop's addresses (a common default): it cannot be up next to shop.
  wgtsOk(['gateway', 'init', gwFile(CLASH), '--name', CLASH, '--address', '10.143.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.3:51820']);
  mkdirSync(lapDir);
  for (const p of [SHOP, BLOG, CLASH]) {
    const text = wgtsOk(['peer', 'add', gwFile(p), 'dev']);
    const name = /^# Save as (\S+\.conf) \(interface (\S+)\)/m.exec(text);
    assert.ok(name, 'the config says what to save it as');
    assert.is(name?.[1], `${p}.conf`, 'named after the project');
    const c = parseConfig(text, 'x.conf');
    assert.ok(c.ok && c.config.interface.dnsSearch[0] === p, 'the domain is the project name');
    writeFileSync(join(lapDir, `${p}.conf`), text, { mode: 0o600 });
  }
  await startUp(gwS, gwFile(SHOP), gwIfOf(SHOP), procs);
  await startUp(gwB, gwFile(BLOG), gwIfOf(BLOG), procs);
});

const lapConf = (p: string): string => join(lapDir, `${p}.conf`);
const APP_S = 'shop-app:3000 ::ffff:10.124.0.1';
const APP_B = 'blog-app:3000 ::ffff:10.134.0.1';

test('a stock laptop: both client configs up with wg-quick side by side, two interfaces, both projects reached', async () => {
  const shop = stockLaptopUp(lap, lapConf(SHOP));
  try {
    const blog = stockLaptopUp(lap, lapConf(BLOG));
    try {
      assert.is(shop.ifname, SHOP);
      assert.is(blog.ifname, BLOG);
      const routes = lap.exec('ip', ['-4', 'route']);
      assert.match(routes, new RegExp(`^10\\.124\\.0\\.0/24 dev ${SHOP} `, 'm'));
      assert.match(routes, new RegExp(`^10\\.134\\.0\\.0/24 dev ${BLOG} `, 'm'));
      await waitFor(() => tcpBanner(lap, '10.124.0.10', 3000) === APP_S, 10_000, 200, 'shop app');
      await waitFor(() => tcpBanner(lap, '10.134.0.10', 3000) === APP_B, 10_000, 200, 'blog app');
      // Each gateway answers its own project's names.
      assert.is(lap.exec('dig', ['+short', '+time=2', '+tries=1', '@10.123.0.1', `app.${SHOP}`]).trim(), '10.124.0.10');
      assert.is(lap.exec('dig', ['+short', '+time=2', '+tries=1', '@10.133.0.1', `app.${BLOG}`]).trim(), '10.134.0.10');
    } finally {
      blog.down();
    }
  } finally {
    shop.down();
  }
});

test('a wgts laptop with systemd-resolved: two wgts up side by side, separate routes and split DNS; an overlapping project is refused, naming the tunnel in its way', async () => {
  const bins = resolvedBinaries();
  if ('unavailable' in bins) {
    assert.not.ok(readFileSync('/etc/os-release', 'utf8').includes('ID=debian'), `systemd-resolved is needed on Debian: ${bins.unavailable}`);
    console.log(`  systemd-resolved laptop NOT run: ${bins.unavailable}`);
    return;
  }
  const node = process.execPath;
  const script = `${node} ${wgtsScript} up ${lapConf(SHOP)} & echo "PID:$!"; ${node} ${wgtsScript} up ${lapConf(BLOG)} & echo "PID:$!"; wait`;
  const l = await startResolvedLaptop(lap, bins, '10.200.0.1', ['sh', '-c', script]);
  const pids = (): number[] => [...l.out().matchAll(/^PID:(\d+)$/gm)].map((m) => Number(m[1]));
  try {
    await waitFor(() => l.out().includes(`${SHOP}: up: `) && l.out().includes(`${BLOG}: up: `), 20_000, 50, `both up:\n${l.out()}`);
    const routes = l.exec('ip', ['-4', 'route']).stdout;
    assert.match(routes, new RegExp(`^10\\.124\\.0\\.0/24 dev ${SHOP} `, 'm'));
    assert.match(routes, new RegExp(`^10\\.134\\.0\\.0/24 dev ${BLOG} `, 'm'));
    const status = l.exec('resolvectl', ['status']).stdout;
    for (const [p, dns] of [[SHOP, '10.123.0.1'], [BLOG, '10.133.0.1']] as const) {
      const link = new RegExp(`Link \\d+ \\(${p}\\)[\\s\\S]*?(?=\\nLink |$)`).exec(status)?.[0] ?? '';
      assert.match(link, new RegExp(`DNS Servers: ${dns.replace(/\./g, '\\.')}`), `${p}: its gateway is its DNS`);
      assert.match(link, new RegExp(`DNS Domain: ${p}\\b`), `${p}: its own domain`);
      assert.match(link, /-DefaultRoute/, `${p}: not the default DNS route`);
    }
    // Split DNS: each name goes to its own tunnel, bare names through both search domains.
    const query = (name: string): string => l.exec('resolvectl', ['--cache=no', 'query', name]).stdout;
    await waitFor(() => query(`app.${SHOP}`).includes('10.124.0.10'), 15_000, 300, `app.${SHOP}`);
    await waitFor(() => query(`app.${BLOG}`).includes('10.134.0.10'), 15_000, 300, `app.${BLOG}`);
    assert.match(query(`app.${SHOP}`), new RegExp(`-- link: ${SHOP}`));
    assert.match(query(`app.${BLOG}`), new RegExp(`-- link: ${BLOG}`));
    assert.is(l.exec('ncat', ['--recv-only', '-w', '2', '10.124.0.10', '3000']).stdout.trim(), APP_S);
    assert.is(l.exec('ncat', ['--recv-only', '-w', '2', '10.134.0.10', '3000']).stdout.trim(), APP_B);

    // A third project whose network is shop's: refused before anything changes, naming shop.
    const clash = l.exec(node, [wgtsScript, 'up', lapConf(CLASH)]);
    assert.is(clash.status, 1);
    assert.match(clash.stderr, new RegExp(`the route 10\\.124\\.0\\.0/24 of ${CLASH} overlaps the route 10\\.124\\.0\\.0/24 dev ${SHOP} .*of the tunnel ${SHOP} \\(wgts up of ${lapConf(SHOP).replace(/[.]/g, '\\.')}, pid \\d+\\): two projects whose networks overlap cannot be up at once on one laptop; refused\\. Take ${SHOP} down first \\(wgts down ${SHOP}\\), or give one project other addresses on its gateway`));
    console.log(`  refused: ${clash.stderr.trim()}`);
    assert.is(l.exec('ip', ['link', 'show', CLASH]).status, 1, 'no interface left behind');
    assert.match(l.exec('ip', ['-4', 'route']).stdout, new RegExp(`^10\\.124\\.0\\.0/24 dev ${SHOP} `, 'm'), "shop's route untouched");
  } finally {
    for (const pid of pids()) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
    await waitFor(() => l.exit() !== null, 10_000, 50, 'both down').catch(() => l.kill('SIGKILL'));
  }
});

test('a plain namespace (one resolv.conf): the second wgts up leaves the first one\'s DNS alone and says why', async () => {
  // (The wg-quick steps above went through the test's resolvconf stand-in, which keeps one backup.)
  guardResolvConf(lap);
  const first = await startUp(lap, lapConf(SHOP), SHOP, procs);
  await waitFor(() => first.out().includes('DNS: '), 5000, 50, `shop's DNS:\n${first.out()}`);
  const shopResolv = readFileSync(resolvPath(lap), 'utf8');
  assert.match(shopResolv, new RegExp(`^# written by wgts up of ${SHOP} \\(pid \\d+\\)`));
  const blog = await startUp(lap, lapConf(BLOG), BLOG, procs);
  await waitFor(() => blog.out().includes('DNS left unchanged'), 5000, 50, 'the DNS note');
  assert.match(blog.out(), new RegExp(`DNS left unchanged: .*resolv\\.conf serves ${SHOP} \\(wgts up, pid \\d+\\).*names under ${BLOG} of ${BLOG} resolve at 10\\.133\\.0\\.1`));
  assert.is(readFileSync(resolvPath(lap), 'utf8'), shopResolv, "shop's resolv.conf untouched");
  assert.is(tcpBanner(lap, '10.134.0.10', 3000), APP_B, 'blog works by address');
  blog.kill('SIGTERM');
  await waitFor(() => blog.exit() !== null, 5000, 25, 'blog down');
  assert.is(readFileSync(resolvPath(lap), 'utf8'), shopResolv, 'and stays untouched when blog goes down');
  first.kill('SIGTERM');
  await waitFor(() => first.exit() !== null, 5000, 25, 'shop down');
  assert.is(readFileSync(resolvPath(lap), 'utf8'), GUARD_RESOLV_CONF, 'restored after both');
});

test.after(() => {
  for (const p of procs) if (p.exit() === null) p.kill('SIGKILL');
  for (const ns of [gwS, gwB, projS, projB, lap]) ns?.delete();
  for (const ifname of [gwIfOf(SHOP), gwIfOf(BLOG), SHOP, BLOG, CLASH]) {
    rmSync(statusPath(ifname), { force: true });
    rmSync(socketPath(ifname), { force: true });
  }
  rmSync(work, { recursive: true, force: true });
});

test.run();
