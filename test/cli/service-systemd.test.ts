// The generated unit under a real systemd (a private one: test/helpers/systemd.ts, in a test
// network namespace, loading units only from a temporary directory). `systemctl start
// wgts@IF` returns once wgts up said READY=1, and at that moment the gateway is complete; it
// runs with the sandbox of the unit (capability bounding set, no new privileges, a seccomp
// filter) and still creates its TUN, its firewall rules, the forwarding sysctl and its DNS on
// port 53; a laptop, run as a service as well (in its namespace's own private systemd), reaches
// the project through it by name. `systemctl reload` applies a file change
// and fails (the service running on) for a file with an error; a crash (exit 70) is restarted
// (Restart=on-failure);
// `systemctl stop` undoes everything.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Netns, waitFor } from '../helpers/netns.js';
import { startServers, tcpBanner } from '../helpers/probes.js';
import { guardResolvConf, resolvPath } from '../helpers/stock-laptop.js';
import { startSystemd, type PrivateSystemd } from '../helpers/systemd.js';
import { wgtsOk } from '../helpers/up.js';
import { uniqueIfname } from '../helpers/wg.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-systemd-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const gwIf = uniqueIfname('gy');
const lIf = uniqueIfname('ly');
const gwFile = join(work, `${gwIf}.conf`);
const unit = `wgts@${gwIf}.service`;
const units = join(work, 'units');
const out = join(work, 'service.log');

let gw: Netns;
let proj: Netns;
let lap: Netns;
let sd: PrivateSystemd;
let lapSd: PrivateSystemd | null = null;

