// An uncaught exception in `wgts-go` or `wgts up` (src/io/crash.ts): logged, everything set up is
// undone (TUN, UAPI socket, status file, routes, masquerade rules, DNS; forwarding is left on by
// design), exit 70.
// The exception is raised inside the running daemon by the WGTS_TEST_CRASH_ON test hook (a throw
// from a timer callback on SIGUSR2); without the variable the hook does not exist.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT_CRASH, exitCleanlyOnCrash, TEST_CRASH_ENV } from '../../src/io/crash.js';
import { statusPath } from '../../src/gateway/status.js';
import { Netns, trySh, waitFor } from '../helpers/netns.js';
import { GUARD_RESOLV_CONF, guardResolvConf, resolvPath } from '../helpers/stock-laptop.js';
import { startUp, type UpProc } from '../helpers/up.js';
import { genkey, repoRoot, secretFile, socketPath, startDaemon, uniqueIfname, wg } from '../helpers/wg.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-crash-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const linkExists = (ns: Netns, ifname: string): boolean => ns.tryExec('ip', ['link', 'show', ifname]).status === 0;
const crashModule = join(repoRoot, 'dist', 'src', 'io', 'crash.js');

test('the handler: a throw or an unhandled rejection runs the cleanup, logs the stack, exits 70', () => {
  for (const bug of ['setTimeout(() => { throw new Error("boom") }, 10)', 'setTimeout(() => { Promise.reject(new Error("boom")) }, 10)']) {
    const script = `import(${JSON.stringify(crashModule)}).then(({ exitCleanlyOnCrash }) => {
      exitCleanlyOnCrash((l) => console.log('LOG ' + l), async () => { await new Promise((r) => setTimeout(r, 50)); console.log('CLEANED'); });
      ${bug};
      setInterval(() => undefined, 1000);
    });`;
    const r = trySh(process.execPath, ['-e', script], { timeoutMs: 10_000 });
    assert.is(r.status, EXIT_CRASH, `${bug}: ${r.stderr}`);
    assert.match(r.stdout, /LOG fatal: (uncaught exception|unhandled promise rejection): Error: boom\n\s+at /);
    assert.match(r.stdout, /CLEANED\n$/, 'the cleanup ran to its end before the exit');
  }
});

test('the test hook is inert without its variable, and refuses a value that is not a signal', () => {
  const saved = process.env[TEST_CRASH_ENV];
  try {
    delete process.env[TEST_CRASH_ENV];
    const before = process.listenerCount('SIGUSR2');
    const remove = exitCleanlyOnCrash(() => undefined, async () => undefined);
    assert.is(process.listenerCount('SIGUSR2'), before, 'nothing listens for the signal');
    remove();
    process.env[TEST_CRASH_ENV] = 'rm -rf';
    assert.throws(() => exitCleanlyOnCrash(() => undefined, async () => undefined), /not a signal name/);
  } finally {
    if (saved === undefined) delete process.env[TEST_CRASH_ENV];
    else process.env[TEST_CRASH_ENV] = saved;
    process.removeAllListeners('uncaughtException');
  }
});