/** `systemctl show` properties of the unit. */
function show(...props: string[]): Record<string, string> {
  const r = sd.systemctl(['show', unit, ...props.map((p) => `-p${p}`)]);
  return Object.fromEntries(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
/** For a failed systemctl: its stderr, then the tails of the service's output and of systemd's log. */
function why(r: { stderr: string }, manager: PrivateSystemd = sd): string {
  const tail = (text: string): string => text.split('\n').slice(-40).join('\n');
  let service = '';
  try { service = readFileSync(out, 'utf8'); } catch { /* not written yet */ }
  return `${r.stderr}\n--- service output:\n${tail(service)}\n--- systemd:\n${tail(manager.log())}`;
}

test('setup: a project, a gateway namespace running a private systemd with the generated unit, a laptop', async () => {
  gw = new Netns('ygw');
  proj = new Netns('yproj');
  lap = new Netns('ylap');
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24'] });
  gw.link(lap, { ifname: 'inet0', addrs: ['10.200.0.1/24'] }, { ifname: 'eth0', addrs: ['10.200.0.10/24'] });
  guardResolvConf(gw);
  guardResolvConf(lap);
  await startServers(proj, 'app', [3000]);
  wgtsOk(['gateway', 'init', gwFile, '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10']);
  wgtsOk(['peer', 'add', gwFile, 'laptop', '--out', join(work, `${lIf}.conf`)]);
  mkdirSync(units);
  wgtsOk(['service', 'install', gwFile, '--unit-dir', units]);
  // Test-only additions in a drop-in of their own: the service's output into a file (no journald
  // here) and the crash hook of io/crash.ts.
  writeFileSync(join(units, `${unit}.d`, 'test.conf'), `[Service]\nStandardOutput=append:${out}\nStandardError=append:${out}\nEnvironment=WGTS_TEST_CRASH_ON=SIGUSR2\n`);
  sd = await startSystemd(gw, units, work);
});

test('systemctl start returns once the gateway is complete; it runs sandboxed and forwards a laptop to the project', async () => {
  const r = sd.systemctl(['start', unit]);
  assert.is(r.status, 0, why(r));
  // No waiting: Type=notify made `start` wait for READY=1.
  const rules = gw.exec('iptables', ['-w', '5', '-S']) + gw.exec('iptables', ['-w', '5', '-t', 'nat', '-S']);
  const p = show('MainPID', 'ActiveState', 'SubState', 'StatusText', 'NRestarts');
  assert.is(p.ActiveState, 'active');
  assert.is(p.SubState, 'running');
  assert.match(p.StatusText ?? '', `gateway ${gwIf} up: 1 peer(s), UDP 51820`);
  assert.match(rules, new RegExp(`-A FORWARD -d 10.124.0.0/24 -i ${gwIf} .*wgts:${gwIf}:${p.MainPID}`));
  assert.match(rules, /MASQUERADE/);
  assert.match(gw.exec('ip', ['-o', 'addr', 'show', 'dev', gwIf]), 'inet 10.123.0.1/24');
  assert.match(gw.exec('ss', ['-Hlun']), /10\.123\.0\.1:53\b/);
  assert.is(gw.exec('sysctl', ['-n', 'net.ipv4.ip_forward']).trim(), '1');

  // The sandbox is really applied to the running process.
  const pids = gw.exec('ss', ['-Hlunp', 'sport = :51820']);
  const pid = Number(/pid=([0-9]+)/.exec(pids)?.[1]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(status, /^CapBnd:\s+0000000000003400$/m, 'NET_BIND_SERVICE, NET_ADMIN, NET_RAW only');
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  assert.match(status, /^Seccomp:\s+2$/m, 'a seccomp filter');

  // The laptop as a service too, in its own namespace's private systemd: its DNS goes into that
  // namespace's resolv.conf (/etc/netns/NAME, writable in the sandbox), and comes back at the stop.
  const lapFile = join(work, `${lIf}.conf`);
  const lapUnits = join(work, 'lap-units');
  mkdirSync(lapUnits);
  wgtsOk(['service', 'install', lapFile, '--unit-dir', lapUnits]);
  writeFileSync(join(lapUnits, `wgts@${lIf}.service.d`, 'test.conf'), `[Service]\nStandardOutput=append:${out}\nStandardError=append:${out}\n`);
  lapSd = await startSystemd(lap, lapUnits, work);
  const guard = readFileSync(resolvPath(lap), 'utf8');
  const started = lapSd.systemctl(['start', `wgts@${lIf}.service`]);
  assert.is(started.status, 0, why(started, lapSd));
  assert.match(readFileSync(resolvPath(lap), 'utf8'), /^nameserver 10\.123\.0\.1$/m, `split DNS in the namespace resolv.conf: ${readFileSync(out, 'utf8')}`);
  assert.is(tcpBanner(lap, '10.124.0.10', 3000), 'app:3000 ::ffff:10.124.0.1', 'through the sandboxed gateway, masqueraded');
  assert.match(lap.exec('getent', ['hosts', 'app']), /^10\.124\.0\.10\s/, 'names through the gateway\'s DNS');
  const stopped = lapSd.systemctl(['stop', `wgts@${lIf}.service`]);
  assert.is(stopped.status, 0, why(stopped, lapSd));
  assert.is(readFileSync(resolvPath(lap), 'utf8'), guard, 'restored');
});

test('systemctl reload: applied before it returns; a broken file fails the reload and the service runs on', () => {
  wgtsOk(['peer', 'add', gwFile, 'bob']);
  const ok = sd.systemctl(['reload', unit]);
  assert.is(ok.status, 0, why(ok));
  assert.match(show('StatusText').StatusText ?? '', 'up: 2 peer(s)');
  const good = readFileSync(gwFile, 'utf8');
  writeFileSync(gwFile, `${good}\nNonsense = 1\n`, { mode: 0o600 });
  const bad = sd.systemctl(['reload', unit]);
  assert.not.equal(bad.status, 0, 'the reload job failed');
  const p = show('ActiveState', 'StatusText');
  assert.is(p.ActiveState, 'active', 'the interface keeps running');
  assert.match(p.StatusText ?? '', /reload FAILED .*:[0-9]+: unknown key 'Nonsense'/);
  writeFileSync(gwFile, good, { mode: 0o600 });
  const again = sd.systemctl(['reload', unit]);
  assert.is(again.status, 0, why(again));
});

test('a crash (exit 70) is restarted; systemctl stop undoes everything', async () => {
  const before = show('MainPID').MainPID;
  const pid = Number(/pid=([0-9]+)/.exec(gw.exec('ss', ['-Hlunp', 'sport = :51820']))?.[1]);
  process.kill(pid, 'SIGUSR2');
  await waitFor(() => { const p = show('MainPID', 'ActiveState', 'NRestarts'); return p.NRestarts === '1' && p.ActiveState === 'active' && p.MainPID !== before; }, 20_000, 200, 'the restart');
  // Restart=on-failure restarted it: it exited non-zero (EXIT_CRASH) after logging the exception.
  assert.match(readFileSync(out, 'utf8'), 'deliberate uncaught exception (test hook WGTS_TEST_CRASH_ON=SIGUSR2)');
  const stop = sd.systemctl(['stop', unit]);
  assert.is(stop.status, 0, why(stop));
  const p = show('ActiveState', 'Result', 'ExecMainStatus');
  assert.is(p.ActiveState, 'inactive');
  assert.is(p.Result, 'success');
  assert.not.match(gw.exec('iptables', ['-w', '5', '-S']) + gw.exec('iptables', ['-w', '5', '-t', 'nat', '-S']), 'wgts:', 'no rule left');
  assert.is(gw.tryExec('ip', ['link', 'show', gwIf]).status, 1, 'no interface left');
});

test('teardown', async () => {
  await sd.stop();
  await lapSd?.stop();
  lap.delete();
  proj.delete();
  gw.delete();
});

test.run();