test('wgts-go: an uncaught exception removes TUN and socket and exits 70', async () => {
  const ns = new Netns('crgo');
  try {
    const d = await startDaemon('wgts', ns, uniqueIfname('cg'), { [TEST_CRASH_ENV]: 'SIGUSR2', LOG_LEVEL: 'silent' });
    const k = genkey();
    wg(d, ['set', d.ifname, 'private-key', secretFile(k.priv), 'listen-port', '51830', 'peer', genkey().pub, 'allowed-ips', '10.88.0.2/32']);
    assert.ok(linkExists(ns, d.ifname));
    d.proc.kill('SIGUSR2');
    await waitFor(() => d.proc.exitCode !== null, 10_000, 25, 'exit after the exception');
    assert.is(d.proc.exitCode, EXIT_CRASH);
    assert.match(d.log(), /fatal: uncaught exception: Error: deliberate uncaught exception \(test hook/);
    assert.not.ok(existsSync(socketPath(d.ifname)), 'socket removed');
    assert.not.ok(linkExists(ns, d.ifname), 'TUN removed');
  } finally {
    ns.delete();
  }
});

test('wgts up: a gateway and a laptop undo routes, masquerade and DNS (forwarding stays on), then exit 70', async () => {
  const gw = new Netns('crgw');
  const lap = new Netns('crlap');
  const procs: UpProc[] = [];
  try {
    gw.link(lap, { ifname: 'vg', addrs: ['10.89.0.1/24'] }, { ifname: 'vl', addrs: ['10.89.0.2/24'] });
    guardResolvConf(lap);
    const g = genkey(), l = genkey();
    const gwIf = uniqueIfname('cw'), lapIf = uniqueIfname('cl');
    const gwConf = join(dir, `${gwIf}.conf`);
    const lapConf = join(dir, `${lapIf}.conf`);
    writeFileSync(gwConf, `[Interface]\nPrivateKey = ${g.priv}\nAddress = 10.90.0.1/24\nListenPort = 51831\n\n[Gateway]\nNetwork = 10.91.0.0/24\n\n[Peer]\nPublicKey = ${l.pub}\nAllowedIPs = 10.90.0.2/32\n`, { mode: 0o600 });
    writeFileSync(lapConf, `[Interface]\nPrivateKey = ${l.priv}\nAddress = 10.90.0.2/32\nDNS = 10.90.0.1, zerops\n\n[Peer]\nPublicKey = ${g.pub}\nEndpoint = 10.89.0.1:51831\nAllowedIPs = 10.91.0.0/24, 10.90.0.1/32\n`, { mode: 0o600 });
    const env = { [TEST_CRASH_ENV]: 'SIGUSR2' };
    const gp = await startUp(gw, gwConf, gwIf, procs, env);
    const lp = await startUp(lap, lapConf, lapIf, procs, env);
    assert.match(gw.exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING']), 'wgts:', 'masquerade rule in place');
    assert.is(gw.exec('sysctl', ['-n', 'net.ipv4.ip_forward']).trim(), '1');
    assert.match(lap.exec('ip', ['route', 'show', '10.91.0.0/24']), lapIf, 'route in place');
    assert.match(readFileSync(resolvPath(lap), 'utf8'), /^nameserver 10\.90\.0\.1$/m, 'DNS in place');
    for (const [p, ns, ifname] of [[gp, gw, gwIf], [lp, lap, lapIf]] as const) {
      p.kill('SIGUSR2');
      await waitFor(() => p.exit() !== null, 15_000, 25, `${ifname} exit after the exception`);
      assert.is(p.exit(), EXIT_CRASH, p.out());
      assert.match(p.out(), /fatal: uncaught exception: Error: deliberate uncaught exception/);
      assert.match(p.out(), /down \(crashed\)/);
      assert.not.ok(linkExists(ns, ifname), `${ifname}: TUN (and its routes) removed`);
      assert.not.ok(existsSync(socketPath(ifname)), `${ifname}: socket removed`);
      assert.not.ok(existsSync(statusPath(ifname)), `${ifname}: status file removed`);
    }
    assert.not.match(gw.exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING']), 'wgts:', 'masquerade rule removed');
    assert.is(gw.exec('sysctl', ['-n', 'net.ipv4.ip_forward']).trim(), '1', 'forwarding is left on by design (Docker or another gateway may depend on it)');
    assert.is(readFileSync(resolvPath(lap), 'utf8'), GUARD_RESOLV_CONF, 'laptop resolv.conf restored');
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    lap.delete();
    gw.delete();
    rmSync(`/etc/netns/${lap.name}`, { recursive: true, force: true });
  }
});

test.run();
